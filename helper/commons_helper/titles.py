"""Commons file titles from a pattern and a photo's metadata (pure, no I/O).

``make_title`` fills the pattern (default ``{title} {date}``), makes the result a
legal MediaWiki title, fits it into 240 bytes with the extension of the file's
real type, and refuses camera default names ("DSC_0042") and empty results.
``BatchTitles`` keeps the titles of one batch unique ("X.jpg", "X (2).jpg").
The rules are in docs/file-page.md ("Titles").
"""

from __future__ import annotations

import html
import re
import string
import unicodedata
from collections.abc import Iterable

from .errors import TitleError
from .filetypes import CANONICAL_EXTENSION, EXTENSION_MIME
from .photo import DEFAULT_LANG, PhotoMetadata
from .wikitext import clean_text, format_date, ucfirst

DEFAULT_PATTERN = "{title} {date}"
#: Commons' limit for a file name, in UTF-8 bytes, extension included, "File:" excluded.
MAX_TITLE_BYTES = 240
#: How much of a description stands in for a missing title.
MAX_FALLBACK_CHARS = 120
VARIABLES = ("title", "description", "date", "seq", "filename", "camera")

#: MediaWiki's File::normalizeExtension, plus "jpe".
_SQUISH = {"jpeg": "jpg", "jpe": "jpg", "tiff": "tif", "mpeg": "mpg", "ogv": "ogg", "htm": "html"}

