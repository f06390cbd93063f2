"""Commons file titles: pattern, legal characters, byte limit, extensions, camera names, batches."""

from __future__ import annotations

import pytest

from commons_helper.errors import TitleError
from commons_helper.photo import DateTaken, PhotoMetadata
from commons_helper.titles import (
    MAX_TITLE_BYTES,
    BatchTitles,
    check_pattern,
    clean_title,
    extension_for,
    fit_title,
    is_camera_default_name,
    make_title,
    normalize_extension,
    pattern_values,
    title_key,
)

DAY = DateTaken(2024, 5, 1, 18, 30, 12)
JPEG = "image/jpeg"


def meta(**kw: object) -> PhotoMetadata:
    base: dict[str, object] = {"mime_type": JPEG, "date_taken": DAY}
    base.update(kw)
    return PhotoMetadata(**base)  # type: ignore[arg-type]


TITLES = [
    # (metadata, pattern, seq, filename, expected)
    (meta(title="Pont Neuf"), "{title} {date}", 1, "", "Pont Neuf 2024-05-01.jpg"),
    (meta(title="pont neuf"), "{title} {date}", 1, "", "Pont neuf 2024-05-01.jpg"),
    (meta(title="Pont Neuf", date_taken=None), "{title} {date}", 1, "", "Pont Neuf.jpg"),
    (meta(title="Pont Neuf", date_taken=DateTaken(2024, precision="year")), "{title} {date}", 1, "",
     "Pont Neuf 2024.jpg"),
    (meta(title="Pont Neuf"), "{title} ({date})", 1, "", "Pont Neuf (2024-05-01).jpg"),
    (meta(title="Pont Neuf", date_taken=None), "{title} ({date})", 1, "", "Pont Neuf.jpg"),
    (meta(title="Pont Neuf", date_taken=None), "{title} - {date}", 1, "", "Pont Neuf.jpg"),
    (meta(title="Pont Neuf"), "{title} {seq:03d}", 7, "", "Pont Neuf 007.jpg"),
    (meta(title="Pont Neuf"), "{filename} {title}", 1, "/photos/2024/pn_42.NEF", "Pn 42 Pont Neuf.jpg"),
    (meta(title="Bridge", camera_make="NIKON CORPORATION", camera_model="NIKON Z 6_2"),
     "{title} {camera}", 1, "", "Bridge NIKON Z 6 2.jpg"),
    (meta(title="Bridge", camera_make="SONY", camera_model="ILCE-7M3"), "{title} {camera}", 1, "",
     "Bridge SONY ILCE-7M3.jpg"),
    (meta(descriptions={"x-default": "The oldest bridge\nin Paris"}), "{title} {date}", 1, "",
     "The oldest bridge 2024-05-01.jpg"),
    (meta(descriptions={"de": "Die älteste Brücke"}), "{title}", 1, "", "Die älteste Brücke.jpg"),
    (meta(title="T", descriptions={"en": "D"}), "{description} {title}", 1, "", "D T.jpg"),
    (meta(title="Pont Neuf", mime_type="image/tiff"), "{title}", 1, "", "Pont Neuf.tif"),
    (meta(title="Pont Neuf", mime_type="image/png"), "{title}", 1, "x.jpg", "Pont Neuf.png"),
    (meta(title="Pont Neuf", mime_type=""), "{title}", 1, "x.JPEG", "Pont Neuf.jpg"),
    (meta(title="Pont Neuf", mime_type=""), "{title}", 1, "x.tiff", "Pont Neuf.tif"),
    (meta(title="Sunset.jpg"), "{title}", 1, "", "Sunset.jpg"),
    (meta(title="Sunset.JPEG"), "{title}", 1, "", "Sunset.jpg"),
    (meta(title="Version 2.0"), "{title}", 1, "", "Version 2.0.jpg"),
    (meta(title="Paris: Pont Neuf"), "{title}", 1, "", "Paris - Pont Neuf.jpg"),
    (meta(title="a/b\\c|d:e"), "{title}", 1, "", "A-b-c-d-e.jpg"),
    (meta(title="x [y] {z} <w>"), "{title}", 1, "", "X (y) (z) (w).jpg"),
    (meta(title="Bridge #3"), "{title}", 1, "", "Bridge 3.jpg"),
    (meta(title="a\tb  c_d\u00a0e\u3000f"), "{title}", 1, "", "A b c d e f.jpg"),
    (meta(title="First line\nsecond line"), "{title}", 1, "", "First line.jpg"),
    (meta(title="Tom &amp; Jerry"), "{title}", 1, "", "Tom & Jerry.jpg"),
    (meta(title="&lt;tag&gt;"), "{title}", 1, "", "(tag).jpg"),
    (meta(title="100%AB"), "{title}", 1, "", "100\uff05AB.jpg"),
    (meta(title="wait~~~~ok"), "{title}", 1, "", "Wait~~ok.jpg"),
    (meta(title="\u200eright\u202e-to-left"), "{title}", 1, "", "Right-to-left.jpg"),
    (meta(title="ctrl\x00\x1fchars"), "{title}", 1, "", "Ctrlchars.jpg"),
    (meta(title="éclair"), "{title}", 1, "", "Éclair.jpg"),
    (meta(title="e\u0301clair"), "{title}", 1, "", "Éclair.jpg"),
    (meta(title="ßtraße"), "{title}", 1, "", "ßtraße.jpg"),
    (meta(title="東京タワー"), "{title}", 1, "", "東京タワー.jpg"),
    (meta(title="  - Pont Neuf -  "), "{title}", 1, "", "Pont Neuf.jpg"),
    (meta(title="DSC_0042 at the Pont Neuf"), "{title}", 1, "", "DSC 0042 at the Pont Neuf.jpg"),
]


