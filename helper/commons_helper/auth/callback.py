"""Receiving the browser's redirect on ``http://127.0.0.1:<port>/oauth/callback``.

``callback_handler`` builds the aiohttp handler; the helper service mounts it at
``CALLBACK_PATH`` on its own app, and ``LoopbackListener`` serves it alone, bound
to 127.0.0.1 only, for one sign-in when the service is not running. The
request's query string carries the authorization code, so neither server may
log it: the listener runs without an access log (the service should skip or
redact this path in its own access log).
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..errors import AuthError, CommonsHelperError, SignInNeeded
from .flow import CALLBACK_PATH, PendingAuthorization, PendingAuthorizations, loopback_redirect_uri

log = logging.getLogger(__name__)

#: Exchange the code of a pending sign-in and store the result; returns the username.
Finish = Callable[[PendingAuthorization, str], Awaitable[str]]
#: Told the outcome of each callback (username, or the error).
Done = Callable[["str | CommonsHelperError"], None]

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="referrer" content="no-referrer">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em}}</style>
</head><body><h1 id="result" data-ok="{ok}">{title}</h1><p id="message">{message}</p></body></html>
"""


def _page(title: str, message: str, *, ok: bool, status: int) -> web.Response:
    body = PAGE.format(title=html.escape(title), message=html.escape(message),
                       ok="1" if ok else "0")
    return web.Response(text=body, status=status, content_type="text/html", headers={
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    })


CLI_RETRY = "Run `commons-helper login` to try again."
PAGE_RETRY = "Start the sign-in again from the helper's page (`commons-helper open`)."


def callback_handler(pending: PendingAuthorizations, finish: Finish, done: Done | None = None, *,
                     retry_hint: str = CLI_RETRY) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp handler for ``GET /oauth/callback`` that completes started sign-ins.

    ``retry_hint`` tells the user how to start again (the command line, or the web page)."""

    async def handle(request: web.Request) -> web.Response:
        query = request.rel_url.query
        result: str | CommonsHelperError
        try:
            auth = pending.take(query.get("state"))
            error = query.get("error")
            if error:
                description = query.get("error_description") or query.get("message") or ""
                raise SignInNeeded(
                    "The sign-in was not completed on Meta"
                    + (": access was denied" if error == "access_denied" else f" ({error})")
                    + (f" — {description}" if description else "")
                    + f". Nothing was stored. {retry_hint}",
                    code=f"oauth-{error}",
                )
            code = query.get("code")
            if not code:
                raise SignInNeeded("The sign-in page sent no authorization code back. "
                                   f"{retry_hint}", code="oauth-no-code")
            result = await finish(auth, code)
        except CommonsHelperError as exc:
            result = exc
        except Exception as exc:  # never leave the browser (and the CLI) hanging
            log.exception("unexpected error while completing the sign-in")
            result = AuthError(f"The sign-in failed unexpectedly ({type(exc).__name__}).",
                               code="oauth-internal")
        if done is not None:
            done(result)
        if isinstance(result, CommonsHelperError):
            return _page("Sign-in failed", str(result), ok=False,
                         status=400 if result.http_status < 500 else 502)
        return _page("Signed in", f"commons-helper is now signed in as {result}. You can close "
                     "this tab.", ok=True, status=200)

    return handle


class LoopbackListener:
    """A one-shot HTTP server on 127.0.0.1 that waits for one callback.

    ``async with LoopbackListener(pending, finish) as listener:`` then use
    ``listener.redirect_uri`` in the authorize URL and ``await listener.wait(timeout)``.
    """

    def __init__(self, pending: PendingAuthorizations, finish: Finish, *, port: int = 0,
                 host: str = "127.0.0.1") -> None:
        if host not in ("127.0.0.1", "::1"):
            raise ValueError("the callback listener binds the loopback interface only")
        self.pending = pending
        self.finish = finish
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._result: asyncio.Future[str | CommonsHelperError] | None = None

    @property
    def redirect_uri(self) -> str:
        host = "[::1]" if self.host == "::1" else self.host
        return loopback_redirect_uri(self.port, host)

    async def __aenter__(self) -> LoopbackListener:
        loop = asyncio.get_running_loop()
        self._result = loop.create_future()

        def done(result: str | CommonsHelperError) -> None:
            assert self._result is not None
            if not self._result.done():
                self._result.set_result(result)

        app = web.Application()
        app.router.add_get(CALLBACK_PATH, callback_handler(self.pending, self.finish, done))
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=False)
        await site.start()
        server: Any = site._server
        self.port = int(server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def wait(self, timeout: float) -> str:
        """The signed-in username, or raise the sign-in's error (or a timeout as SignInNeeded)."""
        assert self._result is not None, "use the listener as an async context manager"
        try:
            result = await asyncio.wait_for(asyncio.shield(self._result), timeout)
        except TimeoutError:
            raise SignInNeeded(
                f"No answer from the sign-in page within {int(timeout)} seconds. Nothing was "
                "stored. Run `commons-helper login` again and approve access in the browser.",
                code="oauth-timeout",
            ) from None
        if isinstance(result, CommonsHelperError):
            raise result
        return result
