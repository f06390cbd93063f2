"""A gateway in front of the real test wiki's api.php that accepts OAuth 2.0 Bearer tokens.

MediaWiki 1.39 from Debian has no OAuth extension, so this stands in for it: a request with
``Authorization: Bearer <token>`` issued by the test OAuth server (``oauth_server.py``) is
forwarded to the wiki inside a session logged in with a bot password (behind the scenes, one
session per user and grant set); an unknown, expired or revoked token is answered the way the
OAuth extension answers it (``SessionProvider::makeException`` → ``ApiUsageException`` thrown
from ``ApiBeforeMain`` → ``ApiMain::handleApiBeforeMainException``): **HTTP 200**, header
``MediaWiki-API-Error: mwoauth-invalid-authorization``, body
``{"error": {"code": "mwoauth-invalid-authorization", "info": "The authorization headers in
your request are not valid: Invalid access token", "docref": ...}, "servedby": ...}`` (or the
``errors`` list for ``errorformat`` other than ``bc``).

Requests without a Bearer token pass through anonymously. Runs in its own thread and loop.
``before_forward`` (optional) is called with each forwarded request's parameters, so a test can
act in the middle of a chunked upload (e.g. expire the tokens after chunk 3).
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
from aiohttp import web

from tests.peers.mediawiki import TestWiki
from tests.peers.oauth_server import MetaOAuthServer
from tests.peers.threaded import ThreadedServer

DOCREF = ("See http://127.0.0.1/api.php for API usage. Subscribe to the mediawiki-api-announce "
          "mailing list at &lt;https://lists.wikimedia.org/postorius/lists/mediawiki-api-announce"
          ".lists.wikimedia.org/&gt; for notice of API deprecations and breaking changes.")
INVALID = "mwoauth-invalid-authorization"
INVALID_INFO = "The authorization headers in your request are not valid: Invalid access token"
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host",
               "content-encoding", "authorization", "cookie", "set-cookie"}


def invalid_authorization_body(params: dict[str, str]) -> dict[str, Any]:
    """The API error answer of the OAuth extension for a bad token, in the requested format."""
    errorformat = params.get("errorformat", "bc")
    if errorformat == "bc":
        return {"error": {"code": INVALID, "info": INVALID_INFO, "docref": DOCREF},
                "servedby": "bearer-gateway"}
    return {"errors": [{"code": INVALID, "text": INVALID_INFO, "module": "main"}],
            "docref": DOCREF, "servedby": "bearer-gateway"}


@dataclass
class BearerGateway:
    wiki: TestWiki
    oauth: MetaOAuthServer
    before_forward: Callable[[dict[str, str]], None] | None = None
    base_url: str = ""
    forwarded: int = 0
    refused: int = 0
    seen_tokens: list[str] = field(default_factory=list)
    _sessions: dict[tuple[str, str], httpx2.AsyncClient] = field(default_factory=dict)
    _locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)
    _server: ThreadedServer = field(default_factory=lambda: ThreadedServer("bearer gateway"))

    @property
    def api(self) -> str:
        return f"{self.base_url}/api.php"

    def bot_for(self, scopes: list[str]) -> str:
        """Which of the wiki's bot passwords carries these grants (createpage matters)."""
        return "full" if "createeditmovepage" in scopes else "nocreate"

    async def _session(self, user: str, bot: str) -> httpx2.AsyncClient:
        key = (user, bot)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key in self._sessions:
                return self._sessions[key]
            login = self.wiki.bots[bot]
            client = httpx2.AsyncClient(timeout=300.0)
            base = {"format": "json", "formatversion": "2"}
            r = await client.get(self.wiki.api, params={**base, "action": "query",
                                                         "meta": "tokens", "type": "login"})
            token = r.json()["query"]["tokens"]["logintoken"]
            r = await client.post(self.wiki.api, data={**base, "action": "login",
                                                       "lgname": login.user,
                                                       "lgpassword": login.password,
                                                       "lgtoken": token})
            if r.json()["login"]["result"] != "Success":
                raise RuntimeError(f"gateway could not log in as {login.user}: {r.text}")
            self._sessions[key] = client
            return client

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        params: dict[str, str] = dict(request.rel_url.query)
        ctype = request.headers.get("Content-Type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            params.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
        elif ctype.startswith("multipart/form-data"):
            params.update(_multipart_fields(body, ctype))
        auth = request.headers.get("Authorization", "")
        client: httpx2.AsyncClient | None = None
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
            self.seen_tokens.append(token)
            live = self.oauth.validate_access_token(token)
            if live is None:
                self.refused += 1
                return web.json_response(invalid_authorization_body(params), status=200,
                                         headers={"MediaWiki-API-Error": INVALID})
            client = await self._session(live.user, self.bot_for(live.scope.split()))
        if self.before_forward is not None:
            self.before_forward(params)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        self.forwarded += 1
        if client is None:
            async with httpx2.AsyncClient(timeout=300.0) as anon:
                resp = await anon.request(request.method, self.wiki.api,
                                          params=list(request.rel_url.query.items()),
                                          content=body, headers=headers)
        else:
            resp = await client.request(request.method, self.wiki.api,
                                        params=list(request.rel_url.query.items()),
                                        content=body, headers=headers)
        out = {k: v for k, v in resp.headers.items() if k.lower() not in HOP_HEADERS}
        return web.Response(body=resp.content, status=resp.status_code, headers=out)

    def start(self) -> BearerGateway:
        def make_app() -> web.Application:
            app = web.Application(client_max_size=1024 ** 3)
            app.router.add_route("*", "/api.php", self.handle)
            return app

        async def close_sessions() -> None:
            for c in self._sessions.values():
                await c.aclose()

        self.base_url = self._server.start(make_app, close_sessions)
        return self

    def stop(self) -> None:
        self._server.stop()


def _multipart_fields(body: bytes, ctype: str) -> dict[str, str]:
    """The small text fields of a multipart body (enough to see action/offset/filekey)."""
    boundary = ""
    for part in ctype.split(";"):
        part = part.strip()
        if part.startswith("boundary="):
            boundary = part[len("boundary="):].strip('"')
    if not boundary:
        return {}
    out: dict[str, str] = {}
    for chunk in body.split(b"--" + boundary.encode()):
        head, _, value = chunk.partition(b"\r\n\r\n")
        if b"filename=" in head or b'name="' not in head:
            continue
        name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
        if len(value) < 4096:
            out[name] = value.rstrip(b"\r\n").decode("utf-8", "replace")
    return out