@pytest.mark.parametrize(("m", "pattern", "seq", "filename", "title"), TITLES)
def test_make_title(m: PhotoMetadata, pattern: str, seq: int, filename: str, title: str) -> None:
    assert make_title(m, pattern=pattern, seq=seq, filename=filename) == title


@pytest.mark.parametrize("name", [
    "DSC_0042", "DSC0042", "dsc_0042", "DSCN1234", "DSCF1234", "_DSC1234", "IMG_1234", "img_1234",
    "IMG-20240101-WA0001", "IMG_20240101_123456", "P1000123", "CIMG0001", "PICT0001", "SANY0001",
    "DJI_0001", "GOPR0001", "GH010012", "_MG_1234", "MVI_1234", "PXL_20240101_123456789", "HPIM0001",
    "IMAG0001", "DSC_0042 2024-05-01", "IMG_1234 (2)", "Image 12", "Photo-001", "Photo 3", "Untitled",
    "WhatsApp Image 2024-01-01",
])
def test_camera_default_names(name: str) -> None:
    assert is_camera_default_name(name)


@pytest.mark.parametrize("name", [
    "Pont Neuf", "DSC_0042 at the Pont Neuf", "Imagine 2", "Photography", "P 1 Pont", "Pictures of Paris",
    "IMG is a bad name", "Dji Mavic over Paris",
])
def test_meaningful_names_pass(name: str) -> None:
    assert not is_camera_default_name(name)


@pytest.mark.parametrize(("m", "pattern", "filename", "code"), [
    (meta(), "{title} {date}", "DSC_0042.JPG", "no-title"),
    (meta(date_taken=None), "{title}", "", "no-title"),
    (meta(title="   "), "{title}", "", "no-title"),
    (meta(title="|||"), "{title}", "", "no-title"),
    (meta(title="2024"), "{title}", "", "no-title"),
    (meta(), "{filename}", "DSC_0042.JPG", "camera-default-name"),
    (meta(), "{filename} {date}", "/x/IMG_1234.jpg", "camera-default-name"),
    (meta(title="IMG-20240101-WA0001"), "{title}", "", "camera-default-name"),
    (meta(title="dsc_0042"), "{title} {date}", "", "camera-default-name"),
    (meta(title="P1000123"), "{title} ({seq})", "", "camera-default-name"),
    (meta(title="x"), "{title} {nope}", "", "bad-pattern"),
    (meta(title="x"), "{title.__class__}", "", "bad-pattern"),
    (meta(title="x"), "{title[0]}", "", "bad-pattern"),
    (meta(title="x"), "{title", "", "bad-pattern"),
    (meta(title="x"), "{seq:zz}", "", "bad-pattern"),
    (meta(title="x", mime_type="text/plain"), "{title}", "", "unknown-type"),
    (meta(title="x", mime_type=""), "{title}", "x.txt", "unknown-type"),
    (meta(title="x", mime_type=""), "{title}", "noext", "unknown-type"),
])
def test_refused_titles(m: PhotoMetadata, pattern: str, filename: str, code: str) -> None:
    with pytest.raises(TitleError) as err:
        make_title(m, pattern=pattern, filename=filename)
    assert err.value.code == code
    if code in ("no-title", "camera-default-name"):
        assert "title" in str(err.value) and "title_pattern" in str(err.value)


