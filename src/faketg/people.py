"""People on the other side of a chat: a test says what a person writes to an account.

The message lands in both boxes as Telegram would keep it (the person's outgoing copy,
the account's incoming one) and the update is pushed to the account's connected
clients, so a client's event handlers fire exactly as they would for a real message.
"""

from __future__ import annotations

import os

from telethon.tl import types

from faketg.handlers.bots import press
from faketg.handlers.messages import post_as
from faketg.server import FakeTelegram
from faketg.state import Account, Channel, StoredFile, StoredMedia, StoredMessage
from faketg.tl import when

__all__ = [
    "channel_posts",
    "person_deletes_message",
    "person_deletes_topic",
    "person_makes_topic",
    "press",
    "stored_document",
    "stored_photo",
    "user_sends",
]


def stored_document(
    server: FakeTelegram, owner: Account, data: bytes, name: str, mime: str
) -> StoredMedia:
    """A document on the server as if ``owner`` had uploaded it (no upload round trip)."""
    did, access = server.new_id(), server.rng.getrandbits(63)
    ref = os.urandom(8)
    attributes: list[object] = [types.DocumentAttributeFilename(name)]
    tl = types.Document(
        id=did,
        access_hash=access,
        file_reference=ref,
        date=when(server.clock()),
        mime_type=mime,
        size=len(data),
        dc_id=owner.dc_id,  # kept where its uploader lives
        attributes=attributes,
    )
    media = StoredMedia(
        "document",
        did,
        access,
        ref,
        StoredFile(data, name),
        tl,
        mime,
        list(attributes),
        owner=owner.id,
        dc_id=owner.dc_id,
    )
    server.media[did] = media
    return media


def user_sends(
    server: FakeTelegram,
    frm: Account,
    to: Account,
    *,
    text: str = "",
    file: bytes | None = None,
    name: str = "x.zip",
    mime: str = "application/zip",
    media: StoredMedia | None = None,
    reply_to: int | None = None,
) -> StoredMessage:
    """``frm`` writes ``text`` (with ``file`` as a document, if given) to ``to`` privately.

    ``media`` sends a file already on the server again (a forward, or a re-send by
    reference): the same document id, as Telegram keeps it. ``reply_to``: a message of
    the chat as ``to`` numbers it (say, one ``to`` sent), answered by this one. Returns
    the message as ``to`` has it (its id is what ``to``'s client sees).
    """
    if file is not None:
        media = stored_document(server, frm, file, name, mime)
    theirs = server.box("user", to.id).messages
    mine = next((m.twin for m in theirs if reply_to is not None and m.id == reply_to), None)
    post_as(
        server,
        frm,
        ("user", to.id),
        [(text, media, None)],
        grouped=False,
        topic=None,
        reply_to=mine,
    )
    return server.box("user", to.id).messages[-1]


def stored_photo(server: FakeTelegram, owner: Account, data: bytes) -> StoredMedia:
    """A photo on the server as if ``owner`` had uploaded it (one size, the JPEG as is)."""
    from faketg.handlers.uploads import image_size, photo_media

    file = StoredFile(data, "")
    media = photo_media(server, file, image_size(data, load=False), owner.id)
    file.name = f"{media.id}.jpg"
    server.media[media.id] = media
    return media


def channel_posts(
    server: FakeTelegram,
    poster: Account,
    channel: Channel,
    posts: list[tuple[str, StoredMedia | None]],
    *,
    album: bool = False,
) -> list[StoredMessage]:
    """``poster`` (an admin) posts in ``channel``: each (caption, media) a message, or
    all of them one album; the channel's history holds them as Telegram would."""
    sent = post_as(
        server,
        poster,
        ("channel", channel.id),
        [(text, media, None) for text, media in posts],
        grouped=album,
        topic=None,
        reply_to=None,
    )
    return [message for message, _pts in sent]


def person_makes_topic(server: FakeTelegram, owner: Account, forum: Channel, title: str) -> int:
    """``owner`` (an admin) makes a topic in ``forum`` from their own app, as
    ``messages.createForumTopic`` does (its service message's id is the topic's): a forum
    that already holds the users' own topics when ferryman comes to it."""
    sent = post_as(
        server,
        owner,
        ("channel", forum.id),
        [("", None, None)],
        grouped=False,
        topic=None,
        reply_to=None,
    )
    msg = sent[0][0]
    msg.action = types.MessageActionTopicCreate(title=title, icon_color=0)
    msg.topic_id = msg.id
    forum.topics.add(msg.id)
    forum.topic_titles[msg.id] = title
    return msg.id


def person_deletes_topic(server: FakeTelegram, forum: Channel, topic_id: int) -> None:
    """An admin deletes a topic from their app (``channels.deleteTopicHistory``): it and
    every message in it are gone, and a post to it is answered ``TOPIC_DELETED``."""
    box = server.box("channel", forum.id)
    box.messages = [m for m in box.messages if m.topic_id != topic_id and m.id != topic_id]
    forum.topics.discard(topic_id)
    forum.topic_titles.pop(topic_id, None)
    forum.pinned = {m.id for m in box.messages if m.id in forum.pinned}
    forum.deleted_topics.add(topic_id)


def person_deletes_message(server: FakeTelegram, channel: Channel, message_id: int) -> None:
    """An admin deletes one message of ``channel`` from their app (``deleteMessages``):
    an edit of it is then answered ``MESSAGE_ID_INVALID``."""
    box = server.box("channel", channel.id)
    box.messages = [m for m in box.messages if m.id != message_id]
    channel.pinned.discard(message_id)
