"""A real ``commons-helper serve`` process against the real test wiki: uploads, runtime file, one instance,
graceful shutdown, security at the socket, bad requests, ``status`` and ``paths``; and the queue's
pause on "sign-in needed" with the worker in-process against the same wiki.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx2
import pytest
from aiohttp.test_utils import TestClient, TestServer

from commons_helper.auth.botpassword import BotPassword
from commons_helper.config import Settings
from commons_helper.mediawiki import MediaWikiClient
from commons_helper.paths import Paths, get_paths
from commons_helper.retry import FAST
from commons_helper.server.app import ServiceOptions, create_app
from tests.peers.mediawiki import TestWiki
from tests.peers.service import REPO, Service, make_jpeg, plugin_meta, read_db

pytestmark = pytest.mark.slow


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COMMONS_HELPER_HOME=str(home), PYTHONPATH=str(REPO / "helper"))
    return subprocess.run([sys.executable, "-m", "commons_helper", *args], env=env, capture_output=True,
                          text=True, timeout=60)


def test_batch_goes_to_the_wiki(service: Service, wiki: TestWiki, tmp_path: Path, unique: str) -> None:
    photos = [make_jpeg(tmp_path / f"p{i}.jpg", color=f"#{i}0{i}0{i}0") for i in range(3)]
    big = make_jpeg(tmp_path / "big.jpg", tail_bytes=3 * 1024 * 1024 + 12345)  # 4 chunks of 1 MiB
    ids = []
    for i, p in enumerate([*photos, big]):
        resp = service.enqueue(p, plugin_meta(f"Serve {unique} {i}", batch=unique, image_id=i))
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["id"])
    jobs = service.wait_all_final(ids)
    for job, path in zip(jobs, [*photos, big], strict=True):
        assert job["status"] == "uploaded", job
        assert job["error"] is None
        versions = wiki.file_versions(job["title"])
        assert len(versions) == 1
        assert versions[0]["sha1"] == job["sha1"]
        assert wiki.download(str(versions[0]["url"])) == path.read_bytes()
        text = wiki.page_text(job["title"])
        assert text is not None and "{{self|cc-by-sa-4.0}}" in text and "Test uploads" in text
        shown = service.get(f"/api/v1/uploads/{job['id']}/wikitext").json()
        assert shown["title"] == job["title"] and shown["text"].strip() == text.strip()
        assert job["progress"]["done"] == job["progress"]["total"] == path.stat().st_size
        thumb = service.get(f"/api/v1/uploads/{job['id']}/thumbnail")  # kept after the upload
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        assert thumb.content.startswith(b"\xff\xd8")
    assert jobs[0]["title"] == f"File:Serve {unique} 0 2024-05-01.jpg"
    # the ledger knows every image; the spool is empty again
    rows = read_db(service.database, "SELECT i.image_id, i.title, v.sha1 FROM images i "
                   "JOIN versions v ON v.image = i.id ORDER BY i.image_id")
    assert [(r["image_id"], r["title"], r["sha1"]) for r in rows] == \
        [(str(i), j["title"], j["sha1"]) for i, j in enumerate(jobs)]
    assert list((service.home / "data" / "spool").iterdir()) == []
    listing = service.get("/api/v1/uploads", params={"batch": unique}).json()["jobs"]
    assert [j["id"] for j in listing] == ids


def test_runtime_file_single_instance_and_graceful_stop(service: Service, helper_home: Path) -> None:
    info = json.loads(service.runtime_file.read_text())
    assert set(info) >= {"url", "pid", "secret"}
    assert info["url"].startswith("http://127.0.0.1:")
    assert stat.S_IMODE(service.runtime_file.stat().st_mode) == 0o600
    second = cli(helper_home, "serve", "--port", "0")
    assert second.returncode == 1
    assert f"already running at {info['url']} (pid {info['pid']})" in second.stderr
    status = cli(helper_home, "status", "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["running"] is True and data["url"] == info["url"]
    assert data["health"]["status"] == "ok"
    assert service.stop() == 0  # SIGTERM: clean exit, runtime file gone
    assert not service.runtime_file.exists()
    stopped = cli(helper_home, "status")
    assert stopped.returncode == 1 and "not running" in stopped.stdout


def test_stale_runtime_file_is_recognised(wiki: TestWiki, helper_home: Path) -> None:
    runtime = helper_home / "run" / "helper.json"
    runtime.parent.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runtime.write_text(json.dumps({"url": "http://127.0.0.1:1", "pid": dead.pid, "secret": "old"}))
    status = json.loads(cli(helper_home, "status", "--json").stdout)
    assert status == {"running": False, "runtime_file": str(runtime), "stale": True}
    svc = Service(home=helper_home, wiki_api=wiki.api)
    svc.start()  # replaces the stale file
    try:
        assert svc.info["pid"] != dead.pid and svc.info["secret"] != "old"
    finally:
        svc.stop()


def test_paths_json(helper_home: Path) -> None:
    out = cli(helper_home, "paths", "--json")
    assert out.returncode == 0
    assert json.loads(out.stdout) == get_paths({"COMMONS_HELPER_HOME": str(helper_home)}).as_dict()


def test_security_at_the_socket(service: Service, tmp_path: Path) -> None:
    photo = make_jpeg(tmp_path / "x.jpg")
    with httpx2.Client(base_url=service.url, trust_env=False) as anon:
        assert anon.get("/api/v1/health").status_code == 401
        with photo.open("rb") as fh:
            assert anon.post("/api/v1/uploads", files={"file": ("x.jpg", fh)}).status_code == 401
    with service.client() as c:
        assert c.get("/api/v1/health", headers={"Host": "attacker.example"}).status_code == 403
        port = service.url.rsplit(":", 1)[1]
        assert c.get("/api/v1/health", headers={"Host": f"localhost:{port}"}).status_code == 200
        refused = c.get("/api/v1/uploads", headers={"Origin": "https://attacker.example"})
        assert refused.status_code == 403
        pre = c.options("/api/v1/uploads", headers={"Origin": "https://attacker.example",
                                                     "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 403
        assert not [h for h in pre.headers if h.lower().startswith("access-control-")]
        assert c.get("/api/v1/uploads").json()["jobs"] == []  # nothing got in


def test_bad_requests_leave_it_healthy(service: Service, tmp_path: Path) -> None:
    photo = make_jpeg(tmp_path / "x.jpg")
    with service.client() as c:
        cases: list[tuple[dict[str, Any], int, str]] = [
            ({"data": {"meta": json.dumps(plugin_meta("X"))}}, 400, "not-multipart"),
            ({"data": {"file": "/home/me/x.jpg"}}, 400, "not-a-file"),
            ({"files": {"meta": (None, json.dumps(plugin_meta("X")))}}, 400, "no-file"),
            ({"files": {"file": ("x.jpg", photo.read_bytes()), "meta": (None, "{broken")}}, 400, "bad-json"),
            ({"files": {"file": ("x.jpg", photo.read_bytes()),
                        "meta": (None, json.dumps({"batch": "b", "surprise": 1}))}}, 400, "unknown-field"),
            ({"files": {"file": ("x.jpg", photo.read_bytes()),
                        "meta": (None, json.dumps({"metadata": {"tags": ["y" * 1000] * 300}}))}},
             413, "meta-too-large"),
            ({"files": {"file": (None, str(photo))}}, 400, "not-a-file"),
        ]
        for kwargs, status, code in cases:
            resp = c.post("/api/v1/uploads", **kwargs)
            assert resp.status_code == status, (code, resp.text)
            assert resp.json()["error"]["code"] == code
            assert resp.json()["error"]["message"]
        assert c.get("/api/v1/health").json()["status"] == "ok"
        assert c.get("/api/v1/uploads").json()["jobs"] == []


# -- pause on "sign-in needed", in-process against the real wiki ------------------------------------
class Credentials:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password


@pytest.fixture
async def paused_app(wiki: TestWiki, helper_home: Path) -> AsyncIterator[tuple[TestClient[Any, Any],
                                                                              Credentials]]:
    creds = Credentials(wiki.bots["full"].user, "0" * 32)  # a wrong password first

    async def client_factory(settings: Settings, paths: Paths) -> MediaWikiClient:
        return MediaWikiClient(settings.wiki, auth=BotPassword(creds.user, creds.password),
                               user_agent="commons-helper-tests/0.1", retry=FAST)

    app = create_app(get_paths(), Settings(wiki=wiki.api, chunk_size=1024 * 1024), secret="s" * 32,
                     options=ServiceOptions(client_factory=client_factory, job_retry=FAST))
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield client, creds
    await client.close()


async def test_sign_in_needed_pauses_then_resumes(paused_app: tuple[TestClient[Any, Any], Credentials],
                                                  wiki: TestWiki, tmp_path: Path, unique: str) -> None:
    client, creds = paused_app
    auth = {"Authorization": "Bearer " + "s" * 32}
    photo = make_jpeg(tmp_path / "p.jpg")
    data = aiohttp.FormData()
    data.add_field("meta", json.dumps(plugin_meta(f"Paused {unique}", batch=unique)))
    data.add_field("file", photo.read_bytes(), filename="p.jpg")
    resp = await client.post("/api/v1/uploads", data=data, headers=auth)
    assert resp.status == 201
    job_id = (await resp.json())["id"]
    health: dict[str, Any] = {}
    for _ in range(600):  # until the worker has met the refusal (bounded by the test's own wait)
        health = await (await client.get("/api/v1/health", headers=auth)).json()
        if health["paused"]:
            break
        await asyncio.sleep(0.05)
    assert health["paused"] is True and health["status"] == "paused"
    assert "refused the bot password" in health["pause_reason"]
    job = await (await client.get(f"/api/v1/uploads/{job_id}", headers=auth)).json()
    assert job["status"] == "queued"  # nothing failed
    assert job["error"]["code"] == "login-failed"
    creds.password = wiki.bots["full"].password  # the user signs in again
    resumed = await (await client.post("/api/v1/resume", headers=auth)).json()
    assert resumed["paused"] is False
    for _ in range(1200):
        job = await (await client.get(f"/api/v1/uploads/{job_id}", headers=auth)).json()
        if job["status"] not in ("queued", "preparing", "uploading"):
            break
        await asyncio.sleep(0.05)
    assert job["status"] == "uploaded", job
    assert len(wiki.files_with_sha1(job["sha1"])) == 1
    assert wiki.file_versions(job["title"])[0]["sha1"] == job["sha1"]


@pytest.mark.parametrize("rounds", [1, 4])
async def test_retryable_errors_back_off_with_the_reason_visible(rounds: int, wiki: TestWiki,
                                                                  helper_home: Path, tmp_path: Path,
                                                                  unique: str) -> None:
    """The wiki answers 503 to more upload requests than the engine retries by itself: the job goes
    back in line with the reason shown, is tried again, and lands exactly once. With 4 rounds the
    trouble outlasts the job's 3 tries: a busy wiki is waited out, never a failed photo."""
    from commons_helper.retry import RetryPolicy
    from commons_helper.server.keys import EVENTS
    from tests.peers.faultproxy import FaultProxy

    proxy = await FaultProxy(wiki.api).start()
    engine_tries = FAST.attempts
    rule = proxy.add("status", lambda f: f.get("action") == "upload", times=engine_tries * rounds,
                     status=503, retry_after="0")
    bot = wiki.bots["full"]

    async def client_factory(settings: Settings, paths: Paths) -> MediaWikiClient:
        return MediaWikiClient(settings.wiki, auth=BotPassword(bot.user, bot.password),
                               user_agent="commons-helper-tests/0.1", retry=FAST)

    app = create_app(get_paths(), Settings(wiki=proxy.url), secret="s" * 32, options=ServiceOptions(
        client_factory=client_factory, job_retry=RetryPolicy(attempts=3, base=0.2, cap=0.2)))
    seen: list[dict[str, Any]] = []
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        with app[EVENTS].subscribe() as events:
            data = aiohttp.FormData()
            data.add_field("meta", json.dumps(plugin_meta(f"Retry {unique}", batch=unique)))
            data.add_field("file", make_jpeg(tmp_path / "r.jpg").read_bytes(), filename="r.jpg")
            resp = await client.post("/api/v1/uploads", data=data,
                                     headers={"Authorization": "Bearer " + "s" * 32})
            assert resp.status == 201
            while not seen or seen[-1]["status"] in ("queued", "preparing", "uploading"):
                kind, line = await asyncio.wait_for(events.get(), 120)
                if kind == "job":
                    seen.append(json.loads(line))
    finally:
        await client.close()
        await proxy.stop()
    assert rule.fired == engine_tries * rounds, seen[-1]
    waiting = [e for e in seen if e["status"] == "queued" and e["error"]]
    assert waiting, seen
    assert waiting[0]["attempts"] == 1
    assert "trying again" in waiting[0]["error"]["message"].lower() and waiting[0]["next_attempt"]
    assert "stays in the queue" in waiting[-1]["error"]["message"]
    final = seen[-1]
    assert final["status"] == "uploaded" and final["error"] is None and final["attempts"] == rounds
    assert wiki.files_with_sha1(final["sha1"]) == [final["title"]]


