"""Upload speed and memory: commons-helper vs a raw HTTP client vs mwclient, on one fresh local wiki.

    .venv/bin/python bench/bench_upload.py [--photos 20] [--photo-mb 5] [--big-mb 200] [--rounds 1]

Each contender uploads its own copies (fresh bytes, so nothing is a duplicate) of the same set:
N photos of about 5 MB and one big file. commons-helper and the raw client use 5 MiB chunks; the
raw client makes the same API calls as commons-helper (login, token, one query for the SHA1 and
the title, single POST or chunks + publish) with nothing else. mwclient is an independent, widely
used client, run with its own defaults (1 MiB chunks) unless --mwclient-chunk same. Prints
wall-time ratios measured in this run and commons-helper's peak RSS (its own process) while
uploading the big file. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.peers.images import make_jpeg  # noqa: E402
from tests.peers.mediawiki import TestWiki, remove, start_wiki  # noqa: E402

CHUNK = 5 * 1024 * 1024
MB = 1000 * 1000

RAW_CLIENT = r'''
import hashlib, json, sys, httpx2
api, user, password, chunk_size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
files = sys.argv[5:]
c = httpx2.Client(timeout=600, headers={"User-Agent": "raw-bench/0 (bench@example.org)"})
base = {"format": "json", "formatversion": "2", "maxlag": "5"}
def get(**p): return c.get(api, params={**base, **p}).json()
def post(files=None, **p): return c.post(api, data={**base, **p}, files=files).json()
lt = get(action="query", meta="tokens", type="login")["query"]["tokens"]["logintoken"]
assert post(action="login", lgname=user, lgpassword=password, lgtoken=lt)["login"]["result"] == "Success"
tok = get(action="query", meta="tokens", type="csrf")["query"]["tokens"]["csrftoken"]
get(action="query", meta="siteinfo", siprop="fileextensions")
for path in files:
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        while b := fh.read(1 << 20): h.update(b)
    name = path.rsplit("/", 1)[1]
    q = get(action="query", list="allimages", aisha1=h.hexdigest(), ailimit="10", prop="imageinfo",
            titles="File:" + name, iiprop="user|sha1|timestamp", iilimit="50")["query"]
    assert not q["allimages"]
    size = __import__("os").path.getsize(path)
    if size <= chunk_size:
        with open(path, "rb") as fh:
            r = post(files={"file": ("file.jpg", fh)}, action="upload", filename=name, text="bench", token=tok)
    else:
        offset, key = 0, None
        with open(path, "rb") as fh:
            while offset < size:
                fh.seek(offset); data = fh.read(chunk_size)
                p = dict(action="upload", stash="1", filename="upload.jpg", filesize=str(size), offset=str(offset), token=tok)
                if key: p["filekey"] = key
                if offset + len(data) >= size and size > 10 * 1024 * 1024: p["async"] = "1"
                r = post(files={"chunk": ("chunk.jpg", data)}, **p)["upload"]
                key = r["filekey"]; offset = int(r.get("offset", size))
        r = post(action="upload", filekey=key, filename=name, text="bench", token=tok,
                 **({"async": "1"} if size > 10 * 1024 * 1024 else {}))
    assert r["upload"]["result"] == "Success", r
'''

MWCLIENT = r'''
import sys, mwclient
api, user, password, chunk_size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
host = api.split("//", 1)[1].split("/", 1)[0]
site = mwclient.Site(host, path="/", scheme="http", clients_useragent="mwclient-bench/0 (bench@example.org)")
if chunk_size:
    site.chunk_size = chunk_size  # else mwclient's own default (1 MiB)
site.login(user, password)
for path in sys.argv[5:]:
    with open(path, "rb") as fh:
        r = site.upload(fh, filename=path.rsplit("/", 1)[1], description="bench")
    assert (r.get("upload") or r).get("result") == "Success", r
'''


def make_set(folder: Path, tag: str, photos: int, photo_mb: float, big_mb: float) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = [make_jpeg(folder / f"Bench {tag} photo {i:02d}.jpg", f"{tag}-{i}", int(photo_mb * MB))
             for i in range(photos)]
    if big_mb:
        files.append(make_jpeg(folder / f"Bench {tag} big.jpg", f"{tag}-big", int(big_mb * MB)))
    return files


def _hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of a child process.

    Peak RSS is the kernel's VmHWM of the process after exec (getrusage's ru_maxrss would
    also count the forked copy of this process before exec), read until the process ends.
    """
    out_file = tempfile.TemporaryFile()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=out_file, stderr=subprocess.STDOUT)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _hwm_kib(proc.pid))
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        out_file.seek(0)
        raise SystemExit(f"{cmd[:3]} failed:\n{out_file.read().decode()[-3000:]}")
    return elapsed, peak


