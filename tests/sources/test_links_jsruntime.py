"""YouTube's challenges (issue 80): the JavaScript runtime from the ``deno`` wheel in
ferryman's own environment, found and handed to yt-dlp by its path, yt-dlp's own check
of it, the yt-dlp-ejs solver loaded from its package and run in it offline, and the
runtime kept from the network.

yt-dlp's own tests have no saved player file to solve offline (test/test_jsc downloads
YouTube's players when run, marked ``download``), so none is solved here: the solver is
run on a page that is no player and answers with its own words."""

from __future__ import annotations

import http.server
import json
import os
import sysconfig
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ferryman.links import jsruntime
from ferryman.links.grab import GrabOptions, _params
from ferryman.links.profile import Profile
from tests.support import forked

OWN_DENO = Path(sysconfig.get_path("scripts")) / "deno"


def test_the_wheels_deno_is_found_and_handed_to_yt_dlp_by_path() -> None:
    found = jsruntime.find_runtime("auto")
    assert found is not None
    assert (found.name, found.where) == ("deno", "ferryman's environment")
    assert Path(found.path) == OWN_DENO and found.supported and found.version
    params = _params(GrabOptions(), Profile())
    assert params["js_runtimes"] == {"deno": {"path": str(OWN_DENO)}}
    assert params["remote_components"] == []  # never a script from GitHub or npm

    from yt_dlp import YoutubeDL

    # yt-dlp's own check, given these options: the runtime and the solver are found.
    with YoutubeDL({**params, "quiet": True}) as ydl:
        info = ydl._js_runtimes["deno"].info
        assert info is not None and info.supported and info.path == str(OWN_DENO)
    assert jsruntime.scripts_loaded(found) == "python package"  # yt-dlp-ejs, not the web
    solver = jsruntime.solver()
    assert solver.fits and solver.version


def test_the_solver_runs_in_the_runtime_offline() -> None:
    runtime = jsruntime.find_runtime("auto")
    assert runtime is not None
    provider = _provider(runtime)
    request = _request()
    stdin = provider._construct_stdin("var notAPlayer = 1;", False, [request])
    from yt_dlp.extractor.youtube.jsc.provider import JsChallengeProviderError

    with pytest.raises(JsChallengeProviderError, match="unexpected structure"):
        provider._run_js_runtime(stdin)  # the solver's own word: it ran, and parsed


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"answer")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", asked
    finally:
        server.shutdown()
        server.server_close()


def test_the_runtime_fetches_nothing(listener: tuple[str, list[str]]) -> None:
    """Code the solver runs cannot open a connection: deno, as yt-dlp starts it, has
    no network permission and asks for none (``--no-prompt``)."""
    url, asked = listener
    runtime = jsruntime.find_runtime("auto")
    assert runtime is not None
    from yt_dlp.extractor.youtube.jsc.provider import JsChallengeProviderError

    with jsruntime.quiet_runtime(), pytest.raises(JsChallengeProviderError) as caught:
        _provider(runtime)._run_js_runtime(f"await fetch({json.dumps(url)});")
    assert "net access" in str(caught.value)
    assert asked == []


def test_quiet_runtime_sets_denos_switches_and_restores_them() -> None:
    before = os.environ.get("DENO_NO_UPDATE_CHECK")
    with jsruntime.quiet_runtime():
        assert os.environ["DENO_NO_UPDATE_CHECK"] == "1"
    assert os.environ.get("DENO_NO_UPDATE_CHECK") == before


def test_a_runtime_too_old_for_yt_dlp_is_not_given_and_doctor_says_what_is_missing(
    tmp_path: Path,
) -> None:
    old = tmp_path / "node"  # a node that says it is 20: yt-dlp takes 22 and later
    old.write_text("#!/bin/sh\necho v20.20.2\n")
    old.chmod(0o755)
    assert jsruntime.find_runtime(str(old)) is None
    assert _params(GrabOptions(js_runtime=str(old)), Profile())["js_runtimes"] == {}
    said = jsruntime.report(str(old))
    assert said["runtime"] is None
    assert said["unsupported"] == [{"name": "node", "path": str(old), "version": "20.20.2"}]
    assert any("a JavaScript runtime" in lack for lack in said["missing"])
    assert jsruntime.report("off")["missing"] == ["a JavaScript runtime: links.js_runtime is off"]
    assert jsruntime.find_runtime("off") is None


def test_a_runtime_is_named_by_its_file() -> None:
    assert jsruntime.name_of("/opt/qjs") == "quickjs"
    assert jsruntime.name_of("/usr/local/bin/node22") == "node"
    with pytest.raises(ValueError):
        jsruntime.name_of("/usr/bin/python3")


def _cli(data: Path, *args: str, **env: str) -> Any:
    return forked.run(
        ["--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        env=os.environ | {"FERRYMAN_SPACE_FLOOR": "0", **env},
        timeout=120,
    )


def test_doctor_shows_the_runtime_and_the_solver(tmp_path: Path) -> None:
    done = _cli(tmp_path, "doctor", "--json")
    said = json.loads(done.stdout)["links"]["js_challenges"]
    assert said["runtime"]["name"] == "deno"
    assert said["runtime"]["where"] == "ferryman's environment"
    assert said["solver"] == said["solver_wanted"] and said["scripts"] == "python package"
    assert said["missing"] == []
    text = _cli(tmp_path, "doctor").stdout
    assert "YouTube's challenges: deno " in text and "solver yt-dlp-ejs " in text
    off = _cli(tmp_path, "doctor", FERRYMAN_LINKS__JS_RUNTIME="off").stdout
    assert "YouTube's challenges: not solved here" in off
    assert "links.js_runtime is off" in off


def test_a_path_that_names_no_runtime_is_refused(tmp_path: Path) -> None:
    done = _cli(tmp_path, "doctor", FERRYMAN_LINKS__JS_RUNTIME="/usr/bin/python3")
    assert done.returncode != 0
    assert "js_runtime" in done.stdout + done.stderr


def _provider(runtime: jsruntime.Runtime) -> Any:
    from yt_dlp import YoutubeDL
    from yt_dlp.extractor.youtube.jsc._builtin.deno import DenoJCP

    ydl = YoutubeDL({**jsruntime.ytdlp_params(runtime), "quiet": True})
    return DenoJCP(ydl.get_info_extractor("Youtube"), jsruntime._Silent(), None)


def _request() -> Any:
    from yt_dlp.extractor.youtube.jsc.provider import (
        JsChallengeRequest,
        JsChallengeType,
        NChallengeInput,
    )

    player = "https://www.youtube.com/s/player/00000000/player_ias.vflset/en_US/base.js"
    return JsChallengeRequest(JsChallengeType.N, NChallengeInput(player, ["abc"]), "video")
