"""The ledger on a real SQLite file: identity ↔ title and the versions we sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from commons_helper.ledger import Identity, Ledger, normalize_title
from commons_helper.store import connect

WIKI = "http://127.0.0.1:1/api.php"


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(connect(tmp_path / "db.sqlite3"))


@pytest.mark.parametrize(("given", "expected"), [
    ("File:A b.jpg", "File:A b.jpg"),
    ("file:a_b.jpg", "File:A b.jpg"),
    ("a b.jpg", "File:A b.jpg"),
    ("  File: x.png ", "File:X.png"),
])
def test_normalize_title(given: str, expected: str) -> None:
    assert normalize_title(given) == expected


def test_identity_from_source() -> None:
    assert Identity.from_source({}) is None
    assert Identity.from_source({"app": ""}) is None
    ident = Identity.from_source({"app": "darktable", "image_id": 12, "path": "/p/x.NEF",
                                  "duplicate_index": 1, "commons_title": "file:x_y.jpg"})
    assert ident == Identity("darktable", "12", "/p/x.NEF", 1, "File:X y.jpg")


def test_record_and_find_by_each_key(ledger: Ledger) -> None:
    ident = Identity("darktable", "12", "/p/x.NEF", 0)
    entry = ledger.record(WIKI, ident, "File:X.jpg", "s1", job="j1", status="uploaded")
    assert entry.title == "File:X.jpg" and [v.sha1 for v in entry.versions] == ["s1"]
    # same path and duplicate index, library id changed (library rebuilt)
    found = ledger.find(WIKI, Identity("darktable", "99", "/p/x.NEF", 0))
    assert found is not None and found.title == "File:X.jpg"
    # another duplicate (virtual copy) of the same file is another image
    assert ledger.find(WIKI, Identity("darktable", "12", "/p/x.NEF", 1)) is None
    # the title the plugin tagged the image with, from anywhere
    tagged = ledger.find(WIKI, Identity("digikam", None, None, 0, "File:X.jpg"))
    assert tagged is not None and tagged.id == entry.id
    # library id alone, when no path is known
    assert ledger.find(WIKI, Identity("darktable", "12")) is not None
    # another wiki knows nothing
    assert ledger.find("http://other/api.php", ident) is None
    # another application with the same path is another image
    assert ledger.find(WIKI, Identity("digikam", "12", "/p/x.NEF", 0)) is None


def test_versions_accumulate_once_each(ledger: Ledger) -> None:
    ident = Identity("darktable", "1", "/p/a.NEF")
    ledger.record(WIKI, ident, "File:A.jpg", "s1", job="j1", status="uploaded")
    ledger.record(WIKI, ident, "File:A.jpg", "s2", job="j2", status="new-version")
    entry = ledger.record(WIKI, ident, "File:A.jpg", "s2", job="j3", status="new-version")
    assert [v.sha1 for v in entry.versions] == ["s1", "s2"]
    assert [v.job for v in entry.versions] == ["j1", "j2"]
    assert len(ledger.entries(WIKI)) == 1
    assert entry.to_json()["versions"][1] == {"sha1": "s2", "job": "j2", "status": "new-version"}


def test_a_new_title_for_the_same_image_is_remembered_as_the_latest(ledger: Ledger) -> None:
    ident = Identity("darktable", "1", "/p/a.NEF")
    ledger.record(WIKI, ident, "File:A.jpg", "s1", job="j1", status="uploaded")
    ledger.record(WIKI, ident, "File:A (2).jpg", "s2", job="j2", status="uploaded")
    found = ledger.find(WIKI, ident)
    assert found is not None and found.title == "File:A (2).jpg"
