"""Pure parts of the engine, table-driven: warnings, API answers, backoff, names, local file checks."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from commons_helper.errors import (
    CommonsHelperError,
    LocalFileError,
    MissingRights,
    NetworkError,
    RetryableWikiError,
    SignInNeeded,
    StashError,
    WikiError,
)
from commons_helper.mediawiki import interpret
from commons_helper.retry import RetryPolicy
from commons_helper.upload import check_local_file, file_title, numbered_name
from commons_helper.upload_warnings import decide
from tests.peers.images import make_jpeg, make_png

# warnings, policy -> (action, status, code)
DECISIONS = [
    ({"duplicate": ["A.jpg"]}, "rename", ("outcome", "duplicate", "duplicate")),
    ({"duplicate": ["A.jpg"], "exists": "B.jpg"}, "fail", ("outcome", "duplicate", "duplicate")),
    ({"exists": "B.jpg", "nochange": {"timestamp": "x"}}, "new-version",
     ("outcome", "unchanged", "unchanged")),
    ({"exists": "B.jpg", "duplicateversions": [{"timestamp": "x"}]}, "rename",
     ("outcome", "unchanged", "unchanged")),
    ({"duplicate-archive": "Old.jpg"}, "rename", ("outcome", "needs-attention", "duplicate-archive")),
    ({"was-deleted": "Old.jpg"}, "new-version", ("outcome", "needs-attention", "was-deleted")),
    ({"bad-prefix": "DSC_0001.jpg"}, "rename", ("outcome", "needs-attention", "bad-prefix")),
    ({"thumb-name": "120px-X.jpg"}, "rename", ("outcome", "needs-attention", "thumb-name")),
    ({"filetype-unwanted-type": "bmp"}, "rename", ("outcome", "failed", "filetype-unwanted-type")),
    ({"empty-file": True}, "rename", ("outcome", "failed", "empty-file")),
    ({"badfilename": "Clean_name.jpg"}, "rename", ("proceed", "", "badfilename")),
    ({"exists": "B.jpg"}, "rename", ("rename", "", "exists")),
    ({"page-exists": "B.jpg"}, "rename", ("rename", "", "page-exists")),
    ({"exists-normalized": "B.JPG"}, "rename", ("rename", "", "exists-normalized")),
    ({"exists": "B.jpg"}, "new-version", ("new-version", "", "exists")),
    ({"exists": "B.jpg", "large-file": "big"}, "new-version", ("new-version", "", "exists")),
    ({"exists": "B.jpg", "something-new": "x"}, "new-version",
     ("outcome", "needs-attention", "something-new")),  # never ignore an unread warning
    ({"exists-normalized": "B.JPG"}, "new-version", ("outcome", "needs-attention", "exists-normalized")),
    ({"page-exists": "B.jpg"}, "new-version", ("outcome", "needs-attention", "page-exists")),
    ({"exists": "B.jpg"}, "fail", ("outcome", "failed", "exists")),
    ({"large-file": "1 GB"}, "rename", ("proceed", "", "")),
    ({"something-new": "x"}, "rename", ("outcome", "needs-attention", "something-new")),
    ({}, "rename", ("proceed", "", "")),
]


@pytest.mark.parametrize(("warnings", "policy", "expected"), DECISIONS)
def test_decide(warnings: dict[str, object], policy: str, expected: tuple[str, str, str]) -> None:
    d = decide(warnings, policy)
    assert (d.action, d.status, d.code) == expected
    if d.action == "outcome" and d.status in ("needs-attention", "failed"):
        assert d.message.endswith(".") and len(d.message) > 30


def test_decide_names_existing_titles() -> None:
    assert decide({"duplicate": ["Some_file.jpg"]}, "rename").existing == "File:Some file.jpg"
    assert decide({"badfilename": "A_b.jpg"}, "rename").new_name == "A b.jpg"


ERRORS = [
    ({"code": "maxlag", "info": "lagged"}, RetryableWikiError, True),
    ({"code": "ratelimited", "info": "slow down"}, RetryableWikiError, True),
    ({"code": "readonly", "info": "maintenance"}, RetryableWikiError, True),
    ({"code": "mustbeloggedin", "info": "x"}, SignInNeeded, False),
    ({"code": "mwoauth-invalid-authorization", "info": "x"}, SignInNeeded, False),
    ({"code": "cantcreate", "info": "no"}, MissingRights, False),
    ({"code": "permissiondenied", "info": "no", "missing-rights": ["reupload"]}, MissingRights, False),
    ({"code": "stashfailed", "info": "Invalid chunk offset", "offset": "5"}, StashError, False),
    ({"code": "filetype-banned", "info": "txt"}, WikiError, False),
    ({"code": "verification-error", "info": "mime"}, WikiError, False),
]


@pytest.mark.parametrize(("error", "kind", "retryable"), ERRORS)
def test_interpret_maps_api_errors(error: dict[str, object], kind: type[CommonsHelperError],
                                   retryable: bool) -> None:
    with pytest.raises(kind) as info:
        interpret({"error": error})
    assert info.value.code == error["code"]
    assert info.value.retryable is retryable


def test_interpret_names_the_missing_grant() -> None:
    with pytest.raises(MissingRights) as info:
        interpret({"error": {"code": "cantcreate", "info": "You do not have permission to create pages."}})
    assert "createeditmovepage" in str(info.value)
    with pytest.raises(MissingRights) as info:
        interpret({"error": {"code": "permissiondenied", "info": "x", "missing-rights": ["reupload"]}})
    assert "uploadeditmovefile" in str(info.value)


def test_interpret_passes_answers_through() -> None:
    assert interpret({"upload": {"result": "Success"}}) == {"upload": {"result": "Success"}}
    with pytest.raises(WikiError):
        interpret(["not", "a", "dict"])


def test_backoff_is_capped_jittered_and_honours_retry_after() -> None:
    policy = RetryPolicy(attempts=8, base=1.0, cap=30.0)
    rng = random.Random(1)
    err = NetworkError("x")
    delays = [policy.delay(n, err, rng) for n in range(1, 9)]
    for n, d in enumerate(delays, start=1):
        exp = min(30.0, 2 ** (n - 1))
        assert exp / 2 <= d <= exp
    lag = RetryableWikiError("lag", code="maxlag", retry_after=None)
    assert policy.delay(1, lag, rng) >= 5.0  # Wikimedia asks for at least 5 s
    limited = RetryableWikiError("503", code="http-503", retry_after=20.0)
    assert policy.delay(1, limited, rng) >= 20.0
    assert policy.should_retry(1, err) and not policy.should_retry(8, err)
    assert not policy.should_retry(1, WikiError("no", code="filetype-banned"))


@pytest.mark.parametrize(("name", "n", "expected"), [
    ("Name.jpg", 2, "Name (2).jpg"),
    ("Name (2).jpg", 3, "Name (3).jpg"),
    ("No extension", 2, "No extension (2)"),
    ("a.b.c.png", 4, "a.b.c (4).png"),
])
def test_numbered_name(name: str, n: int, expected: str) -> None:
    assert numbered_name(name, n) == expected


def test_numbered_name_keeps_within_240_bytes_at_a_character_boundary() -> None:
    long = "é" * 119 + ".jpg"  # 238 + 4 bytes
    out = numbered_name(long, 12)
    assert len(out.encode("utf-8")) <= 240
    assert out.endswith(" (12).jpg")
    out.encode("utf-8").decode("utf-8")  # still valid UTF-8


@pytest.mark.parametrize(("raw", "expected"), [
    ("x.jpg", "File:X.jpg"), ("File:A_b.jpg", "File:A b.jpg"), ("  ümlaut.png ", "File:Ümlaut.png"),
])
def test_file_title(raw: str, expected: str) -> None:
    assert file_title(raw) == expected


def test_local_file_checks(tmp_path: Path) -> None:
    cases: list[tuple[Path, str]] = []
    cases.append((tmp_path / "missing.jpg", "file-missing"))
    (tmp_path / "folder.jpg").mkdir()
    cases.append((tmp_path / "folder.jpg", "not-a-file"))
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    cases.append((empty, "empty-file"))
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    cases.append((text, "filetype-banned"))
    fake = tmp_path / "fake.jpg"
    fake.write_text("this is not a jpeg")
    cases.append((fake, "filetype-unknown"))
    png_named_jpg = make_png(tmp_path / "really-png.jpg", "x")
    cases.append((png_named_jpg, "filetype-mismatch"))
    if os.geteuid() != 0:  # root reads everything
        locked = make_jpeg(tmp_path / "locked.jpg", "y")
        locked.chmod(0)
        cases.append((locked, "file-unreadable"))
    allowed = {"jpg", "jpeg", "png", "gif", "tif", "tiff", "webp"}
    for path, code in cases:
        with pytest.raises(LocalFileError) as info:
            check_local_file(path, allowed)
        assert info.value.code == code, path
        assert str(path) in str(info.value)
    ok = check_local_file(make_jpeg(tmp_path / "ok.jpeg", "z"), allowed)
    assert ok.mime == "image/jpeg" and ok.extension == "jpg"
