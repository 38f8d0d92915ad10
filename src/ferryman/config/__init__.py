"""Settings: a TOML file plus ``FERRYMAN_*`` environment variables, validated at start.

Precedence, lowest first: defaults, the TOML file (``--config``, else
``$FERRYMAN_CONFIG``, else ``$XDG_CONFIG_HOME/ferryman/config.toml`` when it is there),
environment, command-line flags. ``config.edit`` changes the file.
A few keys may also be changed while ferryman runs (``ferryman config set``); those
overrides live in the store, never in module state, so a running engine sees them.
The sections' models live in ``config.sections`` (named here too, for importers).
"""

from __future__ import annotations

import itertools
import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
)

from ferryman.caption_template import render_caption
from ferryman.config.debrid import DebridSettings, TorboxSettings
from ferryman.config.sections import (
    ArchiveSettings,
    Concurrency,
    Convert,
    LinksSettings,
    MediaSettings,
    NetworkSettings,
    NotifySettings,
    PowerSettings,
    RcloneSettings,
    ResultsSettings,
    Retry,
    S3Settings,
    TelegramSettings,
    WatchSettings,
    WebdavLogin,
    WebdavSettings,
    WebSettings,
)
from ferryman.config.types import (
    ByteSize,
    CaptionTemplate,
    DataDir,
    LayoutTemplate,
    Seconds,
    nearest_keys,
    one_underscore,
)
from ferryman.errors import FerrymanError

__all__ = [
    "RUNTIME_KEYS",
    "ArchiveSettings",
    "Concurrency",
    "ConfigFile",
    "Convert",
    "Layers",
    "LinksSettings",
    "MediaSettings",
    "NetworkSettings",
    "NotifySettings",
    "PowerSettings",
    "ResultsSettings",
    "Retry",
    "S3Settings",
    "Settings",
    "TelegramSettings",
    "TorboxSettings",
    "WatchSettings",
    "WebSettings",
    "WebdavLogin",
    "WebdavSettings",
    "config_file",
    "default_config_path",
    "default_data_dir",
    "load_layers",
    "load_settings",
    "origins",
    "read_toml",
    "render_caption",
    "settings_of",
    "validate_partial",
    "with_runtime",
]


