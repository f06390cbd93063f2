"""Read a photo's EXIF, IPTC and XMP into a ``PhotoMetadata``; write copies without GPS.

The only module that imports pyexiv2 (lazily: importing it starts exiv2 and
sets its log level). Public API:

    read_metadata(path) -> PhotoMetadata
    strip_location(src, dst) -> None

Layers, top to bottom:

- ``read_metadata`` / ``strip_location`` check the file (``LocalFileError``
  when it is missing or unreadable, ``MetadataError`` when its type is not one
  we read), then talk to pyexiv2 inside ``_exiv2_errors``, the one place its
  exceptions are translated.
- ``_read_tags`` returns raw ``Tags`` (three dicts of decoded text plus the
  per-language XMP texts); ``metadata_from_tags`` maps them to a
  ``PhotoMetadata`` without any I/O. docs/metadata.md lists which field comes
  from where, in which order.

Text is never altered: no stripping, no escaping (``wikitext`` escapes). Values
that are only whitespace count as missing; EXIF ASCII values lose trailing NULs
and padding spaces, which cameras add.

pyexiv2 quirks handled here:

- Its LangAlt parser splits ``lang="de" a, lang="en" b`` on ``, lang="`` and
  mangles texts that contain that sequence; we read per-language texts from the
  raw XMP packet instead (and fall back to pyexiv2's dict if the packet cannot
  be parsed).
- It decodes every value with one encoding per call; we read everything as
  latin-1 (a lossless byte <-> str mapping) and decode each value ourselves:
  XMP as UTF-8, IPTC by its CharacterSet record, EXIF ASCII as UTF-8 falling
  back to latin-1.
- Opening by path encodes the path itself (Windows needs the ANSI code page),
  so non-ASCII paths there are read into memory and opened with ``ImageData``.
- At its default log level exiv2 prints warnings to stdout (which would break
  ``--json`` output); we mute it. Real failures still raise.
"""

from __future__ import annotations

import calendar
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from .errors import LocalFileError, MetadataError
from .filetypes import sniff_file
from .fileutil import atomic_write
from .photo import DEFAULT_LANG, DatePrecision, DateTaken, GeoPoint, PhotoMetadata

__all__ = ["SUPPORTED_MIME_TYPES", "Tags", "metadata_from_tags", "read_metadata", "strip_location"]

#: MIME types whose metadata we read and strip (what exiv2 reads and Commons accepts).
SUPPORTED_MIME_TYPES = frozenset({"image/jpeg", "image/png", "image/tiff", "image/webp"})

_FORMAT_NAMES = {
    "image/gif": "a GIF image",
    "image/svg+xml": "an SVG drawing",
    "application/pdf": "a PDF document",
    "video/webm": "a WebM video",
}

#: Texts cameras put into EXIF ImageDescription when the photographer wrote nothing.
_CAMERA_BOILERPLATE = frozenset(
    {
        "OLYMPUS DIGITAL CAMERA",
        "SONY DSC",
        "DIGITAL CAMERA",
        "KODAK Digital Still Camera",
        "Default",
        "default",
        "Exif_JPEG_PICTURE",
        "SAMSUNG",
        "MINOLTA DIGITAL CAMERA",
    }
)

Value = str | list[str]


