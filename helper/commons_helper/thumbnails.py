"""Small previews of queued photos for the web page (the only module that imports Pillow).

A thumbnail is a courtesy: any failure means "no thumbnail", never a failed upload.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

from .fileutil import atomic_write

log = logging.getLogger(__name__)

MAX_PX = 320


def make_thumbnail(src: Path, dst: Path, max_px: int = MAX_PX) -> bool:
    """Write a JPEG of at most ``max_px`` on its long side; True when one was written."""
    try:
        from PIL import Image, ImageOps

        with Image.open(src) as img:
            img.draft("RGB", (max_px * 2, max_px * 2))  # JPEG: decode at a reduced scale, fast
            img.load()
            small = ImageOps.exif_transpose(img) or img
            small.thumbnail((max_px, max_px))
            out = io.BytesIO()
            small.convert("RGB").save(out, "JPEG", quality=82, optimize=True)
    except Exception as exc:
        log.info("no thumbnail for %s: %s", src.name, exc)
        return False
    atomic_write(dst, out.getvalue(), mode=0o600)
    return True
