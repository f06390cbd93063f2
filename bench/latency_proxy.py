"""A reverse proxy on 127.0.0.1 that adds a fixed delay each way, as on a real connection to Commons.

    python bench/latency_proxy.py http://127.0.0.1:PORT --delay 0.1 [--port N]

Every request waits ``delay`` seconds before it is forwarded, and the answer waits
``delay`` seconds before it is returned (100 ms each way by default: a 200 ms round
trip, a little more than Europe ↔ Wikimedia's US data centre). Bodies are forwarded
as they are; the upstream's ``Host`` is used.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass

import aiohttp
from aiohttp import web

HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


@dataclass
class LatencyProxy:
    upstream: str  # e.g. http://127.0.0.1:8080
    delay: float = 0.1
    port: int = 0
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        await asyncio.sleep(self.delay)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with self._session.request(request.method, self.upstream + request.path_qs, data=body,
                                         headers=headers, allow_redirects=False) as up:
            payload = await up.read()
            out_headers = {k: v for k, v in up.headers.items()
                           if k.lower() not in HOP_BY_HOP and k.lower() != "content-encoding"}
        await asyncio.sleep(self.delay)
        return web.Response(status=up.status, body=payload, headers=out_headers)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=True, timeout=aiohttp.ClientTimeout(total=600))
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
        if self._session:
            await self._session.close()


async def _main(upstream: str, delay: float, port: int) -> None:
    proxy = LatencyProxy(upstream.rstrip("/"), delay, port)
    await proxy.start()
    print(f"forwarding {proxy.url} -> {upstream} with {delay * 1000:.0f} ms each way", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("upstream")
    parser.add_argument("--delay", type=float, default=0.1, help="seconds each way (default 0.1)")
    parser.add_argument("--port", type=int, default=0)
    a = parser.parse_args()
    asyncio.run(_main(a.upstream, a.delay, a.port))
