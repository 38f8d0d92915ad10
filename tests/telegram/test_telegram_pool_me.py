"""A pool to ``telegram:me`` or a private chat: the own account alone sends there.

Each account's Saved Messages is its own, and a bot's chat with a person is the bot's:
another account posting "to me" would post to another chat, splitting the job and its
order. So those albums go through the own account only, no other account is asked
anything there, and ``status -v`` says so.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ferryman.engine.ops import intake
from ferryman.frontdoors.cli.root import app
from ferryman.model import JobState
from ferryman.telegram.accounts import read_figures
from tests.support.telegram_pool import senders
from tests.telegram.test_telegram_pool import Pool, _env, expected


async def test_a_pool_to_me_goes_through_the_own_account_alone(tmp_path: Path) -> None:
    w = Pool(tmp_path)
    await w.log_in_all()
    store = await w.store()
    try:
        job = await intake.add_source(store, w.photo_zip(40), dest="telegram:me")
        await w.run(store)
        assert (await store.get_job(job.id)).state is JobState.DONE
    finally:
        await store.close()
    saved = [m for m in w.server.chat(w.me) if m.media is not None]
    assert [m.media.file.name for m in saved] == expected(40)  # once each, in order
    assert set(senders(saved)) == {w.me.id}
    for bot in (w.bot1, w.bot2):  # nothing of the job went to the bots' own chats
        assert not [m for m in w.server.chat(bot) if m.media is not None]
        assert not [n for who, n in w.server.log if who == bot.id and "Upload" in n]
    figures = read_figures(w.settings)
    assert figures["ferryman"]["albums"] == 4
    assert all(figures[b]["refused"] == 0 for b in ("bot1", "bot2"))  # never even tried
    done = CliRunner().invoke(
        app, ["--data-dir", str(w.settings.data_dir), "-v", "status"], env=_env(w)
    )
    assert done.exit_code == 0, done.output
    assert "telegram:me and private chats go through ferryman alone" in done.output
