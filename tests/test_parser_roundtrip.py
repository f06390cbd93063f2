"""Escaping proved with MediaWiki's own parser (the session's real MediaWiki 1.39).

The test wiki gets *dumper* templates named like Commons' ones ({{Information}},
{{Location}}, {{Self}}, {{En}}, ...) that print every parameter inside a marked
element, each parameter on a line of its own (as Commons' table-based templates
do, so a value that would start a list or a table would show it). Each page we
render for an adversarial photo is parsed with ``action=parse`` (with the
pre-save transform, so signatures and subst: would act) and every field's
rendered text must equal what the photo said; the page may use no other
templates, categories, links or magic words. mwparserfromhell checks the same
wikitext independently.
"""

from __future__ import annotations

import json
import re
import subprocess
import unicodedata
import urllib.parse
import urllib.request
from html.parser import HTMLParser

import mwparserfromhell
import pytest

from commons_helper.photo import DateTaken, GeoPoint, PhotoMetadata
from commons_helper.wikitext import PageOptions, collect_categories, format_date, render_page
from tests.peers.mediawiki import MW_DIR, TestWiki

LANGS = ("en", "de", "fr", "ar", "he", "ja", "zh-hans", "pt-br", "ru")
FIELDS = ("description", "date", "source", "author", "permission", "other versions")


def put_page(wiki: TestWiki, title: str, text: str) -> None:
    """Create/replace a page with maintenance/edit.php (no login), text on stdin."""
    subprocess.run(
        ["php", str(MW_DIR / "maintenance" / "edit.php"), "--user", "Admin", "--summary", "roundtrip",
         title],
        input=text, text=True, env=wiki._php_env(), check=True, capture_output=True, timeout=120,
    )


