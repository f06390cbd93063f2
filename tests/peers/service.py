"""A real ``commons-helper serve`` process for tests and benchmarks, plus small photo makers.

``Service.start()`` runs ``python -m commons_helper serve --port 0`` with its own
COMMONS_HELPER_HOME and waits until the runtime file it writes names this very
process and ``/api/v1/health`` answers. ``kill()`` is SIGKILL (crash tests),
``stop()`` is SIGTERM (graceful).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

REPO = Path(__file__).resolve().parents[2]


def make_jpeg(path: Path, *, color: str = "#336699", size: str = "64x48", tail_bytes: int = 0) -> Path:
    """A small real JPEG with unique bytes (a random comment); ``tail_bytes`` of random data after it
    make a big file (the wiki keeps the bytes as they are; the SHA1 is of the whole file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["convert", "-size", size, f"xc:{color}", "-set", "comment", uuid.uuid4().hex, str(path)],
                   check=True, capture_output=True, timeout=60)
    if tail_bytes:
        with path.open("ab") as fh:
            fh.write(os.urandom(tail_bytes))
    return path


def plugin_meta(title: str, *, batch: str = "test-batch", image_id: int | str = 1, path: str = "",
                duplicate_index: int = 0, commons_title: str | None = None, **options: Any) -> dict[str, Any]:
    """The meta JSON a photo manager sends for one exported photo (docs/api.md)."""
    return {
        "batch": batch,
        "source": {"app": "darktable", "image_id": image_id, "path": path or f"/photos/{title}.NEF",
                   "filename": f"{title}.NEF", "duplicate_index": duplicate_index,
                   "commons_title": commons_title},
        "metadata": {"title": title, "description": f"A test photo called {title}", "creator": "Tester",
                     "tags": ["Category|Test uploads", "darktable|format|jpg"],
                     "datetime_taken": "2024:05:01 12:30:00"},
        "options": {"license": "cc-by-sa-4.0", **options},
    }


@dataclass
class Service:
    home: Path
    wiki_api: str
    bot_user: str = ""
    bot_password: str = ""
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    log_path: Path | None = None

    @property
    def runtime_file(self) -> Path:
        return self.home / "run" / "helper.json"

    @property
    def database(self) -> Path:
        return self.home / "data" / "commons-helper.sqlite3"

    @property
    def url(self) -> str:
        return str(self.info["url"])

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.info['secret']}"}

    def command(self) -> list[str]:
        return [sys.executable, "-m", "commons_helper", "serve", "--port", "0", "--wiki", self.wiki_api,
                "--chunk-size", str(1024 * 1024), *self.extra_args]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["COMMONS_HELPER_HOME"] = str(self.home)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "helper"), env.get("PYTHONPATH")]))
        if self.bot_user:
            env["COMMONS_HELPER_BOT_USER"] = self.bot_user
            env["COMMONS_HELPER_BOT_PASSWORD"] = self.bot_password
        env.update(self.env)
        return env

    def start(self, timeout: float = 30.0) -> float:
        """Start and wait until ready; returns the seconds it took."""
        t0 = time.monotonic()
        self.log_path = self.home / "serve-output.log"
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(self.command(), env=self.environment(), stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}: {self.output()[-3000:]}")
            try:
                info = json.loads(self.runtime_file.read_text())
            except (OSError, ValueError):
                info = None
            if info and info.get("pid") == self.process.pid:
                self.info = info
                try:
                    if self.get("/api/v1/health").status_code == 200:
                        return time.monotonic() - t0
                except httpx2.TransportError:
                    pass
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"serve did not become ready in {timeout} s: {self.output()[-3000:]}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL, no chance to clean up (a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait (graceful shutdown); returns the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self.process = None
        return code

    def client(self, timeout: float = 60.0) -> httpx2.Client:
        return httpx2.Client(base_url=self.url, headers=self.headers, timeout=timeout, trust_env=False)

    def get(self, path: str, **kw: Any) -> httpx2.Response:
        with self.client() as c:
            return c.get(path, **kw)

    def enqueue(self, file: Path, meta: dict[str, Any], c: httpx2.Client | None = None) -> httpx2.Response:
        def send(cl: httpx2.Client) -> httpx2.Response:
            with file.open("rb") as fh:
                return cl.post("/api/v1/uploads", files={"file": (file.name, fh, "image/jpeg")},
                               data={"meta": json.dumps(meta)})
        if c is not None:
            return send(c)
        with self.client() as cl:
            return send(cl)

    def wait_all_final(self, ids: list[str], timeout: float = 120.0) -> list[dict[str, Any]]:
        """Poll (one listing request at a time, never a request per job) until every job has ended."""
        final = {"uploaded", "new-version", "duplicate", "unchanged", "needs-attention", "failed",
                 "cancelled"}
        deadline = time.monotonic() + timeout
        wanted = set(ids)
        with self.client() as c:
            while True:
                listed = c.get("/api/v1/uploads", params={"limit": "10000"}).json()["jobs"]
                by_id = {j["id"]: j for j in listed if j["id"] in wanted}
                jobs = [by_id[i] for i in ids if i in by_id]
                if len(jobs) == len(ids) and all(j["status"] in final for j in jobs):
                    return jobs
                if time.monotonic() > deadline:
                    raise TimeoutError(f"jobs not final after {timeout} s: "
                                       f"{[(j['status'], j['error']) for j in jobs]}")
                time.sleep(0.2)


def read_db(path: Path, sql: str, *params: Any) -> list[sqlite3.Row]:
    """Read the helper's database directly (a second, read-only connection; WAL allows it)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()
