"""Benchmark of the helper service (not a test; prints figures).

    python bench/bench_service.py [--photos 100] [--photo-mb 1] [--skip-latency]

On one fresh local MediaWiki (tests/peers/mediawiki.py):
1. cold start: ``commons-helper serve`` from exec to a runtime file and a 200 on /api/v1/health;
2. enqueue latency: 20 concurrent POSTs of 20 MB files (3 rounds; the worker uploads meanwhile);
3. a batch of N photos through the service (handed over at once, until every job is final)
   versus the sequential ``commons-helper upload`` command, on plain loopback and through
   bench/latency_proxy.py adding 100 ms each way.
Targets (issue 5): ready < 1 s; p99 enqueue < 150 ms; service ≤ 0.7× sequential with latency,
never slower than sequential on loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.peers.mediawiki import TestWiki, remove, start_wiki  # noqa: E402
from tests.peers.service import Service, make_jpeg  # noqa: E402

PAGE_FLAGS = ["--license", "cc-by-sa-4.0", "--author", "Bench", "--title-pattern", "{filename}"]


def env_for(home: Path, wiki: TestWiki) -> dict[str, str]:
    bot = wiki.bots["full"]
    return dict(os.environ, COMMONS_HELPER_HOME=str(home), PYTHONPATH=str(REPO / "helper"),
                COMMONS_HELPER_BOT_USER=bot.user, COMMONS_HELPER_BOT_PASSWORD=bot.password)


def service(home: Path, wiki: TestWiki, api: str) -> Service:
    bot = wiki.bots["full"]
    return Service(home=home, wiki_api=api, bot_user=bot.user, bot_password=bot.password,
                   extra_args=[*PAGE_FLAGS, "--chunk-size", str(5 * 1024 * 1024)])


def photos(directory: Path, n: int, mb: float, tag: str) -> list[Path]:
    return [make_jpeg(directory / f"Bench {tag} {i:03d}.jpg", color=f"#{i % 256:02x}44{(i * 7) % 256:02x}",
                      tail_bytes=int(mb * 1024 * 1024)) for i in range(n)]


def cold_start(tmp: Path, wiki: TestWiki) -> list[float]:
    times = []
    for i in range(5):
        svc = service(tmp / f"cold{i}", wiki, wiki.api)
        times.append(svc.start())
        svc.stop()
    return times


def enqueue_latency(tmp: Path, wiki: TestWiki, *, uploading: bool, rounds: int = 3, n: int = 20,
                    mb: int = 20) -> list[float]:
    """Seconds from the start of each POST to its 201, for ``n`` concurrent curl clients (the plugin's
    way of posting). ``uploading``: the worker signs in and uploads meanwhile (same 2 CPUs as the
    wiki); otherwise it has no credentials and the queue pauses, so only the intake is measured."""
    svc = service(tmp / f"enqueue-{uploading}-{n}", wiki, wiki.api)
    if not uploading:
        svc.bot_user = svc.bot_password = ""
    svc.start()
    latencies: list[float] = []
    try:
        for r in range(rounds):
            files = photos(tmp / f"enq{r}-{uploading}-{n}", n, mb, f"enq{r}-{uuid.uuid4().hex[:6]}")
            procs = [subprocess.Popen(
                ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                 "-H", f"Authorization: Bearer {svc.info['secret']}", "-F", f"file=@{p}",
                 "-F", 'meta={"batch":"enqueue"};type=application/json', f"{svc.url}/api/v1/uploads"],
                stdout=subprocess.PIPE, text=True) for p in files]
            for proc in procs:
                code, seconds = proc.communicate()[0].split()
                assert code == "201", code
                latencies.append(float(seconds))
    finally:
        svc.kill()  # the uploads it started are not part of this figure
    return latencies


def disk_floor(tmp: Path, mb: int = 400) -> float:
    """Seconds to write ``mb`` MB in 20 files and fsync them (what durable intake of 20 × 20 MB costs)."""
    block = os.urandom(1024 * 1024)
    t0 = time.perf_counter()
    for i in range(20):
        path = tmp / f"floor{i}"
        with path.open("wb") as fh:
            for _ in range(mb // 20):
                fh.write(block)
            fh.flush()
            os.fsync(fh.fileno())
        path.unlink()
    return time.perf_counter() - t0


def batch_service(tmp: Path, wiki: TestWiki, api: str, files: list[Path]) -> float:
    svc = service(tmp / f"svc-{uuid.uuid4().hex[:6]}", wiki, api)
    svc.start()
    try:
        t0 = time.perf_counter()
        ids = []
        with svc.client() as c:
            for p in files:
                resp = svc.enqueue(p, {"batch": "bench"}, c)
                assert resp.status_code == 201, resp.text
                ids.append(resp.json()["id"])
        jobs = svc.wait_all_final(ids, timeout=3600)
        dt = time.perf_counter() - t0
    finally:
        svc.stop()
    bad = [j for j in jobs if j["status"] != "uploaded"]
    assert not bad, bad[:3]
    return dt


def batch_sequential(tmp: Path, wiki: TestWiki, api: str, files: list[Path]) -> float:
    home = tmp / f"seq-{uuid.uuid4().hex[:6]}"
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "commons_helper", "upload", "--wiki", api, *PAGE_FLAGS,
                          "--json", *map(str, files)], env=env_for(home, wiki), capture_output=True,
                         text=True, timeout=7200)
    dt = time.perf_counter() - t0
    results = json.loads(out.stdout)
    bad = [r for r in results if r["status"] != "uploaded"]
    assert out.returncode == 0 and not bad, (out.stderr[-2000:], bad[:3])
    return dt


def start_proxy(upstream: str, delay: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, str(REPO / "bench" / "latency_proxy.py"), upstream,
                             "--delay", str(delay)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, line.split()[1]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description="helper service benchmark")
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--photo-mb", type=float, default=1.0)
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-service-"))
    wiki = start_wiki(tmp / "wiki")
    try:
        cold = cold_start(tmp, wiki)
        print(f"cold start to ready: median {statistics.median(cold):.3f} s, max {max(cold):.3f} s "
              f"(target < 1 s)", flush=True)
        floor = disk_floor(tmp)
        print(f"disk floor: writing and fsyncing 400 MB takes {floor:.2f} s here (201 waits for fsync)",
              flush=True)
        one = enqueue_latency(tmp, wiki, uploading=False, rounds=10, n=1)
        print(f"enqueue one 20 MB post at a time: p50 {pct(one, 50) * 1000:.0f} ms, "
              f"max {max(one) * 1000:.0f} ms", flush=True)
        for uploading in (False, True):
            lat = enqueue_latency(tmp, wiki, uploading=uploading)
            what = "while uploading to the wiki" if uploading else "queue paused (intake only)"
            print(f"enqueue 20 × 20 MB concurrently, {what} ({len(lat)} posts): p50 "
                  f"{pct(lat, 50) * 1000:.0f} ms, p99 {pct(lat, 99) * 1000:.0f} ms (target p99 < 150 ms)",
                  flush=True)
        setups: list[tuple[str, str, float | None]] = [("loopback", wiki.server, None)]
        if not args.skip_latency:
            setups.append(("100 ms each way", wiki.server, 0.1))
        for label, upstream, delay in setups:
            proxy = None
            base = upstream
            if delay is not None:
                proxy, base = start_proxy(upstream, delay)
            api = base + "/api.php"
            try:
                tag = uuid.uuid4().hex[:6]
                seq_files = photos(tmp / f"seq-{tag}", args.photos, args.photo_mb, f"seq {tag}")
                svc_files = photos(tmp / f"svc-{tag}", args.photos, args.photo_mb, f"svc {tag}")
                seq = batch_sequential(tmp, wiki, api, seq_files)
                svc = batch_service(tmp, wiki, api, svc_files)
            finally:
                if proxy is not None:
                    proxy.terminate()
                    proxy.wait()
            print(f"{args.photos} photos of {args.photo_mb:g} MB, {label}: sequential upload {seq:.1f} s, "
                  f"service {svc:.1f} s, ratio {svc / seq:.2f}", flush=True)
    finally:
        wiki.stop()
        remove(tmp)


if __name__ == "__main__":
    main()
