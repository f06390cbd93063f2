"""The job queue on a real SQLite file: state machine, chunk state, recovery, migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from commons_helper.errors import DatabaseError, JobConflict, JobNotFound
from commons_helper.queue import JobQueue, NewJob
from commons_helper.store import MIGRATIONS, connect, migrate


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def q(tmp_path: Path, clock: Clock) -> JobQueue:
    return JobQueue(connect(tmp_path / "db.sqlite3"), clock=clock)


def new(batch: str = "b1", name: str = "x.jpg") -> NewJob:
    return NewJob(batch=batch, file_name=name, spool_name=f"{name}.spool", size=10, spool_sha1="ab" * 20,
                  meta={"batch": batch, "source": {"app": "darktable", "image_id": 7}})


def test_schema_is_wal_and_versioned(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert migrate(conn) == len(MIGRATIONS)  # idempotent
    conn.close()
    again = connect(tmp_path / "db.sqlite3")  # reopening keeps the data and the version
    assert again.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    raw.close()
    with pytest.raises(DatabaseError, match="newer"):
        connect(path)


def test_happy_path_through_every_state(q: JobQueue) -> None:
    job = q.add(new())
    assert job.status == "queued" and job.seq == 1
    assert job.to_json()["progress"] == {"done": 0, "total": 10}
    claimed = q.claim()
    assert claimed is not None and claimed.id == job.id and claimed.status == "preparing"
    assert q.claim() is None  # nothing else due
    q.set_prepared(job.id, title="X.jpg", text="page", comment="c", on_exists="rename", upload_name="u")
    up = q.set_uploading(job.id, 10)
    assert up is not None and up.status == "uploading" and up.upload_started
    q.save_chunk(job.id, "key1", 5)
    mid = q.get(job.id)
    assert (mid.chunk_filekey, mid.chunk_offset, mid.progress_done) == ("key1", 5, 5)
    done = q.finish(job.id, "uploaded", title="File:X.jpg", url="http://w/File:X.jpg", sha1="s")
    assert done is not None
    out = done.to_json()
    assert out["status"] == "uploaded" and out["title"] == "File:X.jpg" and out["error"] is None
    assert out["progress"] == {"done": 10, "total": 10}
    assert done.chunk_filekey is None  # the stash state is cleared when the job ends


def test_claim_order_and_retry_delay(q: JobQueue, clock: Clock) -> None:
    a, b = q.add(new(name="a.jpg")), q.add(new(name="b.jpg"))
    first = q.claim()
    assert first is not None and first.id == a.id
    waiting = q.retry_later(a.id, delay=30, error={"code": "maxlag", "message": "busy"})
    assert waiting is not None and waiting.status == "queued" and waiting.attempts == 1
    assert waiting.to_json()["error"] == {"code": "maxlag", "message": "busy"}
    assert waiting.to_json(now=clock.now)["next_attempt"] is not None
    assert waiting.next_attempt == clock.now + 30
    second = q.claim()
    assert second is not None and second.id == b.id  # a is not due yet
    assert q.claim() is None
    assert q.next_wakeup() == clock.now + 30
    clock.now += 31
    again = q.claim()
    assert again is not None and again.id == a.id


def test_recover_puts_interrupted_jobs_back_keeping_chunks(q: JobQueue) -> None:
    a, b, c = (q.add(new(name=f"{n}.jpg")) for n in "abc")
    q.claim()
    q.claim()
    q.set_prepared(a.id, title="A.jpg", text="t", comment="", on_exists="rename", upload_name="u")
    q.set_uploading(a.id, 10)
    q.save_chunk(a.id, "stash-key", 4)
    assert sorted(q.recover()) == sorted([a.id, b.id])
    ra, rb = q.get(a.id), q.get(b.id)
    assert ra.status == rb.status == "queued"
    assert (ra.chunk_filekey, ra.chunk_offset, ra.upload_started) == ("stash-key", 4, True)
    assert ra.page_title == "A.jpg"  # the prepared title survives: a resumed upload keeps its name
    assert q.get(c.id).status == "queued"


def test_cancel_and_retry_rules(q: JobQueue) -> None:
    job = q.add(new())
    cancelled = q.cancel(job.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(JobConflict):
        q.cancel(job.id)
    retried = q.retry(job.id)
    assert retried.status == "queued" and retried.error_code is None
    with pytest.raises(JobConflict):
        q.retry(job.id)  # queued: nothing to retry
    q.claim()
    q.finish(job.id, "failed", error={"code": "no-license", "message": "no license"})
    assert q.get(job.id).to_json()["error"]["code"] == "no-license"
    assert q.retry(job.id).status == "queued"
    with pytest.raises(JobNotFound):
        q.get("nope")


def test_finish_does_not_overwrite_a_cancel(q: JobQueue) -> None:
    job = q.add(new())
    q.claim()
    q.cancel(job.id)
    assert q.finish(job.id, "uploaded", title="File:X.jpg") is None
    assert q.get(job.id).status == "cancelled"


def test_listing_counts_titles_and_spool_names(q: JobQueue) -> None:
    a = q.add(new("b1", "a.jpg"))
    b = q.add(new("b1", "b.jpg"))
    q.add(new("b2", "c.jpg"))
    assert [j.id for j in q.jobs(batch="b1")] == [a.id, b.id]
    assert len(q.jobs()) == 3
    assert q.counts()["queued"] == 3
    q.claim()
    q.set_prepared(a.id, title="Bridge.jpg", text="t", comment="", on_exists="rename",
                   upload_name="a.stripped.jpg")
    assert q.titles_in_batch("b1", exclude=b.id) == ["Bridge.jpg"]
    assert q.titles_in_batch("b1", exclude=a.id) == []
    assert {"a.jpg.spool", "b.jpg.spool", "c.jpg.spool", "a.stripped.jpg"} == q.spool_names()


def test_state_table(q: JobQueue) -> None:
    assert q.get_state("k") is None
    q.set_state("k", "v")
    q.set_state("k", "w")
    assert q.get_state("k") == "w"
    q.set_state("k", None)
    assert q.get_state("k") is None


def test_new_jobs_are_committed_with_a_full_sync(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db.sqlite3")
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL for state changes
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    JobQueue(conn).add(new())
    assert statements.index("PRAGMA synchronous=FULL") < statements.index("COMMIT")
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1
