"""Thumbnails for the web page: small, upright, never a reason to fail."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PIL import Image

from commons_helper.thumbnails import make_thumbnail


def image(path: Path, size: str, *extra: str) -> Path:
    subprocess.run(["convert", "-size", size, "gradient:#223344-#ddeeff", *extra, str(path)],
                   check=True, capture_output=True)
    return path


@pytest.mark.parametrize("name", ["big.jpg", "big.png", "big.tif", "big.webp"])
def test_formats_become_small_jpegs(tmp_path: Path, name: str) -> None:
    src = image(tmp_path / name, "1600x900")
    dst = tmp_path / "thumbs" / "t.jpg"
    assert make_thumbnail(src, dst)
    with Image.open(dst) as t:
        assert t.format == "JPEG" and max(t.size) == 320 and t.size == (320, 180)
    assert oct(dst.stat().st_mode & 0o777) == "0o600"


def test_rotated_photo_comes_out_upright(tmp_path: Path) -> None:
    src = image(tmp_path / "r.jpg", "600x300")
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-Orientation#=6", str(src)], check=True)
    dst = tmp_path / "t.jpg"
    assert make_thumbnail(src, dst)
    with Image.open(dst) as t:
        assert t.size == (160, 320)  # portrait after applying the EXIF rotation


def test_undecodable_file_gives_no_thumbnail(tmp_path: Path) -> None:
    src = tmp_path / "broken.jpg"
    src.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    assert make_thumbnail(src, tmp_path / "t.jpg") is False
    assert not (tmp_path / "t.jpg").exists()
