"""A fault-injecting HTTP proxy between our client and the real test wiki (127.0.0.1 only).

Each request is matched against the rules in order; the first rule that matches
and still has uses left acts:

- ``drop-before``: close the connection without forwarding (the wiki never saw it);
- ``drop-after``: forward, let the wiki act, then close without answering;
- ``status``: answer with an HTTP status (e.g. 503) and optional Retry-After, not forwarding;
- ``maxlag``: answer as MediaWiki does when replication lags (HTTP 200, error ``maxlag``,
  ``Retry-After`` header), not forwarding.

Everything else is forwarded as is. ``seen`` records every request's form fields
(without file contents) so tests can count what reached the wiki.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

Match = Callable[[dict[str, str]], bool]


@dataclass
class Rule:
    kind: str  # drop-before | drop-after | status | maxlag
    match: Match
    times: int = 1
    status: int = 503
    retry_after: str | None = None
    fired: int = 0


@dataclass
class FaultProxy:
    upstream: str  # e.g. http://127.0.0.1:1234/api.php
    rules: list[Rule] = field(default_factory=list)
    seen: list[dict[str, str]] = field(default_factory=list)
    forwarded: list[dict[str, str]] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    def add(self, kind: str, match: Match, **kw: Any) -> Rule:
        rule = Rule(kind, match, **kw)
        self.rules.append(rule)
        return rule

    async def start(self) -> FaultProxy:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/api.php", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/api.php"
        self._session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(),
                                              auto_decompress=False)
        return self

    async def stop(self) -> None:
        if self._session:
            await self._session.close()
        if self._runner:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        fields = dict(request.query)
        if request.method == "POST":
            fields.update(_form_fields(request.headers.get("Content-Type", ""), body))
        self.seen.append(fields)
        rule = next((r for r in self.rules if r.fired < r.times and r.match(fields)), None)
        if rule is not None:
            rule.fired += 1
            if rule.kind == "drop-before":
                return _drop(request)
            if rule.kind == "status":
                headers = {"Retry-After": rule.retry_after} if rule.retry_after else {}
                return web.Response(status=rule.status, text="Service Unavailable", headers=headers)
            if rule.kind == "maxlag":
                payload = {"error": {"code": "maxlag", "host": "db1", "lag": 7,
                                     "info": "Waiting for a database server: 7 seconds lagged."}}
                return web.Response(text=json.dumps(payload), content_type="application/json",
                                    headers={"Retry-After": rule.retry_after or "1",
                                             "X-Database-Lag": "7", "MediaWiki-API-Error": "maxlag"})
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "content-length", "transfer-encoding")}
        async with self._session.request(request.method, self.upstream, params=request.query,
                                         data=body if request.method == "POST" else None,
                                         headers=headers, allow_redirects=False) as resp:
            payload = await resp.read()
            out_headers = {k: v for k, v in resp.headers.items()
                           if k.lower() in ("content-type", "set-cookie", "retry-after",
                                            "mediawiki-api-error")}
            self.forwarded.append(fields)
            if rule is not None and rule.kind == "drop-after":
                return _drop(request)
            response = web.Response(body=payload, status=resp.status)
            for k, v in resp.headers.items():
                if k.lower() in ("content-type", "retry-after", "mediawiki-api-error"):
                    response.headers[k] = v
            for cookie in resp.headers.getall("Set-Cookie", []):
                response.headers.add("Set-Cookie", cookie)
            del out_headers
            return response


def _drop(request: web.Request) -> web.StreamResponse:
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError()


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """Text fields of a multipart or urlencoded body (file parts are summarised by size)."""
    fields: dict[str, str] = {}
    if content_type.startswith("application/x-www-form-urlencoded"):
        from urllib.parse import parse_qsl

        fields.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return fields
    if "boundary=" not in content_type:
        return fields
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    for part in body.split(b"--" + boundary):
        head, _, value = part.partition(b"\r\n\r\n")
        if b'name="' not in head:
            continue
        name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
        value = value.removesuffix(b"\r\n")
        if b"filename=" in head:
            fields[name] = f"<{len(value)} bytes>"
        else:
            fields[name] = value.decode("utf-8", "replace")
    return fields
