"""Server-sent events: every job change goes to every open ``GET /api/v1/events`` stream.

A slow reader never slows the queue: each subscriber has a bounded buffer, and
a subscriber that falls that far behind is dropped (its browser reconnects and
reloads the list).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from .keys import EVENTS

BUFFER = 1000
HEARTBEAT_SECONDS = 15.0
_CLOSE = ("", "")


class EventHub:
    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[tuple[str, str]]] = set()
        self.closed = False

    def publish(self, event: str, data: dict[str, Any]) -> None:
        if not self._subscribers:
            return
        line = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        for q in list(self._subscribers):
            try:
                q.put_nowait((event, line))
            except asyncio.QueueFull:
                self._subscribers.discard(q)
                with contextlib.suppress(asyncio.QueueFull):
                    q.get_nowait()
                    q.put_nowait(_CLOSE)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[tuple[str, str]]]:
        q: asyncio.Queue[tuple[str, str]] = asyncio.Queue(BUFFER)
        if self.closed:
            q.put_nowait(_CLOSE)
        self._subscribers.add(q)
        try:
            yield q
        finally:
            self._subscribers.discard(q)

    def close(self) -> None:
        """End every stream (shutdown)."""
        self.closed = True
        for q in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(_CLOSE)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)


async def stream(request: web.Request) -> web.StreamResponse:
    """``GET /api/v1/events``: ``event: job`` / ``event: health`` with JSON data, heartbeats as comments."""
    hub = request.app[EVENTS]
    resp = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-store",
        "X-Accel-Buffering": "no",
    })
    with hub.subscribe() as q:
        await resp.prepare(request)
        await resp.write(b"retry: 2000\n: connected\n\n")
        while True:
            try:
                event, data = await asyncio.wait_for(q.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                await resp.write(b": keep-alive\n\n")
                continue
            if (event, data) == _CLOSE:
                break
            await resp.write(f"event: {event}\ndata: {data}\n\n".encode())
    return resp