def default_data_dir() -> Path:
    """Per the XDG base directory spec: ``$XDG_DATA_HOME/ferryman``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ferryman"


class Settings(BaseModel):
    """Everything ferryman can be told; see ``ferryman config show``."""

    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)

    data_dir: DataDir = Field(
        default_factory=default_data_dir,
        description="Jobs, work area, library and quarantine (the store, unless database_url).",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; empty means SQLite in the data dir."
    )
    library_dir: Path | None = Field(
        None, description="Default library; empty: <data_dir>/library."
    )
    library_layout: LayoutTemplate = Field(
        "{source}/{path}/{name}",
        description="Where each file goes in a library: a template ({source}, {path}, {name},"
        ' {title}, {ext}, {album}, {index}, {kind}, {photo_album}, {date:%Y/%m}), or "albums" for'
        " <job>/0001/ folders with a manifest.json each (a library holding those keeps them).",
    )
    library_link: Literal["copy", "hardlink"] = Field(
        "copy",
        description="How a library keeps a file of a folder on this machine: copy (its own"
        " file, a copy-on-write clone where the filesystem has one: a backup), or hardlink"
        " (the person's file under a second name: an edit or truncation changes both, so"
        " not a backup).",
    )
    send_documents: bool = Field(
        False, description="Deliver files that are not media too (as documents), not skip them."
    )
    library_media_only: bool = Field(
        False,
        description="A library keeps photos, videos and sounds alone. Off: every file of an"
        " input is kept too, as it is (RAW pictures, sidecars, PDFs…); one job: add --media-only.",
    )
    album_size: int = Field(
        10,
        ge=1,
        le=50,
        description="Files per album at most; a destination may take fewer (Telegram: 10).",
    )
    caption_template: CaptionTemplate = Field(
        "{job_name} — {album}/{albums}",
        description=(
            "An album's caption: {job_name}, {album}, {albums}, {items};"
            " its photos' {taken}, {place}, {description}."
        ),
    )
    space_floor: ByteSize = Field(256 * 1024**2, description="Free bytes kept in the work area.")
    space_recheck_seconds: Seconds = Field(
        5.0, gt=0, description="How often a read waiting for free space looks again."
    )
    # A job's files in the work area (staged, not yet delivered) before its reading
    # waits: by count (small photos are read several albums ahead) and by bytes (big
    # videos: on a phone with 3 GB free, at most 1 GiB of one job waits there; one
    # file larger than that still goes, alone). space_floor is checked besides.
    backlog_items: int = Field(
        100, ge=1, description="Files of a job in the work area before its reading waits."
    )
    backlog_bytes: ByteSize = Field(
        1024**3,
        ge=1,
        description="Bytes of a job's files in the work area before its reading waits"
        " (a larger file still goes, alone).",
    )
    lease_seconds: Seconds = Field(
        30.0, ge=1, description="How long a claim holds without a heartbeat (then reaped)."
    )
    poll_seconds: Seconds = Field(
        0.5,
        gt=0,
        description="How soon an idle stage looks again for work it was not woken for"
        " (its looks then grow apart, up to 8 polls, until work or a wake-up comes).",
    )
    node_name: str | None = Field(
        None,
        max_length=120,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="This machine's name in `ferryman workers`; empty: the host name.",
    )
    concurrency: Concurrency = Field(default_factory=Concurrency)  # type: ignore[arg-type]
    retry: Retry = Field(default_factory=Retry)  # type: ignore[arg-type]
    convert: Convert = Field(default_factory=Convert)  # type: ignore[arg-type]
    media: MediaSettings = Field(default_factory=MediaSettings)  # type: ignore[arg-type]
    archive: ArchiveSettings = Field(default_factory=ArchiveSettings)  # type: ignore[arg-type]
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)  # type: ignore[arg-type]
    network: NetworkSettings = Field(default_factory=NetworkSettings)  # type: ignore[arg-type]
    power: PowerSettings = Field(default_factory=PowerSettings)  # type: ignore[arg-type]
    webdav: WebdavSettings = Field(default_factory=WebdavSettings)
    torbox: TorboxSettings = Field(default_factory=TorboxSettings)  # type: ignore[arg-type]
    debrid: DebridSettings = Field(default_factory=DebridSettings)  # type: ignore[arg-type]
    rclone: RcloneSettings = Field(default_factory=RcloneSettings)  # type: ignore[arg-type]
    links: LinksSettings = Field(default_factory=LinksSettings)  # type: ignore[arg-type]
    web: WebSettings = Field(default_factory=WebSettings)  # type: ignore[arg-type]
    results: ResultsSettings = Field(default_factory=ResultsSettings)  # type: ignore[arg-type]
    notify: NotifySettings = Field(default_factory=NotifySettings)  # type: ignore[arg-type]
    watch: WatchSettings = Field(default_factory=WatchSettings)  # type: ignore[arg-type]
    passwords: list[str] = Field(
        default_factory=list, description="Tried on every encrypted archive, after the job's."
    )

    @property
    def work_dir(self) -> Path:
        return self.data_dir / "work"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def telegram_dir(self) -> Path:
        """Sessions live here (0700 folder, 0600 files)."""
        return self.data_dir / "telegram"

    @property
    def library(self) -> Path:
        return self.library_dir or self.data_dir / "library"

    @property
    def node(self) -> str:
        import socket  # lazy: start-up

        return self.node_name or socket.gethostname()

    @property
    def results_dir(self) -> Path:
        return self.results.dir or self.data_dir / "results"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'ferryman.db'}"


# Keys that a running engine re-reads from the store; ``ferryman config set`` writes them.
RUNTIME_KEYS = frozenset(
    {
        "send_documents",
        "caption_template",
        "space_floor",
        "album_size",
        "backlog_items",
        "backlog_bytes",
    }
)


def _env_name(loc: tuple[Any, ...], env: dict[str, Any]) -> str | None:
    """The variable that set the key at ``loc`` (``FERRYMAN_NETWORK__WIFI_ONLY``), when
    the environment set it: a person fixes a variable, not "the environment"."""
    names = list(itertools.takewhile(lambda part: isinstance(part, str), loc))
    held: Any = env
    for part in names:
        if not isinstance(held, dict) or part not in held:
            return None
        held = held[part]
    return "FERRYMAN_" + "__".join(names).upper() if names else None


def _describe(error: dict[str, Any], source: str, env: dict[str, Any] | None = None) -> str:
    named = _env_name(tuple(error["loc"]), env) if env else None
    source = f"environment {named}" if named else source
    key = ".".join(str(part) for part in error["loc"])
    if error.get("type") == "missing":
        return f"{source}: key '{key}' must be set"
    if error.get("type") == "extra_forbidden":  # a misspelt key: the nearest, as `config set`
        near = nearest_keys(key, Settings)
        return f"{source}: no setting '{key}'{near} (every key: `ferryman config show`)"
    value = error.get("input")
    return f"{source}: key '{key}' = {value!r} is not allowed: {error['msg']}"


def _environment() -> dict[str, Any]:
    """``FERRYMAN_*`` variables, any case; ``FERRYMAN_NETWORK__WIFI_ONLY`` is
    ``network.wifi_only``. Read directly (not through pydantic-settings, whose import
    alone costs a light command a tenth of a second)."""
    env_vars = {
        name.lower(): value
        for name, value in os.environ.items()
        if name.lower().startswith("ferryman_")
    }
    fields = Settings.model_fields
    nested = {name for name, f in fields.items() if isinstance(f.default_factory, type)}
    found: dict[str, Any] = {}
    for name, value in env_vars.items():
        key = name.removeprefix("ferryman_")
        if "__" in key:
            head, _, tail = key.partition("__")
            if head in nested:
                model = fields[head].default_factory
                inner = model.model_fields if isinstance(model, type) else {}  # type: ignore[attr-defined]
                section = found.setdefault(head, {})
                if "__" in tail:  # FERRYMAN_RESULTS__S3__SECRET_KEY: results.s3.secret_key
                    sub, _, leaf = tail.partition("__")
                    section.setdefault(sub, {})[leaf] = value
                else:
                    section[tail] = _env_value(inner.get(tail), value)
        elif key in fields:
            found[key] = _env_value(fields[key], value)
        else:
            one_underscore(key, Settings)  # FERRYMAN_TORBOX_API_KEY: not left unread
    return found


def _env_value(field: Any, value: str | None) -> Any:
    """A list setting from one variable: a JSON array (of strings or numbers), else that
    one value; empty is an empty list.

    ``FERRYMAN_PASSWORDS='["one", "two, with a comma"]'`` or ``FERRYMAN_PASSWORDS=one``;
    never split on commas, which passwords may hold.
    """
    if value is None or field is None or get_origin(field.annotation) is not list:
        return value
    if not value:
        return []
    try:
        decoded = json.loads(value)
    except ValueError:
        return [value]
    if isinstance(decoded, list) and all(isinstance(v, str | int) for v in decoded):
        return [str(v) for v in decoded]  # user IDs may come as numbers
    return [value]


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _validate(
    data: dict[str, Any],
    source: str,
    *,
    partial: bool = False,
    env: dict[str, Any] | None = None,
    reading: bool = True,
) -> Settings | None:
    """Settings from ``data``; ``partial``: a key it lacks may come from a later layer
    (a secret in the environment), so only what it says wrong is refused. ``env``: the
    environment's layer, so a key it set is named by its variable. ``reading``: the
    settings are read for use, so a data folder that cannot be used (and nothing else
    wrong) is ``store.data_dir_unusable``, whichever layer named it; a value being set
    (``config set``) is ``config.invalid``."""
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        errors = [dict(e) for e in exc.errors() if not (partial and e["type"] == "missing")]
        if not errors:
            return None
        lines = [_describe(err, source, env) for err in errors]
        if reading and all(err["loc"] == ("data_dir",) for err in errors):
            raise FerrymanError("store.data_dir_unusable", "; ".join(lines)) from exc
        raise FerrymanError("config.invalid", "; ".join(lines)) from exc


def validate_partial(data: dict[str, Any], source: str) -> None:
    """Refuse what ``data`` says wrong (naming ``source``); a key it lacks may come later."""
    _validate(data, source, partial=True, reading=False)


def _checked(data: dict[str, Any], source: str) -> Settings:
    found = _validate(data, source)
    assert found is not None
    return found


def default_config_path() -> Path:
    """``$XDG_CONFIG_HOME/ferryman/config.toml`` (``~/.config/ferryman/config.toml``):
    where yt-dlp, rclone and git users look first; on Termux, in Termux's own home."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ferryman" / "config.toml"


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """The settings file in use: ``path`` (read only when ``read``), and what chose it."""

    path: Path
    chosen_by: str  # "--config", "FERRYMAN_CONFIG" or "default"
    read: bool


