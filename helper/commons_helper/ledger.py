"""The ledger: which image in which photo manager became which Commons file, and every version we sent.

An image's identity is what its photo manager knows about it: the application,
its library id, the source path with the duplicate (virtual copy) index, and
the Commons title the plugin already tagged it with. Exporting a known image
again becomes a new version of the same title. Synchronous; runs on the
database thread (``store.Database.call``).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from .store import transaction


def normalize_title(title: str) -> str:
    """``"file:my_photo.jpg"`` → ``"File:My photo.jpg"`` (the form the wiki uses)."""
    name = title.strip().replace("_", " ")
    if name[:5].lower() == "file:":
        name = name[5:].strip()
    if name:
        name = name[0].upper() + name[1:]
    return f"File:{name}"


@dataclass(frozen=True)
class Identity:
    app: str
    image_id: str | None = None
    path: str | None = None
    duplicate_index: int = 0
    commons_title: str | None = None

    @classmethod
    def from_source(cls, source: dict[str, Any]) -> Identity | None:
        """The identity the plugin sent (``meta.source``), or None when it names no application."""
        app = str(source.get("app") or "").strip()
        if not app:
            return None
        image_id = source.get("image_id")
        known = source.get("commons_title")
        return cls(
            app=app,
            image_id=None if image_id in (None, "") else str(image_id),
            path=str(source["path"]) if source.get("path") else None,
            duplicate_index=int(source.get("duplicate_index") or 0),
            commons_title=normalize_title(str(known)) if known else None,
        )


@dataclass(frozen=True)
class Version:
    sha1: str
    job: str | None
    status: str
    uploaded: float


@dataclass(frozen=True)
class Entry:
    id: int
    wiki: str
    app: str
    image_id: str | None
    path: str | None
    duplicate_index: int
    title: str  # "File:Name.jpg"
    versions: tuple[Version, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app, "image_id": self.image_id, "path": self.path,
            "duplicate_index": self.duplicate_index, "title": self.title,
            "versions": [{"sha1": v.sha1, "job": v.job, "status": v.status} for v in self.versions],
        }


class Ledger:
    def __init__(self, conn: sqlite3.Connection, *, clock: Any = time.time) -> None:
        self.conn = conn
        self.clock = clock

    def _entry(self, row: sqlite3.Row) -> Entry:
        versions = tuple(
            Version(v["sha1"], v["job"], v["status"], v["uploaded"])
            for v in self.conn.execute(
                "SELECT * FROM versions WHERE image = ? ORDER BY uploaded, id", (row["id"],)))
        return Entry(row["id"], row["wiki"], row["app"], row["image_id"], row["path"],
                     row["duplicate_index"], row["title"], versions)

    def _find_row(self, wiki: str, ident: Identity) -> sqlite3.Row | None:
        """Most specific first: the tagged title, then path + duplicate index, then the library id."""
        if ident.commons_title:
            row = self.conn.execute(
                "SELECT * FROM images WHERE wiki = ? AND title = ? ORDER BY app = ? DESC, updated DESC",
                (wiki, ident.commons_title, ident.app)).fetchone()
            if row is not None:
                return row  # type: ignore[no-any-return]
        if ident.path:
            row = self.conn.execute(
                "SELECT * FROM images WHERE wiki = ? AND app = ? AND path = ? AND duplicate_index = ? "
                "ORDER BY updated DESC", (wiki, ident.app, ident.path, ident.duplicate_index)).fetchone()
            if row is not None:
                return row  # type: ignore[no-any-return]
        if ident.image_id:
            # A library id alone is trusted only when the path does not contradict it.
            row = self.conn.execute(
                "SELECT * FROM images WHERE wiki = ? AND app = ? AND image_id = ? "
                "AND (path IS NULL OR ? IS NULL) ORDER BY updated DESC",
                (wiki, ident.app, ident.image_id, ident.path)).fetchone()
            if row is not None:
                return row  # type: ignore[no-any-return]
        return None

    def find(self, wiki: str, ident: Identity) -> Entry | None:
        row = self._find_row(wiki, ident)
        return None if row is None else self._entry(row)

    def record(self, wiki: str, ident: Identity, title: str, sha1: str, *, job: str | None,
               status: str) -> Entry:
        """Remember that ``ident`` is ``title`` on ``wiki`` and that we sent the version ``sha1``."""
        title = normalize_title(title)
        now = self.clock()
        with transaction(self.conn, durable=True):  # forgetting it would make the next export a 2nd file
            row = self._find_row(wiki, ident)
            if row is None or row["title"] != title:
                cur = self.conn.execute(
                    "INSERT INTO images (wiki, app, image_id, path, duplicate_index, title, created, updated)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (wiki, ident.app, ident.image_id, ident.path, ident.duplicate_index, title, now, now))
                image = int(cur.lastrowid or 0)
            else:
                image = int(row["id"])
                self.conn.execute(
                    "UPDATE images SET image_id = coalesce(?, image_id), path = coalesce(?, path), "
                    "updated = ? WHERE id = ?", (ident.image_id, ident.path, now, image))
            self.conn.execute(
                "INSERT INTO versions (image, sha1, job, status, uploaded) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (image, sha1) DO NOTHING", (image, sha1, job, status, now))
            row = self.conn.execute("SELECT * FROM images WHERE id = ?", (image,)).fetchone()
        return self._entry(row)

    def entries(self, wiki: str | None = None) -> list[Entry]:
        if wiki is None:
            rows = self.conn.execute("SELECT * FROM images ORDER BY id")
        else:
            rows = self.conn.execute("SELECT * FROM images WHERE wiki = ? ORDER BY id", (wiki,))
        return [self._entry(r) for r in rows.fetchall()]
