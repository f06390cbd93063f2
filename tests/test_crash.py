"""Crash safety: a real ``serve`` is SIGKILLed at random moments during a real batch and restarted.

Every accepted photo (small ones and 8 MB files sent in 1 MiB chunks) must end up on
the wiki exactly once, byte-identical, and in the ledger. The kill points are random
(seeded; the seed is printed so a failure can be replayed with CRASH_SEED=<seed>).
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from pathlib import Path

import pytest

from tests.peers.mediawiki import TestWiki
from tests.peers.service import Service, make_jpeg, plugin_meta, read_db

pytestmark = pytest.mark.slow

KILLS = 22
SMALL = 40
BIG = 4
BIG_TAIL = 8 * 1024 * 1024


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def test_sigkill_at_random_points(wiki: TestWiki, helper_home: Path, tmp_path: Path, unique: str) -> None:
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"CRASH_SEED={seed}")
    bot = wiki.bots["full"]
    svc = Service(home=helper_home, wiki_api=wiki.api, bot_user=bot.user, bot_password=bot.password)
    photos = [make_jpeg(tmp_path / f"s{i}.jpg", color=f"#{rng.randrange(1 << 24):06x}") for i in range(SMALL)]
    big = [make_jpeg(tmp_path / f"b{i}.jpg", tail_bytes=BIG_TAIL) for i in range(BIG)]
    photos = big + photos  # the big ones first: their chunks are under way through many kills
    pending = list(enumerate(photos))
    accepted: dict[str, tuple[int, Path]] = {}  # job id -> (image id, file)

    def enqueue_some(n: int) -> None:
        with svc.client() as c:
            for _ in range(min(n, len(pending))):
                image_id, path = pending.pop(0)
                resp = svc.enqueue(path, plugin_meta(f"Crash {unique} {image_id}", batch=unique,
                                                     image_id=image_id), c)
                assert resp.status_code == 201, resp.text
                accepted[resp.json()["id"]] = (image_id, path)

    kills_during_work = 0
    kills_mid_chunks = 0  # a chunked upload was part way (its stash state saved) when killed
    for _ in range(KILLS):
        svc.start()
        # accepted before the kill: they must finish
        enqueue_some(rng.choice([1, 1, 2, 3]) if accepted else BIG + 4)
        time.sleep(rng.uniform(0.0, 0.5))
        svc.kill()
        rows = read_db(svc.database, "SELECT count(*), sum(chunk_offset > 0) FROM jobs WHERE status IN "
                       "('queued', 'preparing', 'uploading')")
        kills_during_work += rows[0][0] > 0
        kills_mid_chunks += bool(rows[0][1])
    svc.start()
    enqueue_some(len(pending))
    try:
        jobs = svc.wait_all_final(list(accepted), timeout=180)
    finally:
        svc.stop()
    for job in jobs:
        _, path = accepted[job["id"]]
        assert job["status"] == "uploaded", (job, f"CRASH_SEED={seed}")
        assert job["sha1"] == sha1(path)
        # exactly once on the wiki: one file with these bytes, with one version, byte-identical
        assert wiki.files_with_sha1(sha1(path)) == [job["title"]], f"CRASH_SEED={seed}"
        versions = wiki.file_versions(job["title"])
        assert len(versions) == 1 and versions[0]["sha1"] == sha1(path)
    titles = {j["title"] for j in jobs}
    assert len(titles) == len(photos)
    # nothing else of this batch reached the wiki (no "(2)" copies)
    listed = wiki.query(action="query", list="allimages", aiprefix=f"Crash_{unique}", ailimit="500")
    assert {f"File:{i['name'].replace('_', ' ')}" for i in listed["query"]["allimages"]} == titles  # type: ignore[index]
    # the ledger is complete: every image with the title and SHA1 of what we sent
    rows = read_db(svc.database, "SELECT i.image_id, i.title, v.sha1 FROM images i JOIN versions v ON "
                   "v.image = i.id")
    assert sorted((r["image_id"], r["title"], r["sha1"]) for r in rows) == sorted(
        (str(accepted[j["id"]][0]), j["title"], j["sha1"]) for j in jobs)
    assert list((helper_home / "data" / "spool").iterdir()) == []
    assert kills_during_work >= 20, f"only {kills_during_work} kills hit unfinished work"
    assert kills_mid_chunks >= 3, f"only {kills_mid_chunks} kills hit a chunked upload part way"
