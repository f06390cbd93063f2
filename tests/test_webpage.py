"""The web page's own endpoints, in process: one-time login, session cookie, settings, static files."""

from __future__ import annotations

import json
import stat
import tomllib
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from commons_helper.config import Settings, load_settings, save_settings
from commons_helper.paths import get_paths
from commons_helper.server import keys, webpage
from commons_helper.server.session import COOKIE_NAME, LOGIN_TOKEN_TTL, Sessions

SECRET = "test-secret-" + "x" * 20
OAUTH_BASE = "http://127.0.0.1:9/w/rest.php/oauth2"


@pytest.fixture(autouse=True)
def no_keychain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMONS_HELPER_KEYRING", "0")  # credentials in the test's own file


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def page_app(sessions: Sessions) -> web.Application:
    """Only the web page's routes, with the state keys the service provides."""
    app = web.Application()
    app[keys.SESSIONS] = sessions
    app[keys.PATHS] = get_paths()
    app[keys.SECRET] = SECRET
    app[keys.SETTINGS] = keys.LiveSettings(get_paths(), Settings(oauth_base=OAUTH_BASE))
    webpage.setup(app)
    return app


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sessions(clock: FakeClock) -> Sessions:
    return Sessions(clock=clock)


@pytest.fixture
async def client(sessions: Sessions) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(page_app(sessions))) as c:
        yield c


async def token_from_api(client: TestClient[Any, Any]) -> str:
    resp = await client.post("/api/v1/session-token", headers={"Authorization": f"Bearer {SECRET}"})
    assert resp.status == 200
    data = await resp.json()
    assert data["url"] == f"/login?token={data['token']}"
    assert data["expires_in"] == LOGIN_TOKEN_TTL
    return str(data["token"])


# ------------------------------------------------------------ Sessions (pure)


def test_login_token_is_single_use(sessions: Sessions) -> None:
    token = sessions.issue_login_token()
    cookie = sessions.redeem(token)
    assert cookie is not None and cookie != token
    assert sessions.is_valid(cookie)
    assert sessions.redeem(token) is None


def test_login_token_expires_after_two_minutes(sessions: Sessions, clock: FakeClock) -> None:
    early, late = sessions.issue_login_token(), sessions.issue_login_token()
    clock.now += LOGIN_TOKEN_TTL - 1
    assert sessions.redeem(early) is not None
    clock.now += 2
    assert sessions.redeem(late) is None


@pytest.mark.parametrize("value", [None, "", "x", "a" * 43, "\udcff"])
def test_unknown_cookies_are_not_valid(sessions: Sessions, value: str | None) -> None:
    sessions.redeem(sessions.issue_login_token())
    assert not sessions.is_valid(value)
    assert sessions.redeem(value) is None


def test_a_login_token_is_not_a_session(sessions: Sessions) -> None:
    token = sessions.issue_login_token()
    assert not sessions.is_valid(token)


def test_revoke_forgets_one_session(sessions: Sessions) -> None:
    a = sessions.redeem(sessions.issue_login_token())
    b = sessions.redeem(sessions.issue_login_token())
    sessions.revoke(a)
    assert not sessions.is_valid(a)
    assert sessions.is_valid(b)


def test_sessions_can_expire(clock: FakeClock) -> None:
    s = Sessions(clock=clock, session_ttl=60)
    cookie = s.redeem(s.issue_login_token())
    assert s.is_valid(cookie)
    clock.now += 61
    assert not s.is_valid(cookie)


def test_pending_tokens_are_bounded(sessions: Sessions) -> None:
    first = sessions.issue_login_token()
    for _ in range(200):
        sessions.issue_login_token()
    assert sessions.redeem(first) is None  # the oldest was dropped, memory stays bounded
    assert len(sessions._tokens) <= 64


# ------------------------------------------------------------ /login and /api/v1/session-token


