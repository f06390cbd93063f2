"""What we know about one photo: a plain, immutable record (no I/O here).

``metadata.read_metadata`` fills it from the file (EXIF/IPTC/XMP); the local
API can overlay what the photo manager sent (``PhotoMetadata.overlay``).
``wikitext`` and ``titles`` turn it into a page and a title.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

DatePrecision = Literal["year", "month", "day", "minute", "second"]

#: Language key for a description whose language the file does not say.
DEFAULT_LANG = "x-default"


@dataclass(frozen=True)
class GeoPoint:
    lat: float
    lon: float
    altitude: float | None = None
    heading: float | None = None  # degrees, 0 = north, clockwise


@dataclass(frozen=True)
class DateTaken:
    year: int
    month: int | None = None
    day: int | None = None
    hour: int | None = None
    minute: int | None = None
    second: int | None = None
    precision: DatePrecision = "second"
    utc_offset: str | None = None  # "+02:00" when the file says it


@dataclass(frozen=True)
class PhotoMetadata:
    title: str = ""
    #: language code (lowercase, e.g. "en", "de", "pt-br") or DEFAULT_LANG -> text
    descriptions: dict[str, str] = field(default_factory=dict)
    creator: str = ""
    rights: str = ""  # dc:rights / IPTC CopyrightNotice / EXIF Copyright
    usage_terms: str = ""  # xmpRights:UsageTerms
    license_url: str = ""  # cc:license or xmpRights:WebStatement
    keywords: tuple[str, ...] = ()  # flat keywords (dc:subject, IPTC Keywords)
    hierarchical_keywords: tuple[str, ...] = ()  # "a|b|c" (lr:hierarchicalSubject, digiKam TagsList as a|b)
    date_taken: DateTaken | None = None
    camera_position: GeoPoint | None = None
    subject_position: GeoPoint | None = None
    camera_make: str = ""
    camera_model: str = ""
    lens: str = ""
    exposure_time: str = ""  # "1/250" or "2.5"
    f_number: float | None = None
    focal_length: float | None = None  # mm
    iso: int | None = None
    mime_type: str = ""  # the real type of the file's content, e.g. "image/jpeg"

    def overlay(self, other: PhotoMetadata) -> PhotoMetadata:
        """Fields set in ``other`` win; empty ones keep ours. Keywords are merged."""
        changes: dict[str, object] = {}
        for name in self.__dataclass_fields__:
            value = getattr(other, name)
            if name in ("keywords", "hierarchical_keywords"):
                merged = tuple(dict.fromkeys((*getattr(self, name), *value)))
                changes[name] = merged
            elif name == "descriptions":
                changes[name] = {**self.descriptions, **value}
            elif value not in ("", None, (), {}):
                changes[name] = value
        return replace(self, **changes)  # type: ignore[arg-type]
