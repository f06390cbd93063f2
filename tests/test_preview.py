"""`commons-helper preview`: offline, and golden file pages for photos written by real tools' styles.

Set UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate change (then read the diff).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx2
import pytest

from commons_helper.cli import main
from tests.photos import make_photo

GOLDEN = Path(__file__).parent / "golden"

STYLES = {
    # darktable 4.2 export: XMP dc:* + lr:hierarchicalSubject, a Category|... tag
    "darktable": dict(hierarchical_keywords=("Category|Frauenkirche (Dresden)", "Places|Germany|Dresden"),
                      subject=None),
    # digiKam: TagsList, several description languages, no license in the file
    "digikam": dict(descriptions={"x-default": "Evening at the Frauenkirche",
                                  "de": "Abend an der Frauenkirche", "fr": "Soir à la Frauenkirche"},
                    hierarchical_keywords=("Category|Churches in Dresden", "People|Friends"),
                    usage_terms="", license_url="", rights="Erika Mustermann"),
    # Lightroom: photoshop:DateCreated with offset, usage terms + web statement, LocationShown
    "lightroom": dict(hierarchical_keywords=("Commons category|Neumarkt (Dresden)", "Travel|2024"),
                      keywords=("Category:Baroque architecture in Dresden", "dusk")),
    # exiftool-written: ordinary tags, no heading, CC0
    "exiftool": dict(license_url="https://creativecommons.org/publicdomain/zero/1.0/",
                     usage_terms="CC0 1.0", rights="No rights reserved",
                     camera=(48.8584, 2.2945, 35.0, None), subject=None),
}


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Any attempt to use the network fails the test."""
    attempts: list[str] = []

    async def refuse(self: object, request: httpx2.Request, **kw: object) -> httpx2.Response:
        attempts.append(str(request.url))
        raise AssertionError(f"preview tried the network: {request.url}")

    monkeypatch.setattr(httpx2.AsyncClient, "send", refuse)
    return attempts


@pytest.mark.parametrize("style", sorted(STYLES))
def test_golden_pages(style: str, tmp_path: Path, offline: list[str],
                      capsys: pytest.CaptureFixture[str]) -> None:
    photo = make_photo(tmp_path, style=style, **STYLES[style])
    code = main(["preview", str(photo), "--json", "--license", "cc-by-sa-4.0",
                 "--username", "Erika Mustermann", "--category", "Photographs by Erika Mustermann"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    entry = out[0]
    assert set(entry) == {"file", "title", "text"}
    rendered = f"{entry['title']}\n\n{entry['text']}"
    golden = GOLDEN / f"preview-{style}.wiki"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8")
    assert offline == []


def test_preview_reports_each_file(tmp_path: Path, offline: list[str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    good = make_photo(tmp_path, style="darktable", name="good.jpg")
    unlicensed = make_photo(tmp_path, style="plain", name="DSC_0042.jpg")
    code = main(["preview", str(good), str(unlicensed), str(tmp_path / "missing.jpg"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out[0]["title"].startswith("File:Frauenkirche at dusk")
    assert out[1]["text"] is None and out[1]["error"]["code"] in ("no-license", "camera-default-name")
    assert out[2]["error"]["code"] == "file-missing"
    code = main(["preview", str(good)])
    human = capsys.readouterr().out
    assert code == 0 and "{{Information" in human and "── " in human
