"""The one place the helper service's aiohttp application is assembled.

State lives under typed keys (``server.keys``). Resources are owned by cleanup
contexts: the database (opened, interrupted jobs recovered, spool leftovers
removed; closed last) and the worker (started after the database, stopped
first — running uploads go back in line with their chunk state). Tests switch
the worker off with ``ServiceOptions(start_worker=False)``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from ..config import Settings
from ..ledger import Ledger
from ..mediawiki import MediaWikiClient
from ..paths import Paths
from ..queue import JobQueue
from ..retry import RetryPolicy
from ..store import Database
from ..worker import JOB_RETRY, Worker, clean_spool
from . import api
from .events import EventHub
from .intake import MAX_FILE_BYTES, MAX_META_BYTES
from .keys import (
    DB,
    EVENTS,
    LEDGER,
    LIMITS,
    PATHS,
    QUEUE,
    SECRET,
    SESSIONS,
    SETTINGS,
    WORKER,
    Limits,
    LiveSettings,
)
from .security import MIDDLEWARES, security_headers

log = logging.getLogger(__name__)

ClientFactory = Callable[[Settings, Paths], Awaitable[MediaWikiClient]]


async def default_client(settings: Settings, paths: Paths) -> MediaWikiClient:
    from ..session import open_client

    return open_client(settings, paths)


@dataclass(frozen=True)
class ServiceOptions:
    start_worker: bool = True
    job_retry: RetryPolicy = JOB_RETRY
    client_factory: ClientFactory = default_client
    max_file_bytes: int = MAX_FILE_BYTES
    max_meta_bytes: int = MAX_META_BYTES
    shutdown_grace: float = 5.0
    concurrency: int | None = None  # None: the `concurrency` setting


def create_app(paths: Paths, settings: Settings, *, secret: str,
               apply_overrides: Callable[[Settings], Settings] | None = None,
               options: ServiceOptions | None = None) -> web.Application:
    """The service. ``settings`` are in force now; when the config file changes, the jobs that follow
    use ``apply_overrides(<new file settings>)`` (``serve``'s command-line options on top)."""
    options = options or ServiceOptions()
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=options.max_meta_bytes)
    app[PATHS] = paths
    app[SETTINGS] = LiveSettings(paths, settings, apply_overrides or (lambda s: s))
    app[SECRET] = secret
    app[LIMITS] = Limits(options.max_file_bytes, options.max_meta_bytes)
    app[EVENTS] = EventHub()
    app.add_routes(api.routes)
    _setup_webpage(app)
    app.cleanup_ctx.append(_database)
    if options.start_worker:
        app.cleanup_ctx.append(_worker_context(options))
    app.on_shutdown.append(_end_event_streams)
    app.on_response_prepare.append(security_headers)
    return app


def _setup_webpage(app: web.Application) -> None:
    """The web page (another module) adds its routes and sessions when it is installed."""
    try:
        session = importlib.import_module("commons_helper.server.session")
        webpage = importlib.import_module("commons_helper.server.webpage")
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("commons_helper.server."):
            raise
        return
    app[SESSIONS] = session.Sessions()
    webpage.setup(app)


async def _database(app: web.Application) -> AsyncIterator[None]:
    paths = app[PATHS]
    db = Database(paths.database_file)
    queue = JobQueue(db.conn)
    app[DB] = db
    app[QUEUE] = queue
    app[LEDGER] = Ledger(db.conn)
    recovered = await db.call(queue.recover)
    if recovered:
        log.info("%d interrupted job(s) back in the queue", len(recovered))
    keep = await db.call(queue.spool_names)
    removed = await db.call(clean_spool, paths.spool_dir, keep)
    if removed:
        log.info("removed %d spool file(s) no job refers to", len(removed))
    yield
    db.close()


def _worker_context(options: ServiceOptions) -> Callable[[web.Application], AsyncIterator[None]]:
    async def worker_ctx(app: web.Application) -> AsyncIterator[None]:
        live = app[SETTINGS]
        paths = app[PATHS]

        async def client() -> MediaWikiClient:
            return await options.client_factory(live.value, paths)

        worker = Worker(db=app[DB], queue=app[QUEUE], ledger=app[LEDGER], paths=paths, settings=live,
                        events=app[EVENTS], client_factory=client, retry=options.job_retry,
                        concurrency=options.concurrency)
        app[WORKER] = worker
        await worker.start()
        yield
        await worker.stop(options.shutdown_grace)

    return worker_ctx


async def _end_event_streams(app: web.Application) -> None:
    app[EVENTS].close()


async def credentials_changed(app: web.Application) -> None:
    """Call after a sign-in or sign-out: the queue signs in afresh and, if it was paused, carries on."""
    worker = app.get(WORKER)
    if worker is not None:
        await worker.resume()
