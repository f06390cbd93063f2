"""Small file helpers: atomic writes with owner-only permissions, hashing."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

HASH_BLOCK = 1024 * 1024


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never half.

    Temp file in the same folder, created with ``mode`` (never wider), fsync,
    rename, fsync the folder.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    try:
        dfd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def sha1_of_file(path: Path) -> str:
    """Hex SHA1 of a file, read in blocks (never the whole file in memory)."""
    digest = hashlib.sha1(usedforsecurity=False)  # MediaWiki identifies files by SHA1
    with path.open("rb") as fh:
        while block := fh.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()