_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);")
_COLON = re.compile(r"\s*:\s+")
_REPLACE = str.maketrans({
    "[": "(", "{": "(", "<": "(",
    "]": ")", "}": ")", ">": ")",
    "|": "-", ":": "-", "/": "-", "\\": "-",
    "#": "",
})
_PERCENT = re.compile(r"%(?=[0-9A-Fa-f]{2})")
_TILDES = re.compile(r"~{3,}")
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e]")
_WHITESPACE = re.compile(r"[\s_\u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
_EMPTY_PARENS = re.compile(r"\(\s*\)")
_EDGE = " -–—_,;.·"

_CAMERA_DEFAULT = re.compile(
    r"^(?:"
    r"(?:_?DSC[NF]?|DSCI|_?IMG|_MG|MVI|VID|PXL|CIMG|PICT|PIC|SANY|DJI|GOPR|GP|GH|GX|HPIM|IMAG|DCP|DCIM"
    r"|P|WhatsApp Image|Image|Photo|Foto|Picture|Bild)"
    r"(?=[\s_\-.()]*\d)[\d\s_\-.()]*"
    r"|IMG-\d{8}-WA\d+(?:[\s_\-.()]*\d*)*"
    r"|Untitled|Unnamed|Unbenannt|Sans titre"
    r")$",
    re.IGNORECASE,
)


def normalize_extension(ext: str) -> str:
    """Lower-case extension without the dot, normalised as MediaWiki does (jpeg -> jpg, tiff -> tif)."""
    e = ext.strip().lstrip(".").lower()
    return _SQUISH.get(e, e)


def extension_for(mime_type: str, filename: str = "") -> str:
    """The extension for the file's real type (``meta.mime_type``); the file name's only when unknown."""
    if mime_type:
        ext = CANONICAL_EXTENSION.get(mime_type.lower())
        if ext is None:
            raise TitleError(
                f"files of type {mime_type} cannot be uploaded by commons-helper; export the photo "
                "as JPEG, PNG, TIFF or WebP.",
                code="unknown-type",
            )
        return ext
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    ext = normalize_extension(base.rsplit(".", 1)[1]) if "." in base else ""
    if ext and ext in EXTENSION_MIME:
        return normalize_extension(CANONICAL_EXTENSION[EXTENSION_MIME[ext]])
    raise TitleError(
        f"cannot tell the type of {filename or 'this file'}: its content was not recognised and its "
        "name has no known extension. Export it as JPEG, PNG, TIFF or WebP.",
        code="unknown-type",
    )


def clean_title(text: str) -> str:
    """A legal title text: forbidden characters replaced, whitespace collapsed, first letter upper-case.

    ``[ { <`` -> ``(``, ``] } >`` -> ``)``, ``| / \\ :`` -> ``-`` (``": "`` -> ``" - "``), ``#``
    dropped, entities decoded (MediaWiki would), ``%41``-like sequences get a full-width ％,
    ``~~~`` -> ``~~``, control and bidi-override characters dropped, underscores are spaces.
    """
    if "&" in text:
        text = _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
    text = clean_text(text)
    text = _BIDI.sub("", text)
    text = _COLON.sub(" - ", text).translate(_REPLACE)
    text = _PERCENT.sub("\uff05", text)
    text = _TILDES.sub("~~", text)
    text = _WHITESPACE.sub(" ", text)
    text = _EMPTY_PARENS.sub("", text)
    text = _WHITESPACE.sub(" ", text).strip(_EDGE)
    return ucfirst(text)


def _cut_bytes(text: str, limit: int) -> str:
    """The longest prefix of ``text`` within ``limit`` UTF-8 bytes, never splitting a character
    and never leaving a combining mark without its base."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    cut = data[:limit].decode("utf-8", "ignore")
    full = len(cut)
    while full > 0 and full < len(text) and unicodedata.combining(text[full]):
        full -= 1
    return text[:full]


def fit_title(base: str, ext: str, suffix: str = "") -> str:
    """``base + suffix + "." + ext`` cut to MAX_TITLE_BYTES (the base is shortened, at a character)."""
    tail = f"{suffix}.{ext}"
    room = MAX_TITLE_BYTES - len(tail.encode("utf-8"))
    cut = _cut_bytes(base, room)
    if cut != base:
        cut = cut.rstrip(_EDGE)
    return cut + tail


def is_camera_default_name(base: str) -> bool:
    """True for names a camera or phone gives (DSC_0042, IMG_1234, P1000123, IMG-20240101-WA0001, ...)."""
    return bool(_CAMERA_DEFAULT.match(base.strip()))


def _first_line(text: str, limit: int = MAX_FALLBACK_CHARS) -> str:
    line = clean_text(text).split("\n", 1)[0].strip()
    if len(line) <= limit:
        return line
    cut = line[:limit]
    if " " in cut[limit // 2:]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(_EDGE)


def _description(meta: PhotoMetadata, language: str) -> str:
    d = meta.descriptions
    for key in (DEFAULT_LANG, language.lower()):
        if clean_text(d.get(key, "")):
            return d[key]
    for text in d.values():
        if clean_text(text):
            return text
    return ""


def _camera(meta: PhotoMetadata) -> str:
    make = clean_text(meta.camera_make)
    model = clean_text(meta.camera_model)
    if make and model and model.lower().startswith(make.split()[0].lower()):
        return model
    return f"{make} {model}".strip()


def _basename(filename: str) -> str:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] if "." in base else base


def check_pattern(pattern: str) -> None:
    """Raise TitleError ``bad-pattern`` unless every ``{...}`` in ``pattern`` is a known variable."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None]
    except ValueError as exc:
        raise TitleError(f"the title pattern {pattern!r} is malformed ({exc}); "
                         f"use variables like {{title}} {{date}}.", code="bad-pattern") from exc
    for f in fields:
        if f not in VARIABLES:
            raise TitleError(
                f"the title pattern {pattern!r} uses {{{f}}}; known variables are "
                + ", ".join("{" + v + "}" for v in VARIABLES) + ".",
                code="bad-pattern",
            )


def pattern_values(meta: PhotoMetadata, *, seq: int = 1, filename: str = "",
                   language: str = "en") -> dict[str, object]:
    """The variables a title pattern can use, for one photo."""
    description = _first_line(_description(meta, language))
    title = clean_text(meta.title).split("\n", 1)[0].strip() or description
    date = format_date(meta.date_taken)[:10]
    return {
        "title": title,
        "description": description,
        "date": date,
        "seq": seq,
        "filename": clean_text(_basename(filename)),
        "camera": _camera(meta),
    }


def make_title(
    meta: PhotoMetadata,
    *,
    pattern: str = DEFAULT_PATTERN,
    seq: int = 1,
    filename: str = "",
    language: str = "en",
) -> str:
    """The Commons file name (without ``File:``) for one photo, e.g. ``"Eiffel Tower 2024-05-01.jpg"``.

    ``filename`` is the original file name (for ``{filename}`` and, only when the
    content type is unknown, the extension). Raises TitleError: ``bad-pattern``,
    ``no-title`` (nothing meaningful left), ``camera-default-name``, ``unknown-type``.
    """
    check_pattern(pattern)
    ext = extension_for(meta.mime_type, filename)
    values = pattern_values(meta, seq=seq, filename=filename, language=language)
    try:
        raw = pattern.format_map(values)
    except (ValueError, TypeError) as exc:
        raise TitleError(f"the title pattern {pattern!r} cannot be filled ({exc}).",
                         code="bad-pattern") from exc
    base = clean_title(raw)
    # "Sunset.jpg" as a title must not become "Sunset.jpg.jpg".
    if "." in base and normalize_extension(base.rsplit(".", 1)[1]) in {*EXTENSION_MIME, ext}:
        base = clean_title(base.rsplit(".", 1)[0])
    if not any(ch.isalpha() for ch in base):
        raise TitleError(
            f"no meaningful file name for this photo (the pattern {pattern!r} gave {base!r}): give it "
            "a title (darktable: metadata editor; digiKam: Title) or change the title_pattern setting.",
            code="no-title",
        )
    if is_camera_default_name(base):
        raise TitleError(
            f"{base!r} is a camera's default name, which Commons refuses as senseless: give the photo "
            "a title (darktable: metadata editor; digiKam: Title) or change the title_pattern setting.",
            code="camera-default-name",
        )
    return fit_title(base, ext)


def title_key(title: str) -> str:
    """How MediaWiki tells titles apart: spaces and underscores are one, the first letter's case isn't."""
    t = title.strip()
    if t[:5].lower() == "file:":
        t = t[5:]
    return ucfirst(_WHITESPACE.sub(" ", t).strip())


class BatchTitles:
    """Unique titles within one batch: the second "X.jpg" becomes "X (2).jpg", then "X (3).jpg"."""

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self._taken: set[str] = {title_key(t) for t in taken}
        self._next: dict[str, int] = {}  # title key -> the next number to try, so claims stay O(1)

    def __contains__(self, title: object) -> bool:
        return isinstance(title, str) and title_key(title) in self._taken

    def claim(self, title: str) -> str:
        """``title`` if still free in this batch, else the first free "base (n).ext"; remembered."""
        chosen = title_key(title)
        if title_key(chosen) in self._taken:
            base, dot, ext = chosen.rpartition(".")
            if not dot:
                base, ext = chosen, ""
            key = title_key(title)
            n = self._next.get(key, 2)
            while True:
                chosen = fit_title(base, ext, f" ({n})") if ext else f"{base} ({n})"
                if title_key(chosen) not in self._taken:
                    break
                n += 1
            self._next[key] = n + 1
        self._taken.add(title_key(chosen))
        return chosen
