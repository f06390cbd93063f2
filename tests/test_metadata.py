"""metadata: real files built by tests/photos.py, read back through pyexiv2."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from commons_helper.errors import LocalFileError, MetadataError
from commons_helper.metadata import Tags, metadata_from_tags, read_metadata, strip_location
from commons_helper.photo import DateTaken, GeoPoint, PhotoMetadata
from tests.photos import (
    FORMATS,
    PhotoSpec,
    base_image,
    exiftool,
    lightroom_xmp_packet,
    make_photo,
    spec,
    write_tags,
    write_xmp_packet,
)

MIME = {"jpg": "image/jpeg", "png": "image/png", "tif": "image/tiff", "webp": "image/webp"}


def expected(s: PhotoSpec, style: str, fmt: str) -> PhotoMetadata:
    """What read_metadata must return for a photo built by make_photo(style=style)."""
    year, month, day = (int(x) for x in s.date[:10].split("-"))
    hour, minute, second = (int(x) for x in s.date[11:].split(":"))
    cam = GeoPoint(*s.camera) if s.camera else None
    writes_terms = style in ("lightroom", "exiftool")  # darktable and digiKam do not write them
    return PhotoMetadata(
        title=s.title,
        descriptions=dict(s.descriptions),
        creator=s.creator,
        rights=s.rights,
        usage_terms=s.usage_terms if writes_terms else "",
        license_url=s.license_url if writes_terms else "",
        keywords=s.keywords,
        hierarchical_keywords=s.hierarchical_keywords,
        date_taken=DateTaken(year, month, day, hour, minute, second, "second", s.utc_offset),
        camera_position=cam,
        subject_position=GeoPoint(*s.subject) if s.subject and writes_terms else None,
        camera_make=s.make,
        camera_model=s.model,
        lens=s.lens,
        exposure_time=s.exposure,
        f_number=s.f_number,
        focal_length=s.focal_length,
        iso=s.iso,
        mime_type=MIME[fmt],
    )


# --------------------------------------------------------------------------------------------
# Whole photos, as the tools write them


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("style", ["darktable", "digikam", "lightroom", "exiftool"])
def test_each_style_in_each_format_reads_completely(tmp_path: Path, style: str, fmt: str) -> None:
    path = make_photo(tmp_path, fmt=fmt, style=style)
    assert read_metadata(path) == expected(spec(), style, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_plain_image_gives_empty_record_with_real_type(tmp_path: Path, fmt: str) -> None:
    assert read_metadata(make_photo(tmp_path, fmt=fmt, style="plain")) == PhotoMetadata(mime_type=MIME[fmt])


def test_mime_type_is_the_content_not_the_name(tmp_path: Path) -> None:
    png = make_photo(tmp_path, fmt="png", style="darktable")
    disguised = png.rename(tmp_path / "really-a-png.jpg")
    meta = read_metadata(disguised)
    assert meta.mime_type == "image/png"
    assert meta.title == spec().title


# --------------------------------------------------------------------------------------------
# Each source of each field, and which wins (raw tags written with exiv2 into a plain JPEG)

T = "Xmp.dc.title"
SOURCES: list[tuple[str, dict[str, Any], str, Any]] = [
    # (case, {"exif"/"iptc"/"xmp": tags}, field, expected)
    (
        "title from XMP",
        {"xmp": {T: {"x-default": "X"}}, "iptc": {"Iptc.Application2.ObjectName": "I"}},
        "title",
        "X",
    ),
    (
        "title from IPTC",
        {"iptc": {"Iptc.Application2.ObjectName": "I"}, "exif": {"Exif.Image.XPTitle": "E"}},
        "title",
        "I",
    ),
    ("title from EXIF XPTitle", {"exif": {"Exif.Image.XPTitle": "Straße 📷"}}, "title", "Straße 📷"),
    ("title: en when no x-default", {"xmp": {T: {"de": "D", "en": "E"}}}, "title", "E"),
    (
        "descriptions: every language",
        {"xmp": {"Xmp.dc.description": {"x-default": "a", "de": "b", "pt-BR": "c"}}},
        "descriptions",
        {"x-default": "a", "de": "b", "pt-br": "c"},
    ),
    (
        "descriptions: x-default equal to en kept once",
        {"xmp": {"Xmp.dc.description": {"x-default": "Same", "en": "Same", "fr": "Pareil"}}},
        "descriptions",
        {"en": "Same", "fr": "Pareil"},
    ),
    (
        "descriptions: empty languages dropped",
        {"xmp": {"Xmp.dc.description": {"x-default": " ", "de": "b"}}},
        "descriptions",
        {"de": "b"},
    ),
    (
        "descriptions: XMP beats IPTC caption",
        {"xmp": {"Xmp.dc.description": {"de": "b"}}, "iptc": {"Iptc.Application2.Caption": "cap"}},
        "descriptions",
        {"de": "b"},
    ),
    (
        "descriptions: IPTC caption",
        {"iptc": {"Iptc.Application2.Caption": "cap"}, "exif": {"Exif.Image.ImageDescription": "desc"}},
        "descriptions",
        {"x-default": "cap"},
    ),
    (
        "descriptions: EXIF ImageDescription",
        {"exif": {"Exif.Image.ImageDescription": "desc"}},
        "descriptions",
        {"x-default": "desc"},
    ),
    (
        "descriptions: camera boilerplate ignored",
        {"exif": {"Exif.Image.ImageDescription": "OLYMPUS DIGITAL CAMERA"}},
        "descriptions",
        {},
    ),
    (
        "creator: dc:creator (several)",
        {"xmp": {"Xmp.dc.creator": ["Ann", "Bob, Jr."]}, "iptc": {"Iptc.Application2.Byline": ["I"]}},
        "creator",
        "Ann; Bob, Jr.",
    ),
    (
        "creator: IPTC By-line",
        {"iptc": {"Iptc.Application2.Byline": ["I"]}, "exif": {"Exif.Image.Artist": "E"}},
        "creator",
        "I",
    ),
    (
        "creator: EXIF Artist (padding dropped)",
        {"exif": {"Exif.Image.Artist": "E. Artist   "}},
        "creator",
        "E. Artist",
    ),
    (
        "rights: dc:rights",
        {"xmp": {"Xmp.dc.rights": {"x-default": "R"}}, "iptc": {"Iptc.Application2.Copyright": "I"}},
        "rights",
        "R",
    ),
    (
        "rights: IPTC CopyrightNotice",
        {"iptc": {"Iptc.Application2.Copyright": "I"}, "exif": {"Exif.Image.Copyright": "E"}},
        "rights",
        "I",
    ),
    ("rights: EXIF Copyright", {"exif": {"Exif.Image.Copyright": "E"}}, "rights", "E"),
    (
        "usage terms",
        {"xmp": {"Xmp.xmpRights.UsageTerms": {"x-default": "CC BY 4.0"}}},
        "usage_terms",
        "CC BY 4.0",
    ),
    (
        "license: cc:license beats WebStatement",
        {"xmp": {"Xmp.cc.license": "https://cc/by", "Xmp.xmpRights.WebStatement": "https://me"}},
        "license_url",
        "https://cc/by",
    ),
    (
        "license: WebStatement",
        {"xmp": {"Xmp.xmpRights.WebStatement": "https://me"}},
        "license_url",
        "https://me",
    ),
    (
        "keywords: dc:subject beats IPTC",
        {"xmp": {"Xmp.dc.subject": ["a", "b", "a"]}, "iptc": {"Iptc.Application2.Keywords": ["i"]}},
        "keywords",
        ("a", "b"),
    ),
    ("keywords: IPTC", {"iptc": {"Iptc.Application2.Keywords": ["i", "j"]}}, "keywords", ("i", "j")),
    ("keywords: EXIF XPKeywords", {"exif": {"Exif.Image.XPKeywords": "x;y"}}, "keywords", ("x", "y")),
    (
        "hierarchy: lr + digiKam merged, '/' becomes '|', internal tags dropped",
        {
            "xmp": {
                "Xmp.lr.hierarchicalSubject": ["A|B"],
                "Xmp.digiKam.TagsList": ["A/B", "C/D", "_Digikam_Internal_Tags_/Color Label Red"],
            }
        },
        "hierarchical_keywords",
        ("A|B", "C|D"),
    ),
    (
        "make/model from EXIF",
        {"exif": {"Exif.Image.Make": "Canon", "Exif.Image.Model": "EOS R6"}, "xmp": {"Xmp.tiff.Make": "X"}},
        "camera_make",
        "Canon",
    ),
    ("make from XMP tiff:", {"xmp": {"Xmp.tiff.Make": "Nikon"}}, "camera_make", "Nikon"),
    (
        "lens: EXIF LensModel first",
        {"exif": {"Exif.Photo.LensModel": "E"}, "xmp": {"Xmp.aux.Lens": "A"}},
        "lens",
        "E",
    ),
    ("lens: aux:Lens", {"xmp": {"Xmp.aux.Lens": "A", "Xmp.exifEX.LensModel": "X"}}, "lens", "A"),
    ("lens: exifEX:LensModel", {"xmp": {"Xmp.exifEX.LensModel": "X"}}, "lens", "X"),
    ("exposure reduced", {"exif": {"Exif.Photo.ExposureTime": "10/2500"}}, "exposure_time", "1/250"),
    ("exposure long", {"exif": {"Exif.Photo.ExposureTime": "25/10"}}, "exposure_time", "2.5"),
    ("exposure whole seconds", {"exif": {"Exif.Photo.ExposureTime": "30/1"}}, "exposure_time", "30"),
    ("exposure from XMP", {"xmp": {"Xmp.exif.ExposureTime": "1/8000"}}, "exposure_time", "1/8000"),
    ("f-number", {"exif": {"Exif.Photo.FNumber": "56/10"}}, "f_number", 5.6),
    ("f-number from APEX aperture", {"exif": {"Exif.Photo.ApertureValue": "4/1"}}, "f_number", 4.0),
    ("f-number from XMP", {"xmp": {"Xmp.exif.FNumber": "8/1"}}, "f_number", 8.0),
    ("focal length", {"exif": {"Exif.Photo.FocalLength": "355/10"}}, "focal_length", 35.5),
    ("ISO", {"exif": {"Exif.Photo.ISOSpeedRatings": "3200"}}, "iso", 3200),
    ("ISO 65535 means 'too high to say'", {"exif": {"Exif.Photo.ISOSpeedRatings": "65535"}}, "iso", None),
    ("ISO from XMP", {"xmp": {"Xmp.exif.ISOSpeedRatings": ["800"]}}, "iso", 800),
]


@pytest.mark.parametrize(("tags", "field", "value"), [c[1:] for c in SOURCES], ids=[c[0] for c in SOURCES])
def test_field_sources_and_precedence(tmp_path: Path, tags: dict[str, Any], field: str, value: Any) -> None:
    path = write_tags(base_image(tmp_path), **tags)
    assert getattr(read_metadata(path), field) == value


def test_mwg_keyword_tree_gives_paths(tmp_path: Path) -> None:
    path = exiftool(
        base_image(tmp_path),
        "-XMP-mwg-kw:HierarchicalKeywords={Keyword=Places,Children=[{Keyword=Germany,"
        "Children=[{Keyword=Dresden}]},{Keyword=France}]}",
    )
    assert read_metadata(path).hierarchical_keywords == ("Places|Germany|Dresden", "Places|France")


# --------------------------------------------------------------------------------------------
# Dates

DATES: list[tuple[dict[str, Any], DateTaken | None]] = [
    (
        {
            "exif": {
                "Exif.Photo.DateTimeOriginal": "2024:05:17 14:03:22",
                "Exif.Photo.SubSecTimeOriginal": "45",
            }
        },
        DateTaken(2024, 5, 17, 14, 3, 22, "second", None),
    ),
    (
        {
            "exif": {
                "Exif.Photo.DateTimeOriginal": "2024:05:17 14:03:22",
                "Exif.Photo.OffsetTimeOriginal": "-05:30",
            }
        },
        DateTaken(2024, 5, 17, 14, 3, 22, "second", "-05:30"),
    ),
    ({"xmp": {"Xmp.photoshop.DateCreated": "2024"}}, DateTaken(2024, precision="year")),
    ({"xmp": {"Xmp.photoshop.DateCreated": "2024-05"}}, DateTaken(2024, 5, precision="month")),
    ({"xmp": {"Xmp.photoshop.DateCreated": "2024-05-17"}}, DateTaken(2024, 5, 17, precision="day")),
    (
        {"xmp": {"Xmp.photoshop.DateCreated": "2024-05-17T14:03+01:00"}},
        DateTaken(2024, 5, 17, 14, 3, None, "minute", "+01:00"),
    ),
    (
        {"xmp": {"Xmp.exif.DateTimeOriginal": "2024-05-17T14:03:22.123Z"}},
        DateTaken(2024, 5, 17, 14, 3, 22, "second", "+00:00"),
    ),
    # the richest source wins; an offset is borrowed from a source that agrees
    (
        {
            "xmp": {"Xmp.photoshop.DateCreated": "2024-05-17T14:03:22+02:00"},
            "exif": {"Exif.Photo.DateTimeOriginal": "2024:05:17 14:03:22"},
        },
        DateTaken(2024, 5, 17, 14, 3, 22, "second", "+02:00"),
    ),
    (
        {
            "xmp": {"Xmp.photoshop.DateCreated": "2024-05"},
            "exif": {"Exif.Photo.DateTimeOriginal": "2024:05:17 14:03:22"},
        },
        DateTaken(2024, 5, 17, 14, 3, 22, "second", None),
    ),
    (
        {
            "iptc": {
                "Iptc.Application2.DateCreated": "2023-12-31",
                "Iptc.Application2.TimeCreated": "23:59:59+01:00",
            }
        },
        DateTaken(2023, 12, 31, 23, 59, 59, "second", "+01:00"),
    ),
    ({"iptc": {"Iptc.Application2.DateCreated": "2023-12-31"}}, DateTaken(2023, 12, 31, precision="day")),
    # blank, zero and impossible dates are no dates
    ({"exif": {"Exif.Photo.DateTimeOriginal": "    :  :     :  :  "}}, None),
    ({"exif": {"Exif.Photo.DateTimeOriginal": "0000:00:00 00:00:00"}}, None),
    ({"exif": {"Exif.Photo.DateTimeOriginal": "2023:02:30 10:00:00"}}, None),
    ({"exif": {"Exif.Photo.DateTimeOriginal": "1950:00:00 00:00:00"}}, DateTaken(1950, precision="year")),
]


@pytest.mark.parametrize(("tags", "date"), DATES)
def test_date_taken(tmp_path: Path, tags: dict[str, Any], date: DateTaken | None) -> None:
    path = write_tags(base_image(tmp_path), **tags)
    assert read_metadata(path).date_taken == date


# --------------------------------------------------------------------------------------------
# Positions


def exif_gps(lat: str, lat_ref: str, lon: str, lon_ref: str, **more: str) -> dict[str, Any]:
    tags = {
        "Exif.GPSInfo.GPSLatitude": lat,
        "Exif.GPSInfo.GPSLatitudeRef": lat_ref,
        "Exif.GPSInfo.GPSLongitude": lon,
        "Exif.GPSInfo.GPSLongitudeRef": lon_ref,
    }
    return {"exif": tags | {f"Exif.GPSInfo.GPS{k}": v for k, v in more.items()}}


POSITIONS: list[tuple[str, dict[str, Any], GeoPoint | None]] = [
    (
        "EXIF south-west, below sea level, heading",
        exif_gps(
            "33/1 51/1 3546/100",
            "S",
            "151/1 12/1 3060/100",
            "W",
            AltitudeRef="1",
            Altitude="4155/10",
            ImgDirection="35999/100",
        ),
        GeoPoint(-33.85985, -151.2085, -415.5, 359.99),
    ),
    (
        "EXIF north-east, no altitude",
        exif_gps("51/1 30/1 0/1", "N", "0/1 7/1 3/10", "E"),
        GeoPoint(51.5, 0.1167500),
    ),
    ("EXIF 0/0 (no fix) is no position", exif_gps("0/0 0/0 0/0", "N", "0/0 0/0 0/0", "E"), None),
    ("EXIF exactly 0,0 is no position", exif_gps("0/1 0/1 0/1", "N", "0/1 0/1 0/1", "E"), None),
    (
        "XMP 'DD,MM.mmR' south-west, below sea level",
        {
            "xmp": {
                "Xmp.exif.GPSLatitude": "33,51.591N".replace("N", "S"),
                "Xmp.exif.GPSLongitude": "151,12.51W",
                "Xmp.exif.GPSAltitude": "20/1",
                "Xmp.exif.GPSAltitudeRef": "1",
                "Xmp.exif.GPSImgDirection": "90/1",
            }
        },
        GeoPoint(-33.85985, -151.2085, -20.0, 90.0),
    ),
    (
        "XMP 'DD,MM,SSR'",
        {"xmp": {"Xmp.exif.GPSLatitude": "48,8,24N", "Xmp.exif.GPSLongitude": "11,34,30E"}},
        GeoPoint(48.14, 11.575),
    ),
    (
        "EXIF wins over XMP",
        exif_gps("10/1 0/1 0/1", "N", "20/1 0/1 0/1", "E")
        | {"xmp": {"Xmp.exif.GPSLatitude": "1,0N", "Xmp.exif.GPSLongitude": "2,0E"}},
        GeoPoint(10.0, 20.0),
    ),
    (
        "IPTC LocationCreated as last resort",
        # a struct: written with exiftool, which creates it the way IPTC tools do
        {
            "exiftool": [
                "-XMP-iptcExt:LocationCreatedGPSLatitude=45.5",
                "-XMP-iptcExt:LocationCreatedGPSLongitude=9.2",
            ]
        },
        GeoPoint(45.5, 9.2),
    ),
]


@pytest.mark.parametrize(("tags", "point"), [p[1:] for p in POSITIONS], ids=[p[0] for p in POSITIONS])
def test_camera_position(tmp_path: Path, tags: dict[str, Any], point: GeoPoint | None) -> None:
    if "exiftool" in tags:
        path = exiftool(base_image(tmp_path), *tags["exiftool"])
    else:
        path = write_tags(base_image(tmp_path), **tags)
    got = read_metadata(path).camera_position
    if point is None:
        assert got is None
    else:
        assert got is not None
        assert (got.lat, got.lon) == pytest.approx((point.lat, point.lon), abs=1e-6)
        assert (got.altitude, got.heading) == (point.altitude, point.heading)


@pytest.mark.parametrize("prefix", ["exif", "Iptc4xmpExt"])
def test_subject_position_from_location_shown(tmp_path: Path, prefix: str) -> None:
    s = spec(camera=None, subject=None)
    shown = (
        "<Iptc4xmpExt:LocationShown><rdf:Bag>"
        "<rdf:li rdf:parseType='Resource'><Iptc4xmpExt:City>Nowhere</Iptc4xmpExt:City></rdf:li>"
        f"<rdf:li rdf:parseType='Resource'><{prefix}:GPSLatitude>22,54.4S</{prefix}:GPSLatitude>"
        f"<{prefix}:GPSLongitude>43,12.6W</{prefix}:GPSLongitude></rdf:li>"
        "</rdf:Bag></Iptc4xmpExt:LocationShown>"
    )
    path = write_xmp_packet(base_image(tmp_path), lightroom_xmp_packet(s, extra_properties=shown))
    meta = read_metadata(path)
    assert meta.camera_position is None
    assert meta.subject_position == GeoPoint(-22.9066667, -43.21)


# --------------------------------------------------------------------------------------------
# Text comes out exactly as written

ADVERSARIAL = [
    "שלום עולם — مرحبا بالعالم",
    "Sunset 🌅📷 👨‍👩‍👧",
    "line one\nline two\n\nline four",
    "a | b || c",
    "{{Information|description=x}} [[Category:Y]] ~~~~ <nowiki>",
    "<b>bold</b> & \"quotes\" 'single'",
    'Hallo, lang="en" not a language switch',
    "  leading and trailing spaces  ",
    "tab\tseparated",
    "Ünïcödé Ελληνικά 中文 日本語",
]


@pytest.mark.parametrize("style", ["darktable", "lightroom", "exiftool"])
@pytest.mark.parametrize("text", ADVERSARIAL)
def test_xmp_text_round_trips_unchanged(tmp_path: Path, style: str, text: str) -> None:
    if style == "exiftool" and text != text.strip():
        pytest.skip("exiftool trims leading/trailing spaces of command-line values")
    path = make_photo(
        tmp_path,
        style=style,
        title=text,
        descriptions={"x-default": text, "fr": text + "!"},
        creator=text,
        rights=text,
        keywords=(text,),
        hierarchical_keywords=(text + "|x",),
    )
    meta = read_metadata(path)
    assert meta.title == text
    assert meta.descriptions == {"x-default": text, "fr": text + "!"}
    assert (meta.creator, meta.rights) == (text, text)
    assert meta.keywords == (text,)
    assert meta.hierarchical_keywords == (text + "|x",)


@pytest.mark.parametrize("text", ADVERSARIAL)
def test_iptc_and_exif_xp_text_round_trips_unchanged(tmp_path: Path, text: str) -> None:
    path = write_tags(
        base_image(tmp_path),
        iptc={
            "Iptc.Envelope.CharacterSet": "\x1b%G",
            "Iptc.Application2.ObjectName": text,
            "Iptc.Application2.Caption": text,
            "Iptc.Application2.Keywords": [text],
        },
        exif={"Exif.Image.XPAuthor": text},
    )
    meta = read_metadata(path)
    assert (meta.title, meta.descriptions, meta.keywords, meta.creator) == (
        text,
        {"x-default": text},
        (text,),
        text,
    )


def test_iptc_without_charset_in_latin1_is_decoded(tmp_path: Path) -> None:
    import pyexiv2

    path = base_image(tmp_path)
    with pyexiv2.Image(str(path)) as img:  # an old tool: Latin-1 bytes, no CharacterSet record
        img.modify_iptc({"Iptc.Application2.ObjectName": "Dämmerung über Köln"}, encoding="latin-1")
    assert read_metadata(path).title == "Dämmerung über Köln"


def test_exif_ascii_in_utf8_is_decoded(tmp_path: Path) -> None:
    path = write_tags(base_image(tmp_path), exif={"Exif.Image.Artist": "Zoë Ørsted"})
    assert read_metadata(path).creator == "Zoë Ørsted"


def test_plain_text_where_lang_alt_is_expected_counts_as_default_language() -> None:
    tags = Tags(xmp={"Xmp.dc.title": "T", "Xmp.dc.description": "D"})
    meta = metadata_from_tags(tags, mime_type="image/jpeg")
    assert (meta.title, meta.descriptions, meta.mime_type) == ("T", {"x-default": "D"}, "image/jpeg")


# --------------------------------------------------------------------------------------------
# strip_location


def pixels(path: Path) -> bytes:
    return subprocess.run(["convert", str(path), "rgb:-"], check=True, capture_output=True).stdout


def gps_lines(path: Path) -> list[str]:
    out = subprocess.run(
        ["exiftool", "-a", "-G1", "-s", "-u", str(path)], check=True, capture_output=True, text=True
    ).stdout
    return [line for line in out.splitlines() if "GPS" in line or "Latitude" in line or "Longitude" in line]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("style", ["darktable", "digikam", "lightroom", "exiftool"])
def test_strip_location_removes_every_position_and_keeps_the_rest(
    tmp_path: Path, style: str, fmt: str
) -> None:
    src = make_photo(tmp_path, fmt=fmt, style=style)
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    assert gps_lines(src)  # the fixture really has a position
    dst = tmp_path / "out" / f"stripped.{fmt}"

    strip_location(src, dst)

    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
    assert gps_lines(dst) == []
    meta = read_metadata(dst)
    assert (meta.camera_position, meta.subject_position) == (None, None)
    assert meta == replace(read_metadata(src), camera_position=None, subject_position=None)
    assert pixels(dst) == pixels(src)


def test_strip_location_of_a_photo_without_position_is_a_plain_copy(tmp_path: Path) -> None:
    src = make_photo(tmp_path, style="darktable", camera=None)
    dst = tmp_path / "copy.jpg"
    strip_location(src, dst)
    assert read_metadata(dst) == read_metadata(src)


def test_strip_location_refuses_to_overwrite_the_original(tmp_path: Path) -> None:
    src = make_photo(tmp_path, style="darktable")
    before = src.read_bytes()
    with pytest.raises(LocalFileError, match="original is never changed"):
        strip_location(src, src)
    assert src.read_bytes() == before


def test_strip_location_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LocalFileError, match="does not exist"):
        strip_location(tmp_path / "gone.jpg", tmp_path / "out.jpg")
    assert not (tmp_path / "out.jpg").exists()


# --------------------------------------------------------------------------------------------
# Files that cannot be read


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LocalFileError, match=r"does not exist.*export it again") as info:
        read_metadata(tmp_path / "nope.jpg")
    assert info.value.code == "file-missing"
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(LocalFileError, match="is a folder"):
        read_metadata(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_unreadable_file(tmp_path: Path) -> None:
    path = make_photo(tmp_path, style="plain")
    path.chmod(0)
    with pytest.raises(LocalFileError, match="cannot be read"):
        read_metadata(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(MetadataError, match=r"empty \(0 bytes\).*export the photo again"):
        read_metadata(path)


def test_garbage_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "garbage.jpg"
    path.write_bytes(os.urandom(4096).replace(b"\xff", b"\x00"))
    with pytest.raises(
        MetadataError, match=r"not an image type we recognize.*export the photo as JPEG"
    ) as info:
        read_metadata(path)
    assert info.value.code == "unsupported-type"


@pytest.mark.parametrize("keep", [4, 40, 400])
def test_truncated_jpeg(tmp_path: Path, keep: int) -> None:
    full = make_photo(tmp_path, style="darktable").read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(full[:keep])
    with pytest.raises(MetadataError, match=r"looks damaged.*left as it is; export the photo again") as info:
        read_metadata(path)
    assert isinstance(info.value.__cause__, RuntimeError)  # translated from pyexiv2, chained
    assert str(tmp_path) not in str(info.value)  # names the file, not the whole path


@pytest.mark.parametrize(("fmt", "what"), [("gif", "GIF image"), ("svg", "SVG drawing")])
def test_unsupported_types(tmp_path: Path, fmt: str, what: str) -> None:
    path = tmp_path / f"x.{fmt}"
    if fmt == "svg":
        path.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    else:
        subprocess.run(["convert", "-size", "8x8", "xc:red", str(path)], check=True, capture_output=True)
    with pytest.raises(MetadataError, match=f"is an? {what}.*JPEG, PNG, TIFF or WebP"):
        read_metadata(path)


# --------------------------------------------------------------------------------------------
# Paths, import, output


@pytest.mark.parametrize("name", ["Фото Дрезден 📷.jpg", "naïve café.jpg"])
def test_non_ascii_paths(tmp_path: Path, name: str) -> None:
    path = make_photo(tmp_path / "ordner ä", style="darktable", name=name)
    assert read_metadata(path).title == spec().title


@pytest.mark.skipif(os.name != "posix", reason="POSIX file names are bytes")
def test_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    good = make_photo(tmp_path, style="darktable")
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/bad\xff name.jpg"))
    good.rename(odd)
    assert read_metadata(odd).title == spec().title


def test_importing_the_module_does_not_load_pyexiv2() -> None:
    code = "import sys, commons_helper.metadata; print('pyexiv2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "False"


def test_damaged_xmp_falls_back_to_exif_and_iptc_silently(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    data = make_photo(tmp_path, style="exiftool").read_bytes()
    payload = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF><broken"
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    path = tmp_path / "damaged-xmp.jpg"
    path.write_bytes(data[:2] + segment + data[2:])
    capfd.readouterr()

    meta = read_metadata(path)  # pyexiv2 at its default log level prints a warning and raises here

    assert capfd.readouterr() == ("", "")
    assert (meta.title, meta.creator, meta.keywords) == (spec().title, spec().creator, spec().keywords)
    assert meta.descriptions == {"x-default": spec().descriptions["x-default"]}  # IPTC caption
    assert meta.camera_position == GeoPoint(*spec().camera)  # type: ignore[misc]


def test_broken_windows_xp_tag_does_not_lose_the_other_exif(tmp_path: Path) -> None:
    import pyexiv2
    from pyexiv2.convert import _dumps

    path = write_tags(base_image(tmp_path), exif={"Exif.Image.Artist": "Ann"})
    with pyexiv2.Image(str(path)) as img:  # odd byte count: not UTF-16 (pyexiv2's read_exif raises)
        img._exiv2api_image.modify_exif(_dumps({"Exif.Image.XPTitle": "65 0 66"}), "utf-8")
    meta = read_metadata(path)
    assert (meta.creator, meta.title) == ("Ann", "")
