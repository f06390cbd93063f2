"""The local API in-process (aiohttp's test server, real SQLite, real spool; no worker, no wiki).

Security (secret, Host, Origin, preflight, cookie sessions) and bad requests are
checked here; tests/test_serve.py repeats the essentials against a real process.
"""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from commons_helper.config import Settings
from commons_helper.paths import Paths, get_paths
from commons_helper.server import security
from commons_helper.server.app import ServiceOptions, create_app
from commons_helper.server.keys import SESSIONS
from tests.peers.service import make_jpeg, plugin_meta

SECRET = "test-secret-" + "x" * 20
AUTH = {"Authorization": f"Bearer {SECRET}"}


@pytest.fixture
def paths(helper_home: Path) -> Paths:
    return get_paths()


async def _client(paths: Paths, **opts: Any) -> TestClient[Any, Any]:
    app = create_app(paths, Settings(wiki="http://127.0.0.1:9/api.php"), secret=SECRET,
                     options=ServiceOptions(start_worker=False, **opts))
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def client(paths: Paths) -> AsyncIterator[TestClient[Any, Any]]:
    c = await _client(paths)
    yield c
    await c.close()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    return make_jpeg(tmp_path / "in" / "photo.jpg")


def form(file: Path | None, meta: Any = None, *, file_name: str | None = None,
         raw_meta: bytes | None = None) -> aiohttp.FormData:
    data = aiohttp.FormData(default_to_multipart=True)
    if raw_meta is not None:
        data.add_field("meta", io.BytesIO(raw_meta), content_type="application/json", filename="meta.json")
    elif meta is not None:
        data.add_field("meta", json.dumps(meta), content_type="application/json")
    if file is not None:
        data.add_field("file", file.read_bytes(), filename=file_name or file.name,
                       content_type="image/jpeg")
    return data


def jobs_in_db(paths: Paths) -> list[sqlite3.Row]:
    conn = sqlite3.connect(paths.database_file)
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute("SELECT * FROM jobs"))
    finally:
        conn.close()


def spool_files(paths: Paths) -> list[str]:
    return sorted(p.name for p in paths.spool_dir.iterdir()) if paths.spool_dir.exists() else []


