"""Preparing one queued photo: spooled file + what the plugin sent → title, page text, bytes to send.

    read the file's metadata ─▶ overlay what the plugin sent ─▶ hide the location?
    (strip_location or a privacy zone: then a GPS-free copy is sent) ─▶ render the page
    ─▶ title: explicit title > the ledger's title (re-export: a new version) > the pattern

Synchronous (pyexiv2 is); the worker runs it in a thread. The plugin's tags are
hierarchical keywords ("Category|Bridges", "places|Paris"); our own
"Wikimedia Commons|…" tags and darktable's internal "darktable|…" tags are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Settings
from .errors import TitleError
from .metadata import read_metadata, strip_location
from .photo import DEFAULT_LANG, DateTaken, GeoPoint, PhotoMetadata
from .titles import BatchTitles, clean_title, extension_for, fit_title, make_title, normalize_extension
from .wikitext import location_hidden, options_from_settings, render_page

#: Tag roots that are bookkeeping, not subject keywords.
IGNORED_TAG_ROOTS = ("wikimedia commons", "darktable")
_EXIF_DATE = re.compile(
    r"^(\d{4})[:-](\d{2})[:-](\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?(?:\.\d+)?"
    r"(Z|[+-]\d{2}:?\d{2})?$")


@dataclass(frozen=True)
class Prepared:
    title: str  # "Name.jpg", no "File:"
    text: str
    comment: str
    on_exists: str  # rename | new-version | fail
    upload_path: Path  # the spooled file, or its GPS-free copy
    reexport: bool
    location_hidden: bool


def parse_datetime(text: str) -> DateTaken | None:
    """``"2024:05:01 12:30:00"`` (EXIF) or ISO 8601 → DateTaken; anything else → None."""
    m = _EXIF_DATE.match(text.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, tz = m.groups()
    if h is None:
        return DateTaken(int(y), int(mo), int(d), precision="day")
    offset = None
    if tz:
        offset = "+00:00" if tz == "Z" else (tz if ":" in tz else f"{tz[:3]}:{tz[3:]}")
    return DateTaken(int(y), int(mo), int(d), int(h), int(mi), int(s) if s else None,
                     precision="second" if s else "minute", utc_offset=offset)


def split_tags(tags: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(flat keywords, hierarchical keywords) without our own and darktable's bookkeeping tags."""
    flat: list[str] = []
    hierarchical: list[str] = []
    for tag in tags:
        parts = [p.strip() for p in tag.split("|") if p.strip()]
        if not parts or parts[0].casefold() in IGNORED_TAG_ROOTS:
            continue
        if len(parts) == 1:
            flat.append(parts[0])
        else:
            hierarchical.append("|".join(parts))
    return tuple(dict.fromkeys(flat)), tuple(dict.fromkeys(hierarchical))


def plugin_metadata(sent: dict[str, Any]) -> PhotoMetadata:
    """What the photo manager sent (``meta.metadata``) as a PhotoMetadata to overlay on the file's."""
    flat, hierarchical = split_tags(list(sent.get("tags") or []))
    position = None
    if sent.get("latitude") is not None and sent.get("longitude") is not None:
        position = GeoPoint(float(sent["latitude"]), float(sent["longitude"]),
                            sent.get("elevation"), sent.get("heading"))
    description = str(sent.get("description") or "")
    return PhotoMetadata(
        title=str(sent.get("title") or ""),
        descriptions={DEFAULT_LANG: description} if description else {},
        creator=str(sent.get("creator") or ""),
        rights=str(sent.get("rights") or ""),
        keywords=flat,
        hierarchical_keywords=hierarchical,
        date_taken=parse_datetime(str(sent.get("datetime_taken") or "")),
        camera_position=position,
        camera_model=str(sent.get("camera") or ""),
        lens=str(sent.get("lens") or ""),
    )


def job_settings(settings: Settings, options: dict[str, Any]) -> Settings:
    """The service's settings under this export's choices (empty values keep the settings')."""
    def given(key: str) -> Any:
        value = options.get(key)
        return None if value in ("", None) else value

    return settings.with_overrides(
        author=given("author"), language=given("language"), title_pattern=given("title_pattern"),
        strip_location=True if options.get("strip_location") else None)


def _explicit_title(title: str, meta: PhotoMetadata, file_name: str) -> str:
    ext = extension_for(meta.mime_type, file_name)
    base = title.strip()
    if base[:5].lower() == "file:":
        base = base[5:]
    if "." in base and normalize_extension(base.rsplit(".", 1)[1]) == ext:
        base = base.rsplit(".", 1)[0]
    return fit_title(clean_title(base), ext)


def prepare(spool: Path, meta: dict[str, Any], settings: Settings, *, known_title: str | None,
            taken_titles: list[str], stripped_path: Path | None, file_name: str = "",
            username: str = "") -> Prepared:
    """Everything the engine needs for one job. Raises MetadataError, PageError, TitleError."""
    options = dict(meta.get("options") or {})
    settings = job_settings(settings, options)
    photo = read_metadata(spool).overlay(plugin_metadata(dict(meta.get("metadata") or {})))
    hidden = location_hidden(photo, settings)
    page_options = options_from_settings(
        settings, photo, username=username,
        license=options.get("license") or None, categories=tuple(options.get("categories") or ()))
    text = render_page(photo, page_options)

    reexport = bool(known_title) and options.get("on_reexport", "new-version") == "new-version" \
        and not options.get("title")
    batch = BatchTitles(taken_titles)
    if reexport:
        assert known_title is not None
        title = known_title.removeprefix("File:")
        if normalize_extension(title.rsplit(".", 1)[-1]) != extension_for(photo.mime_type, file_name):
            raise TitleError(
                f"This photo is on Commons as {known_title}, but this export is a "
                f"{photo.mime_type or 'different'} file: a new version cannot change the file "
                "type. Nothing was uploaded; export it in the same format again, or choose "
                "“separate new file” for re-exports.", code="reexport-type-changed")
        on_exists = "new-version"
        comment = options.get("comment") or (
            f"New version: {file_name or 'the photo'} edited and exported again (commons-helper)")
    else:
        if options.get("title"):
            title = _explicit_title(str(options["title"]), photo, file_name)
        else:
            title = make_title(photo, pattern=settings.title_pattern, seq=len(taken_titles) + 1,
                               filename=str((meta.get("source") or {}).get("filename") or file_name),
                               language=settings.language)
        title = batch.claim(title)
        on_exists = settings.on_exists
        comment = options.get("comment") or "Uploaded with commons-helper"

    upload_path = spool
    if hidden and stripped_path is not None:
        strip_location(spool, stripped_path)
        upload_path = stripped_path
    return Prepared(title=title, text=text, comment=comment, on_exists=on_exists,
                    upload_path=upload_path, reexport=reexport, location_hidden=hidden)
