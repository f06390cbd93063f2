"""File page rendering: escaping, dates, locations, languages, categories, authors, golden pages."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from commons_helper.config import PrivacyZone, Settings
from commons_helper.errors import PageError
from commons_helper.photo import DateTaken, GeoPoint, PhotoMetadata
from commons_helper.wikitext import (
    UNCATEGORIZED,
    PageOptions,
    category_key,
    check_fragment,
    clean_category,
    clean_text,
    collect_categories,
    escape_text,
    format_date,
    format_number,
    keyword_categories,
    language_template,
    location_hidden,
    location_template,
    options_from_settings,
    render_author,
    render_description,
    render_page,
)

GOLDEN = Path(__file__).parent / "golden"

ESCAPES = [
    ("plain text", "plain text"),
    ("a | b", "a &#124; b"),
    ("a = b", "a &#61; b"),
    ("{{x}}", "&#123;&#123;x&#125;&#125;"),
    ("[[Category:X]]", "&#91;&#91;Category&#58;X&#93;&#93;".replace("&#58;", ":")),
    ("<nowiki>", "&lt;nowiki&gt;"),
    ("</nowiki>", "&lt;/nowiki&gt;"),
    ("~~~~", "&#126;&#126;&#126;&#126;"),
    ("~~~", "&#126;&#126;&#126;"),
    ("a\nb", "a<br />b"),
    ("a\r\nb\rc", "a<br />b<br />c"),
    ("<ref>x</ref>", "&lt;ref&gt;x&lt;/ref&gt;"),
    ("&amp;", "&amp;amp;"),
    ("&", "&amp;"),
    ("__NOTOC__", "&#95;_NOTOC&#95;_"),
    ("a_b", "a_b"),
    ("----", "&#45;---"),
    ("* item", "&#42; item"),
    ("# item", "&#35; item"),
    (": indent", "&#58; indent"),
    ("; term", "&#59; term"),
    ("! head", "&#33; head"),
    ("  leading", "leading"),
    ("trailing  \n ", "trailing"),
    ("x * y # z : w", "x * y # z : w"),
    ("{{!}}", "&#123;&#123;!&#125;&#125;"),
    ("[http://x y]", "&#91;http://x y&#93;"),
    ("ISBN 123", "&#73;SBN 123"),
    ("RFC 1 PMID 2", "&#82;FC 1 &#80;MID 2"),
    ("XISBN", "XISBN"),
    ("it's", "it's"),
    ("''x''", "&#39;&#39;x&#39;&#39;"),
    ("'quoted'", "&#39;quoted&#39;"),
    ("rock 'n' roll", "rock 'n' roll"),
    ("עברית", "עברית"),
    ("📷", "📷"),
    ("e\u0301", "é"),
    ("a\x00b\x07c\x7fd\x85e", "abcde"),
    ("\ud800", "\ufffd"),
    ("tab\tx", "tab\tx"),
    ("", ""),
    ("   ", ""),
]


@pytest.mark.parametrize(("text", "wikitext"), ESCAPES)
def test_escape_text(text: str, wikitext: str) -> None:
    assert escape_text(text) == wikitext


@pytest.mark.parametrize("text", [t for t, _ in ESCAPES] + ["x" * 100_000])
def test_escaped_text_has_no_markup_left(text: str) -> None:
    out = escape_text(text)
    for bad in ("|", "=", "{", "}", "[", "]", "~", "''", "__", "\n"):
        assert bad not in out, (text, out)
    assert "<" not in out.replace("<br />", "")
    assert not out.startswith(("*", "#", ":", ";", "-", "!", " "))


@pytest.mark.parametrize(("text", "clean"), [
    ("  a \r\n b  ", "a \n b"), ("x\x01y", "xy"), ("cafe\u0301", "café"), ("\ufffe\uffffok", "ok"),
])
def test_clean_text(text: str, clean: str) -> None:
    assert clean_text(text) == clean


DATES = [
    (None, ""),
    (DateTaken(2024, precision="year"), "2024"),
    (DateTaken(2024, 5, precision="month"), "2024-05"),
    (DateTaken(2024, 5, 1, precision="day"), "2024-05-01"),
    (DateTaken(2024, 5, 1, 18, 30, precision="minute"), "2024-05-01 18:30"),
    (DateTaken(2024, 5, 1, 18, 30, 12), "2024-05-01 18:30:12"),
    (DateTaken(2024, 5, 1, 18, 30, 12, precision="day"), "2024-05-01"),
    (DateTaken(2024, 5, 1, 18, 30, 12, precision="year"), "2024"),
    (DateTaken(2024, 5, 1), "2024-05-01"),  # precision second, but no time known
    (DateTaken(2024, 5, 1, 18, 30), "2024-05-01 18:30"),
    (DateTaken(2024), "2024"),
    (DateTaken(2024, 13, 1), "2024"),
    (DateTaken(2023, 2, 29), "2023-02"),
    (DateTaken(2024, 2, 29), "2024-02-29"),
    (DateTaken(2024, 5, 1, 24, 0, 0), "2024-05-01"),
    (DateTaken(2024, 5, 1, 23, 60, 0), "2024-05-01"),
    (DateTaken(2024, 5, 1, 23, 59, 60), "2024-05-01 23:59"),
    (DateTaken(0, 1, 1), ""),
    (DateTaken(987, 1, 2, precision="day"), "0987-01-02"),
    (DateTaken(2024, 5, 1, 8, 5, 3, utc_offset="+02:00"), "2024-05-01 08:05:03"),
]


@pytest.mark.parametrize(("date", "text"), DATES)
def test_format_date(date: DateTaken | None, text: str) -> None:
    assert format_date(date) == text


@pytest.mark.parametrize(("value", "decimals", "text"), [
    (48.8582221234, 6, "48.858222"), (2.0, 6, "2"), (-0.0000001, 6, "0"), (-33.5, 6, "-33.5"),
    (135.04, 1, "135"), (1e-7, 6, "0"), (179.9999999, 6, "180"), (0.1, 1, "0.1"),
])
def test_format_number_is_locale_independent_and_short(value: float, decimals: int, text: str) -> None:
    assert format_number(value, decimals) == text


LOCATIONS = [
    (None, "Location", ""),
    (GeoPoint(48.858222, 2.2945), "Location", "{{Location|48.858222|2.2945}}"),
    (GeoPoint(48.858222, 2.2945, heading=135.04), "Location", "{{Location|48.858222|2.2945|heading:135}}"),
    (GeoPoint(-33.8568, 151.2153, heading=-90), "Location", "{{Location|-33.8568|151.2153|heading:270}}"),
    (GeoPoint(1, 2, heading=359.97), "Location", "{{Location|1|2|heading:0}}"),
    (GeoPoint(1, 2, heading=720.5), "Location", "{{Location|1|2|heading:0.5}}"),
    (GeoPoint(1, 2, heading=math.nan), "Location", "{{Location|1|2}}"),
    (GeoPoint(1, 2, altitude=300.0), "Location", "{{Location|1|2}}"),
    (GeoPoint(48.8584, 2.2945, heading=10), "Object location", "{{Object location|48.8584|2.2945}}"),
    (GeoPoint(91, 0), "Location", ""),
    (GeoPoint(0, 181), "Location", ""),
    (GeoPoint(math.nan, 0), "Location", ""),
    (GeoPoint(0, math.inf), "Location", ""),
    (GeoPoint(0.0, 0.0), "Location", "{{Location|0|0}}"),
]


@pytest.mark.parametrize(("point", "name", "text"), LOCATIONS)
def test_location_template(point: GeoPoint | None, name: str, text: str) -> None:
    assert location_template(point, name) == text


@pytest.mark.parametrize(("code", "default", "template"), [
    ("en", "en", "en"), ("de", "en", "de"), ("DE", "en", "de"), ("pt-BR", "en", "pt-br"),
    ("pt_br", "en", "pt-br"), ("zh-Hans", "en", "zh-hans"), ("en-US", "en", "en"), ("de-DE", "en", "de"),
    ("x-default", "fr", "fr"), ("x-default", "en-GB", "en-gb"), ("tl", "en", "tgl"),
    ("en}}{{evil", "de", "de"), ("", "en", "en"), ("123", "en", "en"), ("x-default", "}}", "en"),
])
def test_language_template(code: str, default: str, template: str) -> None:
    assert language_template(code, default) == template


DESCRIPTIONS = [
    (PhotoMetadata(), ""),
    (PhotoMetadata(descriptions={"x-default": "Hello"}), "{{en|1=Hello}}"),
    (PhotoMetadata(descriptions={"de": "Hallo", "x-default": "Hello"}), "{{en|1=Hello}}{{de|1=Hallo}}"),
    (PhotoMetadata(descriptions={"x-default": "Hello", "en": "Hello"}), "{{en|1=Hello}}"),
    (PhotoMetadata(descriptions={"x-default": "Hallo", "de": "Hallo", "en": "Hello"}),
     "{{en|1=Hello}}{{de|1=Hallo}}"),
    (PhotoMetadata(descriptions={"x-default": "Hi", "en": "Hello"}), "{{en|1=Hi<br />Hello}}"),
    (PhotoMetadata(descriptions={"fr": "Salut", "en": "Hello", "de": "Hallo"}),
     "{{en|1=Hello}}{{fr|1=Salut}}{{de|1=Hallo}}"),
    (PhotoMetadata(descriptions={"en-US": "Hello", "en": "Hello"}), "{{en|1=Hello}}"),
    (PhotoMetadata(descriptions={"en": "  ", "de": "Hallo"}), "{{de|1=Hallo}}"),
    (PhotoMetadata(title="Pont Neuf"), "{{en|1=Pont Neuf}}"),
    (PhotoMetadata(title="Pont Neuf", descriptions={"x-default": "The oldest bridge"}),
     "{{en|1='''Pont Neuf'''<br />The oldest bridge}}"),
    (PhotoMetadata(title="Pont Neuf", descriptions={"en": "Pont Neuf at dusk"}),
     "{{en|1=Pont Neuf at dusk}}"),
    (PhotoMetadata(title="Pont Neuf", descriptions={"en": "Pont Neuf"}), "{{en|1=Pont Neuf}}"),
    (PhotoMetadata(title="Pont Neuf", descriptions={"fr": "Le plus vieux pont"}),
     "{{fr|1='''Pont Neuf'''<br />Le plus vieux pont}}"),
    (PhotoMetadata(title="Rock 'n' roll'", descriptions={"en": "x"}),
     "{{en|1='''Rock 'n' roll&#39;'''<br />x}}"),
    (PhotoMetadata(descriptions={"en}}{{evil": "x"}), "{{en|1=x}}"),
]


@pytest.mark.parametrize(("meta", "wikitext"), DESCRIPTIONS)
def test_render_description(meta: PhotoMetadata, wikitext: str) -> None:
    assert render_description(meta, "en") == wikitext


CATEGORY_KEYWORDS = [
    (PhotoMetadata(keywords=("bridge", "Paris", "sunset")), []),
    (PhotoMetadata(hierarchical_keywords=("Places|France|Paris", "Nature|Sky")), []),
    (PhotoMetadata(hierarchical_keywords=("Category|Pont Neuf",)), ["Pont Neuf"]),
    (PhotoMetadata(hierarchical_keywords=("category|Pont Neuf",)), ["Pont Neuf"]),
    (PhotoMetadata(hierarchical_keywords=("CATEGORY|Pont Neuf",)), ["Pont Neuf"]),
    (PhotoMetadata(hierarchical_keywords=("Commons category|Pont Neuf",)), ["Pont Neuf"]),
    (PhotoMetadata(hierarchical_keywords=("Commons Category|Bridges|Pont Neuf",)), ["Pont Neuf"]),
    (PhotoMetadata(hierarchical_keywords=("Category",)), []),
    (PhotoMetadata(hierarchical_keywords=("Category|",)), []),
    (PhotoMetadata(hierarchical_keywords=("Places|Category|X",)), []),
    (PhotoMetadata(keywords=("Category:Pont Neuf",)), ["Category:Pont Neuf"]),
    (PhotoMetadata(keywords=("category:pont neuf",)), ["category:pont neuf"]),
    (PhotoMetadata(keywords=("Category:",)), []),
    (PhotoMetadata(keywords=("Categories of bridges",)), []),
]


@pytest.mark.parametrize(("meta", "found"), CATEGORY_KEYWORDS)
def test_only_marked_keywords_are_categories(meta: PhotoMetadata, found: list[str]) -> None:
    assert keyword_categories(meta) == found


@pytest.mark.parametrize(("raw", "name"), [
    ("Pont Neuf", "Pont Neuf"), ("pont_neuf", "Pont neuf"), ("Category:pont neuf", "Pont neuf"),
    ("category:X", "X"), ("[[Category:X y]]", "X y"), ("  a   b  ", "A b"), ("ärger", "Ärger"),
    ("A & B", "A & B"), ("Rock 'n' roll", "Rock 'n' roll"), ("x:y", "X:y"), ("__NOTOC__", "NOTOC"),
    ("a\u200eb", "Ab"), ("A\x01b", "Ab"), (":Leading colon", "Leading colon"), ("straße", "Straße"),
    ("ßtart", "ßtart"),
])
def test_clean_category(raw: str, name: str) -> None:
    assert clean_category(raw) == name


@pytest.mark.parametrize("raw", [
    "", "Category:", "A#b", "A<b>", "A[b]", "A|b", "A{b}", "100%41", "A&amp;B", "Sig~~~",
    "..", "./x", "a/../b", "x" * 256, "é" * 128,
])
def test_bad_categories_are_refused(raw: str) -> None:
    with pytest.raises(PageError) as err:
        clean_category(raw)
    assert err.value.code == "bad-category"
    assert "rename that keyword" in str(err.value)


def test_categories_are_deduplicated_first_wins() -> None:
    meta = PhotoMetadata(
        hierarchical_keywords=("Category|Pont Neuf", "Category|pont_Neuf", "Commons category|Paris"),
        keywords=("Category:Pont  Neuf", "category:paris", "Paris"),
    )
    assert collect_categories(meta, ("Pont Neuf", "Bridges", "bridges", "Category:Bridges")) == [
        "Pont Neuf", "Paris", "Bridges"]
    assert category_key("pont_Neuf") == category_key("Pont Neuf")
    assert category_key("Pont neuf") != category_key("Pont Neuf")  # only the first letter is case-free


@pytest.mark.parametrize(("meta", "options", "author"), [
    (PhotoMetadata(creator="Jane Doe"), PageOptions(username="JaneD"), "[[User:JaneD|Jane Doe]]"),
    (PhotoMetadata(creator="Jane Doe"), PageOptions(username="jane_d"), "[[User:Jane d|Jane Doe]]"),
    (PhotoMetadata(creator="Jane Doe"), PageOptions(username="JaneD@upload"), "[[User:JaneD|Jane Doe]]"),
    (PhotoMetadata(), PageOptions(username="JaneD", author="Jane D."), "[[User:JaneD|Jane D.]]"),
    (PhotoMetadata(), PageOptions(username="JaneD"), "[[User:JaneD|JaneD]]"),
    (PhotoMetadata(creator="Jane Doe"), PageOptions(author="Someone"), "Jane Doe"),
    (PhotoMetadata(), PageOptions(author="Jane | Doe"), "Jane &#124; Doe"),
    (PhotoMetadata(creator="]]{{x}}"), PageOptions(username="J"),
     "[[User:J|&#93;&#93;&#123;&#123;x&#125;&#125;]]"),
])
def test_render_author(meta: PhotoMetadata, options: PageOptions, author: str) -> None:
    assert render_author(meta, options) == author


@pytest.mark.parametrize("username", ["a|b", "a]]b", "x{{y}}", "a/b", "a:b", "a#b", "x~~~"])
def test_bad_username_is_refused(username: str) -> None:
    with pytest.raises(PageError) as err:
        render_author(PhotoMetadata(creator="x"), PageOptions(username=username))
    assert err.value.code == "bad-option"


def test_no_author_is_refused() -> None:
    with pytest.raises(PageError) as err:
        render_page(PhotoMetadata(rights="CC0"), PageOptions())
    assert err.value.code == "no-author"
    assert "author" in str(err.value) and "setting" in str(err.value)


@pytest.mark.parametrize(("text", "ok"), [
    ("{{own}}", True), ("", True), ("[[User:X|me]]", True), ("{{Other versions|a|b}}", True),
    ("plain = text", True), ("a | b", False), ("{{x", False), ("x}}", False), ("[[x", False),
    ("x]]", False), ("}}{{", False), ("~~~~", False),
])
def test_check_fragment(text: str, ok: bool) -> None:
    if ok:
        assert check_fragment(text, "source") == text.strip()
    else:
        with pytest.raises(PageError) as err:
            check_fragment(text, "source")
        assert err.value.code == "bad-option"


BASE = PhotoMetadata(descriptions={"en": "x"}, creator="Jane", rights="CC BY-SA 4.0")


def test_page_layout() -> None:
    meta = PhotoMetadata(
        descriptions={"en": "Hello"}, creator="Jane", license_url="https://creativecommons.org/licenses/by/4.0/",
        date_taken=DateTaken(2024, 5, 1, precision="day"), camera_position=GeoPoint(1.5, 2.5, heading=90),
        subject_position=GeoPoint(1.6, 2.6), hierarchical_keywords=("Category|Test",),
    )
    assert render_page(meta, PageOptions(username="Jane")) == (
        "=={{int:filedesc}}==\n"
        "{{Information\n"
        "|description={{en|1=Hello}}\n"
        "|date=2024-05-01\n"
        "|source={{own}}\n"
        "|author=[[User:Jane|Jane]]\n"
        "|permission=\n"
        "|other versions=\n"
        "}}\n"
        "{{Location|1.5|2.5|heading:90}}\n"
        "{{Object location|1.6|2.6}}\n"
        "\n"
        "=={{int:license-header}}==\n"
        "{{self|cc-by-4.0}}\n"
        "\n"
        "[[Category:Test]]\n"
    )


def test_hide_location_removes_both_locations() -> None:
    meta = PhotoMetadata(**{**BASE.__dict__, "camera_position": GeoPoint(1, 2),
                            "subject_position": GeoPoint(1, 2)})
    shown = render_page(meta, PageOptions())
    hidden = render_page(meta, PageOptions(hide_location=True))
    assert "{{Location|1|2}}" in shown and "{{Object location|1|2}}" in shown
    assert "Location" not in hidden and "location" not in hidden


def test_uncategorized_upload_gets_unc_like_upload_wizard() -> None:
    page = render_page(BASE, PageOptions())
    assert page.endswith("\n\n" + UNCATEGORIZED + "\n")
    assert "[[Category:" not in page
    assert UNCATEGORIZED not in render_page(BASE, PageOptions(categories=("X",)))


def test_every_keyword_is_not_a_category() -> None:
    meta = PhotoMetadata(**{**BASE.__dict__, "keywords": ("bridge", "sunset", "Category:Bridges"),
                            "hierarchical_keywords": ("Places|Paris",)})
    page = render_page(meta, PageOptions())
    assert page.count("[[Category:") == 1 and "[[Category:Bridges]]" in page


@pytest.mark.parametrize(("options", "source", "permission", "other"), [
    (PageOptions(), "{{own}}", "", ""),
    (PageOptions(source=""), "{{own}}", "", ""),
    (PageOptions(source="{{own}} (scan)", permission="OTRS", other_versions="[[:File:X.jpg]]"),
     "{{own}} (scan)", "OTRS", "[[:File:X.jpg]]"),
])
def test_options_fields(options: PageOptions, source: str, permission: str, other: str) -> None:
    page = render_page(BASE, options)
    assert f"\n|source={source}\n" in page
    assert f"\n|permission={permission}\n" in page
    assert f"\n|other versions={other}\n" in page


def test_bad_option_wikitext_is_refused() -> None:
    with pytest.raises(PageError) as err:
        render_page(BASE, PageOptions(source="{{own}}|evil=1"))
    assert err.value.code == "bad-option"


def test_too_long_page_is_refused() -> None:
    meta = PhotoMetadata(**{**BASE.__dict__, "descriptions": {"en": "|" * 400_000}})
    with pytest.raises(PageError) as err:
        render_page(meta, PageOptions())
    assert err.value.code == "page-too-long"


def test_license_errors_surface_from_render_page() -> None:
    with pytest.raises(PageError) as err:
        render_page(PhotoMetadata(creator="x", rights="All rights reserved"), PageOptions())
    assert err.value.code == "no-license"
    assert render_page(PhotoMetadata(creator="x"), PageOptions(license="cc-by-sa-4.0")).count(
        "{{self|cc-by-sa-4.0}}") == 1


ZONE = PrivacyZone(48.0, 11.0, 200.0, "home")


@pytest.mark.parametrize(("settings", "camera", "subject", "hidden"), [
    (Settings(), GeoPoint(48.0, 11.0), None, False),
    (Settings(strip_location=True), GeoPoint(10, 10), None, True),
    (Settings(privacy_zones=(ZONE,)), GeoPoint(48.0005, 11.0), None, True),
    (Settings(privacy_zones=(ZONE,)), GeoPoint(48.01, 11.0), None, False),
    (Settings(privacy_zones=(ZONE,)), GeoPoint(40, 10), GeoPoint(48.0, 11.0001), True),
    (Settings(privacy_zones=(ZONE,)), None, None, False),
])
def test_location_hidden(settings: Settings, camera: GeoPoint | None, subject: GeoPoint | None,
                         hidden: bool) -> None:
    meta = PhotoMetadata(camera_position=camera, subject_position=subject)
    assert location_hidden(meta, settings) is hidden
    assert options_from_settings(settings, meta).hide_location is hidden


def test_options_from_settings() -> None:
    s = Settings(license="cc-by-4.0", author="Jane", username="JaneD", categories=("A",), language="de",
                 source="{{own}} x")
    o = options_from_settings(s, PhotoMetadata(), categories=("B",))
    assert o == PageOptions(license="cc-by-4.0", author="Jane", username="JaneD", categories=("A", "B"),
                            language="de", source="{{own}} x", hide_location=False)
    assert options_from_settings(s, PhotoMetadata(), username="Other", license="").username == "Other"
    assert options_from_settings(s, PhotoMetadata(), license="").license == ""


# ----------------------------------------------------------------------------- golden pages

GOLDEN_CASES: dict[str, tuple[PhotoMetadata, PageOptions]] = {
    # darktable: title + one description (x-default), creator, rights, flat + hierarchical tags
    "darktable": (
        PhotoMetadata(
            title="Frauenkirche at blue hour",
            descriptions={"x-default": "The Frauenkirche in Dresden,\nseen from the Neumarkt."},
            creator="Jane Doe", rights="CC BY-SA 4.0",
            keywords=("Dresden", "church", "Category:Frauenkirche (Dresden)"),
            hierarchical_keywords=("darktable|format|jpg", "Places|Germany|Dresden",
                                   "Category|Neumarkt (Dresden)"),
            date_taken=DateTaken(2023, 11, 4, 17, 2, 33),
            camera_position=GeoPoint(51.0517, 13.7416, heading=92.3),
            camera_make="NIKON CORPORATION", camera_model="NIKON Z 6_2", mime_type="image/jpeg",
        ),
        PageOptions(username="Jane Doe", categories=("Photographs by Jane Doe",)),
    ),
    # digiKam: several languages, x-default duplicated in en, Commons category tag tree, no title
    "digikam": (
        PhotoMetadata(
            descriptions={"x-default": "Old town hall | market square", "en": "Old town hall | market square",
                          "de": "Altes Rathaus am Marktplatz", "fr": "L'ancien hôtel de ville",
                          "pt-BR": "Antiga prefeitura"},
            creator="Hans Müller", date_taken=DateTaken(2022, 7, precision="month"),
            hierarchical_keywords=("Commons category|Altes Rathaus (Leipzig)", "Orte|Leipzig"),
            keywords=("Leipzig", "Rathaus"), mime_type="image/tiff",
        ),
        PageOptions(license="cc-by-4.0", author="Hans Müller", language="de"),
    ),
    # Lightroom: license URL, usage terms, camera + subject location shown, no categories
    "lightroom": (
        PhotoMetadata(
            title="Golden Gate Bridge", descriptions={"x-default": "Fog rolling in ~ 7 a.m. {{sic}}"},
            creator="Alex Kim", rights="© 2024 Alex Kim. Some rights reserved.",
            usage_terms="This work is licensed under CC BY 4.0",
            license_url="https://creativecommons.org/publicdomain/zero/1.0/",
            keywords=("bridge", "fog"), date_taken=DateTaken(2024, 1, 2, 7, 5, precision="minute"),
            camera_position=GeoPoint(37.8324, -122.4795, heading=-45.0),
            subject_position=GeoPoint(37.8199286, -122.4782551), mime_type="image/jpeg",
        ),
        PageOptions(license="cc-by-sa-4.0", username="AlexK"),
    ),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_pages(name: str) -> None:
    meta, options = GOLDEN_CASES[name]
    page = render_page(meta, options)
    path = GOLDEN / f"{name}.wiki"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(page.encode("utf-8"))
    assert page.encode("utf-8") == path.read_bytes()
