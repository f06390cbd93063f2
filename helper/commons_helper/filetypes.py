"""What a file really is, from its first bytes (pure; no I/O beyond reading a header)."""

from __future__ import annotations

from pathlib import Path

#: extension (lowercase, no dot) -> MIME type, for the formats photographers upload.
EXTENSION_MIME = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "jpe": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "webp": "image/webp",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
    "webm": "video/webm",
}

#: MIME type -> the extension Commons normalizes to.
CANONICAL_EXTENSION = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/tiff": "tif",
    "image/webp": "webp",
    "image/svg+xml": "svg",
    "application/pdf": "pdf",
    "video/webm": "webm",
}


def sniff_mime(header: bytes) -> str | None:
    """MIME type from the first bytes of a file (at least 16), or None if unknown."""
    if header.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if header.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if header.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if header.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "image/tiff"
    if header[:4] == b"RIFF" and header[8:12] == b"WEBP":
        return "image/webp"
    if header.startswith(b"%PDF-"):
        return "application/pdf"
    if header.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    stripped = header.lstrip()
    if stripped.startswith(b"<?xml") or stripped.startswith(b"<svg"):
        return "image/svg+xml"
    return None


def sniff_file(path: Path) -> str | None:
    with path.open("rb") as fh:
        return sniff_mime(fh.read(64))


def extension_of(name: str) -> str:
    """Lowercase extension without the dot ("" when none)."""
    base = name.rsplit("/", 1)[-1]
    if "." not in base:
        return ""
    return base.rsplit(".", 1)[1].lower()
