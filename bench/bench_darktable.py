"""Benchmark of the darktable plugin's store (not a test; prints figures).

    python bench/bench_darktable.py [--photos 30] [--size 3000x2000] [--json]

Real darktable 4.2 under Xvfb (tests/peers/darktable.py) exports N generated
photos through the plugin to a real ``commons-helper serve`` that uploads to a
fresh local MediaWiki (tests/peers/mediawiki.py) while darktable exports.

What is measured: the photographer's wait per image inside darktable's export,
from darktable handing the exported file to ``store`` until ``store``
returns. Measured from outside, without touching the plugin: a watcher polls
darktable's tmpdir every 0.5 ms; the start is the exported file's last
modification (darktable has finished writing it and calls ``store``), the end
is the moment the file is gone (``store`` deletes it as its last step once the
helper answered 201). This slightly over-counts (darktable's own steps between
writing and calling store are included). Target (issue 6): median < 150 ms.
Also printed: the whole export (start → darktable's summary toast) and the
first store, which includes finding the helper (``commons-helper paths --json``,
once per darktable session) and its health check.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "helper")]

from tests.peers.darktable import helper_wrapper, make_photo, run_darktable  # noqa: E402
from tests.peers.mediawiki import remove, start_wiki  # noqa: E402

EXTS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp")


class Watcher(threading.Thread):
    """Polls a folder; for every exported file: last mtime seen and when it vanished (ns)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(daemon=True)
        self.folder = folder
        self.live: dict[str, int] = {}
        self.durations_ms: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            now = time.time_ns()
            seen: dict[str, int] = {}
            try:
                entries = list(os.scandir(self.folder))
            except FileNotFoundError:
                entries = []
            for e in entries:
                if e.name.lower().endswith(EXTS):
                    try:
                        seen[e.name] = e.stat().st_mtime_ns
                    except FileNotFoundError:
                        continue
            for name, mtime in self.live.items():
                if name not in seen:
                    self.durations_ms.append((now - mtime) / 1e6)
            self.live = seen
            time.sleep(0.0005)


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q * (len(s) - 1))))
    return s[k]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=30)
    ap.add_argument("--size", default="3000x2000", help="pixel size of the generated photos")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench-darktable-"))
    wiki = start_wiki(root / "wiki")
    try:
        home = root / "home"
        (home / "config").mkdir(parents=True)
        (home / "config" / "config.toml").write_text(
            f'wiki = "{wiki.api}"\nport = 0\nlicense = "cc-by-sa-4.0"\ncontact = "bench@example.org"\n'
            'title_pattern = "{filename}"\n')
        bin_dir = root / "bin"
        helper_wrapper(bin_dir)
        env = {"COMMONS_HELPER_HOME": str(home), "COMMONS_HELPER_BOT_USER": wiki.bots["full"].user,
               "COMMONS_HELPER_BOT_PASSWORD": wiki.bots["full"].password,
               "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
        photos = [make_photo(root / f"bench_{i:03d}.jpg", size=args.size, seed=i) for i in range(args.photos)]
        imports = "\n".join(f'imgs[#imgs + 1] = T.import({json.dumps(str(p))})' for p in photos)
        driver = f"""
local dt = require "darktable"
local imgs = {{}}
{imports}
T.export(imgs)
"""
        # start the helper first so the figures are store's, not the helper's cold start
        serve = subprocess.Popen([str(bin_dir / "commons-helper"), "serve"], env={**os.environ, **env},
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while not (home / "run" / "helper.json").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            dt_root = root / "dt"
            watcher = Watcher(dt_root / "tmp")
            watcher.start()
            # small thumbnails: the pointer (Xvfb's screen centre) must not hover over one, or
            # darktable acts on the hovered image instead of the selection
            run = run_darktable(dt_root, driver, env=env, timeout=900,
                                conf={"plugins/lighttable/images_in_row": "50"})
            watcher.stop.set()
            watcher.join()
        finally:
            serve.terminate()
            serve.wait(timeout=30)
        d = watcher.durations_ms
        figures = {
            "photos": args.photos, "size": args.size, "stores_measured": len(d),
            "store_ms_median": round(statistics.median(d), 1) if d else None,
            "store_ms_p95": round(percentile(d, 0.95), 1) if d else None,
            "store_ms_first": round(d[0], 1) if d else None,
            "store_ms_max": round(max(d), 1) if d else None,
            "darktable_run_s": round(run.seconds, 1),
            "summary": [p for p in run.prints if p.startswith("Wikimedia Commons: ")],
        }
        if args.json:
            print(json.dumps(figures, indent=2))
        else:
            print(f"{len(d)} stores of {args.photos} photos ({args.size}): "
                  f"median {figures['store_ms_median']} ms, p95 {figures['store_ms_p95']} ms, first {figures['store_ms_first']} ms, "
                  f"max {figures['store_ms_max']} ms (target: median < 150 ms)")
            print(f"whole darktable run (start, import, export, wait for uploads, quit): {run.seconds:.1f} s")
            print("darktable said:", *figures["summary"])
        return 0 if len(d) == args.photos else 1
    finally:
        wiki.stop()
        remove(root)


if __name__ == "__main__":
    raise SystemExit(main())
