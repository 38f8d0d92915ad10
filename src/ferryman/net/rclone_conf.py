"""A person's own rclone.conf: read (``parse`` is total), held to what is safe for a
server that runs rclone for others (``check``), kept owner-only, and chosen for a job.

rclone's config file is an INI file: ``[name]`` opens a remote, ``key = value`` lines
follow (``type`` names its backend), ``#`` and ``;`` start comments. What is kept is
rewritten from what was parsed (one way to read it: no quotes, no continuation, no
``DEFAULT`` section whose keys rclone would add to every remote).

A person's remotes must not reach the server itself: only backends that store files
elsewhere (``BACKENDS``), wrappers (``WRAPPERS``: crypt, alias, union…) only around a
remote of the same file that is itself allowed (never a path on this disk, never an
on-the-fly ``:backend:``), no option that runs a command or names a file of this machine
(``_refused_key``), no credentials taken from the server's environment (``env_auth``,
``use_msi``), and no host inside this machine or a private network unless
``network.private_allowed`` names it (as links: ``net.addresses``).

Kept as ``<data_dir>/rclone/people/ID/rclone.conf`` (a person's) or ``<data_dir>/rclone/
rclone.conf`` (an administrator's: the server's, used before ``rclone.config``), 0600 in
0700 folders; the API shows names, types and plain fields, never a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ferryman.errors import FerrymanError
from ferryman.fsutil import PrivateFile
from ferryman.net.addresses import check_host

if TYPE_CHECKING:
    from ferryman.config import Settings

MAX_BYTES = 64 * 1024  # a config of many remotes is a few kB
NAME = re.compile(r"[\w.+@-](?:[\w.+@ -]*[\w.+@-])?")
BACKENDS = frozenset(
    {
        "drive", "onedrive", "dropbox", "s3", "b2", "sftp", "webdav", "ftp", "mega",
        "pcloud", "box", "google cloud storage", "google photos", "azureblob", "azurefiles",
        "swift", "koofr", "yandex", "jottacloud", "pikpak", "protondrive", "putio", "seafile",
        "sharefile", "sugarsync", "opendrive", "hidrive", "storj", "qingstor", "smb", "zoho",
        "premiumizeme", "fichier", "mailru", "internetarchive", "filefabric", "pixeldrain",
        "oracleobjectstorage", "quatrix", "iclouddrive", "filescom", "gofile", "linkbox",
    }
)  # fmt: skip
WRAPPERS = frozenset({"alias", "crypt", "chunker", "compress", "union", "combine"})
# Options naming a place to connect to, checked as a link's host is.
_HOSTS = ("host", "url", "endpoint", "server")
_ON = {"true", "1", "yes", "on", "t"}
# What may be shown back of a remote: everything else is a secret or none of the page's.
SHOWN = frozenset(
    {"type", "provider", "host", "port", "user", "url", "vendor", "region", "endpoint",
     "remote", "upstreams", "bucket", "drive_type", "scope", "description"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Remote:
    name: str
    options: tuple[tuple[str, str], ...]

    @property
    def type(self) -> str:
        return dict(self.options).get("type", "")


def _invalid(number: int, why: str) -> FerrymanError:
    return FerrymanError("rclone.conf_invalid", f"line {number}: {why}")


def parse(text: str) -> list[Remote]:
    """The remotes of an rclone.conf, in order; ``rclone.conf_invalid`` (with the line)
    for anything that is not one, and for a file naming no remote."""
    if text.lstrip().startswith("RCLONE_ENCRYPT_V"):
        raise FerrymanError("rclone.conf_invalid", "an encrypted rclone.conf: give it decrypted")
    remotes: list[Remote] = []
    name: str | None = None
    options: dict[str, str] = {}

    def close() -> None:
        if name is not None:
            remotes.append(Remote(name, tuple(options.items())))

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if not line.isprintable():
            raise _invalid(number, "a control character")
        if line.startswith("["):
            if not line.endswith("]") or not NAME.fullmatch(line[1:-1]):
                raise _invalid(number, "a remote's name is [letters, digits, . _ - + @ or spaces]")
            close()
            name, options = line[1:-1], {}
            if name.upper() == "DEFAULT" or any(r.name == name for r in remotes):
                raise _invalid(number, f"[{name}] is named twice or is rclone's DEFAULT")
            continue
        key, eq, value = (part.strip() for part in line.partition("="))
        if name is None:
            raise _invalid(number, "an option before any [remote]")
        if not eq or not re.fullmatch(r"[a-z0-9_]+", key):
            raise _invalid(number, "an option is key = value (a lowercase key)")
        if key in options:
            raise _invalid(number, f"{key} is given twice in [{name}]")
        if value[:1] in ("'", '"', "`"):
            raise _invalid(number, f"{key}'s value is quoted: write it without quotes")
        options[key] = value
    close()
    if not remotes:
        raise FerrymanError("rclone.conf_invalid", "no remote in it ([name], then type = …)")
    for remote in remotes:
        if not remote.type:
            raise FerrymanError("rclone.conf_invalid", f"[{remote.name}] has no type = …")
    return remotes


def parse_bytes(data: bytes) -> list[Remote]:
    """``parse`` of an uploaded file's bytes (UTF-8, a BOM allowed, at most 64 KiB)."""
    if len(data) > MAX_BYTES:
        raise FerrymanError("rclone.conf_invalid", f"over {MAX_BYTES} bytes")
    try:
        return parse(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise FerrymanError("rclone.conf_invalid", "not text (UTF-8)") from None


def render(remotes: Iterable[Remote]) -> str:
    return "".join(
        f"[{r.name}]\n" + "".join(f"{k} = {v}\n" for k, v in r.options) + "\n" for r in remotes
    )


def _refused(remote: Remote, why: str) -> FerrymanError:
    return FerrymanError("rclone.conf_refused", f"[{remote.name}]: {why}")


def _refused_key(key: str) -> bool:
    """An option that runs a command, names a file or socket of this machine, or takes
    the server's own credentials (``env_auth``, ``use_msi``: see ``_credentials``)."""
    return key.endswith(("_command", "_file", "_path", "_socket", "_ccache")) or key in {
        "ssh",
        "set_env",
        "password_command",
        "config_file",
    }


def _credentials(key: str, value: str) -> bool:
    return (key in {"env_auth", "use_msi"} and value.lower() in _ON) or key.startswith("msi_")


def _wrapped(value: str, type_: str) -> list[str]:
    """The remotes a wrapper's ``remote`` / ``upstreams`` name (``name:path`` each)."""
    if type_ in {"union", "combine"}:
        parts = value.split()
        if type_ == "combine":
            parts = [p.partition("=")[2] for p in parts]
        return [re.sub(r":(ro|nc|writeback)$", "", p) for p in parts]
    return [value]


def _host(value: str) -> tuple[str, int | None]:
    found = urlsplit(value if "://" in value else f"//{value}")
    try:
        port = found.port
    except ValueError:
        port = None
    return found.hostname or "", port


def check(remotes: list[Remote], private_allowed: Iterable[str] = ()) -> None:
    """``rclone.conf_refused`` naming the first remote that would let its owner reach
    this server (its disk, its commands, its environment, its private network)."""
    by_name = {r.name: r for r in remotes}
    allowed = list(private_allowed)

    def one(remote: Remote, seen: tuple[str, ...]) -> None:
        if remote.name in seen:
            raise _refused(remote, "it wraps itself")
        kind = remote.type
        if kind not in BACKENDS | WRAPPERS:
            raise _refused(remote, f"type {kind} is not taken here (a remote elsewhere is)")
        for key, value in remote.options:
            if _refused_key(key) or _credentials(key, value):
                raise _refused(remote, f"{key} is not taken here (it would use this server's)")
        for key, value in remote.options:
            if key in _HOSTS and value:
                host, port = _host(value)
                try:
                    check_host(host, port, allowed) if host else None
                except FerrymanError as exc:
                    raise _refused(remote, f"{key}: {exc.message}") from None
            if kind in WRAPPERS and key in {"remote", "upstreams"}:
                for inner in _wrapped(value, kind):
                    wrapped, colon, _ = inner.partition(":")
                    target = by_name.get(wrapped)
                    if not colon or target is None:
                        raise _refused(
                            remote, f"{key} {inner!r} is not a remote of this file (REMOTE:path)"
                        )
                    one(target, (*seen, remote.name))
        if kind in WRAPPERS and not {"remote", "upstreams"} & dict(remote.options).keys():
            raise _refused(remote, f"a {kind} names the remote it wraps")

    for remote in remotes:
        one(remote, ())


def summary(remotes: Iterable[Remote]) -> list[dict[str, object]]:
    """What may be shown of each remote: its name, type and plain fields; the names
    of the others (secrets, tokens) without their values."""
    return [
        {
            "name": r.name,
            "type": r.type,
            "shown": {k: v for k, v in r.options if k in SHOWN},
            "secret": sorted(k for k, _ in r.options if k not in SHOWN),
        }
        for r in remotes
    ]


class KeptRclone(PrivateFile):
    """A kept rclone.conf under ``<data_dir>/rclone/`` (blocking: off the event loop);
    rclone writes refreshed tokens back beside it, in its owner-only folder."""

    def __init__(self, data_dir: Path, person: int | None = None) -> None:
        """``person``: a person's own (``users.id``); None: the server's."""
        super().__init__(data_dir, "rclone", "rclone.conf", person)

    def put(self, data: bytes, private_allowed: Iterable[str] = ()) -> dict[str, object]:
        """Check ``data`` and keep it (replacing what was kept); what ``view`` says."""
        remotes = parse_bytes(data)
        check(remotes, private_allowed)
        self.keep(render(remotes))
        return self.view()

    def view(self) -> dict[str, object]:
        """Whether a config is kept, its remotes (``summary``), since when."""
        try:
            remotes = parse(self.path.read_text(encoding="utf-8"))
            since = self.path.stat().st_mtime
        except (OSError, UnicodeError, FerrymanError):
            return {"kept": False, "remotes": [], "since": None}
        return {"kept": True, "remotes": summary(remotes), "since": since}


def config_for(settings: Settings, person: int | None) -> Path | None:
    """The rclone.conf a run for ``person`` uses (None: the server's, an administrator's
    or no account's): their own kept one; for the server, the one kept through the page,
    else ``rclone.config``, else rclone's default (None). A person with none of their
    own uses the server's only where ``rclone.people_use_server`` allows it, else
    ``rclone.no_conf``."""
    if person is not None:
        own = KeptRclone(settings.data_dir, person).path
        if own.is_file():
            return own
        if not settings.rclone.people_use_server:
            raise FerrymanError(
                "rclone.no_conf", "you have no rclone.conf of your own on this server"
            )
    kept = KeptRclone(settings.data_dir).path
    return kept if kept.is_file() else settings.rclone.config


def check_remotes(settings: Settings, person: int | None, texts: Iterable[str]) -> None:
    """Each ``rclone:REMOTE:…`` among ``texts`` (an input, a destination) names a remote
    of ``person``'s own rclone.conf (blocking: it is read): ``rclone.unknown_remote``
    else (another's remotes do not exist for them), ``rclone.no_conf`` when they have
    none. The server's (None), or one a person may use (``people_use_server``): any."""
    names = {n for t in texts if t.startswith("rclone:") and (n := _name_of(t)) is not None}
    if person is None or not names:
        return
    config = config_for(settings, person)
    if config != KeptRclone(settings.data_dir, person).path:
        return  # the server's, which an administrator let people use
    known = [r.name for r in parse(config.read_text(encoding="utf-8"))]
    for name in sorted(names - set(known)):
        raise FerrymanError(
            "rclone.unknown_remote",
            f"{name}: is not a remote of your rclone.conf ({_its_remotes(known)})",
        )


def _name_of(text: str) -> str | None:
    """The remote of a config ``text`` (``rclone:REMOTE…:path``) names: ``gdrive`` for
    ``rclone:gdrive,key=value:x`` too; None for a backend made on the fly or a text
    that is not one (its own check says so)."""
    from ferryman.net.rclone_path import parse_remote  # light: re alone

    try:
        found = parse_remote(text.removeprefix("rclone:").partition("?")[0])
    except FerrymanError:
        return None
    return None if found.on_the_fly else found.name


def _its_remotes(names: Sequence[str]) -> str:
    return f"its remotes: {', '.join(names)}" if names else "it names no remote"


def rclone_ready(settings: Settings, text: str, doing: str) -> None:
    """Blocking: refuse now what ``text`` (``rclone:REMOTE:…`` or ``REMOTE:…``: an
    input, a watch, a destination) could not reach, nothing recorded: no rclone
    (``rclone.missing``), ``rclone.config`` naming no file, or a remote the
    rclone.conf its run uses does not name (``rclone.no_remote``: a person's own, in
    ``settings`` after ``for_person``; else the server's, ``config_for``: the one kept
    through the page, ``rclone.config``, rclone's default), its next step naming the
    remotes there are. Nothing when rclone cannot say (an encrypted config): the run
    says why then. ``doing``: what was asked, in the person's words ("send to
    rclone:x:y")."""
    from ferryman.net.rclone import rclone_binary, remote_names  # lazy: start-up

    if rclone_binary() is None:
        raise FerrymanError(
            "rclone.missing", f"cannot {doing}: rclone is not installed here; nothing was added"
        )
    people = settings.data_dir / "rclone" / "people"
    config = settings.rclone.config
    if config is None or not config.is_relative_to(people):
        config = config_for(settings, None)  # the server's, as its run chooses it
    if config is not None and not config.is_file():
        raise FerrymanError(
            "rclone.missing",
            f"cannot {doing}: rclone.config names {config}, which is not there; nothing was added",
        )
    full = text if text.startswith("rclone:") else f"rclone:{text}"
    name = _name_of(full)
    if name is None:  # a backend made on the fly (or a text its own parse refuses)
        _backend_ready(settings, config, full, doing)
        return
    names = remote_names(settings, config)
    if names is None or name in names:
        return
    if config is not None and config.is_relative_to(people):
        where = "your rclone.conf"
    elif config == KeptRclone(settings.data_dir).path:
        where = "the server's rclone.conf (given on the page)"
    else:
        where = f"the rclone.conf {config}" if config is not None else "rclone's own rclone.conf"
    near = f"one of its remotes ({', '.join(names)}) " if names else "a remote "
    raise FerrymanError(
        "rclone.no_remote",
        f"cannot {doing}: {name} is not a remote of {where} ({_its_remotes(names)});"
        " nothing was added",
        step=f"Name {near}as rclone:REMOTE:path (`ferryman doctor` lists them and whether"
        f" they answer), or make {name} with `rclone config`; then add it again.",
    )


def _backend_ready(settings: Settings, config: Path | None, text: str, doing: str) -> None:
    """An on-the-fly ``:backend`` this rclone has (``rclone.no_remote`` else, naming
    them); nothing when rclone cannot say, or ``text`` does not parse (its own check)."""
    from ferryman.net.rclone import backend_names  # lazy: start-up
    from ferryman.net.rclone_path import parse_remote  # light: re alone

    try:
        name = parse_remote(text.removeprefix("rclone:").partition("?")[0]).name
    except FerrymanError:
        return
    backends = backend_names(settings, config)
    if backends is None or name in backends:
        return
    raise FerrymanError(
        "rclone.no_remote",
        f"cannot {doing}: :{name} is not a backend this rclone has; nothing was added",
        step=f"Name one of its backends ({', '.join(backends)}) as :backend:path, or a remote"
        " of the rclone.conf in use as REMOTE:path; then add it again.",
    )


def own_settings(settings: Settings, person: int | None, texts: Iterable[str]) -> Settings:
    """What a person adds (``texts``: an input, a destination) checked (no connection
    string: ``net/rclone_path.refuse_for_person``; ``check_remotes``), and the settings
    its checks use: ``for_person`` where one is ``rclone:``."""
    from ferryman.net.rclone_path import refuse_for_person  # light: re alone

    texts = list(texts)
    refuse_for_person(texts)  # a connection string or ``:backend:``: an administrator's
    if not any(t.startswith("rclone:") for t in texts):
        return settings
    check_remotes(settings, person, texts)
    return for_person(settings, person)


def for_person(settings: Settings, person: int | None) -> Settings:
    """``settings`` whose ``rclone.config`` is ``person``'s (``config_for``)."""
    config = config_for(settings, person)
    if config == settings.rclone.config:
        return settings
    rclone = settings.rclone.model_copy(update={"config": config})
    return settings.model_copy(update={"rclone": rclone})


__all__ = [
    "KeptRclone",
    "Remote",
    "check",
    "check_remotes",
    "config_for",
    "for_person",
    "own_settings",
    "parse",
    "rclone_ready",
    "summary",
]
