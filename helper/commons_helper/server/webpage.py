"""The local web page: its static files, the one-time login, settings and sign-in endpoints.

Routes added by :func:`setup` (the service's ``create_app`` calls it):

    GET  /                         the page (static HTML; it fetches everything else)
    GET  /static/{name}            app.css, app.js (a fixed list; nothing from disk by name)
    GET  /login?token=...          redeems a one-time token -> session cookie -> 303 to /
    POST /api/v1/session-token     Bearer secret only -> {"token", "url", "expires_in"}
    GET  /api/v1/settings          the page-editable settings from the config file
    PUT  /api/v1/settings          validate, merge into the config file (0600), answer the result
    GET  /api/v1/signin            {"signed_in", "user", "kind", "expires"}
    POST /api/v1/signin/start      {"authorize_url"} for browser sign-in
    POST /api/v1/signout           forget the stored credentials
    GET  /oauth/callback           where Meta sends the browser back after a sign-in started here

The service's middlewares do the Host check for every route and require the
Bearer secret or a valid session cookie (plus a same-origin ``Origin`` for
unsafe methods) under ``/api/v1/``. This module adds, on its own pages, the
headers that keep them out of frames and other origins (CSP, no-referrer,
no-store on the login URL).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import importlib.resources
import math
import os
import re
import time
from dataclasses import fields
from typing import Any

from aiohttp import web

from ..auth.callback import PAGE_RETRY, callback_handler
from ..auth.flow import (
    CALLBACK_PATH,
    DEFAULT_GRANTS,
    Endpoints,
    PendingAuthorization,
    PendingAuthorizations,
    loopback_redirect_uri,
)
from ..auth.oauth import ClientConfig
from ..auth.signin import BrowserSignIn, find_credential
from ..auth.store import KIND_OAUTH, open_store
from ..config import Settings, from_mapping, load_settings, save_settings, user_agent
from ..errors import CommonsHelperError, SignInNeeded, UsageError
from ..session import ENV_ACCESS_TOKEN, ENV_BOT_USER, authenticator_from_env
from . import keys, security
from .session import COOKIE_NAME, LOGIN_TOKEN_TTL, Sessions

#: Settings the web page may change. ``wiki``, ``oauth_base``, ``port`` and friends stay
#: command-line/config-file only: a page must never be able to send uploads or
#: credentials somewhere else.
EDITABLE_SETTINGS = (
    "license", "author", "username", "categories", "language", "title_pattern",
    "privacy_zones", "strip_location",
)
TITLE_FIELDS = ("title", "description", "date", "seq", "filename", "camera")
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
_BAD_CATEGORY_CHARS = set("[]{}|#<>\n\r\t")
MAX_TEXT = 500
MAX_CATEGORIES = 50
MAX_ZONES = 50
MAX_SETTINGS_BODY = 64 * 1024

STATIC_FILES = {
    "app.css": "text/css",
    "app.js": "text/javascript",
    "icon.svg": "image/svg+xml",
}
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def setup(app: web.Application) -> None:
    """Add the web page's routes to the service's app."""
    signin = WebSignIn()
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static_file)
    app.router.add_get("/login", login)
    app.router.add_post("/api/v1/session-token", session_token)
    app.router.add_get("/api/v1/settings", get_settings)
    app.router.add_put("/api/v1/settings", put_settings)
    app.router.add_get("/api/v1/signin", signin.state)
    app.router.add_post("/api/v1/signin/start", signin.start)
    app.router.add_post("/api/v1/signout", signin.sign_out)
    app.router.add_get(CALLBACK_PATH, signin.callback)


# ---------------------------------------------------------------- helpers


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _read_static(name: str) -> bytes:
    return importlib.resources.files("commons_helper").joinpath("static", name).read_bytes()


def _sessions(request: web.Request) -> Sessions:
    return request.app[keys.SESSIONS]


# ---------------------------------------------------------------- page and static files


async def index(request: web.Request) -> web.Response:
    return web.Response(body=_read_static("index.html"), content_type="text/html",
                        charset="utf-8", headers=_PAGE_HEADERS)


async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    content_type = STATIC_FILES.get(name)
    if content_type is None:
        raise web.HTTPNotFound(text="no such file")
    headers = dict(_PAGE_HEADERS)
    return web.Response(body=_read_static(name), content_type=content_type,
                        charset=None if content_type.startswith("image/") else "utf-8",
                        headers=headers)


_LOGIN_FAILED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign-in link expired · commons-helper</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/app.css"></head>
<body><main class="notice-page"><h1>This link has already been used or has expired</h1>
<p>Links that open the helper's page work once, for two minutes. Nothing in your queue was
affected.</p>
<p>Open the page again with <code>commons-helper open</code> in a terminal.</p></main></body></html>
"""


