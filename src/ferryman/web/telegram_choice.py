"""The form's Telegram choice, as it starts for whoever opens the page.

ferryman sends as the server's Telegram account. For an administrator the chat starts
at ``me`` (that account's Saved Messages), as always. A person may send only to a chat
of theirs (``sinks/telegram_people``: their own linked Telegram account, a group it is
in, a channel it posts in), so ``me`` would only be refused: their chat starts at their
own linked account, and a person who linked none is told how (``/link CODE``, the
page's "Link Telegram") instead of being offered a chat every choice of which is
refused. "To download, kept in Telegram" is anyone's (the server's storage chat)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ferryman.engine.ops.who import Who

LINK_FIRST = (
    '<p id="telegram-unlinked" class="hint">To send to Telegram, link your Telegram'
    " account first: press <strong>Link Telegram</strong> at the foot of this page, then"
    " send the <code>/link CODE</code> it shows to the bot from your Telegram account"
    " within ten minutes. After that you can send here to your own Telegram account, a"
    " group you are in or a channel you post in.</p>"
)


def page_chat(who: Who) -> str | None:
    """The chat ``who``'s form starts at: ``me`` for an administrator (the open page, a
    server token), a person's own linked Telegram account (its id), None: none linked."""
    if who.admin:
        return "me"
    return None if who.telegram is None else str(who.telegram)


def telegram_choice_field(chat: str | None) -> str:
    """The Telegram choices of the form's Destination: kept in Telegram, and a chat
    starting at ``chat`` (``page_chat``); None: how to link an account, no chat."""
    kept = (
        '<label><input type="radio" name="dest" value="link-telegram">'
        " To download, kept in Telegram</label>"
    )
    if chat is None:
        return kept + LINK_FIRST
    if chat == "me":
        hint, own = "me, @channel or -100…", ""
    else:
        hint = "your own chat, a group or channel of yours"
        own = f'<span class="hint" id="chat-own">{escape(chat)} is your own Telegram account</span>'
    return (
        kept + '<label><input type="radio" name="dest" value="telegram"> Telegram</label>'
        '<span class="for-telegram" hidden><label for="chat">Chat</label>'
        f'<input id="chat" name="chat" type="text" value="{escape(chat)}" size="16"'
        f' placeholder="{escape(hint)}">{own}'
        '<label><input type="checkbox" id="topics" name="topics">'
        " A topic per folder (a forum group)</label></span>"
    )
