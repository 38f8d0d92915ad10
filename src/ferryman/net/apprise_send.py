"""One Apprise notice, sent from a child process of ferryman's own
(``media.child.run_in_child``) with its name lookups guarded (``net.egress``).

Apprise makes its own connections (requests, smtplib, …) that no httpx transport
sees; in a child, ``socket.getaddrinfo`` can be guarded for the whole process without
touching the engine's, as for yt-dlp. A child can also be killed when a target does
not answer, where a thread would hang on.
"""

from __future__ import annotations

from collections.abc import Callable

import apprise

from ferryman.errors import FerrymanError
from ferryman.net.egress import Egress, guarded_lookups


def send(
    *,
    url: str,
    title: str,
    body: str,
    shown: str,
    egress: Egress,
    progress: Callable[[float], None],
) -> None:
    """Send ``title`` and ``body`` to the Apprise ``url`` (``shown``: the URL as a
    message may show it); ``notify.bad_url``, ``notify.blocked`` or
    ``notify.undelivered`` when it did not go."""

    with guarded_lookups(egress) as guard:
        sender = apprise.Apprise()
        if not sender.add(url):
            raise FerrymanError("notify.bad_url", f"{shown}: Apprise does not understand this URL")
        sent = sender.notify(title=title, body=body)
    if guard.refused:
        raise FerrymanError("notify.blocked", f"{shown}: {guard.refused}")
    if not sent:
        raise FerrymanError("notify.undelivered", f"{shown}: Apprise could not send it")
    progress(1.0)