@dataclass
class Tags:
    """Decoded raw metadata of one file (pyexiv2 keys -> text or list of texts)."""

    exif: dict[str, Value] = field(default_factory=dict)
    iptc: dict[str, Value] = field(default_factory=dict)
    xmp: dict[str, Value] = field(default_factory=dict)
    #: XMP language-alternative properties ("Xmp.dc.description") -> {lang: text}
    lang_alt: dict[str, dict[str, str]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Public API


def read_metadata(path: Path) -> PhotoMetadata:
    """Everything the file says about the photo (see docs/metadata.md for the sources)."""
    path = Path(path)
    mime = _check_file(path)
    with _exiv2_errors(path, "read the metadata of"):
        tags = _read_tags(path)
    return metadata_from_tags(tags, mime_type=mime)


def strip_location(src: Path, dst: Path) -> None:
    """Write a copy of ``src`` to ``dst`` without any GPS position; ``src`` is never modified.

    Removed: every EXIF GPS tag (the whole GPS IFD), every XMP property whose name
    is a GPS or latitude/longitude/altitude field (exif:GPS*, the coordinates
    in Iptc4xmpExt:LocationShown and LocationCreated, drone-dji:Gps*). Place
    names (city, sublocation) stay. The copy is read back and checked.
    """
    src, dst = Path(src), Path(dst)
    mime = _check_file(src)
    if dst.exists() and os.path.samefile(src, dst):
        raise LocalFileError(
            f"Refusing to strip the location of {src.name} in place: the original is never changed. "
            "Give a different destination file."
        )
    data = _read_bytes(src)
    with _exiv2_errors(src, "remove the location from"):
        stripped = _strip_gps_bytes(data)
    atomic_write(dst, stripped, mode=0o644)
    try:
        with _exiv2_errors(dst, "check the location-free copy"):
            left = _gps_keys(_read_tags(dst))
    except MetadataError:
        dst.unlink(missing_ok=True)
        raise
    if left:
        dst.unlink(missing_ok=True)
        raise MetadataError(
            f"Could not remove the location from {src.name} ({mime}): {', '.join(sorted(left))} "
            "survived. The original is unchanged and no copy was kept; upload it without "
            "stripping only if its location may be public.",
            code="location-not-stripped",
        )


# --------------------------------------------------------------------------------------------
# Files and pyexiv2 (the I/O layer)


def _check_file(path: Path) -> str:
    """The file's real MIME type; LocalFileError/MetadataError if we cannot read it."""
    try:
        size = path.stat().st_size
        mime = sniff_file(path)
    except FileNotFoundError as exc:
        raise LocalFileError(
            f"The photo {path} does not exist (any more). Nothing was read; export it again.",
            code="file-missing",
        ) from exc
    except IsADirectoryError as exc:
        raise LocalFileError(f"{path} is a folder, not a photo. Give the path of an image file.") from exc
    except OSError as exc:
        raise LocalFileError(
            f"The photo {path} cannot be read ({exc.strerror or exc}). Nothing was read; "
            "check the file's permissions and try again.",
            code="file-unreadable",
        ) from exc
    if size == 0:
        raise MetadataError(
            f"{path.name} is empty (0 bytes), probably an export that failed. Nothing was read; "
            "export the photo again."
        )
    if mime in SUPPORTED_MIME_TYPES:
        return mime
    what = _FORMAT_NAMES.get(mime or "", "not an image type we recognize (damaged or not an image)")
    raise MetadataError(
        f"{path.name} is {what}; commons-helper reads photos in JPEG, PNG, TIFF or WebP. "
        "Nothing was read; export the photo as JPEG (or PNG/TIFF/WebP) and try again.",
        code="unsupported-type",
    )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LocalFileError(
            f"The photo {path} cannot be read ({exc.strerror or exc}). Check the file and try again.",
            code="file-unreadable",
        ) from exc


_pyexiv2: Any = None


def _exiv2() -> Any:
    """pyexiv2, imported on first use (its import initialises exiv2) and muted."""
    global _pyexiv2
    if _pyexiv2 is None:
        import pyexiv2

        # Level 4 = mute: exiv2 would print warnings to stdout and turn logged
        # "errors" about harmless damage (e.g. odd maker notes) into exceptions.
        pyexiv2.set_log_level(4)
        _pyexiv2 = pyexiv2
    return _pyexiv2


@contextmanager
def _exiv2_errors(path: Path, doing: str) -> Iterator[None]:
    """The one place where pyexiv2's exceptions become ours."""
    try:
        yield
    except (RuntimeError, ValueError, UnicodeError) as exc:
        detail = str(exc).replace(str(path), path.name).strip() or type(exc).__name__
        raise MetadataError(
            f"Could not {doing} {path.name}: the file looks damaged or is not really the image "
            f"type it claims ({detail}). The file was left as it is; export the photo again.",
            code="bad-metadata",
        ) from exc


def _open(path: Path) -> Any:
    pyexiv2 = _exiv2()
    name = str(path)
    if name.isascii() or (os.name == "posix" and _utf8_ok(name)):
        return pyexiv2.Image(name, encoding="utf-8")
    # exiv2 opens paths with the narrow (ANSI) API on Windows: read the bytes instead.
    return pyexiv2.ImageData(_read_bytes(path))


def _utf8_ok(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes in a POSIX file name (surrogateescape)
        return False
    return True


def _read_tags(path: Path) -> Tags:
    with _open(path) as image:
        return _tags_of(image)


def _tags_of(image: Any) -> Tags:
    # latin-1 maps bytes 1:1 to str; each value is decoded properly below.
    try:
        exif = image.read_exif(encoding="latin-1")
    except UnicodeDecodeError:
        # A Windows XP* tag holds invalid UTF-16 and pyexiv2 gave up on the whole
        # EXIF block; read it raw (same call without the XP decoding) and drop XP*.
        from pyexiv2.convert import _parse_key

        exif = {
            k: v
            for k, v in _parse_key(image._exiv2api_image.read_exif(), "latin-1").items()
            if not k.startswith("Exif.Image.XP")
        }
    iptc = image.read_iptc(encoding="latin-1")
    xmp = image.read_xmp(encoding="latin-1")
    packet = image.read_raw_xmp(encoding="latin-1") if xmp else ""
    return _decode_tags(exif, iptc, xmp, packet)


def _decode_tags(exif: dict[str, Any], iptc: dict[str, Any], xmp: dict[str, Any], packet: str) -> Tags:
    tags = Tags()
    for key, value in exif.items():
        if key.startswith("Exif.Image.XP"):  # already decoded from UCS-2 by pyexiv2
            tags.exif[key] = _map(value, lambda s: s.rstrip("\x00"))
        else:
            tags.exif[key] = _map(value, _decode_exif_ascii)
    charset = _first(iptc.get("Iptc.Envelope.CharacterSet"))
    iptc_utf8 = charset is not None and charset.strip() in ("\x1b%G", "\x1b%/I")
    for key, value in iptc.items():
        tags.iptc[key] = _map(value, lambda s: _decode_text(s, utf8_declared=iptc_utf8))
    for key, value in xmp.items():
        if isinstance(value, dict):
            langs = {_lang_key(k): _utf8(v) for k, v in value.items()}
            tags.lang_alt[key] = langs
            tags.xmp[key] = langs.get(DEFAULT_LANG, next(iter(langs.values()), ""))
        else:
            tags.xmp[key] = _map(value, _utf8)
    if tags.lang_alt and packet:
        tags.lang_alt.update(_lang_alts_from_packet(_utf8(packet)))
    return tags


def _map(value: Any, fn: Any) -> Value:
    if isinstance(value, list):
        return [fn(v) for v in value]
    return str(fn(value))


def _utf8(s: str) -> str:
    return s.encode("latin-1").decode("utf-8", errors="replace")


def _decode_text(s: str, *, utf8_declared: bool = False) -> str:
    """Bytes (as latin-1 str) of a text whose encoding the file may not say: UTF-8, else cp1252."""
    raw = s.encode("latin-1")
    if utf8_declared:
        return raw.decode("utf-8", errors="replace")
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    return s  # latin-1


def _decode_exif_ascii(s: str) -> str:
    return _decode_text(s.rstrip("\x00 "))


def _lang_key(raw: str) -> str:
    m = re.fullmatch(r'lang="([^"]*)"', raw.strip())
    return _norm_lang(m.group(1) if m else raw)


def _norm_lang(lang: str) -> str:
    lang = lang.strip().lower()
    return lang if lang and lang != "x-default" else DEFAULT_LANG


_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_LANG_ALT_PROPERTIES = {
    "Xmp.dc.title": "{http://purl.org/dc/elements/1.1/}title",
    "Xmp.dc.description": "{http://purl.org/dc/elements/1.1/}description",
    "Xmp.dc.rights": "{http://purl.org/dc/elements/1.1/}rights",
    "Xmp.xmpRights.UsageTerms": "{http://ns.adobe.com/xap/1.0/rights/}UsageTerms",
}


def _lang_alts_from_packet(packet: str) -> dict[str, dict[str, str]]:
    """Per-language texts of the lang-alt properties we use, exactly as in the XMP packet."""
    if "<!DOCTYPE" in packet or "<!ENTITY" in packet:  # XMP has no DTDs; never expand entities
        return {}
    try:
        root = ET.fromstring(packet.lstrip("\ufeff"))  # noqa: S314 (DTDs refused above)
    except ET.ParseError:
        return {}
    found: dict[str, dict[str, str]] = {}
    for key, tag in _LANG_ALT_PROPERTIES.items():
        for prop in root.iter(tag):
            alt = prop.find(f"{{{_RDF}}}Alt")
            if alt is None:
                continue
            langs: dict[str, str] = {}
            for li in alt.findall(f"{{{_RDF}}}li"):
                langs.setdefault(_norm_lang(li.get(_XML_LANG, "")), li.text or "")
            found[key] = langs
            break
    return found


# --------------------------------------------------------------------------------------------
# Stripping


_GPS_PROPERTY = re.compile(r"(?i)^(gps|latitude|longitude|absolutealtitude|relativealtitude)")


def _gps_keys(tags: Tags) -> set[str]:
    keys = {k for k in tags.exif if k.startswith("Exif.GPSInfo.") or k == "Exif.Image.GPSTag"}
    for key in tags.xmp:
        last = key.rsplit("/", 1)[-1]
        name = last.split(":", 1)[-1] if "/" in key else last.split(".", 2)[-1]
        if _GPS_PROPERTY.match(name):
            keys.add(key)
    return keys


def _strip_gps_bytes(data: bytes) -> bytes:
    pyexiv2 = _exiv2()
    with pyexiv2.ImageData(data) as image:
        gps = _gps_keys(_tags_of(image))
        exif_keys = [k for k in gps if k.startswith("Exif.")]
        xmp_keys = [k for k in gps if k.startswith("Xmp.")]
        if exif_keys:
            image.modify_exif({k: None for k in exif_keys}, encoding="latin-1")
        if xmp_keys:
            image.modify_xmp({k: None for k in xmp_keys}, encoding="latin-1")
        return bytes(image.get_bytes())


# --------------------------------------------------------------------------------------------
# Mapping raw tags to a PhotoMetadata (pure)


def metadata_from_tags(tags: Tags, *, mime_type: str = "") -> PhotoMetadata:
    """The ``PhotoMetadata`` that ``tags`` describe (pure; see docs/metadata.md)."""
    exif, iptc, xmp = tags.exif, tags.iptc, tags.xmp
    return PhotoMetadata(
        title=_first_text(
            _pick_lang(_langs(tags, "Xmp.dc.title")),
            _text(iptc, "Iptc.Application2.ObjectName"),
            _text(exif, "Exif.Image.XPTitle"),
        ),
        descriptions=_descriptions(tags),
        creator=_first_text(
            _joined(xmp.get("Xmp.dc.creator")),
            _joined(iptc.get("Iptc.Application2.Byline")),
            _text(exif, "Exif.Image.Artist"),
            _text(exif, "Exif.Image.XPAuthor"),
        ),
        rights=_first_text(
            _pick_lang(_langs(tags, "Xmp.dc.rights")),
            _text(iptc, "Iptc.Application2.Copyright"),
            _text(exif, "Exif.Image.Copyright"),
        ),
        usage_terms=_pick_lang(_langs(tags, "Xmp.xmpRights.UsageTerms")),
        license_url=_first_text(_text(xmp, "Xmp.cc.license"), _text(xmp, "Xmp.xmpRights.WebStatement")),
        keywords=_keywords(tags),
        hierarchical_keywords=_hierarchical_keywords(xmp),
        date_taken=_date_taken(tags),
        camera_position=_camera_position(exif, xmp),
        subject_position=_struct_position(xmp, "LocationShown"),
        camera_make=_first_text(_text(exif, "Exif.Image.Make"), _text(xmp, "Xmp.tiff.Make")),
        camera_model=_first_text(_text(exif, "Exif.Image.Model"), _text(xmp, "Xmp.tiff.Model")),
        lens=_first_text(
            _text(exif, "Exif.Photo.LensModel"),
            _text(xmp, "Xmp.aux.Lens"),
            _text(xmp, "Xmp.exifEX.LensModel"),
        ),
        exposure_time=_exposure(_exif_or_xmp_rational(tags, "ExposureTime")),
        f_number=_f_number(tags),
        focal_length=_rounded(_exif_or_xmp_rational(tags, "FocalLength")),
        iso=_iso(exif, xmp),
        mime_type=mime_type,
    )


def _first(value: Value | None) -> str | None:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _text(tags: Mapping[str, Value], key: str) -> str:
    """The tag's text ("" when missing or only whitespace); lists give their first item."""
    value = _first(tags.get(key))
    return value if value and value.strip() else ""


def _first_text(*candidates: str) -> str:
    return next((c for c in candidates if c), "")


def _joined(value: Value | None) -> str:
    items = value if isinstance(value, list) else [value] if value else []
    return "; ".join(i for i in items if i.strip())


def _list(value: Value | None) -> list[str]:
    items = value if isinstance(value, list) else [value] if value else []
    return [i for i in items if i.strip()]


def _langs(tags: Tags, key: str) -> dict[str, str]:
    langs = tags.lang_alt.get(key)
    if langs is None:
        text = _text(tags.xmp, key)
        langs = {DEFAULT_LANG: text} if text else {}
    return {lang: text for lang, text in langs.items() if text.strip()}


def _pick_lang(langs: Mapping[str, str]) -> str:
    for lang in (DEFAULT_LANG, "en"):
        if langs.get(lang):
            return langs[lang]
    return next(iter(langs.values()), "")


def _descriptions(tags: Tags) -> dict[str, str]:
    langs = _langs(tags, "Xmp.dc.description")
    if not langs:
        text = _first_text(
            _text(tags.iptc, "Iptc.Application2.Caption"),
            _text(tags.exif, "Exif.Image.ImageDescription"),
        )
        if text and text.strip() not in _CAMERA_BOILERPLATE:
            langs = {DEFAULT_LANG: text}
    default = langs.get(DEFAULT_LANG)
    if default is not None and any(t == default for lang, t in langs.items() if lang != DEFAULT_LANG):
        del langs[DEFAULT_LANG]
    return langs


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i.strip()))


