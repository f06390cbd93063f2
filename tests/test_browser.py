"""The web page in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Two kinds of server:

- ``FakeQueue``: the web page's routes and the service's security middlewares over an
  in-memory queue that speaks the API contract (docs/api.md). The tests move jobs
  along by hand, so every state the page can show is checked deterministically.
- The real ``create_app`` with the real test wiki (``test_real_service_*``): a real upload's
  progress on the page, retry, and a foreign origin against the real service.

Waiting uses Playwright's ``expect`` (poll until true); nothing asserts on time.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from commons_helper.auth.flow import Endpoints
from commons_helper.auth.store import KIND_OAUTH, Credential, open_store
from commons_helper.config import Settings, load_settings, save_settings
from commons_helper.paths import get_paths
from commons_helper.server import keys, webpage
from commons_helper.server.session import COOKIE_NAME, Sessions

playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic"]
SECRET = "browser-test-secret-" + "y" * 20

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")


@pytest.fixture(autouse=True)
def no_keychain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMONS_HELPER_KEYRING", "0")  # credentials in the test's own file


def sign_in_as(user: str, *, oauth_base: str = Settings().oauth_base, **changes: Any) -> None:
    """A stored OAuth sign-in, as `commons-helper login` leaves it."""
    cred = Credential(key=Endpoints.from_base(oauth_base).base, kind=KIND_OAUTH, username=user,
                      grants=("basic", "uploadfile", "editpage", "createeditmovepage"),
                      access_token="at-" + "z" * 20, refresh_token="rt-" + "z" * 20,
                      expires_at=4102444800.0, client_id="c" * 32, client_secret="s" * 40)
    open_store(get_paths()).put(cred.with_changes(**changes))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def png(width: int, height: int, rgb: tuple[int, int, int],
        ground: tuple[int, int, int] | None = None) -> bytes:
    """A small PNG stand-in thumbnail: a sky fading from ``rgb``, optionally over a ``ground`` band."""
    lines = []
    for y in range(height):
        if ground is not None and y >= height * 2 // 3:
            px = bytes(ground)
        else:
            f = 0.55 + 0.45 * y / max(1, height - 1)
            px = bytes(min(255, int(c * f + 255 * (1 - f) * 0.35)) for c in rgb)
        lines.append(b"\x00" + px * width)
    raw = b"".join(lines)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# ------------------------------------------------------------------ a queue that speaks the contract


def job(id: str, status: str, file: str, *, done: int = 0, total: int = 0, title: str | None = None,
        url: str | None = None, error: dict[str, str] | None = None, created: str = "2026-12-03T12:00:00Z",
        updated: str | None = None) -> dict[str, Any]:
    return {"id": id, "batch": "darktable-1", "status": status, "file": file, "title": title, "url": url,
            "sha1": None, "error": error, "progress": {"done": done, "total": total}, "attempts": 0,
            "next_attempt": None, "source": {"app": "darktable"}, "created": created,
            "updated": updated or created}


@dataclass
class FakeQueue:
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscribers: set[asyncio.Queue[str]] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)  # every API request that reached a handler
    sites: list[str] = field(default_factory=list)  # their Sec-Fetch-Site
    events_enabled: bool = True
    signed_in: bool = True
    thumbs: dict[str, bytes] = field(default_factory=dict)
    wikitext: dict[str, str] = field(default_factory=dict)

    def put(self, j: dict[str, Any], *, publish: bool = True) -> None:
        self.jobs[j["id"]] = j
        if publish:
            line = json.dumps(j)
            for q in self.subscribers:
                q.put_nowait(line)

    def update(self, id: str, *, publish: bool = True, **changes: Any) -> None:
        j = dict(self.jobs[id])
        j.update(changes)
        j["updated"] = f"2026-12-03T12:{int(j['updated'][14:16]) + 1:02d}:00Z"
        self.put(j, publish=publish)

    @web.middleware
    async def record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/api/"):
            self.sites.append(request.headers.get("Sec-Fetch-Site", "-"))
        response: web.StreamResponse = await handler(request)
        return response

    def routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/api/v1/health", self.health)
        r.add_get("/api/v1/uploads", self.list)
        r.add_post("/api/v1/uploads", self.create)
        r.add_post("/api/v1/uploads/{id}/retry", self.retry)
        r.add_get("/api/v1/uploads/{id}/wikitext", self.page_text)
        r.add_get("/api/v1/uploads/{id}/thumbnail", self.thumbnail)
        r.add_get("/api/v1/events", self.events)

    async def health(self, request: web.Request) -> web.Response:
        self.calls.append("health")
        return web.json_response({"status": "ok", "signed_in": self.signed_in,
                                  "user": "Ada Lovelace" if self.signed_in else None, "paused": False,
                                  "queue": {"queued": 0, "active": 0}})

    async def list(self, request: web.Request) -> web.Response:
        self.calls.append("list")
        return web.json_response({"jobs": list(self.jobs.values())})

    async def create(self, request: web.Request) -> web.Response:
        self.calls.append("create")
        await request.read()
        self.put(job(f"new-{len(self.jobs)}", "queued", "injected.jpg"))
        return web.json_response({"id": "x"}, status=201)

    async def retry(self, request: web.Request) -> web.Response:
        id = request.match_info["id"]
        self.calls.append(f"retry {id}")
        self.update(id, status="queued", error=None)
        return web.json_response(self.jobs[id])

    async def page_text(self, request: web.Request) -> web.Response:
        id = request.match_info["id"]
        return web.json_response({"title": self.jobs[id]["title"] or "File:Pending.jpg",
                                  "text": self.wikitext.get(id, "")})

    async def thumbnail(self, request: web.Request) -> web.Response:
        data = self.thumbs.get(request.match_info["id"])
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="image/png")

    async def events(self, request: web.Request) -> web.StreamResponse:
        if not self.events_enabled:
            raise web.HTTPNotFound()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        q: asyncio.Queue[str] = asyncio.Queue()
        self.subscribers.add(q)
        try:
            await resp.prepare(request)
            await resp.write(b"retry: 500\n: connected\n\n")
            while True:
                line = await q.get()
                await resp.write(f"event: job\ndata: {line}\n\n".encode())
        finally:
            self.subscribers.discard(q)


@dataclass
class Served:
    url: str
    port: int
    sessions: Sessions
    queue: FakeQueue
    runner: web.AppRunner

    def login_url(self) -> str:
        return f"{self.url}/login?token={self.sessions.issue_login_token()}"


async def serve(app: web.Application, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


@pytest.fixture
async def fake_helper() -> AsyncIterator[Served]:
    from commons_helper.server import security

    sessions = Sessions()
    queue = FakeQueue()
    app = web.Application(middlewares=[*security.MIDDLEWARES, queue.record])
    app.on_response_prepare.append(security.security_headers)
    app[keys.SESSIONS] = sessions
    app[keys.PATHS] = get_paths()
    app[keys.SECRET] = SECRET
    app[keys.SETTINGS] = keys.LiveSettings(get_paths(), Settings())
    assert app[keys.SETTINGS].value == Settings()  # no config file yet; later saves are picked up
    webpage.setup(app)
    queue.routes(app)

    async def end_streams(app: web.Application) -> None:
        for q in list(queue.subscribers):
            q.put_nowait("{}")

    app.on_shutdown.append(end_streams)
    port = free_port()
    runner = await serve(app, port)
    try:
        yield Served(f"http://127.0.0.1:{port}", port, sessions, queue, runner)
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as p:
        profile = tmp_path / "chromium-profile"
        ctx = await p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 900}, locale="en-GB", timezone_id="UTC",
        )
        try:
            yield ctx
        finally:
            await ctx.close()


def sample_queue(q: FakeQueue) -> None:
    q.put(job("j1", "uploading", "DSC_0412.jpg", done=2_000_000, total=8_000_000,
              title="File:Pont Neuf at dawn 2024-05-01.jpg", created="2026-12-03T12:04:00Z"))
    q.put(job("j2", "failed", "DSC_0413.jpg", total=7_500_000, created="2026-12-03T12:03:00Z",
              title="File:Pont Neuf from the Louvre 2024-05-01.jpg",
              error={"code": "verification-error", "message": "The wiki refused the file: its contents do "
                     "not match its extension. The file is still in the queue; fix it and retry."}))
    q.put(job("j3", "uploaded", "DSC_0398.jpg", done=6_100_000, total=6_100_000,
              title="File:Seine at night 2024-04-30.jpg",
              url="https://commons.wikimedia.org/wiki/File:Seine_at_night_2024-04-30.jpg",
              created="2026-12-03T12:02:00Z"))
    q.put(job("j4", "queued", "DSC_0420.jpg", total=9_000_000, created="2026-12-03T12:05:00Z"))
    q.thumbs.update({"j1": png(48, 36, (236, 170, 120), ground=(52, 60, 72)),
                     "j2": png(48, 36, (120, 160, 210), ground=(96, 84, 70)),
                     "j3": png(48, 36, (24, 34, 70), ground=(12, 16, 28))})
    q.wikitext["j1"] = ("=={{int:filedesc}}==\n{{Information\n|description={{en|1=Pont Neuf at dawn "
                        "<script>alert(1)</script>}}\n|date=2024-05-01\n|source={{own}}\n"
                        "|author=[[User:Ada|Ada Lovelace]]\n}}\n{{Location|48.8566|2.3412}}\n\n"
                        "=={{int:license-header}}==\n{{self|cc-by-sa-4.0}}\n\n[[Category:Pont Neuf]]")


async def open_page(browser: Any, served: Served) -> Any:
    page = await browser.new_page()
    await page.goto(served.login_url())
    await expect(page).to_have_url(served.url + "/")
    return page


def row(page: Any, id: str) -> Any:
    return page.locator(f'li.job[data-job-id="{id}"]')


# ------------------------------------------------------------------ the page against the contract


async def test_one_time_link_opens_the_page_with_the_queue(fake_helper: Served, browser: Any) -> None:
    sample_queue(fake_helper.queue)
    sign_in_as("Ada Lovelace")
    page = await open_page(browser, fake_helper)
    cookies = {c["name"]: c for c in await browser.cookies()}
    assert cookies[COOKIE_NAME]["httpOnly"] is True
    assert cookies[COOKIE_NAME]["sameSite"] == "Strict"
    assert await page.evaluate("document.cookie") == ""  # scripts cannot read the session

    await expect(page.locator("#signin-state")).to_have_text("Signed in as Ada Lovelace · Wikimedia account")
    await expect(page.locator("#signout-button")).to_be_visible()
    await expect(page.locator("li.job")).to_have_count(4)
    # newest first
    assert await page.locator("li.job").evaluate_all("rows => rows.map(r => r.dataset.jobId)") == \
        ["j4", "j1", "j2", "j3"]

    up = row(page, "j1")
    await expect(up.locator(".badge")).to_have_text("Uploading")
    await expect(up.locator(".progress-text")).to_have_text("2.0 MB of 8.0 MB · 25%")
    assert await up.locator("progress").get_attribute("value") == "25"
    await expect(up.locator(".thumb img")).to_have_class("loaded")
    await expect(up.locator(".thumb-placeholder")).to_be_hidden()

    failed = row(page, "j2")
    await expect(failed.locator(".badge")).to_have_text("Upload failed")
    await expect(failed.locator(".job-error-text")).to_contain_text("contents do not match its extension")
    await expect(failed.locator(".job-retry")).to_be_visible()

    done = row(page, "j3")
    await expect(done.locator(".badge")).to_have_text("On Commons")
    link = done.locator("a.job-title")
    await expect(link).to_have_text("File:Seine at night 2024-04-30.jpg")
    assert await link.get_attribute("href") == \
        "https://commons.wikimedia.org/wiki/File:Seine_at_night_2024-04-30.jpg"
    assert await link.get_attribute("rel") == "noopener noreferrer"
    await expect(done.locator(".job-retry")).to_be_hidden()

    waiting = row(page, "j4")
    await expect(waiting.locator(".badge")).to_have_text("Waiting to upload")
    await expect(waiting.locator(".thumb-placeholder")).to_be_visible()  # no thumbnail for it
    await expect(page.locator("#queue-summary")).to_have_text(
        "1 uploading · 1 waiting · 1 done · 1 needs attention")


async def test_live_progress_and_result_arrive_by_events(fake_helper: Served, browser: Any) -> None:
    q = fake_helper.queue
    sample_queue(q)
    page = await open_page(browser, fake_helper)
    await expect(page.locator("body")).to_have_attribute("data-live", "live")
    listed = q.calls.count("list")

    q.update("j1", progress={"done": 6_000_000, "total": 8_000_000})
    await expect(row(page, "j1").locator(".progress-text")).to_have_text("6.0 MB of 8.0 MB · 75%")
    q.update("j1", status="uploaded", progress={"done": 8_000_000, "total": 8_000_000},
             url="https://commons.wikimedia.org/wiki/File:Pont_Neuf_at_dawn_2024-05-01.jpg")
    await expect(row(page, "j1").locator(".badge")).to_have_text("On Commons")
    await expect(row(page, "j1").locator("a.job-title")).to_have_attribute(
        "href", "https://commons.wikimedia.org/wiki/File:Pont_Neuf_at_dawn_2024-05-01.jpg")
    q.put(job("j5", "queued", "DSC_0500.jpg", total=1_000, created="2026-12-03T12:09:00Z"))
    await expect(page.locator("li.job").first).to_have_attribute("data-job-id", "j5")
    assert q.calls.count("list") == listed  # all of it came through the event stream


async def test_polling_takes_over_without_an_event_stream(fake_helper: Served, browser: Any) -> None:
    q = fake_helper.queue
    q.events_enabled = False
    sample_queue(q)
    page = await open_page(browser, fake_helper)
    await expect(page.locator("body")).to_have_attribute("data-live", "poll")
    q.update("j1", publish=False, progress={"done": 4_000_000, "total": 8_000_000})
    await expect(row(page, "j1").locator(".progress-text")).to_have_text("4.0 MB of 8.0 MB · 50%")


async def test_retry_puts_a_failed_upload_back_in_the_queue(fake_helper: Served, browser: Any) -> None:
    q = fake_helper.queue
    sample_queue(q)
    page = await open_page(browser, fake_helper)
    failed = row(page, "j2")
    await page.get_by_role("button", name="Retry DSC_0413.jpg").click()
    await expect(failed.locator(".badge")).to_have_text("Waiting to upload")
    await expect(failed.locator(".job-error")).to_be_hidden()
    await expect(failed.locator(".job-retry")).to_be_hidden()
    assert q.calls.count("retry j2") == 1
    assert q.jobs["j2"]["status"] == "queued"


async def test_server_text_is_shown_as_text_never_as_html(fake_helper: Served, browser: Any) -> None:
    q = fake_helper.queue
    sample_queue(q)
    evil = '<img src=x onerror="document.body.dataset.pwned=1">.jpg'
    q.put(job("j9", "failed", evil, title="File:<b>bold</b>.jpg", url="javascript:alert(1)",
              error={"code": "x", "message": "<script>document.body.dataset.pwned=1</script>"},
              created="2026-12-03T12:10:00Z"))
    page = await open_page(browser, fake_helper)
    r = row(page, "j9")
    await expect(r.locator(".job-file")).to_have_text(evil)
    await expect(r.locator(".job-error-text")).to_have_text("<script>document.body.dataset.pwned=1</script>")
    await expect(r.locator(".job-title-plain")).to_have_text("File:<b>bold</b>.jpg")
    await expect(r.locator("a.job-title")).to_be_hidden()  # a javascript: URL is never a link
    assert await r.locator("img[src='x'], b, script").count() == 0
    assert await page.evaluate("document.body.dataset.pwned") is None

    await row(page, "j1").locator("summary").click()
    pre = row(page, "j1").locator(".wikitext-text")
    await expect(pre).to_contain_text("{{Information")
    await expect(pre).to_contain_text("<script>alert(1)</script>")
    await expect(row(page, "j1").locator(".wikitext-note")).to_have_text(
        "Will be uploaded as File:Pont Neuf at dawn 2024-05-01.jpg.")


async def test_settings_are_shown_and_saved(fake_helper: Served, browser: Any) -> None:
    paths = get_paths()
    save_settings(paths, Settings(author="Ada", categories=("Bridges",), wiki="http://127.0.0.1:1/api.php"))
    page = await open_page(browser, fake_helper)
    await expect(page.get_by_label("Author")).to_have_value("Ada")
    await expect(page.get_by_label("Categories")).to_have_value("Bridges")

    await page.get_by_label("License").fill("cc-by-4.0")
    await page.get_by_label("Wikimedia username").fill("AdaL")
    await page.get_by_label("Categories").fill("Bridges in Paris\nCategory:Photographs by Ada\n")
    await page.get_by_label("Never publish the location of any photo").check()
    await page.get_by_role("button", name="Add a place").click()
    zone = page.locator(".zone").last
    await zone.get_by_label("Name").fill("Home")
    await zone.get_by_label("Latitude").fill("48,8566")
    await zone.get_by_label("Longitude").fill("2.3522")
    await zone.get_by_label("Radius (m)").fill("300")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#settings-status")).to_have_text("Saved. New uploads use these settings.")

    saved = load_settings(paths)
    assert saved.license == "cc-by-4.0"
    assert saved.username == "AdaL"
    assert saved.author == "Ada"
    assert saved.categories == ("Bridges in Paris", "Photographs by Ada")
    assert saved.strip_location is True
    zones = [(z.name, z.lat, z.lon, z.radius_m) for z in saved.privacy_zones]
    assert zones == [("Home", 48.8566, 2.3522, 300.0)]
    assert saved.wiki == "http://127.0.0.1:1/api.php"
    await expect(page.get_by_label("Categories")).to_have_value("Bridges in Paris\nPhotographs by Ada")

    before = paths.config_file.read_bytes()
    await page.get_by_label("Language").fill("English")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#settings-status")).to_contain_text(
        "Not saved: language must be a language code")
    assert paths.config_file.read_bytes() == before


async def test_without_the_one_time_link_the_page_says_how_to_connect(fake_helper: Served,
                                                                      browser: Any) -> None:
    sample_queue(fake_helper.queue)
    page = await browser.new_page()
    await page.goto(fake_helper.url + "/")
    await expect(page.locator("[data-banner=connect]")).to_contain_text("commons-helper open")
    await expect(page.locator("li.job")).to_have_count(0)
    assert "list" not in fake_helper.queue.calls

    used = fake_helper.login_url()
    await page.goto(used)
    await expect(page.locator("li.job")).to_have_count(4)
    other = await browser.new_page()
    response = await other.goto(used)
    assert response.status == 403
    await expect(other.locator("h1")).to_have_text("This link has already been used or has expired")


# ------------------------------------------------------------------ sign in and out from the page


async def test_sign_in_again_from_the_page(fake_helper: Served, browser: Any) -> None:
    from tests.peers.oauth_server import MetaOAuthServer

    oauth = MetaOAuthServer(consent="auto").start()
    try:
        consumer = oauth.register_client(confidential=True)
        save_settings(get_paths(), Settings(oauth_base=oauth.oauth_base))
        sign_in_as("Ada", oauth_base=oauth.oauth_base, status="sign-in-needed",
                   client_id=consumer.client_id, client_secret=consumer.client_secret)
        page = await open_page(browser, fake_helper)
        await expect(page.locator("#signin-state")).to_have_text("Sign-in needed for Ada; uploads wait")
        await page.get_by_role("button", name="Sign in with Wikimedia").click()
        # Meta (the test server) approves and sends the browser back to /oauth/callback, then to the page
        await expect(page.locator("#signin-state")).to_have_text("Signed in as Admin · Wikimedia account")
        assert page.url == fake_helper.url + "/"
        assert oauth.count("token:authorization_code") == 1
    finally:
        oauth.stop()
    stored = open_store(get_paths()).get(oauth.oauth_base)
    assert stored is not None
    assert (stored.username, stored.status, stored.client_id) == ("Admin", "ok", consumer.client_id)


async def test_sign_out_from_the_page(fake_helper: Served, browser: Any) -> None:
    sign_in_as("Ada")
    page = await open_page(browser, fake_helper)
    await expect(page.locator("#signin-state")).to_have_text("Signed in as Ada · Wikimedia account")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.locator("#signin-state")).to_have_text("Not signed in; uploads wait until you sign in")
    await expect(page.locator("[data-banner=signout]")).to_contain_text("OAuthManageMyGrants")
    await expect(page.get_by_role("button", name="Sign in with Wikimedia")).to_be_hidden()
    assert open_store(get_paths()).all() == []


# ------------------------------------------------------------------ another origin in the same browser

FOREIGN_PAGE = """<!doctype html><html><body><form id="f" method="post" enctype="multipart/form-data"
target="sink" action="HELPER/api/v1/uploads"><input name="meta" value="{}"></form>
<iframe name="sink" id="sink"></iframe><img id="img" src="HELPER/api/v1/uploads/j3/thumbnail">
<script>
const H = "HELPER";
async function attempt(name, fn) {
  try { const r = await fn(); return [name, "ok", r]; } catch (e) { return [name, "error", String(e.name)]; }
}
async function readBody(r) { return {type: r.type, status: r.status, body: await r.text()}; }
const inc = {credentials: "include"};
const get = (path, init) => async () => readBody(await fetch(H + path, {...inc, ...init}));
window.results = (async () => {
  const out = [];
  out.push(await attempt("cors-list", get("/api/v1/uploads")));
  out.push(await attempt("cors-settings", get("/api/v1/settings")));
  out.push(await attempt("cors-health", get("/api/v1/health")));
  out.push(await attempt("nocors-list", get("/api/v1/uploads", {mode: "no-cors"})));
  const fd = new FormData();
  fd.append("meta", JSON.stringify({batch: "evil"}));
  fd.append("file", new Blob(["not a photo"], {type: "image/jpeg"}), "evil.jpg");
  const post = {method: "POST", body: fd};
  out.push(await attempt("nocors-enqueue", get("/api/v1/uploads", {...post, mode: "no-cors"})));
  out.push(await attempt("cors-enqueue", get("/api/v1/uploads", {method: "POST", body: fd})));
  const json = {"Content-Type": "application/json"};
  const evil = JSON.stringify({author: "evil"});
  const put = {method: "PUT", headers: json, body: evil};
  out.push(await attempt("put-settings", get("/api/v1/settings", put)));
  out.push(await attempt("session-token", get("/api/v1/session-token", {method: "POST", mode: "no-cors"})));
  out.push(await attempt("events", () => new Promise((resolve, reject) => {
    const es = new EventSource(H + "/api/v1/events", {withCredentials: true});
    es.addEventListener("job", (e) => { es.close(); resolve(e.data); });
    es.onerror = () => { es.close(); reject({name: "EventSourceError"}); };
  })));
  const img = document.getElementById("img");
  await (img.complete ? Promise.resolve() : new Promise((r) => { img.onload = r; img.onerror = r; }));
  out.push(["img", "ok", {width: img.naturalWidth}]);
  await new Promise((resolve) => {
    const sink = document.getElementById("sink");
    sink.onload = resolve;
    document.getElementById("f").submit();
  });
  let framed;
  try { framed = document.getElementById("sink").contentDocument; framed = framed && framed.body.innerText; }
  catch (e) { framed = "error " + e.name; }
  out.push(["form-post", "ok", {readable: framed}]);
  return out;
})();
</script></body></html>
"""


async def foreign_site(helper_url: str) -> tuple[str, web.AppRunner]:
    html = FOREIGN_PAGE.replace("HELPER", helper_url)

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    port = free_port()
    return f"http://127.0.0.1:{port}/", await serve(app, port)


async def foreign_results(browser: Any, helper_url: str) -> dict[str, Any]:
    url, runner = await foreign_site(helper_url)
    try:
        page = await browser.new_page()
        await page.goto(url)
        results = await page.evaluate("window.results")
        await page.close()
    finally:
        await runner.cleanup()
    return {name: (outcome, value) for name, outcome, value in results}


def assert_foreign_page_saw_nothing(seen: dict[str, Any]) -> None:
    """Every attempt failed as a network error: no status, no headers, no body reached the page."""
    fetches = ("cors-list", "cors-settings", "cors-health", "nocors-list", "nocors-enqueue", "cors-enqueue",
               "put-settings", "session-token")
    for name in fetches:
        assert seen[name] == ("error", "TypeError"), (name, seen[name])
    assert seen["events"] == ("error", "EventSourceError")
    assert seen["img"] == ("ok", {"width": 0})  # not even a thumbnail
    assert seen["form-post"] == ("ok", {"readable": None})  # the answer to a form post stays unreadable


async def test_another_origin_cannot_enqueue_or_read(fake_helper: Served, browser: Any) -> None:
    q = fake_helper.queue
    sample_queue(q)
    paths = get_paths()
    save_settings(paths, Settings(author="Ada"))
    before = paths.config_file.read_bytes()
    page = await open_page(browser, fake_helper)  # the user is signed in to the helper's page
    await expect(page.locator("li.job")).to_have_count(4)
    assert set(q.sites) == {"same-origin"}

    seen = await foreign_results(browser, fake_helper.url)

    assert_foreign_page_saw_nothing(seen)
    assert sorted(q.jobs) == ["j1", "j2", "j3", "j4"]  # nothing was enqueued
    assert "create" not in q.calls
    assert set(q.sites) == {"same-origin"}  # no request from the foreign page got past the middlewares
    assert paths.config_file.read_bytes() == before
    # the helper's own page still works in the same browser
    await page.reload()
    await expect(page.locator("li.job")).to_have_count(4)


# ------------------------------------------------------------------ screenshot for the docs


async def test_screenshot_of_the_page(fake_helper: Served, browser: Any, tmp_path: Path) -> None:
    q = fake_helper.queue
    sample_queue(q)
    sign_in_as("Ada Lovelace")
    save_settings(get_paths(), Settings(license="cc-by-sa-4.0", author="Ada Lovelace", username="Ada",
                                        categories=("Photographs by Ada Lovelace",)))
    page = await open_page(browser, fake_helper)
    await expect(page.locator("li.job")).to_have_count(4)
    await row(page, "j1").locator("summary").click()
    await expect(row(page, "j1").locator(".wikitext-text")).to_contain_text("{{Information")
    await expect(page.get_by_label("Author")).to_have_value("Ada Lovelace")
    shot = tmp_path / "web-page.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    target = os.environ.get("COMMONS_HELPER_SCREENSHOT")
    if target:
        shutil.copyfile(shot, target)
    # a phone-sized window: nothing sticks out sideways
    await page.set_viewport_size({"width": 390, "height": 844})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await page.screenshot(path=str(tmp_path / "web-page-narrow.png"), full_page=True)
    if target:
        shutil.copyfile(tmp_path / "web-page-narrow.png", Path(target).with_name("web-page-narrow.png"))


# ------------------------------------------------------------------ the real service and the real wiki

PROGRESS_RECORDER = """
window.__seen = [];
new MutationObserver((records) => {
  for (const r of records) {
    const li = r.target.closest && r.target.closest("li.job");
    if (!li) continue;
    const bar = li.querySelector("progress");
    window.__seen.push({id: li.dataset.jobId, status: li.dataset.status, value: Number(bar.value),
                        text: li.querySelector(".progress-text").textContent});
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ["value", "data-status"]});
"""


@pytest.fixture
def real_service(wiki: Any, helper_home: Path) -> Any:
    from tests.peers.service import Service

    bot = wiki.bots["full"]
    svc = Service(home=helper_home, wiki_api=wiki.api, bot_user=bot.user, bot_password=bot.password)
    svc.start()
    yield svc
    if svc.process is not None:
        svc.stop()


async def open_real_page(browser: Any, svc: Any) -> Any:
    from commons_helper.cli_open import login_url, read_runtime

    url = await asyncio.to_thread(login_url, read_runtime(svc.runtime_file))  # what `open` does
    page = await browser.new_page()
    await page.add_init_script(PROGRESS_RECORDER)
    await page.goto(url)
    await expect(page).to_have_url(svc.url + "/")
    return page


@pytest.mark.slow
async def test_real_service_upload_progress_failure_retry_and_settings(
        real_service: Any, wiki: Any, browser: Any, tmp_path: Path, unique: str) -> None:
    from tests.peers.service import make_jpeg, plugin_meta

    svc = real_service
    page = await open_real_page(browser, svc)
    await expect(page.locator("#signin-state")).to_have_text("Signed in as Admin · bot password")
    await expect(page.locator("body")).to_have_attribute("data-live", "live")

    # a big photo, uploaded in 1 MiB chunks: its progress shows while it goes up
    big = make_jpeg(tmp_path / "big.jpg", tail_bytes=3 * 1024 * 1024 + 4321)
    resp = await asyncio.to_thread(svc.enqueue, big, plugin_meta(f"Web page {unique} big", batch=unique))
    assert resp.status_code == 201, resp.text
    big_id = resp.json()["id"]
    r = row(page, big_id)
    await expect(r.locator(".badge")).to_have_text("On Commons", timeout=120_000)
    job = (await asyncio.to_thread(svc.get, f"/api/v1/uploads/{big_id}")).json()
    await expect(r.locator("a.job-title")).to_have_text(job["title"])
    assert await r.locator("a.job-title").get_attribute("href") == job["url"]
    assert wiki.file_versions(job["title"])[0]["sha1"] == job["sha1"]
    seen = [s for s in await page.evaluate("window.__seen") if s["id"] == big_id]
    values = [s["value"] for s in seen if s["status"] == "uploading"]
    assert any(0 < v < 100 for v in values), seen  # a chunk's progress was shown on its way
    assert values == sorted(values)  # never backwards
    assert seen[-1]["value"] == 100

    # a photo without a license fails with the reason; set a license on the page, retry, done
    photo = make_jpeg(tmp_path / "p.jpg", color="#884422")
    meta = plugin_meta(f"Web page {unique} nolicense", batch=unique, image_id=2)
    meta["options"]["license"] = ""
    resp = await asyncio.to_thread(svc.enqueue, photo, meta)
    assert resp.status_code == 201, resp.text
    pid = resp.json()["id"]
    r = row(page, pid)
    await expect(r.locator(".job-retry")).to_be_visible(timeout=60_000)
    assert await r.get_attribute("data-status") in ("failed", "needs-attention")
    await expect(r.locator(".job-error-text")).to_contain_text("licen")

    await page.get_by_label("License").fill("cc-by-sa-4.0")
    await page.get_by_label("Author").fill("Web Page Tester")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#settings-status")).to_have_text("Saved. New uploads use these settings.")
    await r.locator(".job-retry").click()
    await expect(r.locator(".badge")).to_have_text("On Commons", timeout=120_000)
    job = (await asyncio.to_thread(svc.get, f"/api/v1/uploads/{pid}")).json()
    text = wiki.page_text(job["title"])
    assert text is not None and "cc-by-sa-4.0" in text

    await r.locator("summary").click()
    await expect(r.locator(".wikitext-text")).to_contain_text("{{Information")
    shown = await r.locator(".wikitext-text").text_content()
    assert shown.strip() == text.strip()


@pytest.mark.slow
async def test_real_service_refuses_another_origin(real_service: Any, browser: Any) -> None:
    svc = real_service
    paths = get_paths()
    save_settings(paths, Settings(author="Ada"))
    before = paths.config_file.read_bytes()
    page = await open_real_page(browser, svc)
    await expect(page.locator("#signin-state")).to_have_text("Signed in as Admin · bot password")

    seen = await foreign_results(browser, svc.url)

    assert_foreign_page_saw_nothing(seen)
    listing = (await asyncio.to_thread(svc.get, "/api/v1/uploads")).json()
    assert listing["jobs"] == []  # nothing was enqueued
    assert paths.config_file.read_bytes() == before
    await page.reload()
    await expect(page.locator("#signin-state")).to_have_text("Signed in as Admin · bot password")
