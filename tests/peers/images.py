"""Fast unique test images: a tiny real JPEG/PNG, made unique (and as large as asked) with comments.

A JPEG gets COM segments after SOI; a PNG gets tEXt chunks before IEND. Both stay valid files
that MediaWiki accepts; the bytes differ with ``tag``, so every test can upload its own file.
"""

from __future__ import annotations

import os
import struct
import subprocess
import zlib
from functools import cache
from pathlib import Path


@cache
def _base_jpeg() -> bytes:
    out = subprocess.run(["convert", "-size", "64x48", "gradient:#336699-#99ccff", "jpeg:-"],
                         check=True, capture_output=True)
    return out.stdout


def jpeg_bytes(tag: str, size: int = 0) -> bytes:
    base = _base_jpeg()
    segments = [_com(f"commons-helper test {tag}".encode())]
    total = len(base) + len(segments[0])
    while total < size:
        n = min(65533, size - total - 4)
        if n <= 0:
            break
        seg = _com(os.urandom(n // 2).hex().encode()[:n])
        segments.append(seg)
        total += len(seg)
    return base[:2] + b"".join(segments) + base[2:]


def _com(payload: bytes) -> bytes:
    return b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload


def make_jpeg(path: Path, tag: str, size: int = 0) -> Path:
    path.write_bytes(jpeg_bytes(tag, size))
    return path


def png_bytes(tag: str) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes([i * 4 % 256, 80, 160]) * 16 for i in range(16))
    ihdr = struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"tEXt", b"Comment\x00" + tag.encode()) + chunk(b"IEND", b""))


def make_png(path: Path, tag: str) -> Path:
    path.write_bytes(png_bytes(tag))
    return path
