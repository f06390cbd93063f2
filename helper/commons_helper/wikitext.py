"""From a photo's metadata to the wikitext of its Commons file description page (pure, no I/O).

    =={{int:filedesc}}==
    {{Information
    |description={{en|1=...}}{{de|1=...}}
    |date=2024-05-01 18:30:12
    |source={{own}}
    |author=[[User:Name|Display name]]
    |permission=
    |other versions=
    }}
    {{Location|48.858222|2.2945|heading:135}}
    {{Object location|48.8584|2.2945}}

    =={{int:license-header}}==
    {{self|cc-by-sa-4.0}}

    [[Category:...]]

Every piece of text that comes from a photo goes through :func:`escape_text`,
which makes it inert wikitext: it renders as written and can never close a
template, add a link, category or template, sign, or start a list or heading.
Wikitext that comes from the user's own settings (source, permission, other
versions, a license template) is checked for balance instead
(:func:`check_fragment`). The rules are in docs/file-page.md and proved with
MediaWiki's own parser in tests/test_parser_roundtrip.py.
"""

from __future__ import annotations

import calendar
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from .config import Settings
from .errors import PageError
from .licenses import license_wikitext
from .photo import DEFAULT_LANG, DateTaken, GeoPoint, PhotoMetadata
from .privacy import in_privacy_zone

#: $wgMaxArticleSize on Commons (2048 KiB); a longer page cannot be saved.
MAX_PAGE_BYTES = 2048 * 1024

#: What UploadWizard adds to a file without categories on Commons (missingCategoriesWikiText).
UNCATEGORIZED = "{{subst:unc}}"


@dataclass(frozen=True)
class PageOptions:
    """What the file page needs beyond the photo itself (from settings and the signed-in user).

    ``license``: the default license when the photo names none — a template name
    (``cc-by-sa-4.0``), several (``GFDL|cc-by-sa-4.0``), a recognised name/URL, or one
    whole flat template (``{{self|GFDL|cc-by-sa-4.0}}``); "" means none (then a photo
    without its own license is refused). ``author`` is plain text; ``source``,
    ``permission`` and ``other_versions`` are the user's own wikitext.
    """

    license: str = ""
    author: str = ""
    username: str = ""
    categories: tuple[str, ...] = ()
    language: str = "en"
    source: str = "{{own}}"
    hide_location: bool = False
    permission: str = ""
    other_versions: str = ""


# --------------------------------------------------------------------------- escaping

_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 controls but tab and newline, DEL, C1 controls, noncharacters of the BMP.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff]")
_NEWLINES = re.compile("\r\n?")
_ESCAPES = str.maketrans({
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "|": "&#124;",
    "=": "&#61;",
    "{": "&#123;",
    "}": "&#125;",
    "[": "&#91;",
    "]": "&#93;",
    "~": "&#126;",
    "\n": "<br />",
})
# '' and ''' make italics/bold: escape an apostrophe next to another one or at either end.
_QUOTES = re.compile(r"^'|'$|'(?=')|(?<=')'")
# __NOTOC__ and friends: never two raw underscores in a row.
_UNDERSCORES = re.compile(r"_(?=_)")
# Magic links (ISBN 123..., RFC 123, PMID 123) when a wiki enables them.
_MAGIC = re.compile(r"\b(?=ISBN|RFC|PMID)[IRP]")
# At the start of a line these begin a list, a definition, a rule or a table cell.
_LINE_START = {"*": "&#42;", "#": "&#35;", ":": "&#58;", ";": "&#59;", "-": "&#45;", "!": "&#33;"}


def clean_text(text: str) -> str:
    """The text as it will show: the normalisations escaping applies before it escapes.

    Lone surrogates become U+FFFD, Unicode NFC (MediaWiki normalises every edit to
    it), control characters other than tab/newline dropped, CR LF / CR -> LF, and
    surrounding whitespace trimmed (MediaWiki trims named template parameters).
    """
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    text = _NEWLINES.sub("\n", text)
    text = _CONTROL.sub("", text)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return text.strip()


def escape_text(text: str) -> str:
    """Inert wikitext that renders as ``clean_text(text)``; newlines become ``<br />``."""
    text = clean_text(text)
    if not text:
        return ""
    out = text.translate(_ESCAPES)
    if "'" in out:
        out = _QUOTES.sub("&#39;", out)
    if "__" in out:
        out = _UNDERSCORES.sub("&#95;", out)
    if "ISBN" in out or "RFC" in out or "PMID" in out:
        out = _MAGIC.sub(lambda m: f"&#{ord(m.group(0))};", out)
    first = _LINE_START.get(out[0])
    if first is not None:
        out = first + out[1:]
    return out


