"""The durable job queue (SQLite; see ``store``): the job state machine and nothing else.

    queued ──claim──▶ preparing ──▶ uploading ──▶ uploaded | new-version | duplicate | unchanged
       ▲                  │              │        | needs-attention | failed
       └── retry later / pause / restart ┘
    any non-final ──cancel──▶ cancelled;  needs-attention | failed | cancelled ──retry──▶ queued

Every method is synchronous and runs on the database thread (``Database.call``).
Chunk state (stash filekey and offset) is saved after every chunk so a restart
resumes the upload; ``recover()`` at start puts interrupted jobs back in line.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import JobConflict, JobNotFound
from .store import transaction

QUEUED = "queued"
PREPARING = "preparing"
UPLOADING = "uploading"
CANCELLED = "cancelled"
ACTIVE = (PREPARING, UPLOADING)
#: Outcomes of the upload engine (the CLI's statuses).
OUTCOMES = ("uploaded", "new-version", "duplicate", "unchanged", "needs-attention", "failed")
DONE_OK = ("uploaded", "new-version", "duplicate", "unchanged")
FINAL = (*OUTCOMES, CANCELLED)
RETRYABLE_FROM = ("needs-attention", "failed", CANCELLED)
STATUSES = (QUEUED, PREPARING, UPLOADING, *FINAL)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Job:
    id: str
    seq: int
    batch: str
    status: str
    file_name: str
    spool_name: str
    size: int
    spool_sha1: str
    meta: dict[str, Any]
    page_title: str | None
    page_text: str | None
    comment: str | None
    on_exists: str | None
    upload_name: str | None
    result_title: str | None
    url: str | None
    sha1: str | None
    error_code: str | None
    error_message: str | None
    attempts: int
    next_attempt: float
    progress_done: int
    progress_total: int
    chunk_filekey: str | None
    chunk_offset: int | None
    upload_started: bool
    created: float
    updated: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        data = dict(row)
        data["meta"] = json.loads(data["meta"])
        data["upload_started"] = bool(data["upload_started"])
        return cls(**data)

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def source(self) -> dict[str, Any]:
        src = self.meta.get("source")
        return dict(src) if isinstance(src, dict) else {}

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        """The job as the local API shows it (docs/api.md)."""
        now = time.time() if now is None else now
        title = self.result_title or (f"File:{self.page_title}" if self.page_title else None)
        error = None
        if self.error_code:
            error = {"code": self.error_code, "message": self.error_message or ""}
        out: dict[str, Any] = {
            "id": self.id,
            "batch": self.batch,
            "status": self.status,
            "file": self.file_name,
            "title": title,
            "url": self.url,
            "sha1": self.sha1,
            "error": error,
            "progress": {"done": self.progress_done, "total": self.progress_total or self.size},
            "attempts": self.attempts,
            "next_attempt": _iso(self.next_attempt)
            if self.status == QUEUED and self.next_attempt > now else None,
            "source": self.source,
            "created": _iso(self.created),
            "updated": _iso(self.updated),
        }
        return out


@dataclass(frozen=True)
class NewJob:
    batch: str
    file_name: str
    spool_name: str
    size: int
    spool_sha1: str
    meta: dict[str, Any]
    id: str = ""


def new_job_id() -> str:
    return uuid.uuid4().hex


class JobQueue:
    def __init__(self, conn: sqlite3.Connection, *, clock: Any = time.time) -> None:
        self.conn = conn
        self.clock = clock

    # -- reading -------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        row = self.conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"there is no upload job {job_id!r} (it may have been removed)")
        return Job.from_row(row)

    def jobs(self, *, batch: str | None = None, limit: int = 1000) -> list[Job]:
        if batch is None:
            rows = self.conn.execute(
                "SELECT * FROM (SELECT * FROM jobs ORDER BY seq DESC LIMIT ?) ORDER BY seq", (limit,))
        else:
            rows = self.conn.execute(
                "SELECT * FROM jobs WHERE batch = ? ORDER BY seq LIMIT ?", (batch, limit))
        return [Job.from_row(r) for r in rows]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for status, n in self.conn.execute("SELECT status, count(*) FROM jobs GROUP BY status"):
            out[status] = n
        return out

    def spool_names(self) -> set[str]:
        """Spool files any job still refers to (the rest are leftovers of a crash)."""
        names: set[str] = set()
        for spool, upload in self.conn.execute("SELECT spool_name, upload_name FROM jobs"):
            names.add(spool)
            if upload:
                names.add(upload)
        return names

    def titles_in_batch(self, batch: str, exclude: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT coalesce(result_title, 'File:' || page_title) FROM jobs WHERE batch = ? AND id != ? "
            "AND (page_title IS NOT NULL OR result_title IS NOT NULL) ORDER BY seq", (batch, exclude))
        return [r[0].removeprefix("File:") for r in rows]

    def next_wakeup(self) -> float | None:
        """When the earliest job waiting for a retry becomes due (None: none is waiting)."""
        row = self.conn.execute(
            "SELECT min(next_attempt) FROM jobs WHERE status = ?", (QUEUED,)).fetchone()
        return None if row[0] is None else float(row[0])

    # -- writing -------------------------------------------------------------------------------
    def add(self, new: NewJob) -> Job:
        now = self.clock()
        job_id = new.id or new_job_id()
        with transaction(self.conn, durable=True):  # the API answers 201 right after this
            seq = self.conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM jobs").fetchone()[0]
            self.conn.execute(
                "INSERT INTO jobs (id, seq, batch, status, file_name, spool_name, size, spool_sha1, meta, "
                "created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, seq, new.batch, QUEUED, new.file_name, new.spool_name, new.size, new.spool_sha1,
                 json.dumps(new.meta, ensure_ascii=False, separators=(",", ":")), now, now))
        return self.get(job_id)

    def _update(self, job_id: str, where: str, params: tuple[Any, ...], **values: Any) -> Job | None:
        values["updated"] = self.clock()
        sets = ", ".join(f"{k} = ?" for k in values)
        with transaction(self.conn):
            cur = self.conn.execute(
                f"UPDATE jobs SET {sets} WHERE id = ? AND {where}",  # noqa: S608 - our own column names
                (*values.values(), job_id, *params))
            if cur.rowcount == 0:
                return None
        return self.get(job_id)

    def claim(self) -> Job | None:
        """Take the oldest due queued job (→ preparing), or None."""
        now = self.clock()
        with transaction(self.conn):
            row = self.conn.execute(
                "SELECT id FROM jobs WHERE status = ? AND next_attempt <= ? ORDER BY seq LIMIT 1",
                (QUEUED, now)).fetchone()
            if row is None:
                return None
            self.conn.execute("UPDATE jobs SET status = ?, updated = ? WHERE id = ?",
                              (PREPARING, now, row[0]))
        return self.get(row[0])

    def set_prepared(self, job_id: str, *, title: str, text: str, comment: str, on_exists: str,
                     upload_name: str) -> Job | None:
        return self._update(job_id, "status = ?", (PREPARING,), page_title=title, page_text=text,
                            comment=comment, on_exists=on_exists, upload_name=upload_name)

    def set_uploading(self, job_id: str, total: int) -> Job | None:
        return self._update(job_id, "status = ?", (PREPARING,), status=UPLOADING, upload_started=1,
                            progress_total=total)

    def save_chunk(self, job_id: str, filekey: str | None, offset: int) -> None:
        """Persist the stash state after a chunk (committed before the next chunk goes out)."""
        self._update(job_id, "status = ?", (UPLOADING,), chunk_filekey=filekey, chunk_offset=offset,
                     progress_done=offset)

    def finish(self, job_id: str, status: str, *, title: str | None = None, url: str | None = None,
               sha1: str | None = None, error: dict[str, Any] | None = None) -> Job | None:
        if status not in OUTCOMES:
            raise ValueError(status)
        done_bytes = self.conn.execute(
            "SELECT progress_total FROM jobs WHERE id = ?", (job_id,)).fetchone()
        extra: dict[str, Any] = {}
        if status in DONE_OK and done_bytes is not None:
            extra["progress_done"] = done_bytes[0]
        return self._update(
            job_id, "status IN (?, ?)", ACTIVE, status=status, result_title=title, url=url, sha1=sha1,
            error_code=(error or {}).get("code"), error_message=(error or {}).get("message"),
            chunk_filekey=None, chunk_offset=None, **extra)

    def retry_later(self, job_id: str, *, delay: float, error: dict[str, Any]) -> Job | None:
        """A retryable failure: back in line after ``delay`` seconds, the reason visible meanwhile."""
        with transaction(self.conn):
            cur = self.conn.execute(
                "UPDATE jobs SET status = ?, attempts = attempts + 1, next_attempt = ?, error_code = ?, "
                "error_message = ?, updated = ? WHERE id = ? AND status IN (?, ?)",
                (QUEUED, self.clock() + delay, error.get("code"), error.get("message"), self.clock(),
                 job_id, *ACTIVE))
            if cur.rowcount == 0:
                return None
        return self.get(job_id)

    def release(self, job_id: str, *, error: dict[str, Any] | None = None) -> Job | None:
        """Back to queued without counting an attempt (pause, shutdown); chunk state is kept."""
        return self._update(job_id, "status IN (?, ?)", ACTIVE, status=QUEUED,
                            error_code=(error or {}).get("code"), error_message=(error or {}).get("message"))

    def forget_chunks(self, job_id: str) -> None:
        """The stash is gone: the next attempt starts the upload over."""
        self._update(job_id, "1", (), chunk_filekey=None, chunk_offset=None, progress_done=0)

    def recover(self) -> list[str]:
        """At start: jobs a crash interrupted go back to queued (uploads keep their chunk state)."""
        with transaction(self.conn):
            ids = [r[0] for r in self.conn.execute(
                "SELECT id FROM jobs WHERE status IN (?, ?) ORDER BY seq", ACTIVE)]
            self.conn.execute("UPDATE jobs SET status = ?, next_attempt = 0, updated = ? "
                              "WHERE status IN (?, ?)", (QUEUED, self.clock(), *ACTIVE))
        return ids

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job.final:
            raise JobConflict(f"the upload of {job.file_name} has already ended ({job.status}); "
                              "nothing to cancel")
        updated = self._update(job_id, "status IN (?, ?, ?)", (QUEUED, *ACTIVE), status=CANCELLED,
                               error_code="cancelled", error_message="Cancelled; retry to upload it.")
        return updated or self.get(job_id)

    def retry(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job.status not in RETRYABLE_FROM:
            raise JobConflict(f"only a failed, cancelled or needs-attention upload can be retried; "
                              f"{job.file_name} is {job.status}")
        updated = self._update(
            job_id, "status IN (?, ?, ?)", RETRYABLE_FROM, status=QUEUED, attempts=0, next_attempt=0,
            error_code=None, error_message=None, page_title=None, page_text=None, comment=None,
            on_exists=None, upload_name=None, result_title=None, url=None, sha1=None, chunk_filekey=None,
            chunk_offset=None, progress_done=0)
        return updated or self.get(job_id)

    # -- queue-wide state --------------------------------------------------------------------------
    def get_state(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_state(self, key: str, value: str | None) -> None:
        with transaction(self.conn):
            if value is None:
                self.conn.execute("DELETE FROM state WHERE key = ?", (key,))
            else:
                self.conn.execute("INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) "
                                  "DO UPDATE SET value = excluded.value", (key, value))