async def login(request: web.Request) -> web.Response:
    """Redeem a one-time token: set the session cookie and go to the page."""
    cookie = _sessions(request).redeem(request.query.get("token"))
    if cookie is None:
        return web.Response(text=_LOGIN_FAILED_PAGE, status=403, content_type="text/html",
                            headers={**_PAGE_HEADERS, "Cache-Control": "no-store"})
    response = web.HTTPSeeOther(location="/", headers={
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
    response.set_cookie(COOKIE_NAME, cookie, path="/", httponly=True, samesite="Strict")
    raise response


async def session_token(request: web.Request) -> web.Response:
    """A one-time login token for ``commons-helper open``. The Bearer secret is required:
    a browser session cannot mint more sessions."""
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    secret: str = request.app[keys.SECRET]
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), secret.encode()):
        return _error(401, "secret-required",
                      "Only commons-helper itself (with the secret in its runtime file) can "
                      "ask for a sign-in link; run `commons-helper open`.")
    token = _sessions(request).issue_login_token()
    return web.json_response({"token": token, "url": f"/login?token={token}",
                              "expires_in": int(LOGIN_TOKEN_TTL)},
                             headers={"Cache-Control": "no-store"})


# ---------------------------------------------------------------- settings


def _settings_json(settings: Settings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in EDITABLE_SETTINGS:
        value = getattr(settings, name)
        if name == "privacy_zones":
            value = [{"name": z.name, "lat": z.lat, "lon": z.lon, "radius_m": z.radius_m} for z in value]
        elif name == "categories":
            value = list(value)
        out[name] = value
    return out


def _settings_mapping(settings: Settings) -> dict[str, Any]:
    """Every non-default setting as plain values (what ``from_mapping`` takes)."""
    defaults = Settings()
    out: dict[str, Any] = {}
    for f in fields(Settings):
        value = getattr(settings, f.name)
        if value == getattr(defaults, f.name):
            continue
        if f.name == "privacy_zones":
            value = [{"lat": z.lat, "lon": z.lon, "radius_m": z.radius_m, "name": z.name} for z in value]
        elif f.name == "categories":
            value = list(value)
        out[f.name] = value
    return out


def _text(name: str, value: Any, *, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise UsageError(f"{name} must be text")
    text: str = value.strip()
    if len(text) > MAX_TEXT:
        raise UsageError(f"{name} is too long (at most {MAX_TEXT} characters)")
    if not allow_empty and not text:
        raise UsageError(f"{name} cannot be empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise UsageError(f"{name} cannot contain line breaks or control characters")
    return text


def _number(label: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UsageError(f"{label} must be a number")
    if not low <= value <= high:
        raise UsageError(f"{label} must be between {low:g} and {high:g}, not {value:g}")
    return float(value)


def clean_settings_update(data: Any) -> dict[str, Any]:
    """Check what the page sent; return plain values for ``from_mapping``. Raises UsageError."""
    if not isinstance(data, dict):
        raise UsageError("send the settings as a JSON object")
    unknown = sorted(set(data) - set(EDITABLE_SETTINGS))
    if unknown:
        raise UsageError(
            f"these settings cannot be changed from the web page: {', '.join(unknown)} "
            f"(editable here: {', '.join(EDITABLE_SETTINGS)})"
        )
    out: dict[str, Any] = {}
    for name, value in data.items():
        if name in ("license", "author", "username"):
            out[name] = _text(name, value)
        elif name == "language":
            lang = _text("language", value, allow_empty=False).lower()
            if not _LANGUAGE_RE.match(lang):
                raise UsageError(f"language must be a language code such as en, de or pt-br, not {lang!r}")
            out[name] = lang
        elif name == "title_pattern":
            pattern = _text("title pattern", value, allow_empty=False)
            used = re.findall(r"\{([^{}]*)\}", pattern)
            bad = [u for u in used if u not in TITLE_FIELDS]
            if bad:
                raise UsageError(
                    f"the title pattern uses unknown field(s) {', '.join('{' + b + '}' for b in bad)}; "
                    f"known: {', '.join('{' + f + '}' for f in TITLE_FIELDS)}"
                )
            if not used:
                raise UsageError("the title pattern needs at least one field, e.g. {title}")
            out[name] = pattern
        elif name == "strip_location":
            if not isinstance(value, bool):
                raise UsageError("strip_location must be true or false")
            out[name] = value
        elif name == "categories":
            if not isinstance(value, list) or len(value) > MAX_CATEGORIES:
                raise UsageError(f"categories must be a list of at most {MAX_CATEGORIES} names")
            cats: list[str] = []
            for raw in value:
                cat = _text("category", raw)
                cat = re.sub(r"^category:", "", cat, flags=re.IGNORECASE).strip()
                if not cat:
                    continue
                if _BAD_CATEGORY_CHARS & set(cat):
                    raise UsageError(f"category {cat!r} contains a character not allowed in a title")
                if cat not in cats:
                    cats.append(cat)
            out[name] = cats
        elif name == "privacy_zones":
            if not isinstance(value, list) or len(value) > MAX_ZONES:
                raise UsageError(f"privacy_zones must be a list of at most {MAX_ZONES} places")
            zones = []
            for i, zone in enumerate(value, 1):
                if not isinstance(zone, dict) or set(zone) - {"name", "lat", "lon", "radius_m"}:
                    raise UsageError(f"privacy zone {i} must have name, lat, lon and radius_m")
                label = f"privacy zone {i}"
                zones.append({
                    "name": _text(f"{label} name", zone.get("name", "")),
                    "lat": _number(f"{label} latitude", zone.get("lat"), -90, 90),
                    "lon": _number(f"{label} longitude", zone.get("lon"), -180, 180),
                    "radius_m": _number(f"{label} radius (metres)", zone.get("radius_m"), 1, 100_000),
                })
            out[name] = zones
    return out


def _help() -> dict[str, str]:
    return {f.name: str(f.metadata.get("help", "")) for f in fields(Settings) if f.name in EDITABLE_SETTINGS}


async def get_settings(request: web.Request) -> web.Response:
    try:
        settings = load_settings(request.app[keys.PATHS])
    except CommonsHelperError as exc:
        return _error(500, exc.code, str(exc))
    return web.json_response({"settings": _settings_json(settings), "help": _help()})


async def put_settings(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > MAX_SETTINGS_BODY:
        return _error(413, "too-large", "The settings sent are too large.")
    try:
        data = await request.json()
    except ValueError:
        return _error(400, "bad-json", "The settings must be sent as JSON.")
    paths = request.app[keys.PATHS]
    try:
        update = clean_settings_update(data)
        current = load_settings(paths)
        merged = {**_settings_mapping(current), **update}
        new = from_mapping(merged)
        save_settings(paths, new)
    except UsageError as exc:
        return _error(400, "bad-setting", str(exc))
    except CommonsHelperError as exc:
        return _error(exc.http_status, exc.code, str(exc))
    except OSError as exc:
        return _error(500, "config-not-saved",
                      f"The settings could not be saved to {paths.config_file}: {exc.strerror}. "
                      "Your previous settings are unchanged.")
    return web.json_response({"settings": _settings_json(new), "help": _help()})


# ---------------------------------------------------------------- sign-in (commons_helper.auth)

_CLI_SIGNIN = (
    "To sign in from this page, connect once from a terminal with `commons-helper login` "
    "(browser sign-in with your OAuth consumer); after that this page can sign you in again "
    "and out. Owner-only tokens and bot passwords are set up with `commons-helper login` too."
)


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class WebSignIn:
    """Browser sign-in started from the page; the callback comes back to this same server.

    One instance per app (``setup`` makes it and binds the handlers to it), so the
    started sign-ins (``state`` + PKCE verifier) are shared by start and callback.
    """

    def __init__(self) -> None:
        self.pending = PendingAuthorizations()
        self._signins: dict[str, BrowserSignIn] = {}  # client id -> the flow it started
        self._tasks: set[asyncio.Task[None]] = set()

    @staticmethod
    def _settings(app: web.Application) -> Settings:
        return app[keys.SETTINGS].value

    def _state(self, app: web.Application) -> dict[str, Any]:
        """Everything GET /api/v1/signin answers (blocking: reads the credential store)."""
        settings = self._settings(app)
        worker = app.get(keys.WORKER)
        wiki: dict[str, Any] = worker.state() if worker is not None else {}
        base: dict[str, Any] = {
            "signed_in": False, "user": None, "kind": None, "expires": None, "renewable": False,
            "status": None, "source": None, "can_sign_in": False, "can_sign_out": False,
            "message": None, "wiki_user": wiki.get("user"), "paused": bool(wiki.get("paused")),
        }
        try:
            env_auth = authenticator_from_env(os.environ)
        except UsageError as exc:
            return {**base, "source": "environment", "message": str(exc)}
        if env_auth is not None:
            user = wiki.get("user") or (os.environ.get(ENV_BOT_USER, "").split("@", 1)[0] or None)
            return {**base, "signed_in": wiki.get("signed_in") is not False, "user": user,
                    "kind": env_auth.kind, "status": "ok", "source": "environment",
                    "message": "The helper was started with credentials in its environment "
                               f"({ENV_BOT_USER} or {ENV_ACCESS_TOKEN}); change them where it is "
                               "started."}
        store = open_store(app[keys.PATHS])
        cred = find_credential(store, oauth_base=settings.oauth_base, wiki=settings.wiki)
        consumer = self._consumer(store, settings)
        if cred is None:
            return {**base, "can_sign_in": consumer is not None,
                    "message": None if consumer is not None else _CLI_SIGNIN}
        expired = cred.expires_at is not None and cred.expires_at <= time.time()
        renewable = cred.kind == KIND_OAUTH and bool(cred.refresh_token)
        status = "sign-in-needed" if cred.status != "ok" else (
            "expired" if expired and not renewable else "ok")
        return {**base, "signed_in": status == "ok", "user": cred.username or None, "kind": cred.kind,
                "expires": _iso(cred.expires_at), "renewable": renewable, "status": status,
                "source": "store", "can_sign_in": consumer is not None, "can_sign_out": True,
                "message": None if status == "ok" or consumer is not None else _CLI_SIGNIN}

    @staticmethod
    def _consumer(store: Any, settings: Settings) -> tuple[str, str] | None:
        """The OAuth consumer used before (client id, secret), if any."""
        previous = store.get(Endpoints.from_base(settings.oauth_base).base)
        if previous is not None and previous.kind == KIND_OAUTH and previous.client_id:
            return previous.client_id, previous.client_secret
        return None

    async def state(self, request: web.Request) -> web.Response:
        return web.json_response(await asyncio.to_thread(self._state, request.app))

    async def start(self, request: web.Request) -> web.Response:
        app = request.app
        settings = self._settings(app)
        if authenticator_from_env(os.environ) is not None:
            return _error(409, "signed-in-by-environment",
                          "The helper uses the credentials in its environment; signing in here "
                          "would not change that.")
        store = open_store(app[keys.PATHS])
        consumer = await asyncio.to_thread(self._consumer, store, settings)
        if consumer is None:
            return _error(409, "no-consumer", _CLI_SIGNIN)
        port = security.local_port(request)
        if port is None:
            return _error(500, "no-port", "The helper cannot tell its own port.")
        from .. import __version__

        signin = BrowserSignIn(endpoints=Endpoints.from_base(settings.oauth_base),
                               client=ClientConfig(*consumer), store=store,
                               user_agent=user_agent(settings, __version__), grants=DEFAULT_GRANTS,
                               pending=self.pending)
        self._signins[consumer[0]] = signin
        _auth, url = signin.begin(loopback_redirect_uri(port))
        return web.json_response({"authorize_url": url}, headers={"Cache-Control": "no-store"})

    async def finish(self, auth: PendingAuthorization, code: str) -> str:
        signin = self._signins.get(auth.client_id)
        if signin is None:
            raise SignInNeeded("This sign-in was not started from the helper's page. Start it "
                               "again there.", code="oauth-unknown-client")
        return await signin.finish(auth, code)

    def done(self, app: web.Application, result: str | CommonsHelperError) -> None:
        if isinstance(result, str):
            self._resume(app)

    def _resume(self, app: web.Application) -> None:
        worker = app.get(keys.WORKER)
        if worker is not None:  # the queue signs in afresh and, if it was paused, carries on
            task = asyncio.get_running_loop().create_task(worker.resume())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def callback(self, request: web.Request) -> web.Response:
        handle = callback_handler(self.pending, self.finish, lambda r: self.done(request.app, r),
                                  retry_hint=PAGE_RETRY)
        response = await handle(request)
        if response.status == 200:  # signed in: back to the page, which shows who
            raise web.HTTPSeeOther(location="/", headers={"Cache-Control": "no-store",
                                                          "Referrer-Policy": "no-referrer"})
        return response

    async def sign_out(self, request: web.Request) -> web.Response:
        app = request.app
        if authenticator_from_env(os.environ) is not None:
            return _error(409, "signed-in-by-environment",
                          "The helper uses the credentials in its environment; remove them where "
                          "the helper is started.")
        settings = self._settings(app)

        def remove() -> dict[str, Any] | None:
            from ..cli_auth import revoke_hint

            store = open_store(app[keys.PATHS])
            cred = find_credential(store, oauth_base=settings.oauth_base, wiki=settings.wiki)
            if cred is None or store.delete(cred.key) is None:
                return None
            return {"user": cred.username, "kind": cred.kind,
                    "revoke": revoke_hint(cred, settings.oauth_base)}

        removed = await asyncio.to_thread(remove)
        if removed is not None:
            self._resume(app)
        return web.json_response({"removed": removed, **await asyncio.to_thread(self._state, app)})
