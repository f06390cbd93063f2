"""``commons-helper serve``, ``status`` and ``paths``: run the helper service and find it.

One instance per user: ``serve`` holds an exclusive lock on ``<runtime dir>/helper.lock``
for its whole life (the kernel drops it when the process dies, however it dies), and
writes the runtime file (0600, ``{"url", "pid", "secret", ...}``) once it answers.
A second ``serve`` says where the running one is; a runtime file left by a killed
process is recognised (its lock is free) and replaced.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import fcntl
import json
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from . import __version__
from .cli import add_page_options, add_upload_options, add_wiki_options, settings_from_args
from .config import Settings
from .errors import AlreadyRunning, CommonsHelperError, HelperNotRunning, UsageError
from .fileutil import atomic_write
from .paths import Paths, ensure_private_dir
from .runtime import call_helper, pid_alive, read_runtime_or_none

if TYPE_CHECKING:
    from .cli import Context

LOCK_NAME = "helper.lock"


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the helper service for darktable and the web page",
                       description="Run the helper service on 127.0.0.1 (local API, queue, web page). "
                                   "The options are the defaults for the photos it uploads.")
    p.add_argument("--port", type=int, metavar="N",
                   help="port on 127.0.0.1 (default 8471, or `port` in the config; 0 picks a free one)")
    p.add_argument("--concurrency", type=int, metavar="N", help="uploads at once (default 3)")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"),
                   help="how much the service logs (to stderr and the log file)")
    add_wiki_options(p)
    add_page_options(p)
    add_upload_options(p)
    p.set_defaults(func=cmd_serve)

    s = sub.add_parser("status", help="is the helper service running, and what is it doing?")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_status)

    q = sub.add_parser("paths", help="where commons-helper keeps its config, data, log and runtime files")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q.set_defaults(func=cmd_paths)


# -- paths ----------------------------------------------------------------------------------------
def cmd_paths(args: argparse.Namespace, ctx: Context) -> int:
    data = ctx.paths.as_dict()
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        width = max(map(len, data))
        for key, value in data.items():
            print(f"{key:<{width}}  {value}")
    return 0


# -- the runtime file --------------------------------------------------------------------------------
def read_runtime(paths: Paths) -> dict[str, Any] | None:
    return read_runtime_or_none(paths.runtime_file)


def take_lock(paths: Paths) -> IO[bytes]:
    """The one-instance lock, or AlreadyRunning naming the running helper."""
    ensure_private_dir(paths.runtime_dir)
    fh = open(paths.runtime_dir / LOCK_NAME, "ab")
    os.fchmod(fh.fileno(), 0o600)
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        fh.close()
        if exc.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        info = read_runtime(paths) or {}
        where = f" at {info['url']} (pid {info.get('pid')})" if info.get("url") else \
            " (it is starting or stopping)"
        raise AlreadyRunning(
            f"the helper is already running{where}; use that one, or stop it first "
            f"(`kill {info.get('pid', '<pid>')}`). Its runtime file is {paths.runtime_file}.") from None
    return fh


def write_runtime(paths: Paths, url: str, secret: str) -> None:
    data = {"url": url, "pid": os.getpid(), "secret": secret, "version": __version__,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    atomic_write(paths.runtime_file, json.dumps(data).encode(), mode=0o600)


def remove_runtime(paths: Paths) -> None:
    info = read_runtime(paths)
    if info is not None and info.get("pid") == os.getpid():
        paths.runtime_file.unlink(missing_ok=True)


# -- serve ------------------------------------------------------------------------------------------
def _setup_logging(paths: Paths, level: str) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    with contextlib.suppress(OSError):
        ensure_private_dir(paths.log_dir)
        handlers.append(logging.FileHandler(paths.log_file, encoding="utf-8"))
    logging.basicConfig(level=level.upper(), handlers=handlers,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def cmd_serve(args: argparse.Namespace, ctx: Context) -> int:
    def effective(file_settings: Settings) -> Settings:
        s = settings_from_args(args, file_settings)
        return s.with_overrides(concurrency=args.concurrency)

    settings = ctx.settings.with_overrides(concurrency=args.concurrency)
    if not 0 <= settings.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {settings.port}")
    lock = take_lock(ctx.paths)
    try:
        stale = read_runtime(ctx.paths)
        if stale is not None:
            logging.getLogger(__name__).info(
                "removing the runtime file of a helper that is gone (pid %s)", stale.get("pid"))
            ctx.paths.runtime_file.unlink(missing_ok=True)
        _setup_logging(ctx.paths, args.log_level)
        return asyncio.run(_serve(ctx.paths, settings, effective))
    finally:
        lock.close()


async def _serve(paths: Paths, settings: Settings, effective: Callable[[Settings], Settings]) -> int:
    from aiohttp import web

    from .server.app import create_app

    log = logging.getLogger("commons_helper.serve")
    secret = secrets.token_urlsafe(32)
    app = create_app(paths, settings, secret=secret, apply_overrides=effective)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", settings.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            raise CommonsHelperError(
                f"cannot listen on 127.0.0.1:{settings.port}: {exc.strerror}. Another program uses the "
                "port; start with --port N (or set `port` in the config).", code="port-in-use") from exc
        port = next(int(a[1]) for a in runner.addresses if isinstance(a, tuple))
        url = f"http://127.0.0.1:{port}"
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        write_runtime(paths, url, secret)
        log.info("commons-helper %s serving at %s (runtime file %s)", __version__, url, paths.runtime_file)
        print(f"commons-helper is running at {url}", flush=True)
        await stop.wait()
        log.info("stopping: running uploads go back in the queue and resume at the next start")
    finally:
        remove_runtime(paths)
        await runner.cleanup()
    return 0


# -- status -----------------------------------------------------------------------------------------
def fetch_health(info: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    try:
        data = call_helper(info, "GET", "/api/v1/health", timeout=timeout)
    except CommonsHelperError as exc:
        raise HelperNotRunning(exc.message) from exc
    return data if isinstance(data, dict) else {}


def cmd_status(args: argparse.Namespace, ctx: Context) -> int:
    info = read_runtime(ctx.paths)
    out: dict[str, Any] = {"running": False, "runtime_file": str(ctx.paths.runtime_file)}
    message = "commons-helper is not running. Start it with `commons-helper serve`."
    if info is not None and not pid_alive(info.get("pid")):
        out["stale"] = True
        message = (f"commons-helper is not running (it stopped without cleaning up: pid "
                   f"{info.get('pid')} is gone). Start it with `commons-helper serve`.")
    elif info is not None:
        out.update(url=info.get("url"), pid=info.get("pid"))
        try:
            health = fetch_health(info)
        except HelperNotRunning as exc:
            out["error"] = {"code": exc.code, "message": exc.message}
            message = f"commons-helper (pid {info.get('pid')}): {exc.message}"
        else:
            out.update(running=True, health=health)
            q = health.get("queue", {})
            who = health.get("user") or ("not signed in" if health.get("signed_in") is False else "?")
            message = (f"commons-helper {health.get('version')} is running at {info.get('url')} "
                       f"(pid {info.get('pid')}); signed in as: {who}; queued {q.get('queued', 0)}, "
                       f"active {q.get('active', 0)}, failed {q.get('failed', 0)}, needs attention "
                       f"{q.get('needs_attention', 0)}")
            if health.get("paused"):
                message += f"\nThe queue is paused: {health.get('pause_reason')}"
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(message)
    return 0 if out["running"] else 1