def _keywords(tags: Tags) -> tuple[str, ...]:
    for candidate in (
        _list(tags.xmp.get("Xmp.dc.subject")),
        _list(tags.iptc.get("Iptc.Application2.Keywords")),
        _text(tags.exif, "Exif.Image.XPKeywords").split(";"),
    ):
        found = _unique(candidate)
        if found:
            return found
    return ()


_MWG_KEYWORD = re.compile(
    r"^Xmp\.mwg-kw\.Keywords/mwg-kw:Hierarchy((?:\[\d+\](?:/mwg-kw:Children)?)+)/mwg-kw:(\w+)$"
)


def _hierarchical_keywords(xmp: Mapping[str, Value]) -> tuple[str, ...]:
    lightroom = _list(xmp.get("Xmp.lr.hierarchicalSubject"))
    digikam = [
        t.replace("/", "|")
        for t in _list(xmp.get("Xmp.digiKam.TagsList"))
        if not t.startswith("_Digikam_Internal_Tags_")
    ]
    return _unique([*lightroom, *digikam, *_mwg_keywords(xmp)])


def _mwg_keywords(xmp: Mapping[str, Value]) -> list[str]:
    """Paths of the MWG keyword tree: leaves, and inner nodes marked Applied."""
    names: dict[tuple[int, ...], str] = {}
    applied: set[tuple[int, ...]] = set()
    for key, value in xmp.items():
        m = _MWG_KEYWORD.match(key)
        if not m or isinstance(value, list):
            continue
        node = tuple(int(i) for i in re.findall(r"\[(\d+)\]", m.group(1)))
        if m.group(2) == "Keyword":
            names[node] = value
        elif m.group(2) == "Applied" and value.strip().lower() == "true":
            applied.add(node)
    paths = []
    for node in sorted(names):
        is_leaf = not any(other[: len(node)] == node and other != node for other in names)
        if not (is_leaf or node in applied):
            continue
        parts = [names.get(node[:i]) for i in range(1, len(node) + 1)]
        if all(parts):
            paths.append("|".join(p for p in parts if p))
    return paths


