"""A real OAuth 2.0 authorization server for the tests, built on Authlib's server classes.

It serves Meta's paths and applies Meta's rules as commons-api.md documents them:

- ``GET  /w/rest.php/oauth2/authorize``        authorization code (+ PKCE), consent step
- ``POST /w/rest.php/oauth2/access_token``     authorization_code | refresh_token | client_credentials
- ``GET  /w/rest.php/oauth2/resource/profile`` Bearer → sub, username, grants, ...
- ``GET/POST /w/index.php?title=Special:OAuth/authorize`` the consent page (auto-approving,
  or with an "Allow" button a browser clicks)

Rules: the redirect URI must match the registered callback exactly, except that for
``http://127.0.0.1`` and ``http://[::1]`` the port is ignored (not for ``localhost``); PKCE is
required for public clients (at the authorize step) and checked for everyone who sent a
challenge; refresh tokens rotate (the old refresh *and* access token are revoked); a public
client's refresh is refused with ``401 invalid_client``; lifetimes are configurable; grants can
be revoked (Special:OAuthManageMyGrants). Owner-only consumers get a long-lived token.

It runs in its own thread and event loop (``start()``/``stop()``), so both sync and async
tests (and the CLI, which runs its own loop) can use it.
"""

from __future__ import annotations

import hashlib
import html
import os
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aiohttp import web
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Error,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from authlib.oauth2.rfc7636 import CodeChallenge

from tests.peers.threaded import ThreadedServer

PREFIX = "/w/rest.php/oauth2"
CONSENT_PATH = "/w/index.php"
LOOPBACK_HOSTS = ("127.0.0.1", "[::1]")
KNOWN_GRANTS = ("basic", "uploadfile", "uploadeditmovefile", "editpage", "createeditmovepage",
                "highvolume", "editmycssjs", "mwoauth-authonly", "mwoauth-authonlyprivate")
YEAR = 365 * 24 * 3600


# -- models -----------------------------------------------------------------------------------


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str | None
    redirect_uri: str
    grants: tuple[str, ...]
    owner_only: bool = False
    owner: str = "Admin"
    enabled: bool = True

    @property
    def confidential(self) -> bool:
        return bool(self.client_secret)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str | None) -> str | None:
        if not scope:
            return " ".join(self.grants)  # omitted scope = all of the consumer's grants
        asked = scope.split()
        if any(s not in self.grants and s != "basic" for s in asked):
            return None
        return " ".join(dict.fromkeys(["basic", *asked]))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_matches(self.redirect_uri, redirect_uri)

    def check_client_secret(self, client_secret: str) -> bool:
        return bool(self.client_secret) and secrets.compare_digest(
            self.client_secret or "", client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if method == "none":
            return not self.confidential
        return self.confidential

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and not self.owner_only

    def check_grant_type(self, grant_type: str) -> bool:
        if self.owner_only:
            return grant_type == "client_credentials"
        return grant_type in ("authorization_code", "refresh_token")


def redirect_matches(registered: str, given: str) -> bool:
    """Meta's rule: exact match; for http://127.0.0.1 and http://[::1] the port is ignored."""
    if registered == given:
        return True
    r = urllib.parse.urlsplit(registered)
    g = urllib.parse.urlsplit(given)
    if r.scheme != "http" or g.scheme != "http":
        return False
    r_host = r.netloc.rsplit(":", 1)[0] if not r.netloc.endswith("]") else r.netloc
    g_host = g.netloc.rsplit(":", 1)[0] if not g.netloc.endswith("]") else g.netloc
    if r_host not in LOOPBACK_HOSTS or g_host != r_host:
        return False
    return (r.path, r.query, r.fragment) == (g.path, g.query, g.fragment)


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None
    created: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Token:
    client_id: str
    user: str
    scope: str
    access_token: str
    refresh_token: str | None
    issued: float
    access_expires: float
    refresh_expires: float
    access_revoked: bool = False
    refresh_revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Event:
    kind: str  # "authorize", "token:<grant>", "refused:<grant>:<error>", "profile"
    client_id: str = ""
    at: float = field(default_factory=time.time)


# -- Authlib glue -----------------------------------------------------------------------------


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._data: dict[str, str] = {}
        self._datalist: dict[str, list[str]] = {}
        for k, v in items:
            self._data.setdefault(k, v)
            self._datalist.setdefault(k, []).append(v)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class _Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, method: str, uri: str, headers: dict[str, str],
                 query: list[tuple[str, str]], form: list[tuple[str, str]]) -> None:
        super().__init__(method, uri, headers=headers)
        self._args = dict(query)
        self._form = dict(form)
        self.payload = _Payload(query + form)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


