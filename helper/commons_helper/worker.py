"""The worker: claim a job, prepare it (metadata → page → title), upload it, record the outcome.

``concurrency`` slots (3 by default, UploadWizard's limit) each loop: claim the
oldest due job, run it, repeat; they sleep until ``wake()`` (a new job) or the
next retry is due. Outcomes:

- the engine's result → the job's final status; what we uploaded goes into the ledger;
- a retryable error (after the engine's own short retries) → back in line with
  a growing delay and the reason visible, until ``retry.attempts`` tries are used up;
- ``SignInNeeded`` → the job goes back to queued and the whole queue pauses
  until ``resume()`` (new credentials); nothing fails;
- shutdown → running jobs go back to queued with their chunk state; a restart resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from . import pipeline
from .errors import CommonsHelperError, NetworkError, SignInNeeded, StashError
from .ledger import Identity, Ledger
from .paths import Paths
from .queue import DONE_OK, Job, JobQueue
from .retry import RetryPolicy
from .store import Database
from .thumbnails import make_thumbnail
from .upload import ChunkState, Uploader, UploadRequest, UploadResult

if TYPE_CHECKING:
    from .mediawiki import MediaWikiClient
    from .server.events import EventHub
    from .server.keys import LiveSettings

log = logging.getLogger(__name__)

#: Retries of a whole job after the engine's own retries gave up, 10 s doubling to 10 min apart.
#: Network trouble and a busy or read-only wiki (``waits_out``) are retried without limit;
#: anything else retryable fails after these tries (15-20 minutes), the file kept for a retry.
JOB_RETRY = RetryPolicy(attempts=8, base=10.0, cap=600.0)
PROGRESS_EVERY = 0.25  # seconds between progress events of one job


#: Trouble that passes by itself: a job facing it waits (capped backoff) and is never failed.
TRANSIENT_CODES = frozenset({"maxlag", "readonly", "ratelimited", "http-500", "http-502", "http-503",
                             "http-504", "http-429"})


def waits_out(exc: CommonsHelperError) -> bool:
    return isinstance(exc, NetworkError) or exc.code in TRANSIENT_CODES


class _JobGone(Exception):
    """The job left the active states under our feet (cancelled by the user)."""


class ClientFactory(Protocol):
    def __call__(self) -> Awaitable[MediaWikiClient]: ...


class Worker:
    def __init__(self, *, db: Database, queue: JobQueue, ledger: Ledger, paths: Paths,
                 settings: LiveSettings, events: EventHub, client_factory: ClientFactory,
                 retry: RetryPolicy = JOB_RETRY, concurrency: int | None = None) -> None:
        self.db = db
        self.queue = queue
        self.ledger = ledger
        self.paths = paths
        self.settings = settings
        self.events = events
        self.client_factory = client_factory
        self.retry = retry
        self.concurrency = concurrency or settings.value.concurrency
        self._wake = asyncio.Event()
        self._resumed = asyncio.Event()
        self._slots: list[asyncio.Task[None]] = []
        self._running: dict[str, asyncio.Task[None]] = {}
        self._user_cancelled: set[str] = set()
        self._stopping = False
        self._paused: str | None = None
        self._client: MediaWikiClient | None = None
        self._retired: list[MediaWikiClient] = []
        self._client_lock = asyncio.Lock()
        self._prepare_lock = asyncio.Lock()
        self._user: str | None = None
        self._signed_in: bool | None = None
        self._progress_sent: dict[str, float] = {}
        self._sign_in_task: asyncio.Task[None] | None = None

    # -- life cycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        self._slots = [asyncio.create_task(self._slot(n), name=f"upload-slot-{n}")
                       for n in range(self.concurrency)]
        self._sign_in_task = asyncio.create_task(self._check_sign_in())

    async def stop(self, grace: float = 5.0) -> None:
        """Stop taking jobs; give running ones ``grace`` seconds, then put them back in line."""
        self._stopping = True
        self._wake.set()
        self._resumed.set()
        running = list(self._running.values())
        if running:
            _, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
        for task in self._slots:
            task.cancel()
        if self._sign_in_task:
            self._sign_in_task.cancel()
        await asyncio.gather(*self._slots, *running,
                             *([self._sign_in_task] if self._sign_in_task else []),
                             return_exceptions=True)
        await self._drop_client()

    def wake(self) -> None:
        self._wake.set()

    def state(self) -> dict[str, Any]:
        return {"signed_in": self._signed_in, "user": self._user, "paused": self._paused is not None,
                "pause_reason": self._paused, "running": not self._stopping}

    async def resume(self) -> None:
        """New credentials (or the user says so): sign in afresh and carry on with the queue."""
        await self._drop_client()
        self._signed_in = None
        self._user = None
        was_paused = self._paused is not None
        self._paused = None
        self._resumed.set()
        self._wake.set()
        if was_paused:
            self.events.publish("health", self.state())
        if self._sign_in_task is None or self._sign_in_task.done():
            self._sign_in_task = asyncio.create_task(self._check_sign_in())

    def pause(self, reason: str) -> None:
        if self._paused is None:
            log.warning("queue paused: %s", reason)
        self._paused = reason
        self._signed_in = False
        self._resumed.clear()
        self.events.publish("health", self.state())

    async def cancel_job(self, job_id: str) -> None:
        task = self._running.get(job_id)
        if task is not None and not task.done():
            self._user_cancelled.add(job_id)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- the wiki client -----------------------------------------------------------------------------
    async def _get_client(self) -> MediaWikiClient:
        async with self._client_lock:
            if self._client is None:
                self._client = await self.client_factory()
            return self._client

    async def _drop_client(self) -> None:
        """Forget the client (new credentials); one still in use by a running job is closed at stop."""
        async with self._client_lock:
            client, self._client = self._client, None
        if client is None:
            return
        if self._running and not self._stopping:
            self._retired.append(client)
            return
        for old in [client, *self._retired]:
            with contextlib.suppress(Exception):
                await old.aclose()
        self._retired.clear()

    async def _check_sign_in(self) -> None:
        """Learn who we are signed in as (for health), without holding up the start."""
        try:
            client = await self._get_client()
            self._user = await client.username()
            self._signed_in = True
        except SignInNeeded as exc:
            self._signed_in = False
            self._user = None
            log.info("not signed in: %s", exc)
        except CommonsHelperError as exc:
            log.info("cannot tell who is signed in yet: %s", exc)
        self.events.publish("health", self.state())

    # -- the slots ---------------------------------------------------------------------------------
    async def _slot(self, n: int) -> None:
        while not self._stopping:
            if self._paused is not None:
                await self._resumed.wait()
                continue
            job = await self.db.call(self.queue.claim)
            if job is None:
                await self._idle()
                continue
            task = asyncio.create_task(self._run(job), name=f"job-{job.id}")
            self._running[job.id] = task
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.done():  # the slot itself is being stopped
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
                    raise
            finally:
                self._running.pop(job.id, None)
                self._user_cancelled.discard(job.id)

    async def _idle(self) -> None:
        due = await self.db.call(self.queue.next_wakeup)
        timeout = None if due is None else max(0.01, due - time.time())
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def _publish(self, job: Job | None) -> None:
        if job is not None:
            self.events.publish("job", job.to_json())

    # -- one job ---------------------------------------------------------------------------------
    async def _run(self, job: Job) -> None:
        self._publish(job)
        try:
            await self._run_inner(job)
        except _JobGone:
            return
        except asyncio.CancelledError:
            if job.id in self._user_cancelled:
                log.info("job %s cancelled by the user", job.id)
            else:  # shutdown: back in line, chunk state kept
                self._publish(await self.db.call(self.queue.release, job.id))
            raise
        except SignInNeeded as exc:
            self._publish(await self.db.call(
                self.queue.release, job.id,
                error={"code": exc.code, "message": f"Waiting for sign-in: {exc.message}"}))
            self.pause(exc.message)
        except StashError as exc:
            # The stash lost our chunks (expired, or the wiki was reset): start over, once more.
            await self.db.call(self.queue.forget_chunks, job.id)
            await self._retry_or_fail(job, exc)
        except CommonsHelperError as exc:
            if exc.retryable:
                await self._retry_or_fail(job, exc)
            else:
                self._publish(await self.db.call(self.queue.finish, job.id, "failed", error=exc.to_json()))
        except Exception as exc:
            log.exception("job %s failed unexpectedly", job.id)
            self._publish(await self.db.call(self.queue.finish, job.id, "failed", error={
                "code": "internal", "message": f"The helper hit an internal error ({type(exc).__name__}); "
                "the file is kept, retry it or report the bug."}))
        finally:
            self._progress_sent.pop(job.id, None)

    async def _retry_or_fail(self, job: Job, exc: CommonsHelperError) -> None:
        attempt = job.attempts + 1
        if waits_out(exc):
            # Offline, or the wiki busy or read-only: the photo waits as long as it takes.
            delay = self.retry.delay(min(attempt, self.retry.attempts), exc)
            self._publish(await self.db.call(self.queue.retry_later, job.id, delay=delay, error={
                "code": exc.code, "message": f"{exc.message} The photo stays in the queue; trying "
                f"again in {delay:.0f} s."}))
            self._wake.set()
        elif attempt < self.retry.attempts:
            delay = self.retry.delay(attempt, exc)
            self._publish(await self.db.call(self.queue.retry_later, job.id, delay=delay, error={
                "code": exc.code, "message": f"{exc.message} Trying again in {delay:.0f} s "
                f"(try {attempt + 1} of {self.retry.attempts})."}))
            self._wake.set()
        else:
            self._publish(await self.db.call(self.queue.finish, job.id, "failed", error={
                "code": exc.code, "message": f"{exc.message} Gave up after {attempt} tries; the file is "
                "kept, retry it later."}))

    async def _prepare(self, job: Job) -> Job:
        """metadata → page → title, once per job (kept across restarts so the title never changes)."""
        settings = self.settings.value
        spool = self.paths.spool_dir / job.spool_name
        if not spool.exists():
            raise CommonsHelperError(f"the spooled copy of {job.file_name} is missing; export it again",
                                     code="spool-missing")
        if job.page_title and job.page_text is not None and job.upload_name and \
                (self.paths.spool_dir / job.upload_name).exists():
            return job
        ident = Identity.from_source(job.source)
        known = None
        if ident is not None:
            entry = await self.db.call(self.ledger.find, settings.wiki, ident)
            known = entry.title if entry else ident.commons_title
        async with self._prepare_lock:  # titles unique within a batch
            taken = await self.db.call(self.queue.titles_in_batch, job.batch, job.id)
            loop = asyncio.get_running_loop()
            prepared = await loop.run_in_executor(None, lambda: pipeline.prepare(
                spool, job.meta, settings, known_title=known, taken_titles=taken,
                stripped_path=self.paths.spool_dir / f"{job.id}.stripped{spool.suffix}",
                file_name=job.file_name, username=self._user or ""))
            updated = await self.db.call(
                self.queue.set_prepared, job.id, title=prepared.title, text=prepared.text,
                comment=prepared.comment, on_exists=prepared.on_exists,
                upload_name=prepared.upload_path.name)
        if updated is None:
            raise _JobGone
        thumb = self.paths.thumbnail_dir / f"{job.id}.jpg"
        if not thumb.exists():
            made = await loop.run_in_executor(None, make_thumbnail, spool, thumb)
            if made:
                self.events.publish("thumbnail", {"id": job.id})
        return updated

    async def _run_inner(self, job: Job) -> None:
        resumed = job.upload_started
        client = await self._get_client()
        if self._user is None:  # the page's author links to the signed-in user
            self._user = await client.username()
            self._signed_in = True
        job = await self._prepare(job)
        assert job.page_title is not None and job.upload_name is not None
        self._publish(job)
        path = self.paths.spool_dir / job.upload_name
        total = path.stat().st_size
        uploading = await self.db.call(self.queue.set_uploading, job.id, total)
        if uploading is None:
            raise _JobGone
        self._publish(uploading)
        settings = self.settings.value
        resume = None
        if job.chunk_filekey and job.chunk_offset:
            resume = ChunkState(filekey=job.chunk_filekey, offset=job.chunk_offset)
        req = UploadRequest(path=path, title=job.page_title, text=job.page_text or "",
                            comment=job.comment or "", on_exists=job.on_exists or settings.on_exists,
                            chunk_size=settings.chunk_size, resume=resume,
                            sha1=job.spool_sha1 if job.upload_name == job.spool_name else None,
                            previous_attempt=resumed)

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if now - self._progress_sent.get(job.id, 0.0) >= PROGRESS_EVERY or done >= total:
                self._progress_sent[job.id] = now
                data = uploading.to_json()
                data["progress"] = {"done": done, "total": total}
                self.events.publish("job", data)

        async def save_state(state: ChunkState) -> None:
            await self.db.call(self.queue.save_chunk, job.id, state.filekey, state.offset)

        result = await Uploader(client).upload(req, progress=progress, save_state=save_state)
        await self._record(job, result)

    async def _record(self, job: Job, result: UploadResult) -> None:
        status = result.status
        error = result.error if status not in DONE_OK else None
        settings = self.settings.value
        ident = Identity.from_source(job.source)
        if ident is not None and status in ("uploaded", "new-version", "unchanged") and result.title \
                and result.sha1:
            await self.db.call(self.ledger.record, settings.wiki, ident, result.title, result.sha1,
                               job=job.id, status=status)
        finished = await self.db.call(self.queue.finish, job.id, status, title=result.title,
                                      url=result.url, sha1=result.sha1, error=error)
        self._publish(finished)
        if status in DONE_OK:
            await asyncio.get_running_loop().run_in_executor(None, self._remove_spooled, job)

    def _remove_spooled(self, job: Job) -> None:
        for name in {job.spool_name, job.upload_name}:
            if name:
                (self.paths.spool_dir / name).unlink(missing_ok=True)

    async def preview(self, job: Job) -> tuple[str, str]:
        """Title and page text a job would get now (for a job not prepared yet)."""
        settings = self.settings.value
        ident = Identity.from_source(job.source)
        known = None
        if ident is not None:
            entry = await self.db.call(self.ledger.find, settings.wiki, ident)
            known = entry.title if entry else ident.commons_title
        taken = await self.db.call(self.queue.titles_in_batch, job.batch, job.id)
        spool = self.paths.spool_dir / job.spool_name
        loop = asyncio.get_running_loop()
        prepared = await loop.run_in_executor(None, lambda: pipeline.prepare(
            spool, job.meta, settings, known_title=known, taken_titles=taken, stripped_path=None,
            file_name=job.file_name, username=self._user or ""))
        return prepared.title, prepared.text


def clean_spool(spool_dir: Path, keep: set[str]) -> list[str]:
    """Remove files no job refers to (a crash between spooling and committing leaves them)."""
    removed: list[str] = []
    if not spool_dir.is_dir():
        return removed
    for entry in spool_dir.iterdir():
        if entry.name not in keep and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry.name)
    return removed


ClientOpener = Callable[[], Awaitable["MediaWikiClient"]]