# ---- dates

_PRECISION_RANK: dict[DatePrecision, int] = {"year": 0, "month": 1, "day": 2, "minute": 3, "second": 4}
_EXIF_DATE = re.compile(r"^\s*(\d{4})(?::(\d{2})(?::(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?)?)?")
_XMP_DATE = re.compile(
    r"^\s*(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?)?)?)?\s*$"
)
_OFFSET = re.compile(r"^\s*(Z|([+-])(\d{2}):?(\d{2}))\s*$")


def _date_taken(tags: Tags) -> DateTaken | None:
    exif, xmp, iptc = tags.exif, tags.xmp, tags.iptc
    iptc_date = _text(iptc, "Iptc.Application2.DateCreated")
    iptc_time = _text(iptc, "Iptc.Application2.TimeCreated")
    candidates = [
        _parse_date(
            _EXIF_DATE,
            _text(exif, "Exif.Photo.DateTimeOriginal"),
            _text(exif, "Exif.Photo.OffsetTimeOriginal"),
        ),
        _parse_date(_XMP_DATE, _text(xmp, "Xmp.exif.DateTimeOriginal")),
        _parse_date(_XMP_DATE, _text(xmp, "Xmp.photoshop.DateCreated")),
        _parse_date(_XMP_DATE, f"{iptc_date}T{iptc_time}" if iptc_date and iptc_time else iptc_date),
    ]
    found = [c for c in candidates if c is not None]
    if not found:
        return None
    best = max(found, key=lambda d: _PRECISION_RANK[d.precision])  # first of the richest
    if best.utc_offset is None:
        for other in found:
            if other.utc_offset and _same_moment(best, other):
                return DateTaken(**{**best.__dict__, "utc_offset": other.utc_offset})
    return best


