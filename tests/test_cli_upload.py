"""`commons-helper upload` end to end against the real wiki: JSON contract, exit codes, bad input."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from commons_helper.cli import main
from commons_helper.metadata import read_metadata
from commons_helper.progress import ProgressBar
from tests.peers.images import make_jpeg, make_png
from tests.peers.mediawiki import TestWiki
from tests.photos import make_photo

KEYS = {"file", "status", "title", "url", "sha1", "error"}


@pytest.fixture
def signed_in(wiki: TestWiki, monkeypatch: pytest.MonkeyPatch) -> TestWiki:
    bot = wiki.bots["full"]
    monkeypatch.setenv("COMMONS_HELPER_BOT_USER", bot.user)
    monkeypatch.setenv("COMMONS_HELPER_BOT_PASSWORD", bot.password)
    return wiki


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]], str]:
    code = main(["upload", *args, "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_batch_with_bad_files_goes_on(signed_in: TestWiki, tmp_path: Path, unique: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    good = make_jpeg(tmp_path / f"good {unique}.jpg", unique)
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    txt = tmp_path / "notes.txt"
    txt.write_text("not a photo")
    mismatch = make_png(tmp_path / "png-inside.jpg", unique)
    files = [tmp_path / "missing.jpg", folder, empty, txt, mismatch, good]
    code, results, err = run_json(capsys, *map(str, files), "--wiki", signed_in.api,
                                  "--page-text", "Batch test")
    assert code == 1
    assert [r["status"] for r in results] == ["failed"] * 5 + ["uploaded"]
    assert [r["error"]["code"] for r in results[:5]] == [  # type: ignore[index]
        "file-missing", "not-a-file", "empty-file", "filetype-banned", "filetype-mismatch"]
    for r in results:
        assert set(r) == KEYS
    for r, f in zip(results, files, strict=True):
        assert r["file"] == str(f)
    assert results[5]["title"] == f"File:Good {unique}.jpg"
    assert results[5]["error"] is None
    assert signed_in.file_versions(f"File:Good {unique}.jpg")
    assert "Traceback" not in err


def test_exit_zero_for_uploaded_duplicate_unchanged(signed_in: TestWiki, tmp_path: Path, unique: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    photo = make_jpeg(tmp_path / "a.jpg", unique)
    args = ["--wiki", signed_in.api, "--page-text", "x"]
    code, results, _ = run_json(capsys, str(photo), "--title", f"Zero {unique}.jpg", *args)
    assert (code, results[0]["status"]) == (0, "uploaded")
    code, results, _ = run_json(capsys, str(photo), "--title", f"Zero other {unique}.jpg", *args)
    assert (code, results[0]["status"], results[0]["title"]) == (0, "duplicate", f"File:Zero {unique}.jpg")
    code, results, _ = run_json(capsys, str(photo), "--title", f"Zero {unique}.jpg", *args)
    assert (code, results[0]["status"]) == (0, "unchanged")


def test_human_output(signed_in: TestWiki, tmp_path: Path, unique: str,
                      capsys: pytest.CaptureFixture[str]) -> None:
    photo = make_jpeg(tmp_path / "a.jpg", unique + "h")
    code = main(["upload", str(photo), "--wiki", signed_in.api, "--page-text", "x",
                 "--title", f"Human {unique}.jpg"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert out.startswith("uploaded") and f"File:Human {unique}.jpg" in out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a, b = make_jpeg(tmp_path / "a.jpg", "u1"), make_jpeg(tmp_path / "b.jpg", "u2")
    assert main(["upload", str(a), str(b), "--title", "One.jpg", "--page-text", "x"]) == 2
    assert "--title names one file" in capsys.readouterr().err
    assert main(["upload", str(a), "--on-exists", "overwrite"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main(["upload"]) == 2
    assert main(["upload", str(a), "--page-file", str(tmp_path / "nope.txt")]) == 2
    assert "cannot read --page-file" in capsys.readouterr().err


def test_not_signed_in_is_clear(wiki: TestWiki, tmp_path: Path, unique: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    photo = make_jpeg(tmp_path / "a.jpg", unique)
    code, results, _ = run_json(capsys, str(photo), "--wiki", wiki.api, "--page-text", "x",
                                "--title", f"Anon {unique}.jpg")
    assert code == 1
    assert results[0]["error"]["code"] in ("mustbeloggedin", "not-signed-in")  # type: ignore[index]
    assert "commons-helper login" in results[0]["error"]["message"]  # type: ignore[index]


def test_missing_grant_is_named(wiki: TestWiki, tmp_path: Path, unique: str,
                                monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    bot = wiki.bots["nocreate"]
    monkeypatch.setenv("COMMONS_HELPER_BOT_USER", bot.user)
    monkeypatch.setenv("COMMONS_HELPER_BOT_PASSWORD", bot.password)
    photos = [make_jpeg(tmp_path / f"{n}.jpg", unique + n) for n in "ab"]
    code, results, _ = run_json(capsys, *map(str, photos), "--wiki", wiki.api, "--page-text", "x")
    assert code == 1
    for r in results:
        assert r["status"] == "failed"
        assert "createeditmovepage" in r["error"]["message"]  # type: ignore[index]
    assert bot.password not in json.dumps(results)


def test_unreadable_file(signed_in: TestWiki, unique: str, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    """In a forked child that drops root (root reads everything), with the rest of a batch."""
    # Warm up in this process first: the child can no longer read Python's own files.
    warm = make_jpeg(tmp_path / "warm.jpg", unique + "w")
    assert main(["upload", str(warm), "--wiki", signed_in.api, "--page-text", "x", "--json"]) == 0
    capsys.readouterr()
    shared = Path(tempfile.mkdtemp(prefix="ch-unreadable-"))  # traversable by nobody
    shared.chmod(0o755)
    locked = make_jpeg(shared / "locked.jpg", unique)
    locked.chmod(0)
    good = make_jpeg(shared / "good.jpg", unique + "g")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become nobody, run the command, send its output back
        try:
            os.close(read_end)
            os.environ["COMMONS_HELPER_HOME"] = str(shared / "home")
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            out = io.StringIO()
            sys.stdout = out
            sys.stderr = io.StringIO()
            code = main(["upload", str(locked), str(good), "--wiki", signed_in.api, "--page-text", "x",
                         "--comment", "unreadable test", "--json"])
            os.write(write_end, json.dumps({"code": code, "out": out.getvalue()}).encode())
        except BaseException:
            import traceback

            os.write(write_end, json.dumps({"code": -1, "out": traceback.format_exc()}).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as fh:
        payload = fh.read()
    os.waitpid(pid, 0)
    shutil.rmtree(shared, ignore_errors=True)
    done = json.loads(payload)
    assert done["code"] == 1, done["out"]
    locked_result, good_result = json.loads(done["out"])
    assert locked_result["status"] == "failed"
    assert locked_result["error"]["code"] == "file-unreadable"
    assert "permission" in locked_result["error"]["message"]
    assert good_result["status"] == "uploaded"


def test_page_from_metadata_and_stripped_location(signed_in: TestWiki, tmp_path: Path, unique: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    photo = make_photo(tmp_path, style="darktable", title=f"Bridge {unique}")
    assert read_metadata(photo).camera_position is not None
    before = photo.read_bytes()
    code, results, _ = run_json(capsys, str(photo), "--wiki", signed_in.api, "--license", "cc-by-sa-4.0",
                                "--strip-location", "--category", "Bridges")
    assert code == 0, results
    title = str(results[0]["title"])
    text = signed_in.page_text(title) or ""
    assert "{{Information" in text and "[[Category:Bridges]]" in text
    assert "{{Location" not in text
    landed = signed_in.file_versions(title)[0]
    copy = tmp_path / "landed.jpg"
    copy.write_bytes(signed_in.download(str(landed["url"])))
    assert read_metadata(copy).camera_position is None  # the copy on the wiki has no GPS
    assert photo.read_bytes() == before  # the original is untouched
    assert landed["sha1"] == results[0]["sha1"]


def test_progress_bar_draws_on_a_terminal_only() -> None:
    out = io.StringIO()
    bar = ProgressBar("photo.jpg", enabled=True, stream=out)
    bar.update(50, 100)
    bar.update(100, 100)
    bar.close()
    assert "100.0%" in out.getvalue() and "photo.jpg" in out.getvalue()
    quiet = io.StringIO()
    ProgressBar("photo.jpg", enabled=False, stream=quiet).update(1, 2)
    assert quiet.getvalue() == ""


def test_privacy_zone_hides_location_and_strips_gps(signed_in: TestWiki, tmp_path: Path, unique: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from commons_helper.config import PrivacyZone, Settings, save_settings
    from commons_helper.paths import get_paths

    save_settings(get_paths(), Settings(license="cc-by-4.0",
                                        privacy_zones=(PrivacyZone(51.0520, 13.7410, 300.0, "home"),)))
    inside = make_photo(tmp_path / "in", style="lightroom", title=f"Home {unique}")
    outside = make_photo(tmp_path / "out", style="lightroom", title=f"Away {unique}",
                         camera=(48.8584, 2.2945, None, None), subject=None)
    code, results, _ = run_json(capsys, str(inside), str(outside), "--wiki", signed_in.api)
    assert code == 0, results
    home, away = (str(r["title"]) for r in results)
    assert "{{Location" not in (signed_in.page_text(home) or "")
    assert "{{Object location" not in (signed_in.page_text(home) or "")
    assert "{{Location|48.8584|2.2945}}" in (signed_in.page_text(away) or "")
    for title, expect_gps in ((home, False), (away, True)):
        landed = tmp_path / f"landed-{expect_gps}.jpg"
        landed.write_bytes(signed_in.download(str(signed_in.file_versions(title)[0]["url"])))
        assert (read_metadata(landed).camera_position is not None) is expect_gps
    assert read_metadata(inside).camera_position is not None  # the original keeps its GPS


def test_a_bug_is_reported_without_a_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    import commons_helper.cli_upload as cli_upload

    def boom(*a: object, **k: object) -> object:
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(cli_upload, "upload_all", boom)
    photo = make_jpeg(tmp_path / "a.jpg", "bug")
    assert main(["upload", str(photo), "--page-text", "x"]) == 1
    err = capsys.readouterr().err
    assert "internal error (ZeroDivisionError: simulated bug)" in err and "Traceback" not in err
    report = Path(err.rsplit("Details: ", 1)[1].strip())
    assert "ZeroDivisionError" in report.read_text()
