"""Builders of test photos with metadata, written the way real tools write it.

Nothing is copied from elsewhere: a base image comes from ImageMagick
(``convert``), then metadata is written by

- ``darktable`` / ``digikam`` styles: exiv2 (through pyexiv2), as both programs use exiv2;
- ``lightroom`` style: an Adobe-looking XMP packet (attribute shorthand,
  ``photoshop:DateCreated`` with offset, usage terms, LocationShown) injected with exiftool;
- ``exiftool`` style: the ``exiftool`` command with ordinary tag names;
- ``plain``: no metadata at all.

Use from any test::

    from tests.photos import PhotoSpec, make_photo
    path = make_photo(tmp_path, fmt="png", style="digikam", title="Zwinger", camera=None)

``make_photo`` returns the path; ``PhotoSpec(**overrides)`` is what was written
(so a test can compare). ``write_tags`` and ``exiftool`` write raw tags for
table-driven tests. Base images are cached per session, so a photo costs a
copy plus one metadata write (exiftool styles: one exiftool process).
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

FORMATS = ("jpg", "png", "tif", "webp")
STYLES = ("plain", "darktable", "digikam", "lightroom", "exiftool")

#: (lat, lon, altitude m or None, heading degrees or None)
Position = tuple[float, float, float | None, float | None]


@dataclass(frozen=True)
class PhotoSpec:
    """What a builder writes (each style maps these to its own tags)."""

    title: str = "Frauenkirche at dusk"
    descriptions: dict[str, str] = field(
        default_factory=lambda: {
            "x-default": "The Frauenkirche in Dresden at dusk",
            "de": "Die Frauenkirche in Dresden in der Abenddämmerung",
        }
    )
    creator: str = "Erika Mustermann"
    rights: str = "© 2024 Erika Mustermann, CC BY-SA 4.0"
    usage_terms: str = "Creative Commons Attribution-ShareAlike 4.0"
    license_url: str = "https://creativecommons.org/licenses/by-sa/4.0/"
    keywords: tuple[str, ...] = ("Frauenkirche", "Dresden", "dusk")
    hierarchical_keywords: tuple[str, ...] = ("Places|Germany|Dresden|Frauenkirche", "Time|dusk")
    date: str = "2024-05-17T21:03:22"  # local time, as written by the camera
    utc_offset: str | None = "+02:00"
    camera: Position | None = (51.0519, 13.7416, 112.5, 270.25)
    subject: Position | None = (51.0517, 13.7417, None, None)
    make: str = "FUJIFILM"
    model: str = "X-T30"
    lens: str = "XF18-55mmF2.8-4 R LM OIS"
    exposure: str = "1/250"
    f_number: float = 2.8
    focal_length: float = 23.0
    iso: int = 400


def spec(**overrides: Any) -> PhotoSpec:
    known = {f.name for f in fields(PhotoSpec)}
    unknown = set(overrides) - known
    if unknown:
        raise TypeError(f"unknown PhotoSpec fields: {sorted(unknown)}")
    return PhotoSpec(**overrides)


# --------------------------------------------------------------------------------------------
# Base images and raw writers

_BASE_DIR: Path | None = None


def base_image(directory: Path, fmt: str = "jpg", name: str | None = None) -> Path:
    """A fresh 64x48 gradient image without metadata, copied from a per-process cache."""
    global _BASE_DIR
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}")
    if _BASE_DIR is None:
        _BASE_DIR = Path(tempfile.mkdtemp(prefix="commons-helper-photos-"))
    cached = _BASE_DIR / f"base.{fmt}"
    if not cached.exists():
        subprocess.run(
            ["convert", "-size", "64x48", "gradient:#336699-#ffcc00", "-strip", str(cached)],
            check=True,
            capture_output=True,
        )
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / (name or f"photo.{fmt}")
    shutil.copyfile(cached, out)
    return out


def write_tags(
    path: Path,
    exif: dict[str, Any] | None = None,
    iptc: dict[str, Any] | None = None,
    xmp: dict[str, Any] | None = None,
) -> Path:
    """Write raw tags with exiv2 (pyexiv2 keys; XMP lang-alt as {"lang": text}; lists for arrays)."""
    import pyexiv2

    pyexiv2.set_log_level(4)
    with pyexiv2.ImageData(path.read_bytes()) as img:
        if exif:
            img.modify_exif(exif)
        if iptc:
            img.modify_iptc(iptc)
        if xmp:
            fixed = {}
            for key, value in xmp.items():
                if isinstance(value, dict):  # lang-alt: pyexiv2 wants 'lang="de"' keys
                    value = {f'lang="{lang}"': text for lang, text in value.items()}
                fixed[key] = value
            if any(k.startswith("Xmp.darktable.") for k in fixed):
                pyexiv2.registerNs("http://darktable.sf.net/", "darktable")
            img.modify_xmp(fixed)
        path.write_bytes(img.get_bytes())
    return path


def exiftool(path: Path, *args: str) -> Path:
    """Run exiftool on ``path`` in place (UTF-8 arguments, IPTC marked as UTF-8)."""
    subprocess.run(
        ["exiftool", "-q", "-q", "-m", "-overwrite_original", "-charset", "utf8", *args, str(path)],
        check=True,
        capture_output=True,
    )
    return path


def exif_rational(value: float, denominator: int = 100) -> str:
    return f"{round(value * denominator)}/{denominator}"


def exif_dms(value: float) -> str:
    """Decimal degrees -> EXIF "d/1 m/1 s/1000" (sign dropped; refs say it)."""
    value = abs(value)
    deg = math.floor(value)
    minutes = math.floor((value - deg) * 60)
    seconds = (value - deg - minutes / 60) * 3600
    return f"{deg}/1 {minutes}/1 {round(seconds * 1000)}/1000"


def xmp_coordinate(value: float, pos: str, neg: str) -> str:
    """Decimal degrees -> XMP GPSCoordinate "DDD,MM.mmmmmmR"."""
    ref = neg if value < 0 else pos
    value = abs(value)
    deg = math.floor(value)
    return f"{deg},{(value - deg) * 60:.6f}{ref}"


def _exif_date(s: PhotoSpec) -> str:
    return s.date.replace("-", ":").replace("T", " ")


def _exif_block(s: PhotoSpec, *, gps: bool = True) -> dict[str, Any]:
    exif: dict[str, Any] = {
        "Exif.Image.Make": s.make,
        "Exif.Image.Model": s.model,
        "Exif.Photo.LensModel": s.lens,
        "Exif.Photo.DateTimeOriginal": _exif_date(s),
        "Exif.Photo.ExposureTime": s.exposure,
        "Exif.Photo.FNumber": exif_rational(s.f_number, 10),
        "Exif.Photo.FocalLength": exif_rational(s.focal_length, 10),
        "Exif.Photo.ISOSpeedRatings": str(s.iso),
    }
    if s.utc_offset:
        exif["Exif.Photo.OffsetTimeOriginal"] = s.utc_offset
    if gps and s.camera:
        lat, lon, alt, heading = s.camera
        exif |= {
            "Exif.GPSInfo.GPSLatitudeRef": "S" if lat < 0 else "N",
            "Exif.GPSInfo.GPSLatitude": exif_dms(lat),
            "Exif.GPSInfo.GPSLongitudeRef": "W" if lon < 0 else "E",
            "Exif.GPSInfo.GPSLongitude": exif_dms(lon),
        }
        if alt is not None:
            exif["Exif.GPSInfo.GPSAltitudeRef"] = "1" if alt < 0 else "0"
            exif["Exif.GPSInfo.GPSAltitude"] = exif_rational(abs(alt))
        if heading is not None:
            exif["Exif.GPSInfo.GPSImgDirectionRef"] = "T"
            exif["Exif.GPSInfo.GPSImgDirection"] = exif_rational(heading)
    return {k: v for k, v in exif.items() if v != ""}


def _drop_empty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in ("", None, [], (), {})}


# --------------------------------------------------------------------------------------------
# Styles


def darktable_style(path: Path, s: PhotoSpec) -> Path:
    """darktable 4.2 export: XMP dc:* (x-default), lr:hierarchicalSubject, XMP GPS, camera EXIF."""
    xmp: dict[str, Any] = {
        "Xmp.dc.title": {"x-default": s.title} if s.title else None,
        "Xmp.dc.description": dict(s.descriptions),
        "Xmp.dc.creator": [s.creator] if s.creator else None,
        "Xmp.dc.rights": {"x-default": s.rights} if s.rights else None,
        "Xmp.dc.subject": list(s.keywords),
        "Xmp.lr.hierarchicalSubject": list(s.hierarchical_keywords),
        "Xmp.xmp.Rating": "3",
        "Xmp.exif.DateTimeOriginal": s.date,
        "Xmp.darktable.xmp_version": "5",
        "Xmp.xmpMM.DerivedFrom": "DSCF1234.RAF",
    }
    if s.camera:
        lat, lon, alt, _ = s.camera
        xmp["Xmp.exif.GPSVersionID"] = "2.2.0.0"
        xmp["Xmp.exif.GPSLatitude"] = xmp_coordinate(lat, "N", "S")
        xmp["Xmp.exif.GPSLongitude"] = xmp_coordinate(lon, "E", "W")
        if alt is not None:
            xmp["Xmp.exif.GPSAltitudeRef"] = "1" if alt < 0 else "0"
            xmp["Xmp.exif.GPSAltitude"] = exif_rational(abs(alt))
    return write_tags(path, exif=_exif_block(s), xmp=_drop_empty(xmp))


def digikam_style(path: Path, s: PhotoSpec) -> Path:
    """digiKam 8: TagsList "a/b", IPTC (UTF-8 marked), lang-alt descriptions, Windows XP tags."""
    first_description = s.descriptions.get("x-default") or next(iter(s.descriptions.values()), "")
    exif = _exif_block(s) | _drop_empty(
        {
            "Exif.Image.ImageDescription": first_description,
            "Exif.Image.Artist": s.creator,
            "Exif.Image.Copyright": s.rights,
            "Exif.Image.XPTitle": s.title,
            "Exif.Image.XPComment": first_description,
            "Exif.Image.XPKeywords": ";".join(s.keywords),
        }
    )
    xmp = _drop_empty(
        {
            "Xmp.dc.title": {"x-default": s.title} if s.title else None,
            "Xmp.dc.description": dict(s.descriptions),
            "Xmp.dc.creator": [s.creator] if s.creator else None,
            "Xmp.dc.rights": {"x-default": s.rights} if s.rights else None,
            "Xmp.dc.subject": list(s.keywords),
            "Xmp.digiKam.TagsList": [h.replace("|", "/") for h in s.hierarchical_keywords],
            "Xmp.lr.hierarchicalSubject": list(s.hierarchical_keywords),
            "Xmp.MicrosoftPhoto.LastKeywordXMP": [h.replace("|", "/") for h in s.hierarchical_keywords],
        }
    )
    iptc = None
    if path.suffix.lower() != ".webp":  # WebP has no IPTC block
        iptc = _drop_empty(
            {
                "Iptc.Envelope.CharacterSet": "\x1b%G",
                "Iptc.Application2.ObjectName": s.title,
                "Iptc.Application2.Caption": first_description,
                "Iptc.Application2.Keywords": list(s.keywords),
                "Iptc.Application2.Byline": [s.creator] if s.creator else None,
                "Iptc.Application2.Copyright": s.rights,
                "Iptc.Application2.DateCreated": s.date[:10],
                "Iptc.Application2.TimeCreated": s.date[11:] + (s.utc_offset or "+00:00"),
            }
        )
    return write_tags(path, exif=exif, iptc=iptc, xmp=xmp)


def lightroom_xmp_packet(s: PhotoSpec, extra_properties: str = "") -> str:
    """An XMP packet laid out the way Adobe's toolkit writes it (attributes where it can)."""

    def alt(prop: str, texts: dict[str, str]) -> str:
        if not texts:
            return ""
        items = "".join(f'<rdf:li xml:lang="{lang}">{escape(t)}</rdf:li>' for lang, t in texts.items())
        return f"<{prop}><rdf:Alt>{items}</rdf:Alt></{prop}>"

    def bag(prop: str, items: tuple[str, ...] | list[str], kind: str = "Bag") -> str:
        if not items:
            return ""
        lis = "".join(f"<rdf:li>{escape(i)}</rdf:li>" for i in items)
        return f"<{prop}><rdf:{kind}>{lis}</rdf:{kind}></{prop}>"

    attrs = {
        "photoshop:DateCreated": s.date + ".45" + (s.utc_offset or ""),
        "xmp:CreateDate": s.date + ".45" + (s.utc_offset or ""),
        "xmpRights:Marked": "True",
        "xmpRights:WebStatement": s.license_url,
        "aux:Lens": s.lens,
        "exif:ExposureTime": s.exposure,
        "exif:FNumber": exif_rational(s.f_number, 10),
        "exif:FocalLength": exif_rational(s.focal_length, 10),
        "tiff:Make": s.make,
        "tiff:Model": s.model,
    }
    if s.camera:
        lat, lon, alt_m, heading = s.camera
        attrs["exif:GPSLatitude"] = xmp_coordinate(lat, "N", "S")
        attrs["exif:GPSLongitude"] = xmp_coordinate(lon, "E", "W")
        if alt_m is not None:
            attrs["exif:GPSAltitudeRef"] = "1" if alt_m < 0 else "0"
            attrs["exif:GPSAltitude"] = exif_rational(abs(alt_m))
        if heading is not None:
            attrs["exif:GPSImgDirection"] = exif_rational(heading)
    attr_text = " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items() if v)
    shown = ""
    if s.subject:
        slat, slon = s.subject[0], s.subject[1]
        shown = (
            "<Iptc4xmpExt:LocationShown><rdf:Bag><rdf:li rdf:parseType='Resource'>"
            "<Iptc4xmpExt:City>Dresden</Iptc4xmpExt:City>"
            f"<exif:GPSLatitude>{xmp_coordinate(slat, 'N', 'S')}</exif:GPSLatitude>"
            f"<exif:GPSLongitude>{xmp_coordinate(slon, 'E', 'W')}</exif:GPSLongitude>"
            "</rdf:li></rdf:Bag></Iptc4xmpExt:LocationShown>"
        )
    body = "".join(
        [
            alt("dc:title", {"x-default": s.title} if s.title else {}),
            alt("dc:description", dict(s.descriptions)),
            bag("dc:creator", [s.creator] if s.creator else [], "Seq"),
            alt("dc:rights", {"x-default": s.rights} if s.rights else {}),
            bag("dc:subject", s.keywords),
            bag("lr:hierarchicalSubject", s.hierarchical_keywords),
            alt("xmpRights:UsageTerms", {"x-default": s.usage_terms} if s.usage_terms else {}),
            bag("exif:ISOSpeedRatings", [str(s.iso)], "Seq"),
            shown,
            extra_properties,
        ]
    )
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0-c000 1.000000">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"\n'
        '    xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/"\n'
        '    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"\n'
        '    xmlns:aux="http://ns.adobe.com/exif/1.0/aux/"\n'
        '    xmlns:exif="http://ns.adobe.com/exif/1.0/"\n'
        '    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"\n'
        '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
        f"    {attr_text}>\n"
        f"   {body}\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )


