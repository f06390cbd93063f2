"""The middlewares every request passes, outermost first.

1. ``errors``  — every failure leaves as JSON ``{"error": {"code", "message"}}``; nothing else leaks.
2. ``host_and_origin`` — DNS rebinding and cross-site requests:
   * ``Host`` must be ``127.0.0.1:<port>`` or ``localhost:<port>`` with the port the
     helper listens on; anything else → 403 ``foreign-host``.
   * An ``Origin`` header other than the helper's own origin → 403 ``foreign-origin``
     (``Origin: null`` too). Under ``/api/`` a ``Sec-Fetch-Site`` of ``cross-site`` or
     ``same-site`` is refused as well.
   * ``OPTIONS`` (CORS preflight) → 403 without any ``Access-Control-*`` header.
3. ``authenticate`` — under anything but the public paths (``/``, ``/login``,
   ``/static/…``, ``/oauth/callback``, ``/favicon.ico``) a request needs
   ``Authorization: Bearer <secret>`` (the secret from the runtime file), or the web page's
   session cookie; a cookie-authenticated unsafe request must also carry the helper's own
   ``Origin``. Otherwise 401 ``unauthorized``.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..errors import CommonsHelperError
from .keys import SECRET, SESSIONS

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_EXACT = frozenset({"/", "/login", "/oauth/callback", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/",)
SAFE_METHODS = frozenset({"GET", "HEAD"})
COOKIE_NAME = "commons_helper_session"  # server/session.py says the same


def json_error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status,
                             headers=headers or None)


def local_port(request: web.Request) -> int | None:
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        return int(sockname[1])
    return None


def own_hosts(request: web.Request) -> frozenset[str]:
    port = local_port(request)
    if port is None:
        return frozenset()
    return frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})


def own_origins(request: web.Request) -> frozenset[str]:
    return frozenset(f"http://{h}" for h in own_hosts(request))


def is_public(path: str) -> bool:
    return path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except CommonsHelperError as exc:
        return json_error(exc.http_status, exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        message = {
            404: "There is nothing at this address. The API lives under /api/v1/ (see docs/api.md).",
            405: f"{request.method} is not allowed here.",
            413: "The request is too large.",
        }.get(exc.status, exc.reason)
        return json_error(exc.status, exc.reason.lower().replace(" ", "-"), message,
                          **{k: v for k, v in exc.headers.items() if k.lower() == "allow"})
    except (ConnectionResetError, TimeoutError):
        raise
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return json_error(500, "internal", "Something went wrong inside the helper; nothing queued was "
                          "lost. The helper's log has the details.")


@web.middleware
async def host_and_origin(request: web.Request, handler: Handler) -> web.StreamResponse:
    host = request.headers.get("Host", "")
    if host.lower() not in own_hosts(request):
        return json_error(403, "foreign-host",
                          f"This helper answers only on its own address, not {host[:100]!r}.")
    origin = request.headers.get("Origin")
    if origin is not None and origin.lower().rstrip("/") not in own_origins(request):
        return json_error(403, "foreign-origin",
                          "Requests from other web sites are refused; only the helper's own page may "
                          "talk to it.")
    if request.path.startswith("/api/") and request.headers.get("Sec-Fetch-Site") in (
            "cross-site", "same-site"):
        return json_error(403, "foreign-origin", "Requests from other web sites are refused.")
    if request.method == "OPTIONS":
        return json_error(403, "no-cors", "The helper does not take cross-origin requests.")
    return await handler(request)


def _bearer_ok(request: web.Request) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    return hmac.compare_digest(token.strip().encode(), request.app[SECRET].encode())


def _cookie_ok(request: web.Request) -> bool:
    sessions = request.app.get(SESSIONS)
    if sessions is None:
        return False
    if not sessions.is_valid(request.cookies.get(COOKIE_NAME)):
        return False
    if request.method not in SAFE_METHODS:
        # A form or fetch from another site could carry the cookie; demand our own Origin.
        origin = request.headers.get("Origin", "").lower().rstrip("/")
        return origin in own_origins(request)
    return True


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if is_public(request.path) or _bearer_ok(request) or _cookie_ok(request):
        return await handler(request)
    return json_error(401, "unauthorized",
                      "This needs the helper's secret: send `Authorization: Bearer <secret>` with the "
                      "secret from the runtime file (`commons-helper paths --json` shows where it is), or "
                      "open the web page with `commons-helper open`.",
                      **{"WWW-Authenticate": 'Bearer realm="commons-helper"'})


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: headers every answer carries."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    for name in [h for h in response.headers if h.lower().startswith("access-control-")]:
        del response.headers[name]


MIDDLEWARES = (errors, host_and_origin, authenticate)