@dataclass
class _Raw:
    method: str
    url: str
    headers: dict[str, str]
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]


# -- the server -------------------------------------------------------------------------------


class MetaOAuthServer(AuthorizationServer):  # type: ignore[misc]
    """Meta-like authorization server. Thread-safe: every request holds ``self.lock``.

    ``issued`` collects every secret it handed out or was sent (tokens, codes, client secrets,
    PKCE verifiers) so that tests can check none of them ever shows up in output or logs;
    ``MetaOAuthServer.instances`` lists every server created in this process.
    """

    instances: ClassVar[list[MetaOAuthServer]] = []

    def __init__(self, *, user: str = "Admin", user_id: int = 1, consent: str = "auto",
                 code_lifetime: float = 600.0, access_lifetime: float = 4 * 3600.0,
                 refresh_lifetime: float = YEAR) -> None:
        super().__init__(scopes_supported=KNOWN_GRANTS)
        os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # the test server speaks http
        self.user = user
        self.user_id = user_id
        self.consent = consent  # "auto": redirect straight back; "click": an Allow button
        self.code_lifetime = code_lifetime
        self.access_lifetime = access_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, AuthCode] = {}
        self.tokens: list[Token] = []
        self.events: list[Event] = []
        self.issued: set[str] = set()
        self.lock = threading.RLock()
        MetaOAuthServer.instances.append(self)
        self.base_url = ""
        self._server = ThreadedServer("test OAuth server")
        self.register_token_generator("default", self._generate)
        self.register_grant(_AuthorizationCodeGrant, [_PKCE(required=True)])
        self.register_grant(_RefreshTokenGrant)
        self.register_grant(_ClientCredentialsGrant)

    # consumers

    def register_client(self, *, confidential: bool = True, redirect_uri: str =
                        "http://127.0.0.1/oauth/callback",
                        grants: tuple[str, ...] = ("basic", "uploadfile", "editpage",
                                                   "createeditmovepage", "uploadeditmovefile"),
                        owner_only: bool = False) -> Client:
        client = Client(
            client_id=secrets.token_hex(16),
            client_secret=secrets.token_hex(20) if confidential or owner_only else None,
            redirect_uri=redirect_uri, grants=grants, owner_only=owner_only, owner=self.user)
        with self.lock:
            self.clients[client.client_id] = client
            if client.client_secret:
                self.issued.add(client.client_secret)
        return client

    def issue_owner_only_token(self, client: Client) -> str:
        """What Meta shows the owner of an owner-only consumer: an access token for ~1000 years."""
        with self.lock:
            token = self._generate("client_credentials", client, user=self.user,
                                   scope=" ".join(client.grants), include_refresh_token=False,
                                   expires_in=1000 * YEAR)
            self.save_token(token, None, client=client, user=self.user)
        return str(token["access_token"])

    # what tests do to the server

    def revoke_grant(self, client_id: str | None = None) -> None:
        """The user revoked the consumer on Special:OAuthManageMyGrants: every token dies."""
        with self.lock:
            for t in self.tokens:
                if client_id is None or t.client_id == client_id:
                    t.access_revoked = t.refresh_revoked = True

    def expire_access_tokens(self) -> None:
        """Make every current access token expire now (refresh tokens stay valid)."""
        with self.lock:
            now = time.time()
            for t in self.tokens:
                t.access_expires = min(t.access_expires, now - 1)

    def validate_access_token(self, access_token: str) -> Token | None:
        """The live token for this string, or None (unknown, revoked, expired)."""
        with self.lock:
            for t in self.tokens:
                if secrets.compare_digest(t.access_token, access_token):
                    if t.access_revoked or time.time() >= t.access_expires:
                        return None
                    client = self.clients.get(t.client_id)
                    if client is None or not client.enabled:
                        return None
                    return t
        return None

    def count(self, kind: str) -> int:
        with self.lock:
            return sum(1 for e in self.events if e.kind == kind)

    # Authlib hooks

    def query_client(self, client_id: str) -> Client | None:
        client = self.clients.get(client_id)
        return client if client is not None and client.enabled else None

    def save_token(self, token: dict[str, Any], request: Any, *, client: Client | None = None,
                   user: str | None = None) -> None:
        client = client or request.client
        now = time.time()
        self.tokens.append(Token(
            client_id=client.client_id, user=user or request.user, scope=token.get("scope", ""),
            access_token=token["access_token"], refresh_token=token.get("refresh_token"),
            issued=now, access_expires=now + float(token["expires_in"]),
            refresh_expires=now + self.refresh_lifetime))

    def _generate(self, grant_type: str, client: Client, user: Any = None, scope: str | None = None,
                  expires_in: float | None = None, include_refresh_token: bool = True
                  ) -> dict[str, Any]:
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": secrets.token_urlsafe(48),
            "expires_in": int(expires_in) if expires_in else self.access_lifetime,
        }
        if scope:
            token["scope"] = scope
        if include_refresh_token:
            token["refresh_token"] = secrets.token_urlsafe(48)
        self.issued.update(v for k, v in token.items() if k.endswith("_token"))
        return token

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        raw: _Raw = request
        return _Request(raw.method, raw.url, raw.headers, raw.query, raw.form)

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> web.Response:
        hdrs = dict(headers or [])
        if isinstance(body, dict):
            if status >= 400 and "error" in body:
                # league/oauth2-server (Meta) also sends "message" and "hint"
                body = {**body, "message": body.get("error_description", body["error"])}
            return web.json_response(body, status=status, headers={
                k: v for k, v in hdrs.items() if k.lower() != "content-type"})
        return web.Response(status=status, text=str(body or ""), headers=hdrs)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    # HTTP

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(f"{PREFIX}/authorize", self._authorize)
        app.router.add_post(f"{PREFIX}/access_token", self._token)
        app.router.add_get(f"{PREFIX}/resource/profile", self._profile)
        app.router.add_route("*", CONSENT_PATH, self._consent)
        return app

    @property
    def oauth_base(self) -> str:
        return f"{self.base_url}{PREFIX}"

    def start(self) -> MetaOAuthServer:
        self.base_url = self._server.start(self.app)
        return self

    def stop(self) -> None:
        self._server.stop()

    async def _raw(self, request: web.Request) -> _Raw:
        form: list[tuple[str, str]] = []
        if request.method == "POST":
            if request.content_type != "application/x-www-form-urlencoded":
                form = []  # Meta's token endpoint is form-encoded only
            else:
                post = await request.post()
                form = [(k, str(v)) for k, v in post.items()]
        return _Raw(request.method, str(request.url), dict(request.headers),
                    [(k, v) for k, v in request.rel_url.query.items()], form)

    async def _authorize(self, request: web.Request) -> web.StreamResponse:
        raw = await self._raw(request)
        with self.lock:
            self.events.append(Event("authorize", dict(raw.query).get("client_id", "")))
            try:
                self.get_consent_grant(raw, end_user=self.user)
            except OAuth2Error as error:
                return self._error_response(raw, error)
        # Like Meta: authorize hands over to the consent page on index.php.
        query = urllib.parse.urlencode(
            [("title", "Special:OAuth/authorize"), *raw.query])
        raise web.HTTPFound(f"{CONSENT_PATH}?{query}")

    def _error_response(self, raw: _Raw, error: OAuth2Error) -> web.Response:
        if error.redirect_uri:
            return self.handle_error_response(self.create_oauth2_request(raw), error)  # type: ignore[no-any-return]
        status, body, headers = error()
        return self.handle_response(status, dict(body), headers)

    async def _consent(self, request: web.Request) -> web.StreamResponse:
        raw = await self._raw(request)
        params = dict(raw.query)
        if params.get("title") != "Special:OAuth/authorize":
            raise web.HTTPNotFound()
        query = [(k, v) for k, v in raw.query if k != "title"]
        if self.consent == "click" and request.method == "GET":
            client = self.clients.get(params.get("client_id", ""))
            hidden = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in raw.query)
            scopes = html.escape(params.get("scope", ""))
            body = (f"<!doctype html><html><head><title>Allow access</title></head><body>"
                    f"<h1>{html.escape(self.user)}, allow "
                    f"{html.escape(client.client_id if client else '?')}?</h1>"
                    f"<p>Grants: {scopes}</p><form method=post action='{CONSENT_PATH}?title="
                    f"Special:OAuth/authorize'>{hidden}<button id=allow name=accept value=1>"
                    f"Allow</button><button id=deny name=accept value=0>Cancel</button>"
                    f"</form></body></html>")
            return web.Response(text=body, content_type="text/html")
        if request.method == "POST":
            query = [(k, v) for k, v in raw.form if k not in ("title", "accept")]
            approved = dict(raw.form).get("accept") == "1"
        else:
            approved = True
        grant_raw = _Raw("GET", f"{self.base_url}{PREFIX}/authorize?"
                         + urllib.parse.urlencode(query), raw.headers, query, [])
        with self.lock:
            try:
                grant = self.get_consent_grant(grant_raw, end_user=self.user)
            except OAuth2Error as error:
                return self._error_response(grant_raw, error)
            resp: web.Response = self.create_authorization_response(
                grant_raw, grant_user=self.user if approved else None, grant=grant)
        return resp

    async def _token(self, request: web.Request) -> web.Response:
        raw = await self._raw(request)
        form = dict(raw.form)
        grant_type = form.get("grant_type", "")
        with self.lock:
            self.issued.update(form[k] for k in ("code_verifier", "client_secret", "code",
                                                 "refresh_token") if form.get(k))
            resp: web.Response = self.create_token_response(raw)
            if resp.status == 200:
                self.events.append(Event(f"token:{grant_type}", dict(raw.form).get("client_id", "")))
            else:
                self.events.append(Event(f"refused:{grant_type}:{resp.status}",
                                         dict(raw.form).get("client_id", "")))
        return resp

    async def _profile(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        live = self.validate_access_token(token) if token else None
        with self.lock:
            self.events.append(Event("profile"))
        if live is None:
            return web.json_response({
                "error": "access_denied",
                "error_description": "The resource owner or authorization server denied the "
                                     "request.",
                "hint": "Access token could not be verified",
                "message": "The resource owner or authorization server denied the request.",
            }, status=401)
        scopes = live.scope.split()
        return web.json_response({
            "sub": str(self.user_id), "username": live.user, "editcount": 0,
            "confirmed_email": False, "blocked": False, "registered": "20260101000000",
            "groups": ["*", "user", "autoconfirmed"], "rights": ["read", "edit", "upload"],
            "grants": scopes,
        })


class _AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post", "none"]

    def validate_authorization_request(self) -> str:
        redirect_uri: str = super().validate_authorization_request()
        client: Client = self.request.client
        if not client.confidential and not self.request.payload.data.get("code_challenge"):
            # league/oauth2-server, as configured on Meta
            raise InvalidRequestError("Code challenge must be provided for public clients",
                                      redirect_uri=redirect_uri, state=self.request.payload.state)
        return redirect_uri

    def save_authorization_code(self, code: str, request: Any) -> None:
        self.server.issued.add(code)
        data = request.payload.data
        self.server.codes[code] = AuthCode(
            code=code, client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri or request.client.redirect_uri,
            scope=request.scope, user=request.user,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"), created=time.time())

    def query_authorization_code(self, code: str, client: Client) -> AuthCode | None:
        item = self.server.codes.get(code)
        if item is None or item.client_id != client.client_id:
            if any(e.kind == f"used:{_digest(code)}" for e in self.server.events):
                raise InvalidGrantError("Authorization code has been revoked")
            return None
        if time.time() - item.created > self.server.code_lifetime:
            del self.server.codes[code]
            raise InvalidGrantError("Authorization code has expired")
        return item

    def delete_authorization_code(self, authorization_code: AuthCode) -> None:
        self.server.codes.pop(authorization_code.code, None)
        self.server.events.append(Event(f"used:{_digest(authorization_code.code)}"))

    def authenticate_user(self, authorization_code: AuthCode) -> str:
        return authorization_code.user


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


class _PKCE(CodeChallenge):  # type: ignore[misc]
    DEFAULT_CODE_CHALLENGE_METHOD = "plain"


class _RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation

    def _validate_request_client(self) -> Client:
        client: Client = self.authenticate_token_endpoint_client()
        if not client.confidential:
            # What another project saw on Meta: the refresh grant validates the client secret.
            raise InvalidClientError(status_code=401,
                                     description="Client authentication failed")
        if not client.check_grant_type("refresh_token"):
            raise InvalidClientError(status_code=401, description="Client authentication failed")
        return client

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        for t in self.server.tokens:
            if t.refresh_token and secrets.compare_digest(t.refresh_token, refresh_token):
                if t.refresh_revoked:
                    raise InvalidGrantError("Token has been revoked")
                if time.time() >= t.refresh_expires:
                    raise InvalidGrantError("Token has expired")
                return t
        return None

    def authenticate_user(self, refresh_token: Token) -> str:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: Token) -> None:
        refresh_token.refresh_revoked = True
        refresh_token.access_revoked = True


class _ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]

    def create_token_response(self) -> Any:
        client: Client = self.request.client
        token = self.generate_token(scope=" ".join(client.grants), user=client.owner,
                                    include_refresh_token=False, expires_in=1000 * YEAR)
        self.server.save_token(token, self.request, client=client, user=client.owner)
        return 200, token, self.TOKEN_RESPONSE_HEADER