def config_file(given: Path | None = None) -> ConfigFile:
    """``--config``, else ``$FERRYMAN_CONFIG``, else the default place (read when there)."""
    if given is not None:
        return ConfigFile(given, "--config", True)
    env = _env_path("FERRYMAN_CONFIG")
    if env is not None:
        return ConfigFile(env, "FERRYMAN_CONFIG", True)
    path = default_config_path()
    return ConfigFile(path, "default", path.is_file())


@dataclass(frozen=True, slots=True)
class Layers:
    """What each place said, before they are merged: the file, the environment, flags."""

    file: ConfigFile
    data: dict[str, Any]
    env: dict[str, Any]
    flags: dict[str, Any]


def read_toml(path: Path) -> dict[str, Any]:
    """A settings file's data, or ``config.invalid`` naming the file."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FerrymanError("config.invalid", f"config file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise FerrymanError("config.invalid", f"config file {path} cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise FerrymanError("config.invalid", f"{path} is not valid TOML: {exc}") from exc


def load_layers(given: Path | None = None, overrides: dict[str, Any] | None = None) -> Layers:
    """Each layer read and checked on its own, so an error names the place it is in."""
    found = config_file(given)
    data: dict[str, Any] = {}
    if found.read:
        data = read_toml(found.path)
        _validate(data, str(found.path), partial=True)  # name the file when it is wrong
    env = _environment()
    _validate(_deep_merge(data, env), "environment (FERRYMAN_*)", partial=True, env=env)
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    return Layers(found, data, env, flags)


def settings_of(layers: Layers) -> Settings:
    source = "command line" if layers.flags else "environment (FERRYMAN_*)"
    if layers.file.read and not layers.flags:
        source = str(layers.file.path)
    merged = _deep_merge(_deep_merge(layers.data, layers.env), layers.flags)
    return _checked(merged, source)


def load_settings(
    config_file: Path | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Merge defaults, the TOML file, the environment and the flags; fail naming the key."""
    return settings_of(load_layers(config_file, overrides))


