"""The service's preparation step: what the plugin sent → PhotoMetadata and per-photo settings."""

from __future__ import annotations

import pytest

from commons_helper.config import Settings
from commons_helper.photo import DEFAULT_LANG, DateTaken, GeoPoint
from commons_helper.pipeline import job_settings, parse_datetime, plugin_metadata, split_tags


@pytest.mark.parametrize(("text", "expected"), [
    ("2024:05:01 12:30:00", DateTaken(2024, 5, 1, 12, 30, 0, precision="second")),
    ("2024-05-01T12:30:00+02:00", DateTaken(2024, 5, 1, 12, 30, 0, precision="second", utc_offset="+02:00")),
    ("2024-05-01T12:30:00Z", DateTaken(2024, 5, 1, 12, 30, 0, precision="second", utc_offset="+00:00")),
    ("2024-05-01 12:30", DateTaken(2024, 5, 1, 12, 30, None, precision="minute")),
    ("2024:05:01", DateTaken(2024, 5, 1, precision="day")),
    ("2024:05:01 12:30:00.25+0130", DateTaken(2024, 5, 1, 12, 30, 0, precision="second",
                                             utc_offset="+01:30")),
    ("", None),
    ("yesterday", None),
    ("01.05.2024", None),
])
def test_parse_datetime(text: str, expected: DateTaken | None) -> None:
    assert parse_datetime(text) == expected


def test_split_tags_drops_bookkeeping_tags() -> None:
    flat, hierarchical = split_tags([
        "Category|Bridges", "places|Paris", "sunset", "darktable|format|nef", "Darktable|changed",
        "Wikimedia Commons|uploaded", "wikimedia commons|File:X.jpg", " spaced | parts ", "sunset", "|", "",
    ])
    assert flat == ("sunset",)
    assert hierarchical == ("Category|Bridges", "places|Paris", "spaced|parts")


def test_plugin_metadata() -> None:
    meta = plugin_metadata({"title": "Pont Neuf", "description": "A bridge", "creator": "Ann",
                            "rights": "CC BY 4.0", "tags": ["Category|Bridges", "river"],
                            "latitude": 48.85, "longitude": 2.34, "elevation": 35.0, "heading": 90.0,
                            "datetime_taken": "2024:05:01 12:30:00", "camera": "X-T30", "lens": "18-55"})
    assert meta.title == "Pont Neuf" and meta.descriptions == {DEFAULT_LANG: "A bridge"}
    assert meta.creator == "Ann" and meta.rights == "CC BY 4.0"
    assert meta.keywords == ("river",) and meta.hierarchical_keywords == ("Category|Bridges",)
    assert meta.camera_position == GeoPoint(48.85, 2.34, 35.0, 90.0)
    assert meta.date_taken == DateTaken(2024, 5, 1, 12, 30, 0, precision="second")
    assert (meta.camera_model, meta.lens) == ("X-T30", "18-55")
    empty = plugin_metadata({})
    assert empty.camera_position is None and empty.descriptions == {} and empty.title == ""


def test_job_settings_take_the_exports_choices_over_the_service_defaults() -> None:
    base = Settings(author="Service", language="en", title_pattern="{title} {date}", strip_location=False)
    same = job_settings(base, {"author": "", "language": None, "strip_location": False})
    assert same == base
    chosen = job_settings(base, {"author": "Ann", "language": "de", "title_pattern": "{title}",
                                 "strip_location": True})
    assert (chosen.author, chosen.language, chosen.title_pattern, chosen.strip_location) == \
        ("Ann", "de", "{title}", True)
    # a service started with --strip-location cannot be overridden by one export
    strict = Settings(strip_location=True)
    assert job_settings(strict, {"strip_location": False}).strip_location is True


def test_reexport_in_another_format_is_refused_with_a_reason(tmp_path: object) -> None:
    from pathlib import Path

    from commons_helper.errors import TitleError
    from commons_helper.pipeline import prepare
    from tests.photos import make_photo

    folder = Path(str(tmp_path))
    png = make_photo(folder, fmt="png", style="darktable")
    meta = {"options": {"license": "cc-by-sa-4.0"}}
    with pytest.raises(TitleError) as info:
        prepare(png, meta, Settings(), known_title="File:Frauenkirche 2024.jpg", taken_titles=[],
                stripped_path=None, file_name="photo.png")
    assert info.value.code == "reexport-type-changed"
    assert "File:Frauenkirche 2024.jpg" in str(info.value) and "same format" in str(info.value)
    same = prepare(make_photo(folder / "j", style="darktable"), meta, Settings(),
                   known_title="File:Frauenkirche 2024.jpg", taken_titles=[], stripped_path=None,
                   file_name="photo.jpg")
    assert (same.title, same.on_exists, same.reexport) == ("Frauenkirche 2024.jpg", "new-version", True)