def helper_cmd(wiki: TestWiki, files: list[Path]) -> tuple[list[str], dict[str, str]]:
    exe = str(Path(sys.executable).with_name("commons-helper"))
    env = {**os.environ, "COMMONS_HELPER_BOT_USER": wiki.bots["full"].user,
           "COMMONS_HELPER_BOT_PASSWORD": wiki.bots["full"].password,
           "COMMONS_HELPER_HOME": tempfile.mkdtemp(prefix="bench-home-")}
    return [exe, "upload", *map(str, files), "--wiki", wiki.api, "--page-text", "bench",
            "--chunk-size", str(CHUNK), "--json"], env


def script_cmd(script: str, wiki: TestWiki, files: list[Path], chunk: int = CHUNK) -> list[str]:
    bot = wiki.bots["full"]
    return [sys.executable, "-c", script, wiki.api, bot.user, bot.password, str(chunk), *map(str, files)]


def check_landed(wiki: TestWiki, files: list[Path]) -> None:
    for f in files:
        sha1 = hashlib.sha1(f.read_bytes()).hexdigest()
        if not wiki.files_with_sha1(sha1):
            raise SystemExit(f"{f.name} did not land on the wiki")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=20)
    ap.add_argument("--photo-mb", type=float, default=5.0)
    ap.add_argument("--big-mb", type=float, default=200.0)
    ap.add_argument("--rounds", type=int, default=1, help="repeat and keep each contender's best time")
    ap.add_argument("--mwclient-chunk", choices=("default", "same"), default="default",
                    help="mwclient with its own default chunk size (1 MiB, as people use it) or "
                         "with the same 5 MiB as the others")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    wiki = start_wiki(work / "wiki")
    results: dict[str, dict[str, float]] = {}
    try:
        order = ["raw", "helper", "mwclient"]
        warm = make_set(work / "warm", "warm", 2, 1, 0)  # the wiki's first uploads are slower
        timed(script_cmd(RAW_CLIENT, wiki, warm))
        for rnd in range(args.rounds):
            for who in order[rnd % 3:] + order[: rnd % 3]:
                tag = f"{who}{rnd}"
                files = make_set(work / tag, tag, args.photos, args.photo_mb, args.big_mb)
                photos, big = files[: args.photos], files[args.photos:]
                for label, subset in (("photos", photos), ("big", big)):
                    if not subset:
                        continue
                    if who == "helper":
                        cmd, env = helper_cmd(wiki, subset)
                        seconds, rss = timed(cmd, env)
                    elif who == "raw":
                        seconds, rss = timed(script_cmd(RAW_CLIENT, wiki, subset))
                    else:
                        chunk = CHUNK if args.mwclient_chunk == "same" else 0
                        seconds, rss = timed(script_cmd(MWCLIENT, wiki, subset, chunk))
                    check_landed(wiki, subset)
                    key = f"{who}/{label}"
                    best = results.setdefault(key, {"seconds": seconds, "rss_kib": rss})
                    if seconds < best["seconds"]:
                        best.update(seconds=seconds, rss_kib=rss)
                    print(f"  {key:16} round {rnd}: {seconds:7.2f} s, peak RSS {rss / 1024:6.1f} MiB",
                          flush=True)
                for f in files:
                    f.unlink()
    finally:
        wiki.stop()
        remove(work)

    def ratio(a: str, b: str) -> float:
        return results[a]["seconds"] / results[b]["seconds"]

    summary = {
        "photos": args.photos, "photo_mb": args.photo_mb, "big_mb": args.big_mb,
        "mwclient_chunk": args.mwclient_chunk,
        "seconds": {k: round(v["seconds"], 2) for k, v in results.items()},
        "helper_vs_raw_photos": round(ratio("helper/photos", "raw/photos"), 3),
        "helper_vs_mwclient_photos": round(ratio("helper/photos", "mwclient/photos"), 3),
        "raw_vs_mwclient_photos": round(ratio("raw/photos", "mwclient/photos"), 3),
    }
    if args.big_mb:
        summary |= {
            "helper_vs_raw_big": round(ratio("helper/big", "raw/big"), 3),
            "helper_vs_mwclient_big": round(ratio("helper/big", "mwclient/big"), 3),
            "helper_peak_rss_mib_big": round(results["helper/big"]["rss_kib"] / 1024, 1),
            "raw_peak_rss_mib_big": round(results["raw/big"]["rss_kib"] / 1024, 1),
        }
    print(json.dumps(summary, indent=2))
    print(f"targets: helper/raw on photos <= 1.15 (got {summary['helper_vs_raw_photos']}), "
          f"helper faster than mwclient (got {summary['helper_vs_mwclient_photos']}), "
          + (f"peak RSS < 80 MiB on the big file (got {summary['helper_peak_rss_mib_big']})"
             if args.big_mb else ""))


if __name__ == "__main__":
    main()