def write_xmp_packet(path: Path, packet: str) -> Path:
    """Replace the file's XMP with ``packet``, byte for byte (through exiftool)."""
    sidecar = path.with_name(path.name + ".packet.xmp")
    sidecar.write_text(packet, encoding="utf-8")
    try:
        exiftool(path, f"-xmp<={sidecar}")
    finally:
        sidecar.unlink()
    return path


def lightroom_style(path: Path, s: PhotoSpec) -> Path:
    """Lightroom Classic export: everything that matters in XMP (dates with offset, GPS, usage terms)."""
    return write_xmp_packet(path, lightroom_xmp_packet(s))


def exiftool_style(path: Path, s: PhotoSpec) -> Path:
    """Tags written by hand with the exiftool command (EXIF + IPTC + XMP)."""
    args: list[str] = []

    def add(tag: str, value: str | float | None) -> None:
        if value not in ("", None):
            args.append(f"-{tag}={value}")

    add("XMP-dc:Title", s.title)
    for lang, text in s.descriptions.items():
        add("XMP-dc:Description" if lang == "x-default" else f"XMP-dc:Description-{lang}", text)
    add("XMP-dc:Creator", s.creator)
    add("XMP-dc:Rights", s.rights)
    add("XMP-xmpRights:UsageTerms", s.usage_terms)
    add("XMP-cc:License", s.license_url)
    for k in s.keywords:
        add("XMP-dc:Subject", k)
    for h in s.hierarchical_keywords:
        add("XMP-lr:HierarchicalSubject", h)
    add("EXIF:Make", s.make)
    add("EXIF:Model", s.model)
    add("EXIF:LensModel", s.lens)
    add("EXIF:DateTimeOriginal", _exif_date(s))
    add("EXIF:OffsetTimeOriginal", s.utc_offset)
    add("EXIF:ExposureTime", s.exposure)
    add("EXIF:FNumber", s.f_number)
    add("EXIF:FocalLength", s.focal_length)
    add("EXIF:ISO", s.iso)
    if s.camera:
        lat, lon, alt, heading = s.camera
        add("EXIF:GPSLatitude", abs(lat))
        add("EXIF:GPSLatitudeRef", "S" if lat < 0 else "N")
        add("EXIF:GPSLongitude", abs(lon))
        add("EXIF:GPSLongitudeRef", "W" if lon < 0 else "E")
        if alt is not None:
            add("EXIF:GPSAltitude", abs(alt))
            args.append(f"-EXIF:GPSAltitudeRef#={1 if alt < 0 else 0}")
        add("EXIF:GPSImgDirection", heading)
    if s.subject:
        add("XMP-iptcExt:LocationShownGPSLatitude", s.subject[0])
        add("XMP-iptcExt:LocationShownGPSLongitude", s.subject[1])
    if path.suffix.lower() in (".jpg", ".tif"):
        args.append("-IPTC:CodedCharacterSet=UTF8")
        add("IPTC:ObjectName", s.title)
        add("IPTC:Caption-Abstract", s.descriptions.get("x-default"))
        for k in s.keywords:
            add("IPTC:Keywords", k)
        add("IPTC:By-line", s.creator)
        add("IPTC:CopyrightNotice", s.rights)
    return exiftool(path, *args)


_STYLES = {
    "plain": lambda path, s: path,
    "darktable": darktable_style,
    "digikam": digikam_style,
    "lightroom": lightroom_style,
    "exiftool": exiftool_style,
}


def make_photo(
    directory: Path, fmt: str = "jpg", style: str = "darktable", name: str | None = None, **overrides: Any
) -> Path:
    """A photo in ``directory`` with the metadata of ``spec(**overrides)`` written in ``style``."""
    if style not in _STYLES:
        raise ValueError(f"style must be one of {STYLES}")
    path = base_image(directory, fmt, name)
    return _STYLES[style](path, spec(**overrides))  # type: ignore[no-any-return]