def flat_keys(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted keys (`web.host`): how `config show` and origins name them."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            flat |= flat_keys(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def origins(layers: Layers, runtime: dict[str, Any] | None = None) -> dict[str, str]:
    """Where each setting's value came from: ``default``, the file, an environment
    variable, a flag, or a runtime override in the store (the last one wins)."""
    shown = flat_keys(settings_of(layers).model_dump(mode="json"))
    said = (
        (flat_keys(layers.data), "file"),
        (flat_keys(layers.env), "env"),
        (flat_keys(layers.flags), "flag"),
        (runtime or {}, "runtime"),
    )
    found: dict[str, str] = {}
    for key in shown:
        found[key] = "default"
        for layer, kind in said:
            if key in layer or any(key.startswith(f"{k}.") and v != {} for k, v in layer.items()):
                found[key] = _origin(kind, key, layers.file.path)
    return found


def _origin(kind: str, key: str, path: Path) -> str:
    if kind == "file":
        return f"file {path}"
    if kind == "env":
        return "environment FERRYMAN_" + key.upper().replace(".", "__")
    if kind == "flag":
        return "flag --" + key.replace("_", "-")
    return "runtime (the store, `ferryman config set`)"


def with_runtime(settings: Settings, runtime: dict[str, Any]) -> Settings:
    """Apply the store's runtime overrides; a bad stored value is reported, not ignored."""
    known = {k: v for k, v in runtime.items() if k in RUNTIME_KEYS}
    if not known:
        return settings
    return _checked(settings.model_dump() | known, "runtime setting")


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None