def check_fragment(text: str, what: str) -> str:
    """The user's own wikitext for one template parameter, checked to stay inside it.

    Braces and brackets must balance and a ``|`` may only appear inside a nested
    template or link; signatures are refused. Raises PageError ``bad-option``.
    """
    depth_t = depth_l = 0
    i = 0
    n = len(text)
    problem = ""
    while i < n:
        two = text[i:i + 2]
        if two == "{{":
            depth_t += 1
            i += 2
            continue
        if two == "}}":
            depth_t -= 1
            if depth_t < 0:
                problem = "closes a template it did not open ('}}')"
                break
            i += 2
            continue
        if two == "[[":
            depth_l += 1
            i += 2
            continue
        if two == "]]":
            depth_l -= 1
            if depth_l < 0:
                problem = "closes a link it did not open (']]')"
                break
            i += 2
            continue
        if text[i] == "|" and depth_t == 0 and depth_l == 0:
            problem = "has a '|' outside a template or link (write {{!}})"
            break
        i += 1
    if not problem and (depth_t or depth_l):
        problem = "leaves a template or link open"
    if not problem and "~~~" in text:
        problem = "contains a signature (~~~)"
    if problem:
        raise PageError(f"the {what} setting {text!r} {problem}; fix it in your settings.",
                        code="bad-option")
    return text.strip()


# --------------------------------------------------------------------------- languages

_LANG_CODE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})*$")
#: Language variants that have their own template on Commons; others use the base language.
_VARIANTS = frozenset({
    "pt-br", "zh-hans", "zh-hant", "en-gb", "en-ca", "be-tarask", "sr-ec", "sr-el", "de-ch", "de-at",
})
#: Commons-specific template names (UploadWizard's languageTemplateFixups).
_LANG_FIXUPS = {"tl": "tgl"}


def language_template(code: str, default: str = "en") -> str:
    """The Commons language template for a language code ("de", "pt-BR" -> "pt-br", "x-default")."""
    c = code.strip().lower().replace("_", "-")
    if c == DEFAULT_LANG or not _LANG_CODE.match(c):
        c = default.strip().lower().replace("_", "-")
        if not _LANG_CODE.match(c):
            c = "en"
    if "-" in c and c not in _VARIANTS:
        c = c.split("-", 1)[0]
    return _LANG_FIXUPS.get(c, c)


def render_description(meta: PhotoMetadata, language: str = "en") -> str:
    """``{{en|1=...}}{{de|1=...}}``: the default language first, then the others in the photo's order.

    Text without a language (``x-default``) counts as ``language``; an ``x-default``
    text repeated in a language of its own is dropped. The photo's title goes into
    the first block (the default language's when it has text): alone when there is
    no description there, otherwise bold on a line of its own above the description,
    unless the description already begins with it.
    """
    default = language_template(DEFAULT_LANG, language)
    blocks: dict[str, list[str]] = {}
    explicit = {clean_text(t) for k, t in meta.descriptions.items() if k != DEFAULT_LANG}
    items = sorted(meta.descriptions.items(), key=lambda kv: language_template(kv[0], language) != default)
    for code, raw in items:
        text = clean_text(raw)
        if not text or (code == DEFAULT_LANG and text in explicit):
            continue
        texts = blocks.setdefault(language_template(code, language), [])
        if text not in texts:
            texts.append(text)
    title = clean_text(meta.title)
    parts: dict[str, list[str]] = {k: [escape_text(t) for t in v] for k, v in blocks.items()}
    if title:
        target = default if default in blocks or not blocks else next(iter(blocks))
        texts = blocks.get(target, [])
        if not texts:
            parts[target] = [escape_text(title)]
        elif not texts[0].startswith(title):
            parts[target].insert(0, "'''" + escape_text(title) + "'''")
    return "".join("{{" + lang + "|1=" + "<br />".join(v) + "}}" for lang, v in parts.items())


# --------------------------------------------------------------------------- date

def _date_fields(d: DateTaken) -> list[int]:
    order = ["year", "month", "day", "minute", "second"]
    wanted = order.index(d.precision) + 1
    values: list[int] = []
    if not 1 <= d.year <= 9999:
        return values
    values.append(d.year)
    if wanted < 2 or d.month is None or not 1 <= d.month <= 12:
        return values
    values.append(d.month)
    if wanted < 3 or d.day is None or not 1 <= d.day <= calendar.monthrange(d.year, d.month)[1]:
        return values
    values.append(d.day)
    if wanted < 4 or d.hour is None or d.minute is None or not (0 <= d.hour <= 23 and 0 <= d.minute <= 59):
        return values
    values += [d.hour, d.minute]
    if wanted < 5 or d.second is None or not 0 <= d.second <= 59:
        return values
    values.append(d.second)
    return values


