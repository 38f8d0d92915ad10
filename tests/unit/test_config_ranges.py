"""Settings out of range are refused when set or read, by the kind of value they are: a
duration is finite and bounded, a size bounded (a limit's positive), the data folder a
writable folder of its own, a token line well-formed. ``config set web.link_ttl inf``
exited 0 and every job view then answered a bare 500 (``OverflowError``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from ferryman.config import Settings, load_settings
from ferryman.config.edit import set_key
from ferryman.config.types import MAX_BYTES, MAX_SECONDS, finite_seconds, parse_bytes
from ferryman.errors import FerrymanError
from tests.support import forked


def _fields(model: type[BaseModel] = Settings, prefix: str = "") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for name, field in model.model_fields.items():
        inner = field.default_factory
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            found += _fields(inner, f"{prefix}{name}.")
        else:
            found.append((f"{prefix}{name}", field))
    return found


def _is_size(field: Any) -> bool:
    return any(getattr(m, "func", None) is parse_bytes for m in field.metadata)


def _is_duration(field: Any) -> bool:
    return any(getattr(m, "func", None) is finite_seconds for m in field.metadata)


def _refused(path: Path, key: str, raw: str) -> str:
    with pytest.raises(FerrymanError) as refused:
        set_key(path, key, raw)
    assert refused.value.code == "config.invalid" and key in refused.value.message, refused.value
    return refused.value.message


def test_every_duration_and_size_is_bounded_by_its_type(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    numbers = [k for k, f in _fields() if f.annotation is float]
    durations = [k for k, f in _fields() if _is_duration(f)]
    sizes = [k for k, f in _fields() if _is_size(f)]
    assert "web.link_ttl" in durations and "web.max_piece" in sizes
    assert len(durations) > 15 and len(sizes) > 8  # the kind, not a few fields
    seconds = [k for k in numbers if k.endswith(("_seconds", "_ttl", "timeout"))]
    assert set(seconds) <= set(durations)  # every field named for seconds is a duration
    for key in numbers:  # any number: finite
        _refused(path, key, "inf")
        _refused(path, key, "nan")
        _refused(path, key, "-inf")
    for key in durations:
        said = _refused(path, key, "inf")
        assert f"0 to {MAX_SECONDS:.0f}" in said, said
        _refused(path, key, str(MAX_SECONDS * 2))
    for key in sizes:
        _refused(path, key, str(MAX_BYTES + 1))
        _refused(path, key, "1e400")  # JSON's infinity
    assert not path.exists()  # nothing refused was written


def test_limits_that_zero_would_break_are_positive(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    for key in ("web.max_piece", "web.max_upload", "archive.max_total_bytes"):
        assert "greater than or equal to 1" in _refused(path, key, "0")
    assert set_key(path, "links.max_size", "0") == 0  # 0 there says "no limit"
    assert set_key(path, "web.link_ttl", "3600") == 3600


def test_a_settings_file_out_of_range_is_refused_when_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[web]\nlink_ttl = inf\n")  # TOML's own infinity
    with pytest.raises(FerrymanError) as refused:
        load_settings(path)
    assert refused.value.code == "config.invalid" and "web.link_ttl" in refused.value.message
    path.write_text("[web]\nmax_piece = 0\n")
    with pytest.raises(FerrymanError, match=r"web\.max_piece"):
        load_settings(path)


def test_the_data_folder_is_a_writable_folder_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    for system in ("/proc", "/proc/self", "/sys/kernel", "/dev", "/", str(Path.home())):
        _refused(path, "data_dir", system)
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    assert "is a file" in _refused(path, "data_dir", str(a_file))
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert "cannot be written" in _refused(path, "data_dir", str(locked / "data"))
    mine = tmp_path / "not-yet" / "data"  # made at first use
    assert set_key(path, "data_dir", str(mine)) == str(mine)


def test_a_token_line_is_the_hash_web_token_prints(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    said = _refused(path, "web.tokens", "my-secret-token")
    assert "sha256:<64 hex digits>" in said and "my-secret-token" not in said.split("=", 1)[1][20:]
    _refused(path, "web.tokens", "sha256:" + "a" * 63)
    _refused(path, "web.trusted_proxies", "*")
    _refused(path, "web.trusted_proxies", "proxy.example")
    assert set_key(path, "web.tokens", "sha256:" + "A" * 64) == ["sha256:" + "A" * 64]
    assert set_key(path, "web.trusted_proxies", "10.0.0.0/8") == ["10.0.0.0/8"]


def test_config_set_out_of_range_exits_with_config_invalid(tmp_path: Path) -> None:
    env = {**os.environ, "FERRYMAN_CONFIG": str(tmp_path / "config.toml")}
    for key, value in (("web.link_ttl", "inf"), ("web.max_piece", "0"), ("data_dir", "/proc")):
        done = forked.run(
            ["config", "set", key, value], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode != 0 and "config.invalid" in done.stderr, (key, done)
        assert key in done.stderr
