"""End to end in real darktable 4.2 under Xvfb: plugin → `commons-helper serve` → real MediaWiki 1.39.

Every test runs a real darktable (tests/peers/darktable.py) with the plugin
installed by install-darktable's code, a real helper service with its own
COMMONS_HELPER_HOME, and the session's test wiki. A darktable crash or hang
fails the test (DarktableFailed), never passes it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.peers.darktable import (
    DarktableFailed,
    DarktableRun,
    available,
    comma_locale_env,
    helper_wrapper,
    make_photo,
    run_darktable,
)
from tests.peers.mediawiki import TestWiki

pytestmark = [pytest.mark.slow, pytest.mark.skipif(available() is not None, reason=str(available()))]

REPO = Path(__file__).resolve().parents[1]
DOCS_SHOT = REPO / "docs" / "images" / "darktable-export.png"

@dataclass
class Env:
    root: Path
    home: Path
    env: dict[str, str]

    def write_config(self, **settings: Any) -> None:
        lines = [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
        (self.home / "config").mkdir(parents=True, exist_ok=True)
        (self.home / "config" / "config.toml").write_text("\n".join(lines) + "\n")

    @property
    def runtime_file(self) -> Path:
        return self.home / "run" / "helper.json"


@pytest.fixture
def dt_env(tmp_path: Path, helper_home: Path, wiki: TestWiki) -> Env:
    """Environment for darktable and the helper: own home, bot login, `commons-helper` on PATH."""
    bin_dir = tmp_path / "bin"
    helper_wrapper(bin_dir)
    env = {
        "COMMONS_HELPER_HOME": str(helper_home),
        "COMMONS_HELPER_BOT_USER": wiki.bots["full"].user,
        "COMMONS_HELPER_BOT_PASSWORD": wiki.bots["full"].password,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    e = Env(root=tmp_path, home=helper_home, env=env)
    e.write_config(wiki=wiki.api, port=0, contact="tests@example.org")
    return e


@dataclass
class Service:
    proc: subprocess.Popen[bytes]
    info: dict[str, Any]
    log: Path

    def api(self, path: str) -> Any:
        req = urllib.request.Request(self.info["url"] + path,  # noqa: S310 - loopback helper
                                     headers={"Authorization": f"Bearer {self.info['secret']}"})
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback helper
            return json.loads(resp.read())

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


def start_service(e: Env, env: dict[str, str] | None = None) -> Service:
    log = e.root / "serve.log"
    out = open(log, "wb")
    proc = subprocess.Popen(["commons-helper", "serve"], env={**os.environ, **(env or e.env)},
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if e.runtime_file.exists() and proc.poll() is None:
            try:
                info = json.loads(e.runtime_file.read_text())
                return Service(proc=proc, info=info, log=log)
            except ValueError:
                pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    stop(proc)
    raise AssertionError(f"commons-helper serve did not start:\n{log.read_text(errors='replace')}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
def service(dt_env: Env) -> Iterator[Service]:
    s = start_service(dt_env)
    try:
        yield s
    finally:
        stop(s.proc)


def lua(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def flips_in_history(library: str, image_id: int = 1) -> int:
    """How many flip (rotation) steps are in the image's active history (-1: cannot read now)."""
    try:
        with sqlite3.connect(f"file:{library}?mode=ro", uri=True, timeout=1) as db:
            row = db.execute("SELECT COUNT(*) FROM history h JOIN images i ON i.id = h.imgid "
                             "WHERE h.imgid = ? AND h.operation = 'flip' AND h.num < i.history_end",
                             (image_id,)).fetchone()
    except sqlite3.Error:
        return -1
    return int(row[0]) if row else 0


def title_from_tags(tags: list[str]) -> str | None:
    for t in tags:
        if t.startswith("Wikimedia Commons|File|"):
            return "File:" + t[len("Wikimedia Commons|File|"):]
    return None