def format_date(date: DateTaken | None) -> str:
    """ISO 8601 as precise as known: YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DD HH:MM(:SS).

    Impossible parts (month 13, 31 February, hour 24) end the date at the last
    valid part; the UTC offset is not written (Commons shows local time).
    """
    if date is None:
        return ""
    v = _date_fields(date)
    if not v:
        return ""
    out = f"{v[0]:04d}"
    if len(v) > 1:
        out += f"-{v[1]:02d}"
    if len(v) > 2:
        out += f"-{v[2]:02d}"
    if len(v) > 4:
        out += f" {v[3]:02d}:{v[4]:02d}"
    if len(v) > 5:
        out += f":{v[5]:02d}"
    return out


# --------------------------------------------------------------------------- location

def format_number(value: float, decimals: int) -> str:
    """Locale-independent decimal, trailing zeros dropped: 48.85822 -> "48.85822", 2.0 -> "2"."""
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _valid(point: GeoPoint) -> bool:
    return (math.isfinite(point.lat) and math.isfinite(point.lon)
            and -90 <= point.lat <= 90 and -180 <= point.lon <= 180)


def location_template(point: GeoPoint | None, name: str = "Location") -> str:
    """``{{Location|LAT|LON|heading:DEG}}`` with 6 decimals (~0.1 m); "" for no/invalid point."""
    if point is None or not _valid(point):
        return ""
    out = "{{" + name + "|" + format_number(point.lat, 6) + "|" + format_number(point.lon, 6)
    if name == "Location" and point.heading is not None and math.isfinite(point.heading):
        heading = round(point.heading % 360.0, 1) % 360.0
        out += "|heading:" + format_number(heading, 1)
    return out + "}}"


# --------------------------------------------------------------------------- names

_SPACES = re.compile("[ _\u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\t]+")
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e]")
_TITLE_ILLEGAL = re.compile(r"[#<>\[\]|{}\x00-\x1f\x7f]|%[0-9A-Fa-f]{2}|&[A-Za-z0-9\x80-\U0010ffff]+;")


def ucfirst(text: str) -> str:
    """First letter upper-case as MediaWiki does; kept when upper-casing would make two letters (ß)."""
    if not text:
        return text
    up = text[0].upper()
    return (up if len(up) == 1 else text[0]) + text[1:]


def clean_category(raw: str) -> str:
    """A category name from a keyword or setting, normalised ("category:old_town" -> "Old town").

    Accepts ``X``, ``Category:X`` and ``[[Category:X]]``. Raises PageError
    ``bad-category`` for a name MediaWiki cannot use as a title.
    """
    name = clean_text(raw)
    if name.startswith("[[") and name.endswith("]]"):
        name = name[2:-2]
    name = _BIDI.sub("", name)
    name = _SPACES.sub(" ", name).strip()
    if name.lower().startswith("category:"):
        name = name[len("category:"):].strip()
    name = name.lstrip(":").strip()
    bad = _TITLE_ILLEGAL.search(name)
    problem = ""
    if not name:
        problem = "is empty"
    elif bad:
        problem = f"contains {bad.group(0)!r}, which cannot be in a category name"
    elif "~~~" in name:
        problem = "contains ~~~"
    elif name in (".", "..") or name.startswith(("./", "../")) or "/./" in name or "/../" in name \
            or name.endswith(("/.", "/..")):
        problem = "is a relative path"
    elif len(name.encode("utf-8")) > 255:
        problem = "is longer than 255 bytes"
    if problem:
        raise PageError(
            f"the category {raw!r} {problem}; rename that keyword (or the categories setting) "
            "and export again.",
            code="bad-category",
        )
    return ucfirst(name)


_CATEGORY_ROOTS = ("category", "commons category")


def keyword_categories(meta: PhotoMetadata) -> list[str]:
    """Categories the photographer marked as such in the photo's keywords (raw names).

    Hierarchical ``Category|X`` or ``Commons category|X`` (root case-insensitive;
    the leaf is the category, so ``Category|Bridges|Pont Neuf`` gives "Pont Neuf")
    and flat ``Category:X``. Other keywords never become categories.
    """
    found: list[str] = []
    for kw in meta.hierarchical_keywords:
        parts = [p.strip() for p in kw.split("|")]
        if len(parts) >= 2 and parts[0].lower() in _CATEGORY_ROOTS and parts[-1]:
            found.append(parts[-1])
    for kw in meta.keywords:
        k = kw.strip()
        if k.lower().startswith("category:") and k[len("category:"):].strip():
            found.append(k)
    return found