def _same_moment(a: DateTaken, b: DateTaken) -> bool:
    fields = ["year", "month", "day"]
    if a.precision in ("minute", "second"):
        fields += ["hour", "minute"]
    return all(getattr(a, f) == getattr(b, f) for f in fields)


def _parse_date(pattern: re.Pattern[str], text: str, offset_text: str = "") -> DateTaken | None:
    m = pattern.match(text)
    if not m:
        return None
    parts = [int(g) if g is not None else None for g in m.groups()[:6]]
    year, month, day, hour, minute, second = parts
    assert year is not None
    if year == 0:
        return None
    if not month:  # "2024:00:00" = only the year is known
        month = day = hour = minute = second = None
    elif not day:
        day = hour = minute = second = None
    if month is not None and not 1 <= month <= 12:
        return None
    if day is not None and not 1 <= day <= calendar.monthrange(year, month or 1)[1]:
        return None
    if hour is not None and not (hour < 24 and (minute or 0) < 60 and (second or 0) < 61):
        return None
    precision: DatePrecision
    if hour is not None:
        precision = "second" if second is not None else "minute"
    else:
        precision = "day" if day is not None else "month" if month is not None else "year"
    tz = m.group(7) if pattern is _XMP_DATE else None
    return DateTaken(
        year=year,
        month=month,
        day=day,
        hour=hour,
        minute=minute,
        second=second,
        precision=precision,
        utc_offset=_offset(tz or offset_text) if hour is not None else None,
    )