def exported_leftovers(run: DarktableRun) -> list[str]:
    return sorted(p.name for p in (run.root / "tmp").iterdir()
                  if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"))


# ------------------------------------------------------------------------------------------------
def test_export_then_reexport_as_new_version(dt_env: Env, service: Service, wiki: TestWiki,
                                             unique: str) -> None:
    photo = make_photo(dt_env.root / f"bridge_{unique}.jpg", seed=1)
    shot = dt_env.root / "export-module.png"
    title = f"Pont Neuf {unique}"
    library = str(dt_env.root / "library.db")
    conf = {"lua/commons_export/default_license": "CC BY-SA 4.0"}
    # darktable runs with a decimal comma in LC_NUMERIC: the coordinates must still arrive intact
    dt_run_env = {**dt_env.env, **comma_locale_env(dt_env.root / "locales")}
    # first darktable session: metadata set in darktable, export through the plugin
    driver = f"""
local dt = require "darktable"
local img = T.import({lua(str(photo))})
img.title = {lua(title)}
img.description = "The oldest bridge in Paris, seen from the Square du Vert-Galant"
img.creator = "Ada Lovelace"
img.rights = "CC BY-SA 4.0"
img.latitude = 48.8566
img.longitude = 2.3417
img.elevation = 35.5
dt.tags.attach(dt.tags.create("Category|Bridges"), img)
dt.tags.attach(dt.tags.create("places|Paris"), img)
dt.gui.libs.export.expanded = true
T.export({{img}})
function T.collect()
  T.result.screenshot = T.screenshot({lua(str(shot))})
  T.result.image = T.image_info(img)
end
"""
    run = run_darktable(dt_env.root / "dt", driver, env=dt_run_env, conf=conf, library=library)
    leftovers1 = exported_leftovers(run)
    first = run.result
    assert first["summary"] == "Wikimedia Commons: 1 uploaded", run.prints

    # second session, same configdir (its data.db holds the tag names) and library: edit the photo,
    # its metadata and its history (a rotation, applied by a darktable job)
    driver = f"""
local dt = require "darktable"
local img = T.import({lua(str(photo))})
T.result.before = T.image_info(img)
img.description = "The oldest bridge in Paris, rotated"
dt.gui.selection({{img}})
dt.gui.action("lib/image/rotate selected images 90 degrees CW", 0, "", "", 1.0)
T.result.image_id = img.id
T.finish()
"""
    # the rotation runs as a darktable job: stop darktable once it is a new step in the history
    flips_before = flips_in_history(library)
    edit = run_darktable(dt_env.root / "dt", driver, env=dt_run_env, conf=conf, library=library,
                         ready=lambda r: flips_in_history(library, r["image_id"]) > flips_before).result
    # the photo still points to its Commons file: the tag lives in the library
    assert title_from_tags(edit["before"]["tags"]) is not None, edit

    # third session: export the edited photo again
    driver = f"""
local dt = require "darktable"
local img = T.import({lua(str(photo))})
T.export({{img}})
function T.collect() T.result.image = T.image_info(img) end
"""
    run2 = run_darktable(dt_env.root / "dt", driver, env=dt_run_env, conf=conf, library=library)
    second = run2.result

    # tags written back in darktable
    tags = first["image"]["tags"]
    assert "Wikimedia Commons|uploaded" in tags
    commons_title = title_from_tags(tags)
    assert commons_title is not None and unique in commons_title, tags

    # the file page on the wiki
    text = wiki.page_text(commons_title)
    assert text is not None, f"{commons_title} is not on the wiki"
    assert "The oldest bridge in Paris, seen from the Square du Vert-Galant" in text
    assert "Ada Lovelace" in text
    assert "{{self|cc-by-sa-4.0}}" in text
    assert "[[Category:Bridges]]" in text
    loc = re.search(r"\{\{Location\|([-\d.]+)\|([-\d.]+)", text)
    assert loc and abs(float(loc[1]) - 48.8566) < 1e-4 and abs(float(loc[2]) - 2.3417) < 1e-4, text
    versions = wiki.file_versions(commons_title)
    assert len(versions) == 2, versions  # after the re-export below

    # the re-export: a new version of the same file, no second file
    assert title_from_tags(edit["before"]["tags"]) == commons_title
    assert second["summary"] == "Wikimedia Commons: 1 uploaded as a new version", run2.prints
    assert title_from_tags(second["image"]["tags"]) == commons_title
    files = wiki.query(action="query", list="allimages", aiprop="sha1", ailimit="500")
    mine = [i["title"] for i in files["query"]["allimages"] if unique in i["title"]]
    assert mine == [commons_title], mine
    assert versions[0]["sha1"] != versions[1]["sha1"]
    # the edit in darktable's history reached Commons: the new version is rotated
    info = wiki.query(action="query", prop="imageinfo", titles=commons_title, iiprop="size", iilimit="2")
    sizes = [(v["width"], v["height"]) for v in info["query"]["pages"][0]["imageinfo"]]
    assert sizes == [(600, 800), (800, 600)], sizes

    # darktable's exported temp files are gone; the secret is nowhere in darktable's config
    assert leftovers1 == [] and exported_leftovers(run2) == []
    secret = service.info["secret"]
    for f in (run2.root / "conf").rglob("*"):  # both sessions' configdir
        if f.is_file():
            assert secret not in f.read_text(errors="replace"), f
    assert secret not in run.output and secret not in run2.output

    # the screenshot for docs/darktable.md
    assert shot.exists() and shot.stat().st_size > 10_000
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        DOCS_SHOT.parent.mkdir(parents=True, exist_ok=True)
        DOCS_SHOT.write_bytes(shot.read_bytes())


def test_the_plugin_starts_the_helper(dt_env: Env, wiki: TestWiki, unique: str) -> None:
    dt_env.write_config(wiki=wiki.api, port=0, license="cc-by-sa-4.0", contact="tests@example.org")
    assert not dt_env.runtime_file.exists()
    photo = make_photo(dt_env.root / f"start_{unique}.jpg", seed=2)
    driver = f"""
local dt = require "darktable"
local img = T.import({lua(str(photo))})
img.title = {lua("Autostart " + unique)}
T.export({{img}})
function T.collect()
  T.result.image = T.image_info(img)
  local f = io.open({lua(str(dt_env.runtime_file))})
  T.result.runtime_seen = f ~= nil
  if f then f:close() end
end
"""
    run = run_darktable(dt_env.root / "dt", driver, env=dt_env.env)
    assert "Wikimedia Commons: starting the helper service…" in run.prints
    assert run.result["summary"] == "Wikimedia Commons: 1 uploaded", run.prints
    assert run.result["runtime_seen"] is True  # the started helper used COMMONS_HELPER_HOME
    title = title_from_tags(run.result["image"]["tags"])
    assert title and wiki.page_text(title) is not None
    assert exported_leftovers(run) == []


def test_a_refused_photo_shows_the_reason(dt_env: Env, service: Service, wiki: TestWiki,
                                          unique: str) -> None:
    # no license anywhere: not in the helper's settings, none chosen in the export module
    photo = make_photo(dt_env.root / f"nolicense_{unique}.jpg", seed=3)
    driver = f"""
local dt = require "darktable"
local img = T.import({lua(str(photo))})
img.title = {lua("No license " + unique)}
T.export({{img}})
function T.collect() T.result.image = T.image_info(img) end
"""
    run = run_darktable(dt_env.root / "dt", driver, env=dt_env.env)
    summary = run.result["summary"]
    assert summary.startswith("Wikimedia Commons: 1 needs attention: nolicense_") or \
        summary.startswith("Wikimedia Commons: 1 failed: nolicense_"), summary
    assert "license" in summary.lower(), summary
    assert "commons-helper open" in summary
    assert title_from_tags(run.result["image"]["tags"]) is None
    assert "Wikimedia Commons|uploaded" not in run.result["image"]["tags"]
    assert exported_leftovers(run) == []


def test_helper_killed_during_the_batch(dt_env: Env, unique: str) -> None:
    # A helper without credentials pauses its queue: the jobs wait, finalize polls; then we kill it.
    env = {k: v for k, v in dt_env.env.items() if not k.startswith("COMMONS_HELPER_BOT_")}
    dt_env.write_config(wiki="http://127.0.0.1:9/api.php", port=0, license="cc-by-sa-4.0")
    svc = start_service(dt_env, env)
    photos = [make_photo(dt_env.root / f"killed_{unique}_{i}.jpg", seed=10 + i) for i in range(3)]
    imports = "\n".join(f"imgs[#imgs + 1] = T.import({lua(str(p))})" for p in photos)
    driver = f"""
local dt = require "darktable"
local imgs = {{}}
{imports}
T.export(imgs)
function T.collect() T.result.tags = T.tags(imgs[1]) end
"""
    killer_done: dict[str, Any] = {}

    def kill_when_all_queued() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                jobs = svc.api("/api/v1/uploads")["jobs"]
            except OSError:
                jobs = []
            if len(jobs) == len(photos):
                time.sleep(1.0)  # finalize is polling by now
                svc.kill()
                killer_done["killed"] = True
                return
            time.sleep(0.2)

    t = threading.Thread(target=kill_when_all_queued, daemon=True)
    t.start()
    try:
        run = run_darktable(dt_env.root / "dt", driver, env={**env, "COMMONS_EXPORT_WAIT": "60"},
                            timeout=150)
    finally:
        t.join(timeout=70)
        if svc.proc.poll() is None:
            stop(svc.proc)
    assert killer_done.get("killed"), "the helper never had all jobs queued"
    summary = run.result["summary"]
    assert summary.startswith("Wikimedia Commons: 3 not finished because the helper stopped answering: "
                              "could not connect to the helper"), summary
    assert "kept in its queue" in summary and "commons-helper open" in summary
    assert run.seconds < 60, "darktable waited for the full wait instead of noticing"
    assert "Wikimedia Commons|uploaded" not in run.result["tags"]
    assert exported_leftovers(run) == []


def test_uploads_that_outlast_the_wait_continue_in_the_helper(dt_env: Env, unique: str) -> None:
    env = {k: v for k, v in dt_env.env.items() if not k.startswith("COMMONS_HELPER_BOT_")}
    dt_env.write_config(wiki="http://127.0.0.1:9/api.php", port=0, license="cc-by-sa-4.0")
    svc = start_service(dt_env, env)
    photo = make_photo(dt_env.root / f"slow_{unique}.jpg", seed=20)
    driver = f"""
local img = T.import({lua(str(photo))})
T.export({{img}})
"""
    try:
        run = run_darktable(dt_env.root / "dt", driver, env={**env, "COMMONS_EXPORT_WAIT": "3"})
        jobs = svc.api("/api/v1/uploads")["jobs"]
    finally:
        stop(svc.proc)
    assert run.result["summary"] == ("Wikimedia Commons: 1 still uploading in the helper after the wait "
                                     "here ended; watch them with commons-helper open"), run.prints
    assert len(jobs) == 1
    assert jobs[0]["status"] in ("queued", "preparing", "uploading"), jobs  # still the helper's, not lost


# ------------------------------------------------------------------------------------------------
# The harness itself: a crash or a hang is never a pass.
def test_harness_reports_a_crash(tmp_path: Path) -> None:
    driver = """
T.result.before_crash = true
os.execute("kill -SEGV $PPID")  -- the shell's parent is darktable
"""
    with pytest.raises(DarktableFailed, match="CRASHED"):
        run_darktable(tmp_path / "dt", driver, timeout=60)


def test_harness_reports_a_hang(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(DarktableFailed, match="did not finish within 15 s"):
        run_darktable(tmp_path / "dt", "-- never finishes", timeout=15)
    assert time.monotonic() - started < 120


def test_harness_reports_a_driver_error(tmp_path: Path) -> None:
    with pytest.raises(DarktableFailed, match="driver"):
        run_darktable(tmp_path / "dt", "error('boom in the driver')", timeout=60)