async def test_one_time_url_sets_a_strict_httponly_cookie(client: TestClient[Any, Any],
                                                          sessions: Sessions) -> None:
    token = await token_from_api(client)
    resp = await client.get(f"/login?token={token}", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    raw = resp.headers.getall("Set-Cookie")
    assert len(raw) == 1
    morsel = resp.cookies[COOKIE_NAME]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Strict"
    assert morsel["path"] == "/"
    assert not morsel["expires"] and not morsel["max-age"]  # a browser-session cookie
    assert sessions.is_valid(morsel.value)
    assert token not in raw[0]


async def test_one_time_url_works_once(client: TestClient[Any, Any]) -> None:
    token = await token_from_api(client)
    first = await client.get(f"/login?token={token}", allow_redirects=False)
    assert first.status == 303
    again = await client.get(f"/login?token={token}", allow_redirects=False)
    assert again.status == 403
    assert COOKIE_NAME not in again.cookies
    assert "commons-helper open" in await again.text()


async def test_one_time_url_expires(client: TestClient[Any, Any], clock: FakeClock) -> None:
    token = await token_from_api(client)
    clock.now += LOGIN_TOKEN_TTL + 1
    resp = await client.get(f"/login?token={token}", allow_redirects=False)
    assert resp.status == 403
    assert COOKIE_NAME not in resp.cookies


@pytest.mark.parametrize("query", ["", "?token=", "?token=made-up"])
async def test_login_without_a_good_token_is_refused(client: TestClient[Any, Any], query: str) -> None:
    resp = await client.get(f"/login{query}", allow_redirects=False)
    assert resp.status == 403
    assert COOKIE_NAME not in resp.cookies


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {SECRET}", SECRET, "Bearer "])
async def test_session_token_needs_the_bearer_secret(client: TestClient[Any, Any], sessions: Sessions,
                                                     header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    resp = await client.post("/api/v1/session-token", headers=headers)
    assert resp.status == 401
    body = await resp.json()
    assert body["error"]["code"] == "secret-required"
    assert sessions._tokens == {}


async def test_a_session_cookie_cannot_mint_login_tokens(client: TestClient[Any, Any],
                                                         sessions: Sessions) -> None:
    cookie = sessions.redeem(sessions.issue_login_token())
    assert cookie is not None
    resp = await client.post("/api/v1/session-token", cookies={COOKIE_NAME: cookie})
    assert resp.status == 401


# ------------------------------------------------------------ page and static files


async def test_page_has_strict_headers_and_no_external_assets(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "connect-src 'self'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    html = await resp.text()
    assert "http://" not in html and "https://" not in html.replace("https://github", "")
    types = [("app.js", "text/javascript"), ("app.css", "text/css"), ("icon.svg", "image/svg+xml")]
    for name, ctype in types:
        assert f"/static/{name}" in html
        r = await client.get(f"/static/{name}")
        assert r.status == 200
        assert r.content_type == ctype
        text = await r.text()
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in text


@pytest.mark.parametrize("name", ["index.html.bak", "..%2f__init__.py", "%2e%2e%2fconfig.py", "app.py"])
async def test_static_serves_only_its_own_files(client: TestClient[Any, Any], name: str) -> None:
    resp = await client.get(f"/static/{name}")
    assert resp.status == 404


async def test_script_never_writes_server_data_as_html() -> None:
    js = (Path(webpage.__file__).parent.parent / "static" / "app.js").read_text()
    assert "innerHTML" not in js and "outerHTML" not in js and "insertAdjacentHTML" not in js
    assert "document.write" not in js and "eval(" not in js
    assert 'credentials: "same-origin"' in js


# ------------------------------------------------------------ settings


async def test_settings_default_when_no_config_file(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/api/v1/settings")
    assert resp.status == 200
    data = await resp.json()
    assert data["settings"] == {
        "license": "", "author": "", "username": "", "categories": [], "language": "en",
        "title_pattern": "{title} {date}", "privacy_zones": [], "strip_location": False,
    }
    assert set(data["help"]) == set(webpage.EDITABLE_SETTINGS)


async def test_settings_round_trip_to_the_config_file(client: TestClient[Any, Any]) -> None:
    paths = get_paths()
    save_settings(paths, Settings(wiki="http://127.0.0.1:9/w/api.php", chunk_size=1 << 20))
    new = {
        "license": "cc-by-4.0", "author": "Ada Lovelace", "username": "Ada",
        "categories": ["Category:Bridges in Paris", "Photographs by Ada", "Bridges in Paris", " "],
        "language": "pt-BR", "title_pattern": "{title} ({date}) {seq}",
        "privacy_zones": [{"name": "Home", "lat": 48.8566, "lon": 2.3522, "radius_m": 500}],
        "strip_location": True,
    }
    resp = await client.put("/api/v1/settings", json=new)
    assert resp.status == 200, await resp.text()
    saved = (await resp.json())["settings"]
    assert saved["categories"] == ["Bridges in Paris", "Photographs by Ada"]
    assert saved["language"] == "pt-br"
    assert saved["privacy_zones"] == [{"name": "Home", "lat": 48.8566, "lon": 2.3522, "radius_m": 500.0}]

    assert stat.S_IMODE(paths.config_file.stat().st_mode) == 0o600
    on_disk = load_settings(paths)
    assert on_disk.license == "cc-by-4.0"
    assert on_disk.author == "Ada Lovelace"
    assert on_disk.strip_location is True
    assert on_disk.title_pattern == "{title} ({date}) {seq}"
    assert on_disk.privacy_zones[0].name == "Home"
    # settings the page may not touch are kept as they were
    assert on_disk.wiki == "http://127.0.0.1:9/w/api.php"
    assert on_disk.chunk_size == 1 << 20
    assert tomllib.loads(paths.config_file.read_text())["author"] == "Ada Lovelace"

    again = await (await client.get("/api/v1/settings")).json()
    assert again["settings"] == saved


async def test_partial_update_keeps_other_settings(client: TestClient[Any, Any]) -> None:
    await client.put("/api/v1/settings", json={"author": "Ada", "license": "cc-zero"})
    resp = await client.put("/api/v1/settings", json={"author": "Grace"})
    assert resp.status == 200
    s = load_settings(get_paths())
    assert (s.author, s.license) == ("Grace", "cc-zero")


BAD_SETTINGS = [
    ({"wiki": "https://evil.example/w/api.php"}, "cannot be changed from the web page"),
    ({"oauth_base": "https://evil.example"}, "cannot be changed from the web page"),
    ({"licence": "cc0"}, "cannot be changed from the web page"),
    ({"language": "English please"}, "language code"),
    ({"language": ""}, "cannot be empty"),
    ({"title_pattern": "{title} {year}"}, "{year}"),
    ({"title_pattern": "Photo"}, "at least one field"),
    ({"strip_location": "yes"}, "true or false"),
    ({"categories": "Bridges"}, "list"),
    ({"categories": ["Bridges [[x]]"]}, "not allowed"),
    ({"author": "a\nb"}, "line breaks"),
    ({"author": "x" * 501}, "too long"),
    ({"author": 3}, "text"),
    ({"privacy_zones": [{"name": "Home", "lat": 91, "lon": 0, "radius_m": 10}]}, "between -90 and 90"),
    ({"privacy_zones": [{"name": "Home", "lat": 1, "lon": 0, "radius_m": 0}]}, "radius"),
    ({"privacy_zones": [{"name": "Home", "lat": "48,8", "lon": 0, "radius_m": 10}]}, "must be a number"),
    ({"privacy_zones": [{"name": "Home", "lat": None, "lon": 0, "radius_m": 10}]}, "must be a number"),
    ({"privacy_zones": [{"lat": 1, "lon": 1, "radius_m": 1, "extra": 1}]}, "privacy zone 1"),
    ([], "JSON object"),
]


@pytest.mark.parametrize(("body", "says"), BAD_SETTINGS)
async def test_bad_settings_are_refused_and_nothing_is_written(client: TestClient[Any, Any],
                                                               body: Any, says: str) -> None:
    paths = get_paths()
    save_settings(paths, Settings(author="Before"))
    before = paths.config_file.read_bytes()
    resp = await client.put("/api/v1/settings", json=body)
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["code"] == "bad-setting"
    assert says in error["message"]
    assert paths.config_file.read_bytes() == before


async def test_settings_that_are_not_json_are_refused(client: TestClient[Any, Any]) -> None:
    resp = await client.put("/api/v1/settings", data=b"license=cc0",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "bad-json"
    assert not get_paths().config_file.exists()


async def test_broken_config_file_is_reported_not_overwritten(client: TestClient[Any, Any]) -> None:
    paths = get_paths()
    paths.config_file.parent.mkdir(parents=True)
    paths.config_file.write_text("license = \n")
    resp = await client.get("/api/v1/settings")
    assert resp.status == 500
    assert "not valid TOML" in (await resp.json())["error"]["message"]
    put = await client.put("/api/v1/settings", json={"author": "x"})
    assert put.status >= 400
    assert paths.config_file.read_text() == "license = \n"


# ------------------------------------------------------------ commons-helper open


def open_command(argv: list[str]) -> tuple[Any, Any]:
    from commons_helper import cli, cli_open

    parser = cli.ArgumentParser(prog="commons-helper")
    cli_open.register(parser.add_subparsers(dest="command", parser_class=cli.ArgumentParser))
    args = parser.parse_args(argv)
    paths = get_paths()
    return args, cli.Context(paths=paths, settings=Settings())


def write_runtime(url: str, secret: str = SECRET) -> None:
    import json

    from commons_helper.fileutil import atomic_write

    atomic_write(get_paths().runtime_file, json.dumps({"url": url, "pid": 1, "secret": secret}).encode())


async def test_open_prints_a_working_one_time_link(client: TestClient[Any, Any], sessions: Sessions,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    base = str(client.make_url("")).rstrip("/")
    write_runtime(base)
    args, ctx = open_command(["open", "--print"])
    assert await asyncio.to_thread(args.func, args, ctx) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith(f"{base}/login?token=")
    assert SECRET not in url
    resp = await client.get(url[len(base):], allow_redirects=False)
    assert resp.status == 303
    assert sessions.is_valid(resp.cookies[COOKIE_NAME].value)


async def test_open_opens_the_browser(client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio
    import webbrowser

    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, new=0: opened.append(url) or True)
    write_runtime(str(client.make_url("")).rstrip("/"))
    args, ctx = open_command(["open"])
    assert await asyncio.to_thread(args.func, args, ctx) == 0
    assert len(opened) == 1 and "/login?token=" in opened[0]
    assert opened[0] not in capsys.readouterr().out  # the link is not printed when a browser opened it


def test_open_when_the_helper_is_not_running() -> None:
    from commons_helper.errors import HelperNotRunning

    args, ctx = open_command(["open", "--print"])
    with pytest.raises(HelperNotRunning) as err:
        args.func(args, ctx)
    assert "not running" in str(err.value) and "commons-helper serve" in str(err.value)


def test_open_with_a_stale_runtime_file() -> None:
    from commons_helper.errors import HelperNotRunning
    from tests.peers.mediawiki import free_port

    write_runtime(f"http://127.0.0.1:{free_port()}")
    args, ctx = open_command(["open", "--print"])
    with pytest.raises(HelperNotRunning) as err:
        args.func(args, ctx)
    assert "not answering" in str(err.value) and "commons-helper serve" in str(err.value)


async def test_open_with_a_wrong_secret(client: TestClient[Any, Any]) -> None:
    import asyncio

    from commons_helper.errors import HelperNotRunning

    write_runtime(str(client.make_url("")).rstrip("/"), secret="not-the-secret")
    args, ctx = open_command(["open", "--print"])
    with pytest.raises(HelperNotRunning) as err:
        await asyncio.to_thread(args.func, args, ctx)
    assert "did not accept the secret" in str(err.value)


def test_open_refuses_to_send_the_secret_off_the_machine() -> None:
    from commons_helper.errors import HelperNotRunning

    write_runtime("http://192.0.2.1:8471")
    args, ctx = open_command(["open", "--print"])
    with pytest.raises(HelperNotRunning) as err:
        args.func(args, ctx)
    assert "not a local address" in str(err.value)


# ------------------------------------------------------------ sign-in state, start, sign out


def store_oauth(**changes: Any) -> Any:
    from commons_helper.auth.store import KIND_OAUTH, Credential, open_store

    cred = Credential(key=OAUTH_BASE, kind=KIND_OAUTH, username="Ada", grants=("basic", "uploadfile"),
                      access_token="at-secret", refresh_token="rt-secret", expires_at=4102444800.0,
                      client_id="client-123", client_secret="cs-secret")
    return open_store(get_paths()).put(cred.with_changes(**changes))


async def test_signin_state_when_nobody_signed_in(client: TestClient[Any, Any]) -> None:
    state = await (await client.get("/api/v1/signin")).json()
    assert state["signed_in"] is False
    assert state["can_sign_in"] is False and state["can_sign_out"] is False
    assert "commons-helper login" in state["message"]
    resp = await client.post("/api/v1/signin/start")
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "no-consumer"


async def test_signin_state_of_a_stored_oauth_sign_in(client: TestClient[Any, Any]) -> None:
    store_oauth()
    resp = await client.get("/api/v1/signin")
    text = await resp.text()
    for secret in ("at-secret", "rt-secret", "cs-secret"):
        assert secret not in text
    state = json.loads(text)
    assert state["signed_in"] is True
    assert (state["user"], state["kind"], state["source"]) == ("Ada", "oauth", "store")
    assert state["expires"] == "2100-01-01T00:00:00Z"
    assert state["renewable"] is True
    assert state["can_sign_in"] is True and state["can_sign_out"] is True


async def test_signin_needed_is_not_signed_in(client: TestClient[Any, Any]) -> None:
    store_oauth(status="sign-in-needed")
    state = await (await client.get("/api/v1/signin")).json()
    assert state["signed_in"] is False
    assert state["status"] == "sign-in-needed"
    assert state["can_sign_in"] is True


async def test_signin_start_gives_a_pkce_authorize_url_back_to_this_server(
        client: TestClient[Any, Any]) -> None:
    store_oauth()
    resp = await client.post("/api/v1/signin/start")
    assert resp.status == 200
    url = urllib.parse.urlsplit((await resp.json())["authorize_url"])
    query = dict(urllib.parse.parse_qsl(url.query))
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{OAUTH_BASE}/authorize"
    assert query["client_id"] == "client-123"
    assert query["redirect_uri"] == f"http://127.0.0.1:{client.port}/oauth/callback"
    assert query["code_challenge_method"] == "S256" and query["code_challenge"]
    assert query["state"]
    assert "cs-secret" not in url.query
    assert set(query["scope"].split()) == {"basic", "uploadfile", "editpage", "createeditmovepage"}


async def test_callback_with_an_unknown_state_stores_nothing(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/oauth/callback?state=forged&code=abc", allow_redirects=False)
    assert resp.status == 400
    assert "Nothing was stored" in await resp.text()
    from commons_helper.auth.store import open_store

    assert open_store(get_paths()).all() == []


async def test_denied_sign_in_from_the_page_says_to_start_again_there(
        client: TestClient[Any, Any]) -> None:
    store_oauth()
    url = (await (await client.post("/api/v1/signin/start")).json())["authorize_url"]
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["state"]
    resp = await client.get(f"/oauth/callback?state={state}&error=access_denied", allow_redirects=False)
    text = await resp.text()
    assert resp.status == 400 and "access was denied" in text
    assert "Start the sign-in again from the helper&#x27;s page" in text or \
        "Start the sign-in again from the helper's page" in text
    assert "commons-helper login" not in text


async def test_signout_removes_the_stored_sign_in(client: TestClient[Any, Any]) -> None:
    from commons_helper.auth.store import open_store

    store_oauth()
    resp = await client.post("/api/v1/signout")
    assert resp.status == 200
    data = await resp.json()
    assert data["removed"]["user"] == "Ada"
    assert "OAuthManageMyGrants" in data["removed"]["revoke"]
    assert data["signed_in"] is False and data["can_sign_out"] is False
    assert open_store(get_paths()).all() == []
    again = await (await client.post("/api/v1/signout")).json()
    assert again["removed"] is None


async def test_credentials_from_the_environment_are_shown_not_changed(
        client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMONS_HELPER_BOT_USER", "Ada@uploader")
    monkeypatch.setenv("COMMONS_HELPER_BOT_PASSWORD", "bp-secret")
    resp = await client.get("/api/v1/signin")
    text = await resp.text()
    assert "bp-secret" not in text
    state = json.loads(text)
    assert (state["signed_in"], state["user"], state["kind"], state["source"]) == \
        (True, "Ada", "bot-password", "environment")
    assert state["can_sign_in"] is False and state["can_sign_out"] is False
    assert (await client.post("/api/v1/signout")).status == 409
    assert (await client.post("/api/v1/signin/start")).status == 409