def category_key(name: str) -> str:
    """How MediaWiki tells two category names apart: first letter case and space/underscore don't count."""
    return ucfirst(_SPACES.sub(" ", name).strip())


def collect_categories(meta: PhotoMetadata, extra: Iterable[str] = ()) -> list[str]:
    """The photo's marked categories, then ``extra``, cleaned and without duplicates (first wins)."""
    seen: set[str] = set()
    out: list[str] = []
    for raw in (*keyword_categories(meta), *extra):
        name = clean_category(raw)
        key = category_key(name)
        if key not in seen:
            seen.add(key)
            out.append(name)
    return out


_USERNAME_ILLEGAL = re.compile(
    r"[#<>\[\]|{}/:\x00-\x1f\x7f]|%[0-9A-Fa-f]{2}|&[A-Za-z0-9\x80-\U0010ffff]+;|~~~"
)


def clean_username(raw: str) -> str:
    """A Wikimedia username as a title ("jane_doe@upload" -> "Jane doe"; the bot-password suffix goes)."""
    name = clean_text(raw).split("@", 1)[0]
    name = _SPACES.sub(" ", _BIDI.sub("", name)).strip()
    if not name:
        return ""
    if _USERNAME_ILLEGAL.search(name) or len(name.encode("utf-8")) > 255:
        raise PageError(f"{raw!r} is not a valid Wikimedia username; fix the username setting.",
                        code="bad-option")
    return ucfirst(name)


def render_author(meta: PhotoMetadata, options: PageOptions) -> str:
    """``[[User:Name|Creator]]`` when the username is known, else the creator, else the author setting."""
    display = clean_text(meta.creator) or clean_text(options.author)
    user = clean_username(options.username)
    if user:
        return f"[[User:{user}|{escape_text(display or user)}]]"
    if display:
        return escape_text(display)
    raise PageError(
        "no author for this photo: it has no creator and neither the author nor the username "
        "setting is set. Set one (`commons-helper config set author \"Your Name\"`, or the web "
        "page's settings) and try again.",
        code="no-author",
    )


# --------------------------------------------------------------------------- the page

def render_page(meta: PhotoMetadata, options: PageOptions) -> str:
    """The complete file description page for one photo (see the module docstring for the layout).

    Raises PageError: ``no-license``, ``non-free-license``, ``bad-license``, ``no-author``,
    ``bad-category``, ``bad-option`` or ``page-too-long``.
    """
    license_line = license_wikitext(meta, options.license)
    author = render_author(meta, options)
    source = check_fragment(options.source, "source") or "{{own}}"
    permission = check_fragment(options.permission, "permission")
    other = check_fragment(options.other_versions, "other versions")
    categories = collect_categories(meta, options.categories)

    lines = [
        "=={{int:filedesc}}==",
        "{{Information",
        "|description=" + render_description(meta, options.language),
        "|date=" + format_date(meta.date_taken),
        "|source=" + source,
        "|author=" + author,
        "|permission=" + permission,
        "|other versions=" + other,
        "}}",
    ]
    if not options.hide_location:
        for line in (location_template(meta.camera_position, "Location"),
                     location_template(meta.subject_position, "Object location")):
            if line:
                lines.append(line)
    lines += ["", "=={{int:license-header}}==", license_line, ""]
    if categories:
        lines += [f"[[Category:{c}]]" for c in categories]
    else:
        lines.append(UNCATEGORIZED)
    page = "\n".join(lines) + "\n"
    size = len(page.encode("utf-8", "surrogatepass"))
    if size > MAX_PAGE_BYTES:
        raise PageError(
            f"the file page would be {size} bytes, more than the {MAX_PAGE_BYTES} bytes a wiki page "
            "may have; shorten the photo's description and export again.",
            code="page-too-long",
        )
    return page


def location_hidden(meta: PhotoMetadata, settings: Settings) -> bool:
    """True when no location of this photo may be published (strip_location, or inside a privacy zone)."""
    if settings.strip_location:
        return True
    for point in (meta.camera_position, meta.subject_position):
        if point is not None and in_privacy_zone(point, settings.privacy_zones) is not None:
            return True
    return False


def options_from_settings(
    settings: Settings,
    meta: PhotoMetadata,
    *,
    username: str = "",
    license: str | None = None,
    categories: Iterable[str] = (),
) -> PageOptions:
    """PageOptions for one photo from the settings (and the signed-in user, a per-upload license)."""
    return PageOptions(
        license=settings.license if license is None else license,
        author=settings.author,
        username=username or settings.username,
        categories=(*settings.categories, *categories),
        language=settings.language,
        source=settings.source,
        hide_location=location_hidden(meta, settings),
    )
