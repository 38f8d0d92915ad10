"""The S3 results store: signing against AWS's worked examples, then everything against a
real S3 server (SeaweedFS): uploads in parts, presigned links (a Range, an expiry, a
changed signature), the engine delivering a job into a bucket (again after a crash: no
duplicates), and the web serving it (links, zip, readiness, retention)."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from ferryman.config import Settings, load_settings
from ferryman.engine.ops import intake
from ferryman.engine.plumbing.events import EngineWarning
from ferryman.errors import FerrymanError
from ferryman.net import s3
from ferryman.net.s3 import EMPTY_SHA256, S3Client, S3Target, presign_query, sign_headers
from ferryman.samples import make_photo_set, make_video, make_zip
from ferryman.sinks.base import Delivery
from ferryman.sinks.link import S3LinkSink, s3_client
from ferryman.store import Store
from ferryman.web.results import LocalResults, ResultsStore
from ferryman.web.results_s3 import S3Results
from tests.support.engine_helpers import run_until_idle, sha256
from tests.support.s3serve import S3Server
from tests.support.waiting import eventually
from tests.support.webserve import running_web

AWS = S3Target(
    "https://examplebucket.s3.amazonaws.com",
    "examplebucket",
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
)
AWS_HOST = "examplebucket.s3.amazonaws.com"
AWS_DAY = dt.datetime(2013, 5, 24, tzinfo=dt.UTC)


def test_signatures_match_aws_worked_examples() -> None:
    """The examples of AWS's Signature V4 documentation for S3, signature for signature."""
    got = sign_headers(
        AWS, "GET", AWS_HOST, "/test.txt", [], EMPTY_SHA256, AWS_DAY, {"Range": "bytes=0-9"}
    )
    assert got["authorization"].endswith(
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        " Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    got = sign_headers(AWS, "GET", AWS_HOST, "/", [("lifecycle", "")], EMPTY_SHA256, AWS_DAY)
    assert got["authorization"].endswith(
        "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
    )
    query = presign_query(AWS, "GET", AWS_HOST, "/test.txt", 86400, AWS_DAY)
    assert query.endswith(
        "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )


def _client(server: S3Server, bucket: str, **target: object) -> S3Client:
    options = server.settings(bucket) | target
    return S3Client(S3Target(**options))  # type: ignore[arg-type]


async def test_upload_in_parts_and_presigned_links(
    s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3, "MULTIPART_FROM", 6 << 20)
    monkeypatch.setattr(s3, "PART_SIZE", 5 << 20)  # S3's smallest part
    client = _client(s3_server, "parts")
    await client.make_bucket()
    await client.make_bucket()  # ours already: fine
    body = os.urandom((12 << 20) + 12345)  # three parts, the last one short
    big = tmp_path / "big.bin"
    big.write_bytes(body)
    key = "job-1/0001/clip été #1.mp4"  # spaces, a hash and an accent in the key
    told: list[int] = []
    await client.put_file(key, big, "video/mp4", sent=told.append)
    assert told[-1] == len(body) and told == sorted(told)  # after each part: delivering's
    assert len(set(told)) == 3  # bytes, for its speed and time left
    listed = await client.list("job-1/")
    assert [(o.key, o.size) for o in listed] == [(key, len(body))]

    url = client.presign(key, 60, {"response-content-disposition": "attachment; x"})
    async with httpx.AsyncClient() as web:
        whole = await web.get(url)
        assert whole.status_code == 200 and whole.content == body
        assert whole.headers["content-disposition"] == "attachment; x"
        part = await web.get(url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == body[100:200]
        changed = await web.get(url.replace("X-Amz-Expires=60", "X-Amz-Expires=61"))
        assert changed.status_code == 403
        past = S3Client(
            client.target, clock=lambda: dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
        )
        expired = await web.get(past.presign(key, 60))
        assert expired.status_code == 403 and b"expired" in expired.content.lower()
        await past.close()

    streamed = b"".join([block async for block in client.stream(key)])
    assert streamed == body
    await client.delete(key)
    await client.delete(key)  # gone already: fine
    assert await client.list("job-1/") == []
    assert await client.get_bytes(key) is None

    wrong = _client(s3_server, "parts", secret_key="not-the-key")
    with pytest.raises(FerrymanError) as refused:
        await wrong.check()
    assert refused.value.code == "results.bucket" and "403" in refused.value.message
    await wrong.close()
    await client.close()


def _settings(tmp_path: Path, s3_server: S3Server) -> tuple[Settings, dict[str, object]]:
    bucket = s3_server.settings()
    settings = load_settings(
        None,
        {
            "data_dir": tmp_path / "data",
            "results": {"s3": bucket},
            "network": {"block_private": False},
        },
    )
    return settings, bucket


async def test_engine_delivers_a_job_into_the_bucket_once(
    s3_server: S3Server, tmp_path: Path
) -> None:
    settings, _ = _settings(tmp_path, s3_server)
    client = s3_client(settings.results.s3)  # type: ignore[arg-type]
    await client.make_bucket()
    photos = make_photo_set(tmp_path / "src", 12)
    video = make_video(tmp_path / "src" / "clip.mp4", 1)
    archive = make_zip(tmp_path / "trip.zip", [(p.name, p) for p in [*photos, video]])
    store = await Store.open(settings.database)
    job = await intake.add_source(store, archive, dest="link:", settings=settings)
    await run_until_idle(store, settings)
    assert (await store.get_job(job.id)).state.value == "done"

    results = S3Results(settings.results.s3)  # type: ignore[arg-type]
    files = await results.files(job.id)
    assert sorted(f.name for f in files) == sorted(p.name for p in [*photos, video])
    assert [f.path.split("/")[0] for f in files] == ["0001"] * 10 + ["0002"] * 3
    for seq in (1, 2):  # captions final in the bucket's manifests too, once the job ended
        manifest = json.loads(await client.get_bytes(f"job-{job.id}/000{seq}/manifest.json") or b"")
        assert manifest["caption"] == f"trip — {seq}/2", manifest
    by_name = {f.name: f for f in files}
    assert by_name["clip.mp4"].mime == "video/mp4"
    async with httpx.AsyncClient() as web:
        for path in (photos[0], video):
            url = results.direct_url(job.id, by_name[path.name], 1e12)
            assert url is not None
            got = await web.get(url)
            assert got.content == path.read_bytes()
            assert "filename*=UTF-8''" in got.headers["content-disposition"]

    # A crash after the upload, before the store heard: the album is claimed again, and
    # delivering it again writes nothing twice and says where it went.
    listed = await client.list("")
    async with store.engine.begin() as conn:
        await conn.execute(text("UPDATE jobs SET state = 'active' WHERE id = :j"), {"j": job.id})
        await conn.execute(
            text("UPDATE albums SET state = 'sealed' WHERE job_id = :j AND seq = 1"),
            {"j": job.id},
        )
    album = await store.claim_album("test", 60)
    assert album is not None and album.seq == 1
    again = await S3LinkSink(client, "").deliver(
        Delivery(await store.get_job(job.id), album, caption="")
    )
    assert again.ref == f"s3://{client.target.bucket}/job-{job.id}/0001/"
    assert await client.list("") == listed  # same keys, same sizes, same times
    await store.close()
    await results.close()
    await client.close()


async def _fill(results: ResultsStore, root: Path | None, client: S3Client | None) -> None:
    """Job 3 with albums 0001 (b.jpg, a.jpg) and 0002 (a.jpg), and album 0003 still being
    written, in either store as its sink leaves it."""
    albums = {"0001": ["b.jpg", "a.jpg"], "0002": ["a.jpg"], "0003": ["c.jpg"]}
    for album, names in albums.items():
        blobs = {name: f"{album}/{name}".encode() * 1000 for name in names}
        manifest = json.dumps({"items": [{"file": n, "parts": None} for n in names]}).encode()
        if album != "0003":
            blobs["manifest.json"] = manifest
        for name, blob in blobs.items():
            if client is not None:
                await client.put_bytes(f"job-3/{album}/{name}", blob, "image/jpeg")
            else:  # the library's way: an album is built under a hidden name
                assert root is not None
                folder = root / "job-3" / (album if album != "0003" else ".0003.partial")
                folder.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(blob)


@pytest.mark.parametrize("kind", ["folder", "s3"])
async def test_both_stores_list_zip_and_expire_alike(
    kind: str, s3_server: S3Server, tmp_path: Path
) -> None:
    client: S3Client | None = None
    results: ResultsStore
    if kind == "s3":
        settings, _ = _settings(tmp_path, s3_server)
        client = s3_client(settings.results.s3)  # type: ignore[arg-type]
        await client.make_bucket()
        results = S3Results(settings.results.s3)  # type: ignore[arg-type]
        await _fill(results, None, client)
    else:
        results = LocalResults(tmp_path / "results")
        await _fill(results, tmp_path / "results", None)
    assert ("S3 bucket" if client else "writable") in await results.check()
    files = await results.files(3)
    assert [f.path for f in files] == ["0001/b.jpg", "0001/a.jpg", "0002/a.jpg"]
    assert files[0].size == len(b"0001/b.jpg") * 1000 and files[0].mime == "image/jpeg"
    stream = results.zip_stream(3, files)
    if hasattr(stream, "__aiter__"):
        zipped = b"".join([block async for block in stream])  # type: ignore[union-attr]
    else:
        zipped = b"".join(await asyncio.to_thread(list, stream))  # type: ignore[arg-type]
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        assert archive.namelist() == ["b.jpg", "a.jpg", "a (2).jpg"]
        assert archive.read("a (2).jpg") == b"0002/a.jpg" * 1000
        assert archive.testzip() is None
    located = await results.locate(3, "0002/a.jpg")
    if isinstance(located, str):
        async with httpx.AsyncClient() as web:
            assert (await web.get(located)).content == b"0002/a.jpg" * 1000
    else:  # opened here: served from its handle
        try:
            assert located.reopened().read_bytes() == b"0002/a.jpg" * 1000
        finally:
            located.close()
    with pytest.raises(FerrymanError) as gone:
        await results.locate(3, "0003/c.jpg")  # not finished: not offered
    assert gone.value.code == "link.gone"
    used = await results.used_bytes()
    assert used >= 4 * 10_000
    assert await results.sweep(7 * 86400) == (0, 0)  # young: kept
    removed, freed = await results.sweep(7 * 86400, now=time.time() + 30 * 86400)
    assert removed == 1 and freed >= 4 * 10_000
    assert await results.files(3) == []
    await results.close()
    if client is not None:
        assert await client.list("") == []
        await client.close()


def test_the_web_serves_results_from_the_bucket(s3_server: S3Server, tmp_path: Path) -> None:
    """``ferryman web`` with [results.s3]: a link job's files are presigned S3 URLs, the
    zip comes through ferryman, and /readyz says the bucket answers (and when it does
    not)."""
    from tests.support.httpserve import serving

    photos = make_photo_set(tmp_path / "src", 3)
    archive = make_zip(tmp_path / "three.zip", [(p.name, p) for p in photos]).read_bytes()
    bucket = s3_server.settings()
    env = {f"FERRYMAN_RESULTS__S3__{k.upper()}": str(v) for k, v in bucket.items()}
    s3_server.make_bucket(bucket)
    with serving() as files, running_web(tmp_path / "data", **env) as web, web.client() as api:
        files.add("/three.zip", archive)
        made = api.post("/api/v1/jobs", json={"source": files.url("/three.zip")})
        assert made.status_code == 202, made.text
        view = web.wait_for(made.json()["id"], ("done", "failed"))
        assert view["status"] == "done", view
        result = view["result"]["files"]
        assert sorted(f["name"] for f in result) == sorted(p.name for p in photos)
        for entry in result:
            assert entry["url"].startswith(s3_server.endpoint + "/" + str(bucket["bucket"]) + "/")
            got = httpx.get(entry["url"])
            assert got.content == (tmp_path / "src" / entry["name"]).read_bytes()
        whole = api.get(view["result"]["zip"]["url"])
        assert whole.status_code == 200
        with zipfile.ZipFile(io.BytesIO(whole.content)) as zipped:
            assert sorted(zipped.namelist()) == sorted(p.name for p in photos)
            assert {sha256_of(zipped.read(p.name)) for p in photos} == {sha256(p) for p in photos}
        ready = api.get("/readyz").json()
        assert ready["checks"]["results"]["ok"], ready
        assert "S3 bucket" in ready["checks"]["results"]["detail"]
        metrics = api.get("/metrics").text
        used = [line for line in metrics.splitlines() if line.startswith("ferryman_results_bytes")]
        assert used and float(used[0].split()[-1]) > 0
    wrong = env | {"FERRYMAN_RESULTS__S3__SECRET_KEY": "wrong"}
    with running_web(tmp_path / "data", **wrong) as web, web.client() as api:
        answer = api.get("/readyz")
        assert answer.status_code == 503
        check = answer.json()["checks"]["results"]
        assert not check["ok"] and "SignatureDoesNotMatch" in check["detail"]
        job = api.get(f"/api/v1/jobs/{made.json()['id']}")  # the rest of the view still shows
        assert job.status_code == 200 and job.json()["status"] == "done"
        result = job.json()["result"]
        assert result["files"] == [] and "SignatureDoesNotMatch" in result["unavailable"]


def sha256_of(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


@pytest.mark.slow  # two engine starts against SeaweedFS: 11 s
async def test_the_engine_says_at_start_when_the_bucket_refuses_its_keys(
    s3_server: S3Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Wrong keys are said once, at start, with the next step: not album by album after
    each one's retries. A bucket that answers says nothing."""
    from ferryman.engine.runner import Engine

    good, _ = _settings(tmp_path / "good", s3_server)
    s3 = good.results.s3
    assert s3 is not None
    await s3_client(s3).make_bucket()
    wrong_keys = s3.model_copy(update={"secret_key": "not-the-key"})
    wrong = good.model_copy(update={"results": good.results.model_copy(update={"s3": wrong_keys})})
    for settings, expect_warning in ((wrong, True), (good, False)):
        store = await Store.open(settings.database)
        engine = Engine(store, settings)
        warned: list[EngineWarning] = []
        engine.bus.subscribe(
            lambda event, warned=warned: (
                warned.append(event) if isinstance(event, EngineWarning) else None
            )
        )
        checked = asyncio.Event()
        preflight = engine.ctx.sinks.preflight

        async def noted(*args: Any, preflight: Any = preflight, checked: Any = checked) -> Any:
            try:  # its warnings are published as it returns, before anything else runs
                return await preflight(*args)
            finally:
                checked.set()

        engine.ctx.sinks.preflight = noted  # type: ignore[method-assign]
        caplog.clear()
        running = asyncio.create_task(engine.run())
        try:  # the check is a request away; what it found is said once it ends
            await eventually(checked.is_set, "the start-up check ended", within=10)
        finally:
            engine.stop()
            await running
            await store.close()
        if expect_warning:
            assert [w.code for w in warned] == ["results.bucket"]
            assert "403" in str(warned[0].message)
            logged = [r.getMessage() for r in caplog.records if "results.bucket" in r.getMessage()]
            assert logged and "[results.s3]" in logged[0]  # the next step names the setting
        else:
            assert warned == []


@pytest.mark.parametrize("kind", ["folder", "s3"])
async def test_both_stores_zip_a_job_under_its_inputs_folders(
    kind: str, s3_server: S3Server, tmp_path: Path
) -> None:
    """An archive's `Holiday 2024/day 2/a.jpg` is there in the job's zip, not at its root
    (issue 35.8); a file that had no folder stays at the root."""
    items = [
        {"file": "a.jpg", "parts": None, "source_path": "Holiday 2024/day 2/a.jpg"},
        {"file": "b.jpg", "parts": None, "source_path": "b.jpg"},
    ]
    blobs = {
        "a.jpg": b"a" * 100,
        "b.jpg": b"b" * 100,
        "manifest.json": json.dumps({"items": items}).encode(),
    }
    client: S3Client | None = None
    results: ResultsStore
    if kind == "s3":
        settings, _ = _settings(tmp_path, s3_server)
        client = s3_client(settings.results.s3)  # type: ignore[arg-type]
        await client.make_bucket()
        results = S3Results(settings.results.s3)  # type: ignore[arg-type]
        for name, blob in blobs.items():
            await client.put_bytes(f"job-4/0001/{name}", blob, "image/jpeg")
    else:
        results = LocalResults(tmp_path / "results")
        folder = tmp_path / "results" / "job-4" / "0001"
        folder.mkdir(parents=True)
        for name, blob in blobs.items():
            (folder / name).write_bytes(blob)
    stream = results.zip_stream(4, await results.files(4))
    if hasattr(stream, "__aiter__"):
        zipped = b"".join([block async for block in stream])  # type: ignore[union-attr]
    else:
        zipped = b"".join(await asyncio.to_thread(list, stream))  # type: ignore[arg-type]
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        assert archive.namelist() == ["Holiday 2024/day 2/a.jpg", "b.jpg"]
        assert archive.read("Holiday 2024/day 2/a.jpg") == b"a" * 100
    await results.close()
    if client is not None:
        await client.close()