@pytest.mark.parametrize("text", ["a" * 300, "é" * 300, "東" * 300, "😀a" * 300, "a" + "e\u0301" * 200,
                                  "ab " * 100])
def test_titles_fit_in_240_bytes_at_a_character_boundary(text: str) -> None:
    title = make_title(meta(title=text), pattern="{title}")
    data = title.encode("utf-8")
    assert len(data) <= MAX_TITLE_BYTES
    assert len(data) >= MAX_TITLE_BYTES - 4  # nothing cut needlessly (at most one 4-byte char short)
    assert title.endswith(".jpg")
    base = title[:-4]
    assert text.startswith(base[:1].lower()) or text[0].upper() == base[0]
    assert not base.endswith(" ")


def test_cut_keeps_combining_marks_with_their_base() -> None:
    title = fit_title("a" * 234 + "x\u0301\u0302", "jpg")  # the cut would fall between the marks
    assert title == "a" * 234 + "x.jpg" or title.encode().__len__() <= 240
    assert "\u0301" not in title or title[title.index("\u0301") - 1] == "x"


@pytest.mark.parametrize(("ext", "norm"), [
    ("jpeg", "jpg"), ("JPG", "jpg"), (".jpe", "jpg"), ("tiff", "tif"), ("TIF", "tif"), ("png", "png"),
    ("webp", "webp"),
])
def test_normalize_extension(ext: str, norm: str) -> None:
    assert normalize_extension(ext) == norm


@pytest.mark.parametrize(("mime", "filename", "ext"), [
    ("image/jpeg", "x.png", "jpg"), ("image/tiff", "", "tif"), ("image/webp", "a.jpg", "webp"),
    ("IMAGE/PNG", "", "png"), ("", "a.JPEG", "jpg"), ("", "a.b.TIFF", "tif"), ("", "C:\\x\\y.gif", "gif"),
])
def test_extension_follows_the_real_type(mime: str, filename: str, ext: str) -> None:
    assert extension_for(mime, filename) == ext


def test_pattern_values() -> None:
    v = pattern_values(meta(camera_make="Canon", camera_model="Canon EOS R5",
                            descriptions={"en": "A long\nsecond line"}), seq=3, filename="/a/b/IMG_1.CR3")
    assert v == {"title": "A long", "description": "A long", "date": "2024-05-01", "seq": 3,
                 "filename": "IMG_1", "camera": "Canon EOS R5"}


def test_long_description_fallback_is_cut_at_a_word() -> None:
    m = meta(descriptions={"en": "word " * 100})
    title = make_title(m, pattern="{title}")
    assert title.endswith("word.jpg") and len(title) <= 130


def test_check_pattern_accepts_all_variables() -> None:
    check_pattern("{title} {description} {date} {seq} {filename} {camera}")


def test_batch_titles_are_unique() -> None:
    batch = BatchTitles()
    assert batch.claim("X.jpg") == "X.jpg"
    assert batch.claim("X.jpg") == "X (2).jpg"
    assert batch.claim("x.jpg") == "X (3).jpg"  # same title on the wiki: first letter is case-free
    assert batch.claim("X_(2).jpg") == "X (2) (2).jpg"  # spaces and underscores are one
    assert batch.claim("Y.jpg") == "Y.jpg"
    assert batch.claim("X.png") == "X.png"
    assert "X.jpg" in batch and "x (3).jpg" in batch and "Z.jpg" not in batch


def test_batch_starts_with_titles_already_taken() -> None:
    batch = BatchTitles(["File:X.jpg", "X (2).jpg"])
    assert batch.claim("X.jpg") == "X (3).jpg"


def test_batch_suffix_still_fits_in_240_bytes() -> None:
    batch = BatchTitles()
    long = make_title(meta(title="é" * 300), pattern="{title}")
    batch.claim(long)
    second = batch.claim(long)
    assert second.endswith(" (2).jpg")
    assert len(second.encode()) <= MAX_TITLE_BYTES


@pytest.mark.parametrize(("a", "b"), [("X y.jpg", "x_y.jpg"), ("File:X.jpg", "X.jpg"), ("A  b", "A_b")])
def test_title_key(a: str, b: str) -> None:
    assert title_key(a) == title_key(b)


@pytest.mark.parametrize(("raw", "clean"), [
    ("a__b", "A b"), ("..", ""), ("...x", "X"), ("()", ""), ("a ()", "A"), ("-", ""),
])
def test_clean_title_edges(raw: str, clean: str) -> None:
    assert clean_title(raw) == clean
