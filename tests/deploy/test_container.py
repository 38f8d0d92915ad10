"""The container image (``Containerfile``) builds, runs the demo and serves the page.

Built for real with podman (``--isolation chroot``: no container runtime runs here), on a
Debian base made by mmdebstrap from Debian's packages (no image registry is reachable);
the built image's filesystem is then run with ``chroot``, as its ``Config`` says (user,
environment, command): this machine refuses the OCI runtime's ``setrlimit``, so
``podman run`` itself fails here. Minutes of work (a base system, then ferryman's
dependencies from PyPI): run by ``make container-test`` (``.ci/run`` calls it), skipped
in ``make test`` and wherever podman, mmdebstrap or root is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.waiting import eventually_sync

ROOT = Path(__file__).resolve().parents[2]
BASE = "localhost/ferryman-base-debian:bookworm"
IMAGE = "localhost/ferryman:test"
CA = Path("/etc/ssl/certs/ca-certificates.crt")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("FERRYMAN_TEST_CONTAINER") != "1",
        reason="minutes long: `make container-test` runs it (FERRYMAN_TEST_CONTAINER=1)",
    ),
    pytest.mark.skipif(
        not (shutil.which("podman") and shutil.which("mmdebstrap")),
        reason="podman and mmdebstrap (Debian's packages) build the image",
    ),
    pytest.mark.skipif(os.geteuid() != 0, reason="chroot into the image needs root"),
]


def _run(*args: str, timeout: float = 1200) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(args)} -> {done.returncode}\n{done.stderr[-3000:]}"
    return done.stdout


def _base_image(tmp: Path) -> None:
    """A Debian bookworm with Python 3.11, venv and libarchive, as ``podman import`` makes it."""
    if subprocess.run(["podman", "image", "exists", BASE], check=False).returncode == 0:
        return
    tar = tmp / "base.tar"
    _run(
        "mmdebstrap", "--variant=minbase",
        "--include=python3,python3-venv,libarchive13,ca-certificates",
        "bookworm", str(tar),
    )  # fmt: skip
    _run("podman", "import", str(tar), BASE)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    _base_image(tmp_path_factory.mktemp("base"))
    secret = ["--secret", f"id=pip-ca,src={CA}"] if CA.is_file() else []
    _run(
        "podman", "build", "--isolation", "chroot", "--format", "docker",
        "--build-arg", f"BASE={BASE}", *secret, "-t", IMAGE, "-f", "Containerfile", str(ROOT),
    )  # fmt: skip
    return IMAGE


@pytest.fixture
def rootfs(image: str) -> Iterator[Path]:
    """A writable container of the image, its filesystem mounted, /proc and /dev bound."""
    container = _run("podman", "create", image).strip()
    merged = Path(_run("podman", "mount", container).strip())
    bound: list[Path] = []
    try:
        for name in ("proc", "dev"):
            _run("mount", "--bind", f"/{name}", str(merged / name))
            bound.append(merged / name)
        yield merged
    finally:
        for point in reversed(bound):
            subprocess.run(["umount", "-l", str(point)], check=False)
        subprocess.run(["podman", "unmount", container], check=False, capture_output=True)
        subprocess.run(["podman", "rm", "-f", container], check=False, capture_output=True)


def _inspect(image: str) -> dict[str, object]:
    shown: dict[str, object] = json.loads(_run("podman", "image", "inspect", image))[0]
    return shown


def _config(image: str) -> dict[str, object]:
    config: dict[str, object] = _inspect(image)["Config"]  # type: ignore[assignment]
    return config


def _as_image_says(
    rootfs: Path, config: dict[str, object], argv: list[str], extra: dict[str, str]
) -> list[str]:
    """``argv`` as the image would start it: its user, its environment only, plus ``extra``."""
    user = str(config["User"])
    ids = _run("chroot", str(rootfs), "id", "-u", user).strip()
    env = [str(item) for item in config.get("Env") or []]  # type: ignore[attr-defined]
    env += [f"HOME=/home/{user}"] + [f"{k}={v}" for k, v in extra.items()]
    return ["chroot", f"--userspec={ids}:{ids}", str(rootfs), "/usr/bin/env", "-i", *env, *argv]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return int(answer.status), answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()
    except OSError:
        return 0, b""


def test_the_image_runs_as_a_user_with_volumes_a_health_check_and_the_page(image: str) -> None:
    config = _config(image)
    assert config["User"] == "ferryman"
    assert set(config["Volumes"]) == {"/data", "/library"}  # type: ignore[arg-type]
    assert config["Cmd"] == ["ferryman", "web"]
    check = _inspect(image)["Healthcheck"]  # kept by --format docker (OCI has none)
    assert "healthz" in " ".join(check["Test"])  # type: ignore[index]
    assert "8080/tcp" in config["ExposedPorts"]  # type: ignore[operator]


def test_the_demo_delivers_into_the_library_volume(image: str, rootfs: Path) -> None:
    argv = _as_image_says(rootfs, _config(image), ["ferryman", "demo"], {})
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    delivered = [p for p in (rootfs / "library").rglob("*") if p.is_file()]
    assert len([p for p in delivered if p.suffix.lower() in {".jpg", ".jpeg", ".mp4"}]) >= 10
    assert all(p.stat().st_uid != 0 for p in delivered), "files written as root"
    assert (rootfs / "data").joinpath("ferryman.db").exists() or any((rootfs / "data").glob("*.db"))


def test_the_page_answers_with_a_token_and_refuses_without(image: str, rootfs: Path) -> None:
    config = _config(image)
    refused = subprocess.run(
        _as_image_says(rootfs, config, ["ferryman", "web"], {}),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "config.invalid" in refused.stderr
    assert "ferryman web token" in refused.stderr  # the next step is in the message

    made = _run(*_as_image_says(rootfs, config, ["ferryman", "web", "token"], {}))
    token = made.split("give it to the client):", 1)[1].split()[0]
    digest = made.split("config set web.tokens ", 1)[1].split()[0]
    port = _free_port()
    extra = {"FERRYMAN_WEB__PORT": str(port), "FERRYMAN_WEB__TOKENS": json.dumps([digest])}
    server = subprocess.Popen(
        _as_image_says(rootfs, config, ["ferryman", "web"], extra),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        eventually_sync(lambda: _get(f"{base}/healthz")[0] == 200, "/healthz", within=90)
        assert _get(f"{base}/api/v1/jobs")[0] == 401
        status, body = _get(f"{base}/api/v1/jobs", token)
        assert status == 200 and "jobs" in json.loads(body)
        status, page = _get(f"{base}/")
        assert status == 200 and b"ferryman" in page.lower()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