def _offset(text: str) -> str | None:
    m = _OFFSET.match(text) if text else None
    if not m:
        return None
    if m.group(1) == "Z":
        return "+00:00"
    sign, hh, mm = m.group(2), int(m.group(3)), int(m.group(4))
    if hh > 14 or mm > 59:
        return None
    return f"{sign}{hh:02d}:{mm:02d}"


# ---- positions


def _rational(text: str) -> Fraction | None:
    """First value of an EXIF/XMP rational ("617/5", "10", "2.8"); None if missing or x/0."""
    text = text.split()[0] if text.strip() else ""
    if not text:
        return None
    try:
        if "/" in text:
            num, den = text.split("/", 1)
            return None if int(den) == 0 else Fraction(int(num), int(den))
        return Fraction(text)
    except ValueError:
        return None


def _rationals(text: str) -> list[Fraction] | None:
    values = [_rational(part) for part in text.split()]
    if not values or any(v is None for v in values):
        return None
    return [v for v in values if v is not None]


def _exif_coordinate(exif: Mapping[str, Value], name: str, negative: str) -> float | None:
    parts = _rationals(_text(exif, f"Exif.GPSInfo.GPS{name}"))
    if not parts:
        return None
    value = sum(p / 60**i for i, p in enumerate(parts[:3]))
    sign = -1 if _text(exif, f"Exif.GPSInfo.GPS{name}Ref").strip().upper().startswith(negative) else 1
    return sign * float(value)


_XMP_COORD = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*,\s*(\d+(?:\.\d+)?)(?:\s*,\s*(\d+(?:\.\d+)?))?\s*([NSEWnsew])\s*$"
)
_DECIMAL_COORD = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*([NSEWnsew])?\s*$")


def _xmp_coordinate(text: str) -> float | None:
    """XMP GPSCoordinate ("51,30.123N", "51,30,7.38N") or a decimal ("-0.1275", "51.5N")."""
    m = _XMP_COORD.match(text)
    if m:
        deg, minutes, seconds, ref = m.groups()
        value = float(deg) + float(minutes) / 60 + float(seconds or 0) / 3600
    else:
        m = _DECIMAL_COORD.match(text)
        if not m:
            return None
        value, ref = float(m.group(1)), m.group(2) or ""
    return -value if ref.upper() in ("S", "W") else value