def parse(wiki: TestWiki, text: str, title: str) -> dict[str, object]:
    body = urllib.parse.urlencode({
        "action": "parse", "format": "json", "formatversion": "2", "title": title, "text": text,
        "contentmodel": "wikitext", "pst": "1", "disablelimitreport": "1", "disableeditsection": "1",
        "prop": "text|categories|templates|links|externallinks|properties|sections",
    }).encode()
    req = urllib.request.Request(wiki.api, data=body, method="POST")  # noqa: S310 - loopback peer
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - loopback test peer
        data = json.loads(resp.read())
    assert "error" not in data, data
    return data["parse"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def dumpers(wiki: TestWiki) -> TestWiki:
    info = "".join(
        f'<div class="f-{name.replace(" ", "-")}">\n{{{{{{{name}|}}}}}}\n</div>' for name in FIELDS
    )
    put_page(wiki, "Template:Information", info)
    put_page(wiki, "Template:Location",
             '<span class="f-location">{{{1|}}};{{{2|}}};{{{3|}}};{{{4|}}}</span>')
    put_page(wiki, "Template:Object location", '<span class="f-objloc">{{{1|}}};{{{2|}}};{{{3|}}}</span>')
    put_page(wiki, "Template:Self", '<span class="f-self">{{{1|}}};{{{2|}}}</span>')
    put_page(wiki, "Template:Own", "own-work")
    put_page(wiki, "Template:Unc", '<span class="f-unc">uncategorized</span>')
    for lang in LANGS:
        put_page(wiki, f"Template:{lang[0].upper() + lang[1:]}",
                 f'<div class="lang" data-lang="{lang}">\n{{{{{{1|}}}}}}\n</div>')
    return wiki


class Fields(HTMLParser):
    """Text of every marked element (class f-* or lang), with <br> as a newline."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str | None] = []
        self.text: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.handle_data("\n")
            return
        a = dict(attrs)
        cls = a.get("class") or ""
        key = None
        if cls.startswith("f-"):
            key = cls
        elif cls == "lang":
            key = "lang-" + (a.get("data-lang") or "")
        if key is not None:
            self.text.setdefault(key, "")
        self.stack.append(key)

    def handle_endtag(self, tag: str) -> None:
        if tag != "br" and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        for key in self.stack:
            if key is not None:
                self.text[key] += data


def rendered_fields(html: str) -> dict[str, str]:
    p = Fields()
    p.feed(html)
    return {k: v.strip() for k, v in p.text.items()}


def visible(text: str) -> str:
    """What the photo's text should look like on the page (independent of wikitext.clean_text):
    NFC, line ends as LF, controls gone, trimmed; then MediaWiki's own French spacing
    (Sanitizer::armorFrenchSpaces turns a space before ?:;!%» into a no-break space)."""
    text = re.sub("[\ud800-\udfff]", "\ufffd", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(c for c in text if c in "\t\n" or not (ord(c) < 32 or 0x7F <= ord(c) <= 0x9F))
    text = unicodedata.normalize("NFC", text).strip()
    text = re.sub(r" (?=[?:;!%»›](?!\w))", "\u00a0", text)
    return re.sub(r"([«‹]) ", "\\1\u00a0", text)


ADVERSARIAL = [
    "a | b", "a = b", "x=1|y=2", "{{x}}", "}}", "{{", "{{!}}", "[[Category:Injected]]", "[[Foo]]", "]]",
    "[[", "<nowiki>", "</nowiki>", "<nowiki>}}</nowiki>", "~~~~", "~~~", "~~~~~", "line one\nline two",
    "a\r\nb\rc", "<ref>x</ref>", "<references />", "<b>bold</b> <script>alert(1)</script>",
    "&amp; &lt;b&gt; &#124; &nbsp;", "__NOTOC__", "__NOINDEX__ __HIDDENCAT__", "----", "* item", "# item",
    ": indent", "; term", " leading space", "- dash", "! header", "{| table", "|}", "=Heading=",
    "== Heading ==", "[http://example.org y]", "http://example.org/a_b?c=d", "ISBN 1234567890",
    "RFC 1234 and PMID 123", "''italic'' '''bold''' rock 'n' roll'", "'", "''", "it's",
    "עברית עם | סימנים", "العربية {{x}}", "日本語の説明", "emoji 📷🏔️👨‍👩‍👧", "e\u0301 decomposed",
    "bidi \u202eevil\u202c text", "lone \ud800 surrogate", "ctrl\x00\x07\x1b chars\x7f\x85",
    "tab\there", "<!-- comment -->", "-{zh-hans:a;zh-hant:b}-", "{{subst:x}} {{#if:1|y}} {{int:filedesc}}",
    "{{{1}}}", "&", "&#", "&#x41;", "a\n* b\n# c\n: d", "x\n\n\ny", "[[File:X.jpg|thumb]]",
    "[[:Category:X]]", "__TOC__", "{{DISPLAYTITLE:x}}", "{{DEFAULTSORT:x}}", "#REDIRECT [[Main Page]]",
    "magic ~~~~~ at end ~", "unicode\u2028separator", "\u00a0nbsp around\u00a0", "long " + "word " * 2000,
    "question ? colon : semi ; bang ! « guillemets »",
]


def make_meta(text: str, i: int) -> PhotoMetadata:
    return PhotoMetadata(
        descriptions={"en": text, "de": "Deutsch: " + text, "ar": "وصف " + text,
                      "ja": text + " 日本", "pt-br": text},
        creator=text,
        date_taken=DateTaken(2024, 5, 1, 18, 30, 12),
        camera_position=GeoPoint(48.858222, 2.2945, heading=135.0),
        subject_position=GeoPoint(48.8584, 2.2945),
        hierarchical_keywords=("Category|Eiffel Tower", f"Places|{text[:50]}"),
        keywords=("category:paris", text[:50]),
        license_url="https://creativecommons.org/licenses/by-sa/4.0/",
    )


def check_page(wiki: TestWiki, page: str, meta: PhotoMetadata, options: PageOptions, name: str,
               expect_text: dict[str, str]) -> None:
    parsed = parse(wiki, page, f"File:Roundtrip {name}.jpg")
    html = parsed["text"]
    assert isinstance(html, str)
    got = rendered_fields(html)
    for key, want in expect_text.items():
        assert got.get(key) == want, (key, got.get(key), want)
    # Nothing else happened to the page.
    cats = {c["category"].replace("_", " ") for c in parsed["categories"]}  # type: ignore[attr-defined,index]
    assert cats == set(collect_categories(meta, options.categories))
    allowed = {"Template:Information", "Template:Location", "Template:Object location", "Template:Self",
               "Template:Own", *(f"Template:{x[0].upper() + x[1:]}" for x in LANGS)}
    templates = {t["title"] for t in parsed["templates"]}  # type: ignore[attr-defined,index]
    assert templates <= allowed, templates - allowed
    assert {"Template:Information", "Template:Self", "Template:Own"} <= templates
    links = {(x["ns"], x["title"]) for x in parsed["links"]}  # type: ignore[attr-defined,index]
    assert links <= {(2, "User:Roundtrip tester")}, links
    for url in parsed["externallinks"]:  # type: ignore[attr-defined]
        assert url in "".join(meta.descriptions.values()), url
    assert not parsed["properties"], parsed["properties"]
    assert [s["line"] for s in parsed["sections"]] == [  # type: ignore[attr-defined,index]
        "Summary", "Licensing"]
    assert "Special:Contributions" not in html and "127.0.0.1" not in html
    assert "<ref" not in html and "mw-references" not in html and "<script" not in html


def check_with_mwparserfromhell(page: str, meta: PhotoMetadata) -> None:
    code = mwparserfromhell.parse(page)
    names = [str(t.name).strip() for t in code.filter_templates(recursive=False)]
    assert names[0] == "Information" and "self" in names
    assert set(names) <= {"Information", "Location", "Object location", "self", "subst:unc"}
    info = code.filter_templates(recursive=False)[0]
    assert [str(p.name).strip() for p in info.params] == list(FIELDS)
    desc = info.get("description").value
    langs = desc.filter_templates(recursive=False)
    assert [str(t.name) for t in langs] == ["en", "de", "ar", "ja", "pt-br"]
    for t in langs:
        assert [str(p.name) for p in t.params] == ["1"]
        for node in t.get("1").value.nodes:
            nodes = mwparserfromhell.nodes
            assert (
                isinstance(node, nodes.Text | nodes.HTMLEntity)
                or (isinstance(node, nodes.Tag) and str(node.tag) in ("br", "b"))
                # a bare URL stays a clickable link, as on any wiki page; bracketed ones never form
                or (isinstance(node, nodes.ExternalLink) and not node.brackets)
            ), repr(node)
    links = [str(link.title) for link in code.filter_wikilinks()]
    assert all(t.startswith(("Category:", "User:")) for t in links), links


@pytest.mark.parametrize("index", range(len(ADVERSARIAL)))
def test_adversarial_text_renders_exactly(dumpers: TestWiki, unique: str, index: int) -> None:
    text = ADVERSARIAL[index]
    meta = make_meta(text, index)
    options = PageOptions(username="Roundtrip tester", categories=("Test uploads",), language="en")
    page = render_page(meta, options)
    expect = {
        "lang-en": visible(text), "lang-de": visible("Deutsch: " + text),
        "lang-ar": visible("وصف " + text), "lang-ja": visible(text + " 日本"),
        "lang-pt-br": visible(text), "f-author": visible(text) or "Roundtrip tester",
        "f-date": format_date(meta.date_taken), "f-source": "own-work",
        "f-self": "cc-by-sa-4.0;", "f-location": "48.858222;2.2945;heading:135;",
        "f-objloc": "48.8584;2.2945;", "f-permission": "", "f-other-versions": "",
    }
    check_page(dumpers, page, meta, options, f"{unique} {index}", expect)
    check_with_mwparserfromhell(page, meta)


@pytest.mark.parametrize("title", ["Rock 'n' roll'", "'quoted'", "a | b {{x}}", "~~~~", "* star", "''"])
def test_title_in_description_renders_exactly(dumpers: TestWiki, unique: str, title: str) -> None:
    meta = PhotoMetadata(title=title, descriptions={"x-default": "The description"}, creator="Jane",
                         license_url="http://creativecommons.org/publicdomain/zero/1.0/")
    options = PageOptions(author="Jane Doe")
    page = render_page(meta, options)
    parsed = parse(dumpers, page, f"File:Roundtrip title {unique}.jpg")
    got = rendered_fields(parsed["text"])  # type: ignore[arg-type]
    assert got["lang-en"] == visible(title) + "\n" + "The description"
    assert got["f-self"] == "cc-zero;"
    assert got["f-author"] == "Jane"
    # no category at all: UploadWizard's {{subst:unc}} was substituted by the pre-save transform
    assert got["f-unc"] == "uncategorized"
    assert parsed["categories"] == []


def test_settings_wikitext_and_license_template_are_used_as_written(dumpers: TestWiki, unique: str) -> None:
    meta = PhotoMetadata(descriptions={"en": "x"}, creator="Jane")
    options = PageOptions(license="{{self|GFDL|cc-by-sa-4.0}}", source="{{own}} (scan)",
                          permission="[[User:Jane|see my page]]", other_versions="none",
                          hide_location=True)
    parsed = parse(dumpers, render_page(meta, options), f"File:Roundtrip options {unique}.jpg")
    got = rendered_fields(parsed["text"])  # type: ignore[arg-type]
    assert got["f-self"] == "GFDL;cc-by-sa-4.0"
    assert got["f-source"] == "own-work (scan)"
    assert got["f-permission"] == "see my page"
    assert "f-location" not in got and "f-objloc" not in got


def test_category_names_from_keywords_render_as_categories(dumpers: TestWiki, unique: str) -> None:
    odd = ["Rock 'n' roll", "A & B", "Café_au_lait", "Ünïcödé", "Müller (band)", "Name=Value", "x:y",
           "__NOTOC__ cat", "Ends with ~~"]
    meta = PhotoMetadata(hierarchical_keywords=tuple(f"Category|{c}" for c in odd), creator="Jane",
                         rights="CC BY 4.0")
    page = render_page(meta, PageOptions())
    parsed = parse(dumpers, page, f"File:Roundtrip cats {unique}.jpg")
    cats = [c["category"].replace("_", " ") for c in parsed["categories"]]  # type: ignore[index,union-attr]
    assert sorted(cats) == sorted(collect_categories(meta))
    assert not parsed["properties"]  # "__NOTOC__" in a category name did not become a magic word
    assert rendered_fields(parsed["text"])["f-self"] == "cc-by-4.0;"  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["darktable", "digikam", "lightroom"])
def test_golden_pages_parse_as_intended(dumpers: TestWiki, unique: str, name: str) -> None:
    from tests.test_wikitext import GOLDEN_CASES

    meta, options = GOLDEN_CASES[name]
    page = render_page(meta, options)
    parsed = parse(dumpers, page, f"File:Roundtrip golden {name} {unique}.jpg")
    got = rendered_fields(parsed["text"])  # type: ignore[arg-type]
    cats = [c["category"].replace("_", " ") for c in parsed["categories"]]  # type: ignore[index,union-attr]
    assert sorted(cats) == sorted(collect_categories(meta, options.categories))
    assert got["f-date"] == format_date(meta.date_taken)
    assert got["f-source"] == "own-work"
    assert (got.get("f-unc") == "uncategorized") == (not cats)
    shown = "\n".join(v for k, v in got.items() if k.startswith("lang-"))
    for text in (*meta.descriptions.values(), meta.title):
        assert visible(text) in shown, text