async def assert_healthy(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/api/v1/health", headers=AUTH)
    assert resp.status == 200
    assert (await resp.json())["status"] == "ok"


# -- the happy path ------------------------------------------------------------------------------
async def test_health(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/api/v1/health", headers=AUTH)
    assert resp.status == 200
    data = await resp.json()
    assert data["version"] == "0.1.0" and data["paused"] is False
    assert data["queue"]["queued"] == 0 and data["queue"]["active"] == 0
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_enqueue_is_durable_before_201(client: TestClient[Any, Any], paths: Paths,
                                             photo: Path) -> None:
    meta = plugin_meta("Bridge", batch="b-1", image_id=12)
    resp = await client.post("/api/v1/uploads", data=form(photo, meta, file_name="../../etc/passwd.jpg"),
                             headers=AUTH)
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["status"] == "queued" and body["batch"] == "b-1"
    assert resp.headers["Location"] == f"/api/v1/uploads/{body['id']}"
    # committed: a second connection sees the row; spooled under a generated name with the same bytes
    rows = jobs_in_db(paths)
    assert [r["id"] for r in rows] == [body["id"]]
    assert rows[0]["spool_name"] == f"{body['id']}.jpg"
    assert rows[0]["file_name"] == "passwd.jpg"  # only a display hint; no path from the request
    assert (paths.spool_dir / rows[0]["spool_name"]).read_bytes() == photo.read_bytes()
    assert spool_files(paths) == [f"{body['id']}.jpg"]
    assert json.loads(rows[0]["meta"])["source"]["image_id"] == 12

    job = await (await client.get(f"/api/v1/uploads/{body['id']}", headers=AUTH)).json()
    assert job["status"] == "queued" and job["file"] == "passwd.jpg" and job["title"] is None
    assert job["progress"] == {"done": 0, "total": photo.stat().st_size}
    assert job["source"]["app"] == "darktable"
    listing = await (await client.get("/api/v1/uploads?batch=b-1", headers=AUTH)).json()
    assert [j["id"] for j in listing["jobs"]] == [body["id"]]
    other = await (await client.get("/api/v1/uploads?batch=other", headers=AUTH)).json()
    assert other["jobs"] == []
    served = await client.get(f"/api/v1/uploads/{body['id']}/file", headers=AUTH)
    assert served.status == 200 and await served.read() == photo.read_bytes()
    assert served.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"


async def test_meta_is_optional(client: TestClient[Any, Any], photo: Path) -> None:
    resp = await client.post("/api/v1/uploads", data=form(photo), headers=AUTH)
    assert resp.status == 201
    assert (await resp.json())["batch"].startswith("api-")


async def test_cancel_retry_and_conflicts(client: TestClient[Any, Any], photo: Path) -> None:
    job_id = (await (await client.post("/api/v1/uploads", data=form(photo, plugin_meta("X")),
                                       headers=AUTH)).json())["id"]
    resp = await client.post(f"/api/v1/uploads/{job_id}/cancel", headers=AUTH)
    assert resp.status == 200 and (await resp.json())["status"] == "cancelled"
    again = await client.post(f"/api/v1/uploads/{job_id}/cancel", headers=AUTH)
    assert again.status == 409 and (await again.json())["error"]["code"] == "conflict"
    retried = await client.post(f"/api/v1/uploads/{job_id}/retry", headers=AUTH)
    assert retried.status == 200 and (await retried.json())["status"] == "queued"
    conflict = await client.post(f"/api/v1/uploads/{job_id}/retry", headers=AUTH)
    assert conflict.status == 409
    missing = await client.get("/api/v1/uploads/nope", headers=AUTH)
    assert missing.status == 404 and (await missing.json())["error"]["code"] == "not-found"
    not_ready = await client.get(f"/api/v1/uploads/{job_id}/wikitext", headers=AUTH)
    assert not_ready.status == 400 and (await not_ready.json())["error"]["code"] == "not-prepared"


async def test_events_stream_job_changes(client: TestClient[Any, Any], photo: Path) -> None:
    stream = await client.get("/api/v1/events", headers=AUTH)
    assert stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
    assert (await stream.content.readuntil(b"\n\n")).startswith(b"retry:")
    resp = await client.post("/api/v1/uploads", data=form(photo, plugin_meta("Evented")), headers=AUTH)
    job_id = (await resp.json())["id"]
    block = (await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 10)).decode()
    lines = block.strip().split("\n")
    assert lines[0] == "event: job"
    data = json.loads(lines[1].removeprefix("data: "))
    assert data["id"] == job_id and data["status"] == "queued"
    stream.close()


# -- security -------------------------------------------------------------------------------------
async def test_no_or_wrong_secret_is_401(client: TestClient[Any, Any], photo: Path, paths: Paths) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": SECRET},
                    {"Authorization": f"Basic {SECRET}"}):
        resp = await client.get("/api/v1/health", headers=headers)
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "unauthorized"
    resp = await client.post("/api/v1/uploads", data=form(photo, plugin_meta("X")))
    assert resp.status == 401
    assert jobs_in_db(paths) == [] and spool_files(paths) == []
    # unknown paths need the secret too (nothing to learn without it)
    assert (await client.get("/api/v1/nothing")).status == 401
    assert (await client.get("/api/v1/nothing", headers=AUTH)).status == 404


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1", "127.0.0.1:1",
                                  "localhost", "[::1]", ""])
async def test_foreign_host_is_refused(client: TestClient[Any, Any], host: str) -> None:
    resp = await client.get("/api/v1/health", headers={**AUTH, "Host": host})
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "foreign-host"
    page = await client.get("/", headers={"Host": host})  # the page too (DNS rebinding)
    assert page.status == 403


async def test_own_hosts_are_accepted(client: TestClient[Any, Any]) -> None:
    port = client.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
        resp = await client.get("/api/v1/health", headers={**AUTH, "Host": host})
        assert resp.status == 200, host


@pytest.mark.parametrize("origin", ["https://evil.example", "http://127.0.0.1:1", "null",
                                    "http://localhost.evil.example"])
async def test_foreign_origin_is_refused(client: TestClient[Any, Any], photo: Path, paths: Paths,
                                         origin: str) -> None:
    resp = await client.post("/api/v1/uploads", data=form(photo, plugin_meta("X")),
                             headers={**AUTH, "Origin": origin})
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "foreign-origin"
    assert not any(h.lower().startswith("access-control-") for h in resp.headers)
    get = await client.get("/api/v1/uploads", headers={**AUTH, "Origin": origin})
    assert get.status == 403
    assert jobs_in_db(paths) == []