def _altitude(text: str, ref: str) -> float | None:
    value = _rational(text)
    if value is None:
        return None
    below = ref.strip() == "1" or ref.strip().lower().startswith("below")
    return -abs(float(value)) if below else float(value)


def _heading(text: str) -> float | None:
    value = _rational(text)
    return None if value is None else float(value) % 360


def _point(lat: float | None, lon: float | None, **extra: float | None) -> GeoPoint | None:
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if lat == 0 and lon == 0:  # what GPS units write without a fix
        return None
    return GeoPoint(lat=round(lat, 7), lon=round(lon, 7), **extra)


def _camera_position(exif: Mapping[str, Value], xmp: Mapping[str, Value]) -> GeoPoint | None:
    from_exif = _point(
        _exif_coordinate(exif, "Latitude", "S"),
        _exif_coordinate(exif, "Longitude", "W"),
        altitude=_altitude(
            _text(exif, "Exif.GPSInfo.GPSAltitude"), _text(exif, "Exif.GPSInfo.GPSAltitudeRef")
        ),
        heading=_heading(_text(exif, "Exif.GPSInfo.GPSImgDirection")),
    )
    from_xmp = _point(
        _xmp_coordinate(_text(xmp, "Xmp.exif.GPSLatitude")),
        _xmp_coordinate(_text(xmp, "Xmp.exif.GPSLongitude")),
        altitude=_altitude(_text(xmp, "Xmp.exif.GPSAltitude"), _text(xmp, "Xmp.exif.GPSAltitudeRef")),
        heading=_heading(_text(xmp, "Xmp.exif.GPSImgDirection")),
    )
    return from_exif or from_xmp or _struct_position(xmp, "LocationCreated")


def _struct_position(xmp: Mapping[str, Value], struct: str) -> GeoPoint | None:
    """First position in an IPTC Extension location (LocationShown[n] / LocationCreated)."""
    start = f"Xmp.iptcExt.{struct}"
    prefixes = [
        key.rsplit("/", 1)[0]
        for key in xmp
        if key.startswith(start) and key.endswith(":GPSLatitude") and key.count("/") == 1
    ]
    for prefix in dict.fromkeys(prefixes):  # exiv2 lists array items in order
        def get(name: str, prefix: str = prefix) -> str:
            return _text(xmp, f"{prefix}/exif:{name}") or _text(xmp, f"{prefix}/Iptc4xmpExt:{name}")

        point = _point(
            _xmp_coordinate(get("GPSLatitude")),
            _xmp_coordinate(get("GPSLongitude")),
            altitude=_altitude(get("GPSAltitude"), get("GPSAltitudeRef")),
        )
        if point:
            return point
    return None


# ---- exposure


def _exposure(value: Fraction | None) -> str:
    if value is None or value <= 0:
        return ""
    if value.denominator == 1:
        return str(value.numerator)
    if value < 1 and value.numerator == 1:
        return f"1/{value.denominator}"
    if value < 1 and (1 / value).denominator == 1:
        return f"1/{(1 / value).numerator}"
    return format(float(value), ".3g")


def _rounded(value: Fraction | None) -> float | None:
    return None if value is None or value <= 0 else round(float(value), 2)


def _exif_or_xmp_rational(tags: Tags, name: str) -> Fraction | None:
    return _rational(_text(tags.exif, f"Exif.Photo.{name}")) or _rational(_text(tags.xmp, f"Xmp.exif.{name}"))


def _f_number(tags: Tags) -> float | None:
    direct = _exif_or_xmp_rational(tags, "FNumber")
    if direct:
        return _rounded(direct)
    apex = _exif_or_xmp_rational(tags, "ApertureValue")  # APEX: f = 2 ** (Av / 2)
    return None if apex is None else round(2 ** (float(apex) / 2), 1)


def _iso(exif: Mapping[str, Value], xmp: Mapping[str, Value]) -> int | None:
    for text in (
        _text(exif, "Exif.Photo.ISOSpeedRatings"),
        _text(exif, "Exif.Photo.PhotographicSensitivity"),
        _text(exif, "Exif.Photo.RecommendedExposureIndex"),
        _text(xmp, "Xmp.exifEX.PhotographicSensitivity"),
        _text(xmp, "Xmp.exif.ISOSpeedRatings"),
    ):
        words = text.split()
        if words and words[0].isdigit() and 0 < int(words[0]) < 65535:
            return int(words[0])
    return None