def test_location_hidden_by_option_and_privacy_zone(wiki: TestWiki, helper_home: Path, tmp_path: Path,
                                                    unique: str) -> None:
    from commons_helper.metadata import read_metadata
    from tests.photos import make_photo

    config = helper_home / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[[privacy_zones]]\nlat = 51.0519\nlon = 13.7416\nradius_m = 500.0\n")
    bot = wiki.bots["full"]
    svc = Service(home=helper_home, wiki_api=wiki.api, bot_user=bot.user, bot_password=bot.password)
    svc.start()
    paris = (48.8530, 2.3499, 35.0, 90.0)
    cases = {  # name -> (photo, meta options, location published?)
        "zone": (make_photo(tmp_path / "a", title=f"Zone {unique}"), {}, False),
        "strip": (make_photo(tmp_path / "b", title=f"Strip {unique}", camera=paris, subject=None),
                  {"strip_location": True}, False),
        "public": (make_photo(tmp_path / "c", title=f"Public {unique}", camera=paris, subject=None), {},
                   True),
    }
    try:
        ids = {name: svc.enqueue(photo, plugin_meta(f"{name} {unique}", batch=unique, image_id=name,
                                                    **options)).json()["id"]
               for name, (photo, options, _) in cases.items()}
        jobs = dict(zip(ids, svc.wait_all_final(list(ids.values())), strict=True))
    finally:
        svc.stop()
    for name, (photo, _, published) in cases.items():
        job = jobs[name]
        assert job["status"] == "uploaded", job
        text = wiki.page_text(job["title"]) or ""
        assert ("{{Location|" in text) is published, (name, text)
        landed = tmp_path / f"landed-{name}.jpg"
        landed.write_bytes(wiki.download(str(wiki.file_versions(job["title"])[0]["url"])))
        assert (read_metadata(landed).camera_position is not None) is published, name
        assert read_metadata(photo).camera_position is not None  # the original is untouched
