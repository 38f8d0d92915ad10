"""A real WebDAV server on loopback for tests: wsgidav over a folder, served by cheroot,
with basic auth, counting the bytes of file bodies it sends (GET) per path."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

USER, PASSWORD = "ann", "s3cret-dav-pw"


@dataclass
class DavServer:
    root: Path
    port: int
    sent: Counter[str] = field(default_factory=Counter)  # GET body bytes by path

    def uri(self, path: str = "", *, scheme: str = "dav", login: bool = False) -> str:
        user = f"{USER}:{PASSWORD}@" if login else ""
        return f"{scheme}://{user}127.0.0.1:{self.port}/{path.lstrip('/')}"


def _counting(app: Any, sent: Counter[str], before: Callable[[str, str], None] | None) -> Any:
    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        if before is not None:  # the test changes the folder as a request arrives
            before(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""))
        body = app(environ, start_response)
        if environ["REQUEST_METHOD"] != "GET":
            return body
        path = environ.get("PATH_INFO", "")

        def counted() -> Iterator[bytes]:
            try:
                for chunk in body:
                    sent[path] += len(chunk)
                    yield chunk
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()

        return counted()

    return wrapped


@contextmanager
def dav_serving(
    root: Path, *, auth: bool = True, before: Callable[[str, str], None] | None = None
) -> Iterator[DavServer]:
    """``before(method, path)`` runs as each request arrives, before it is answered."""
    from cheroot import wsgi
    from wsgidav.wsgidav_app import WsgiDAVApp

    config: dict[str, Any] = {
        "provider_mapping": {"/": str(root)},
        "verbose": 0,
        "logging": {"enable": False},
        "http_authenticator": {
            "accept_basic": True,
            "accept_digest": False,
            "default_to_digest": False,
        },
        "simple_dc": {
            "user_mapping": {"*": {USER: {"password": PASSWORD}} if auth else True},
        },
    }
    sent: Counter[str] = Counter()
    server = wsgi.Server(("127.0.0.1", 0), _counting(WsgiDAVApp(config), sent, before))
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield DavServer(root, server.bind_addr[1], sent)
    finally:
        server.stop()
        thread.join(10)