async def test_cross_site_fetch_metadata_is_refused(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/api/v1/uploads", headers={**AUTH, "Sec-Fetch-Site": "cross-site"})
    assert resp.status == 403
    ok = await client.get("/api/v1/uploads", headers={**AUTH, "Sec-Fetch-Site": "same-origin"})
    assert ok.status == 200


async def test_preflight_gets_no_cors_headers(client: TestClient[Any, Any]) -> None:
    for path in ("/api/v1/uploads", "/api/v1/health", "/"):
        resp = await client.options(path, headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})
        assert resp.status == 403
        assert not any(h.lower().startswith("access-control-") for h in resp.headers), resp.headers
    same = await client.options("/api/v1/uploads", headers={"Access-Control-Request-Method": "POST"})
    assert same.status == 403
    assert not any(h.lower().startswith("access-control-") for h in same.headers)


async def test_cookie_session_needs_own_origin_for_changes(client: TestClient[Any, Any],
                                                           photo: Path) -> None:
    sessions = client.app[SESSIONS]
    cookie = sessions.redeem(sessions.issue_login_token())
    assert cookie is not None
    jar = {"Cookie": f"{security.COOKIE_NAME}={cookie}"}
    assert (await client.get("/api/v1/health", headers=jar)).status == 200
    assert (await client.get("/api/v1/health", headers={"Cookie": f"{security.COOKIE_NAME}=forged"})
            ).status == 401
    own = f"http://127.0.0.1:{client.port}"
    no_origin = await client.post("/api/v1/uploads", data=form(photo, plugin_meta("C")), headers=jar)
    assert no_origin.status == 401
    with_origin = await client.post("/api/v1/uploads", data=form(photo, plugin_meta("C")),
                                    headers={**jar, "Origin": own})
    assert with_origin.status == 201


def test_cookie_name_matches_the_session_module() -> None:
    from commons_helper.server import session

    assert session.COOKIE_NAME == security.COOKIE_NAME


# -- bad requests ---------------------------------------------------------------------------------
BAD_META: list[tuple[str, Any, int, str]] = [
    ("unknown top-level field", {"batch": "b", "path": "/etc/passwd"}, 400, "unknown-field"),
    ("unknown nested field", {"options": {"licence": "cc0"}}, 400, "unknown-field"),
    ("not an object", [1, 2], 400, "bad-meta"),
    ("latitude as text", {"metadata": {"latitude": "48,85", "longitude": 2.0}}, 400, "bad-meta"),
    ("latitude out of range", {"metadata": {"latitude": 148.0, "longitude": 2.0}}, 400, "bad-meta"),
    ("latitude without longitude", {"metadata": {"latitude": 48.0}}, 400, "bad-meta"),
    ("bool as number", {"metadata": {"elevation": True}}, 400, "bad-meta"),
    ("tags not strings", {"metadata": {"tags": [1]}}, 400, "bad-meta"),
    ("bad on_reexport", {"options": {"on_reexport": "overwrite"}}, 400, "bad-meta"),
    ("strip_location as text", {"options": {"strip_location": "yes"}}, 400, "bad-meta"),
    ("huge description", {"metadata": {"description": "x" * 30_000}}, 413, "meta-too-large"),
    ("too many tags", {"metadata": {"tags": ["t"] * 600}}, 413, "meta-too-large"),
]


@pytest.mark.parametrize(("what", "meta", "status", "code"), BAD_META, ids=[b[0] for b in BAD_META])
async def test_bad_meta(client: TestClient[Any, Any], paths: Paths, photo: Path, what: str, meta: Any,
                        status: int, code: str) -> None:
    resp = await client.post("/api/v1/uploads", data=form(photo, meta), headers=AUTH)
    assert resp.status == status, await resp.text()
    error = (await resp.json())["error"]
    assert error["code"] == code and error["message"]
    assert jobs_in_db(paths) == [] and spool_files(paths) == []
    await assert_healthy(client)


async def test_broken_json(client: TestClient[Any, Any], paths: Paths, photo: Path) -> None:
    for raw in (b"{not json", b'{"batch": NaN}', b"\xff\xfe", b""):
        resp = await client.post("/api/v1/uploads", data=form(photo, raw_meta=raw), headers=AUTH)
        assert resp.status == 400
        error = (await resp.json())["error"]
        assert error["code"] == "bad-json", raw
        assert "meta" in error["message"]
    assert jobs_in_db(paths) == [] and spool_files(paths) == []
    await assert_healthy(client)


