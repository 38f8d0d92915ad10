"""A person's own library folder: set by an administrator (`ferryman user add NAME
--library DIR`, `ferryman user set`, or the people's settings through the API), their
``library`` jobs go there, another person's to the server's library; a person cannot
set it themselves."""

from __future__ import annotations

import os
from pathlib import Path

from ferryman.config import Settings
from ferryman.store import Store
from tests.support import forked
from tests.web.test_web_accounts import API, _app, _client, _code, _people, _signed_in


def _cli(settings: Settings, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    done = forked.run(
        ["user", *args],
        env=env | {"FERRYMAN_DATA_DIR": str(settings.data_dir), "FERRYMAN_PASSWORD": "long enough"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def test_a_persons_library_jobs_go_to_their_own_folder(
    tmp_path: Path, settings: Settings
) -> None:
    settings = settings.model_copy(update={"library": tmp_path / "server-library"})
    hers, theirs = tmp_path / "ann-library", tmp_path / "cid-library"
    store = await Store.open(settings.database)
    await _people(store)
    try:
        assert "ann-library" in _cli(settings, "set", "ann", "--library", str(hers))
        _cli(settings, "add", "cid", "--library", str(theirs))
        cid = await store.user_named("cid")
        assert cid is not None and cid.settings["library"] == str(theirs)
        listed = {
            line.split(None, 3)[0]: line.split(None, 3)[3]
            for line in _cli(settings, "list").splitlines()
        }
        assert listed["ann"] == str(hers) and listed["cid"] == str(theirs)
        assert listed["bob"] == f"{settings.library} (the server's)"
        async with (
            _app(settings, store) as served,
            _client(served) as ann,
            _client(served) as bob,
            _client(served) as root,
        ):
            for client, name in ((ann, "ann"), (bob, "bob"), (root, "root")):
                await _signed_in(client, name)
            to_library = {"deliver": {"to": "library"}}
            made = await ann.post(
                f"{API}/jobs", json={"source": "https://e.com/a.zip", **to_library}
            )
            assert made.status_code == 202, made.text
            assert (await store.get_job(made.json()["id"])).dest == f"library:{hers}"
            made = await bob.post(
                f"{API}/jobs", json={"source": "https://e.com/b.zip", **to_library}
            )
            assert (await store.get_job(made.json()["id"])).dest == "library:"  # the server's
            made = await ann.post(f"{API}/jobs", json={"source": "https://e.com/c.zip"})
            assert (await store.get_job(made.json()["id"])).dest == "link:"  # not a library job

            own = await bob.put(f"{API}/me/settings", json={"library": str(tmp_path)})
            assert own.status_code == 403 and _code(own) == "account.forbidden"
            bad = await root.put(f"{API}/users/bob/settings", json={"library": "relative/dir"})
            assert bad.status_code == 422 and _code(bad) == "request.invalid"
            his = tmp_path / "bob-library"
            given = await root.put(f"{API}/users/bob/settings", json={"library": str(his)})
            assert given.status_code == 200 and given.json()["settings"]["library"] == str(his)
            made = await bob.post(
                f"{API}/jobs", json={"source": "https://e.com/d.zip", **to_library}
            )
            assert (await store.get_job(made.json()["id"])).dest == f"library:{his}"
            _cli(settings, "set", "ann", "--library", "")
            made = await ann.post(
                f"{API}/jobs", json={"source": "https://e.com/e.zip", **to_library}
            )
            assert (await store.get_job(made.json()["id"])).dest == "library:"
    finally:
        await store.close()
