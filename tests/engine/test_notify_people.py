"""Each person's notices go to their own targets (their ``notify`` setting), never the
server's; an administrator's jobs' go to the server's (``notify.urls``); a person with
none set gets none. On loopback, through the engine, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from ferryman.config import Settings
from ferryman.engine.ops.who import of_user
from ferryman.engine.runner import Engine
from ferryman.store import Store
from tests.engine.test_notify import a_job, receiving, run_until, with_notify
from tests.web.test_web_accounts import API, _app, _client, _code, _people, _signed_in


async def test_a_persons_job_notices_go_to_their_own_targets(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    root = await store.add_user("root", None, admin=True)
    ann = await store.add_user("ann", None)
    bob = await store.add_user("bob", None)
    with receiving() as hook:
        base = f"ferryman://127.0.0.1:{hook.port}"
        settings = with_notify(settings, urls=[f"{base}/server"])
        await store.update_user(ann.id, settings={"notify": f"{base}/ann"})
        hers = await a_job(store, settings, tmp_path, 1, who=of_user(ann))
        his = await a_job(store, settings, tmp_path, 2, who=of_user(bob))
        admins = await a_job(store, settings, tmp_path, 3, who=of_user(root))
        ids = (hers.id, his.id, admins.id)

        async def settled() -> bool:
            """All three ended, every event made into its notices, those sent."""
            ended = all([(await store.get_job(i)).state.terminal for i in ids])
            notices = await store.list_notices()
            return (
                ended
                and not await store.notice_events()
                and bool(notices)
                and all(n.state == "sent" for n in notices)
            )

        await run_until(Engine(store, settings), "the notices", settled)
        for job_id in ids:
            assert (await store.get_job(job_id)).state.value == "done"
        by_path = {p: [b["job"]["id"] for b in hook.bodies(p)] for p in ("/ann", "/server")}
        paths = sorted({p for p, _, _ in hook.got})
    assert by_path == {"/ann": [hers.id], "/server": [admins.id]}, by_path
    assert paths == ["/ann", "/server"]  # bob set none: his job told nobody


async def test_a_person_sets_their_own_targets_checked_as_a_jobs_are(
    tmp_path: Path, settings: Settings
) -> None:
    """Through the web app: a malformed URL is refused with its code, a good one kept,
    and the guard refuses one into this machine when ``network.block_private`` is on."""
    guarded = settings.network.model_copy(update={"block_private": True})
    settings = settings.model_copy(update={"network": guarded})
    opened = await Store.open(settings.database)
    await _people(opened)
    try:
        async with _app(settings, opened) as served, _client(served) as ann:
            await _signed_in(ann, "ann")
            bad = await ann.put(f"{API}/me/settings", json={"notify": "not a url"})
            assert bad.status_code == 400 and _code(bad) == "notify.bad_url", bad.text
            inward = await ann.put(f"{API}/me/settings", json={"notify": "json://127.0.0.1/x"})
            assert _code(inward) == "notify.blocked", inward.text
            good = await ann.put(f"{API}/me/settings", json={"notify": "ntfy://ntfy.sh/ann"})
            assert good.status_code == 200, good.text
            assert good.json()["settings"]["notify"] == "ntfy://ntfy.sh/ann"
    finally:
        await opened.close()