async def test_huge_meta_part(client: TestClient[Any, Any], paths: Paths, photo: Path) -> None:
    raw = json.dumps({"batch": "b", "metadata": {"tags": ["x" * 1000] * 400}}).encode()
    assert len(raw) > 256 * 1024
    resp = await client.post("/api/v1/uploads", data=form(photo, raw_meta=raw), headers=AUTH)
    assert resp.status == 413
    assert (await resp.json())["error"]["code"] == "meta-too-large"
    assert jobs_in_db(paths) == [] and spool_files(paths) == []
    await assert_healthy(client)


async def test_no_file(client: TestClient[Any, Any], paths: Paths) -> None:
    resp = await client.post("/api/v1/uploads", data=form(None, plugin_meta("X")), headers=AUTH)
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "no-file"
    assert jobs_in_db(paths) == []
    await assert_healthy(client)


async def test_a_path_instead_of_a_file(client: TestClient[Any, Any], paths: Paths, photo: Path,
                                        tmp_path: Path) -> None:
    # a plain form field (curl -F file=/path without the @), multipart or url-encoded
    for multipart in (True, False):
        data = aiohttp.FormData(default_to_multipart=multipart)
        data.add_field("meta", json.dumps(plugin_meta("X")))
        data.add_field("file", str(photo))
        resp = await client.post("/api/v1/uploads", data=data, headers=AUTH)
        assert resp.status == 400
        error = (await resp.json())["error"]
        assert error["code"] == "not-a-file" and "path" in error["message"]
    # a "file" whose content is a path
    listing = tmp_path / "list.jpg"
    listing.write_text(f"{photo}\n")
    resp = await client.post("/api/v1/uploads", data=form(listing, plugin_meta("X")), headers=AUTH)
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "not-a-file"
    assert jobs_in_db(paths) == [] and spool_files(paths) == []
    await assert_healthy(client)


async def test_not_multipart_and_extra_parts(client: TestClient[Any, Any], paths: Paths,
                                             photo: Path) -> None:
    resp = await client.post("/api/v1/uploads", json=plugin_meta("X"), headers=AUTH)
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "not-multipart"
    data = form(photo, plugin_meta("X"))
    data.add_field("extra", "1")
    resp = await client.post("/api/v1/uploads", data=data, headers=AUTH)
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "unknown-field"
    two = form(photo, plugin_meta("X"))
    two.add_field("file", photo.read_bytes(), filename="again.jpg")
    resp = await client.post("/api/v1/uploads", data=two, headers=AUTH)
    assert resp.status == 400
    assert jobs_in_db(paths) == [] and spool_files(paths) == []
    await assert_healthy(client)


async def test_empty_and_unsupported_files(client: TestClient[Any, Any], paths: Paths,
                                           tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    resp = await client.post("/api/v1/uploads", data=form(empty, plugin_meta("X")), headers=AUTH)
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "empty-file"
    text = tmp_path / "notes.txt"
    text.write_text("just some words, " * 20)
    resp = await client.post("/api/v1/uploads", data=form(text, plugin_meta("X")), headers=AUTH)
    assert resp.status == 415 and (await resp.json())["error"]["code"] == "unsupported-type"
    assert jobs_in_db(paths) == [] and spool_files(paths) == []
    await assert_healthy(client)


async def test_file_size_is_bounded(paths: Paths, tmp_path: Path) -> None:
    client = await _client(paths, max_file_bytes=50_000)
    try:
        big = make_jpeg(tmp_path / "big.jpg", tail_bytes=200_000)
        resp = await client.post("/api/v1/uploads", data=form(big, plugin_meta("Big")), headers=AUTH)
        assert resp.status == 413
        assert (await resp.json())["error"]["code"] == "file-too-large"
        # streamed without Content-Length: the spooler's own count stops it
        async def chunks() -> AsyncIterator[bytes]:
            yield big.read_bytes()

        with aiohttp.MultipartWriter("form-data") as mp:
            part = mp.append(chunks(), {"Content-Type": "image/jpeg"})
            part.set_content_disposition("form-data", name="file", filename="big.jpg")
        resp = await client.post("/api/v1/uploads", data=mp, headers=AUTH)
        assert resp.status == 413
        assert jobs_in_db(paths) == [] and spool_files(paths) == []
        await assert_healthy(client)
    finally:
        await client.close()
