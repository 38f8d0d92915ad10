"""Settings: TOML < environment < flags; errors name the key, the value and the rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ferryman.config import Settings, load_settings, with_runtime
from ferryman.config.shown import mask_secrets
from ferryman.errors import FerrymanError


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ferryman.toml"
    path.write_text(text)
    return path


def test_layers_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _toml(tmp_path, 'album_size = 4\nspace_floor = "1GiB"\n[concurrency]\nconvert = 2\n')
    assert load_settings(config).album_size == 4
    assert load_settings(config).space_floor == 1024**3
    monkeypatch.setenv("FERRYMAN_ALBUM_SIZE", "6")
    monkeypatch.setenv("FERRYMAN_CONCURRENCY__READ", "3")
    from_env = load_settings(config)
    assert from_env.album_size == 6
    assert (from_env.concurrency.read, from_env.concurrency.convert) == (3, 2)
    assert load_settings(config, {"album_size": 8}).album_size == 8  # flags win


def test_concurrency_unpack_is_still_taken_as_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``concurrency.read`` was ``unpack`` in 0.1.0: a file or an environment of then
    still sets it (until 0.2); both at once is refused, not guessed."""
    old = _toml(tmp_path, "[concurrency]\nunpack = 4\nconvert = 2\n")
    assert (load_settings(old).concurrency.read, load_settings(old).concurrency.convert) == (4, 2)
    monkeypatch.setenv("FERRYMAN_CONCURRENCY__UNPACK", "3")
    assert load_settings(None).concurrency.read == 3
    both = _toml(tmp_path, "[concurrency]\nunpack = 4\nread = 2\n")
    with pytest.raises(FerrymanError, match="old name"):
        load_settings(both)


def test_list_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FERRYMAN_PASSWORDS", '["one", "two, with a comma"]')
    monkeypatch.setenv("FERRYMAN_TELEGRAM__ALLOW_USERS", '["12345", "@ann"]')
    settings = load_settings(None)
    assert settings.passwords == ["one", "two, with a comma"]
    assert settings.telegram.allow_users == ["12345", "@ann"]
    for single in ("a,b", "[not json", '{"x": 1}', '["a", [1]]'):
        monkeypatch.setenv("FERRYMAN_PASSWORDS", single)
        assert load_settings(None).passwords == [single]  # one password, never split
    monkeypatch.setenv("FERRYMAN_TELEGRAM__ALLOW_USERS", "[12345, 67890]")
    assert load_settings(None).telegram.allow_users == ["12345", "67890"]
    monkeypatch.setenv("FERRYMAN_PASSWORDS", "")
    assert load_settings(None).passwords == []


def test_errors_name_the_source_key_and_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(FerrymanError) as bad_file:
        load_settings(_toml(tmp_path, "album_size = 51\n"))
    assert bad_file.value.code == "config.invalid"
    assert "ferryman.toml: key 'album_size' = 51" in bad_file.value.message
    assert "less than or equal to 50" in bad_file.value.message
    monkeypatch.setenv("FERRYMAN_SPACE_FLOOR", "lots")
    with pytest.raises(FerrymanError) as bad_env:
        load_settings(None)
    # The variable is named, so a person knows what to fix (`config set` would not).
    assert "environment FERRYMAN_SPACE_FLOOR: key 'space_floor' = 'lots'" in bad_env.value.message
    monkeypatch.delenv("FERRYMAN_SPACE_FLOOR")
    monkeypatch.setenv("FERRYMAN_NETWORK__WIFI_ONLY", "maybe")
    with pytest.raises(FerrymanError) as nested:
        load_settings(None)
    assert "environment FERRYMAN_NETWORK__WIFI_ONLY: key 'network.wifi_only'" in str(nested.value)
    assert "`ferryman config set KEY VALUE`" in nested.value.next_step
    assert "the FERRYMAN_ variable it names" in nested.value.next_step


def test_unknown_key_and_bad_caption_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FerrymanError, match="album_sise"):
        load_settings(_toml(tmp_path, "album_sise = 4\n"))
    with pytest.raises(FerrymanError, match=r"caption_template.*\{job_name\}"):
        load_settings(None, {"caption_template": "{name} {album}"})
    # A width that would make one caption gigabytes long is refused, not rendered.
    with pytest.raises(FerrymanError, match="width is at most 999"):
        load_settings(None, {"caption_template": "{album:>999999999}"})


def test_runtime_overrides_are_validated_too(tmp_path: Path) -> None:
    base = load_settings(None, {"data_dir": tmp_path})
    assert with_runtime(base, {"space_floor": "2GB"}).space_floor == 2 * 1000**3
    with pytest.raises(FerrymanError, match="runtime setting: key 'album_size'"):
        with_runtime(base, {"album_size": 0})


def test_show_masks_the_database_password(tmp_path: Path) -> None:
    shown = mask_secrets(load_settings(None, {"database_url": "postgresql://bob:hunter2@db/ferry"}))
    assert "hunter2" not in str(shown)
    assert shown["database_url"] == "postgresql://bob:***@db/ferry"


def test_s3_results_from_file_and_environment_with_the_secret_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _toml(
        tmp_path,
        '[results.s3]\nendpoint = "https://s3.example.com"\nbucket = "ferry-results"\n'
        'access_key = "AKID"\n',
    )
    with pytest.raises(FerrymanError) as missing:
        load_settings(path)
    assert missing.value.code == "config.invalid" and "secret_key" in missing.value.message
    monkeypatch.setenv("FERRYMAN_RESULTS__S3__SECRET_KEY", "s3cr3t/value")
    monkeypatch.setenv("FERRYMAN_RESULTS__S3__PREFIX", "team/")
    s3 = load_settings(path).results.s3
    assert s3 is not None and s3.secret_key == "s3cr3t/value" and s3.prefix == "team/"
    assert s3.bucket == "ferry-results" and s3.region == "us-east-1" and not s3.virtual_host
    shown = mask_secrets(load_settings(path))
    assert "s3cr3t" not in str(shown) and shown["results"]["s3"]["secret_key"] == "***"
    monkeypatch.setenv("FERRYMAN_RESULTS__S3__ENDPOINT", "s3.example.com")  # no scheme
    with pytest.raises(FerrymanError) as bad:
        load_settings(path)
    assert "results.s3.endpoint" in bad.value.message


def test_the_starter_file_holds_every_setting_with_its_default() -> None:
    """`config init`'s file is made from the model: every setting is there, described,
    and taking the "# " off every line with a value gives the defaults back."""
    import tomllib

    from ferryman.config.edit import _known_keys, starter

    text = starter()
    table, seen, opened = "", set(), []
    for line in text.splitlines():
        if line.startswith("["):
            table = line.strip("[]") + "."
        elif line.startswith("# ") and " = " in line:
            key = line[2:].split(" = ", 1)[0]
            seen.add(f"{table}{key}")
            if not line.endswith("(not set)"):
                opened.append(line[2:])
                continue
        opened.append(line)
    assert set(_known_keys()) <= seen, set(_known_keys()) - seen
    undescribed = [f for f in _leaf_fields() if not f.description]
    assert not undescribed, undescribed
    uncommented = tomllib.loads("\n".join(opened))
    assert Settings.model_validate(uncommented) == Settings()


def _leaf_fields() -> list[Any]:
    from pydantic import BaseModel

    fields, models = [], [Settings]
    while models:
        for field in models.pop().model_fields.values():
            inner = field.default_factory
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                models.append(inner)
            else:
                fields.append(field)
    return fields
