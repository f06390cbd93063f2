"""The helper's SQLite database: one file, WAL, schema migrations through ``user_version``.

One connection, used from one dedicated thread: the event loop hands work to it
with ``await db.call(fn, *args)`` and never waits on the disk itself. The
queue (``queue.JobQueue``) and the ledger (``ledger.Ledger``) are plain
synchronous classes over that connection, so they are tested directly.

Durability: the connection runs with ``synchronous=NORMAL`` (in WAL mode a commit
survives a crash of the process, e.g. ``kill -9``, but the last ones may be lost on a
power cut), and transactions that must survive a power cut too — a new job, before the
API answers 201 — use ``transaction(conn, durable=True)``, which syncs the WAL (and with
it every commit before).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

from .errors import DatabaseError

P = ParamSpec("P")
T = TypeVar("T")

#: Each entry moves the schema one version up; never edit a released entry, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        batch TEXT NOT NULL,
        status TEXT NOT NULL,
        file_name TEXT NOT NULL,
        spool_name TEXT NOT NULL,
        size INTEGER NOT NULL,
        spool_sha1 TEXT NOT NULL,
        meta TEXT NOT NULL,
        page_title TEXT,
        page_text TEXT,
        comment TEXT,
        on_exists TEXT,
        upload_name TEXT,
        result_title TEXT,
        url TEXT,
        sha1 TEXT,
        error_code TEXT,
        error_message TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt REAL NOT NULL DEFAULT 0,
        progress_done INTEGER NOT NULL DEFAULT 0,
        progress_total INTEGER NOT NULL DEFAULT 0,
        chunk_filekey TEXT,
        chunk_offset INTEGER,
        upload_started INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE UNIQUE INDEX jobs_seq ON jobs (seq);
    CREATE INDEX jobs_batch ON jobs (batch, seq);
    CREATE INDEX jobs_status ON jobs (status, next_attempt, seq);
    CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE images (
        id INTEGER PRIMARY KEY,
        wiki TEXT NOT NULL,
        app TEXT NOT NULL,
        image_id TEXT,
        path TEXT,
        duplicate_index INTEGER NOT NULL DEFAULT 0,
        title TEXT NOT NULL,
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE INDEX images_path ON images (wiki, app, path, duplicate_index);
    CREATE INDEX images_image_id ON images (wiki, app, image_id);
    CREATE INDEX images_title ON images (wiki, title);
    CREATE TABLE versions (
        id INTEGER PRIMARY KEY,
        image INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
        sha1 TEXT NOT NULL,
        job TEXT,
        status TEXT NOT NULL,
        uploaded REAL NOT NULL,
        UNIQUE (image, sha1)
    );
    """,
)


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the database at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(
            f"cannot open the helper's database {path}: {exc}. Queued photos are kept in the "
            "spool folder next to it; move the database away to start with an empty queue."
        ) from exc
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations the database has not seen yet; return the schema version."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise DatabaseError(
            f"the database has schema version {version}, newer than this commons-helper knows "
            f"({len(MIGRATIONS)}); update commons-helper"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    return len(MIGRATIONS)


@contextmanager
def transaction(conn: sqlite3.Connection, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on any exception).

    ``durable``: the commit is fsynced (``synchronous=FULL`` for this one transaction).
    """
    if durable:
        conn.execute("PRAGMA synchronous=FULL")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        if durable:
            conn.execute("PRAGMA synchronous=NORMAL")


class Database:
    """The connection plus the one thread that uses it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="commons-helper-db")
        self.conn = self._executor.submit(connect, path).result()

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args)`` on the database thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    def close(self) -> None:
        self._executor.submit(self.conn.close).result()
        self._executor.shutdown(wait=True)
