"""Taking a photo in: check the ``meta`` JSON against the contract and put the file durably in the spool.

Nothing from the request names a file on disk: spool names are generated
(``<job id>.<ext>``, the extension from the file's own first bytes). A file is
written to a hidden ``.part`` name, fsynced, renamed, and the folder fsynced
before the job is committed; only then does the API answer 201.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import re
import time
import unicodedata
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader

from ..errors import BadRequest, TooLarge, UnsupportedType
from ..filetypes import CANONICAL_EXTENSION, EXTENSION_MIME, extension_of, sniff_mime
from ..fileutil import fsync_dir

#: Default bounds (docs/api.md). Commons takes at most 5 GiB through chunked upload.
MAX_FILE_BYTES = 5 * 1024**3
MAX_META_BYTES = 256 * 1024
MAX_TEXT = 20_000
MAX_LIST = 500
READ_BLOCK = 1024 * 1024


# -- meta ---------------------------------------------------------------------------------------
# kind: "str", "int", "num", "bool", "strlist", ("enum", values), "idlike"
_SOURCE: dict[str, Any] = {"app": "str", "image_id": "idlike", "path": "str", "filename": "str",
                           "duplicate_index": "int", "commons_title": "str"}
_METADATA: dict[str, Any] = {"title": "str", "description": "str", "creator": "str", "rights": "str",
                             "tags": "strlist", "latitude": "num", "longitude": "num", "elevation": "num",
                             "heading": "num", "datetime_taken": "str", "camera": "str", "lens": "str"}
_OPTIONS: dict[str, Any] = {"license": "str", "categories": "strlist", "language": "str",
                            "title_pattern": "str", "title": "str",
                            "on_reexport": ("enum", ("new-version", "new-file")),
                            "strip_location": "bool", "author": "str", "comment": "str"}
_TOP: dict[str, Any] = {"batch": "str", "source": _SOURCE, "metadata": _METADATA, "options": _OPTIONS}


def _check(where: str, value: Any, kind: Any) -> Any:
    if value is None:
        return None
    if isinstance(kind, dict):
        if not isinstance(value, dict):
            raise BadRequest(f"meta{where} must be a JSON object", code="bad-meta")
        unknown = sorted(set(value) - set(kind))
        if unknown:
            raise BadRequest(f"meta{where} has unknown field(s) {', '.join(map(repr, unknown))}; "
                             f"known: {', '.join(kind)}", code="unknown-field")
        return {k: _check(f"{where}.{k}", v, kind[k]) for k, v in value.items()}
    if kind == "str":
        if not isinstance(value, str):
            raise BadRequest(f"meta{where} must be a string", code="bad-meta")
        if len(value) > MAX_TEXT:
            raise TooLarge(f"meta{where} is longer than {MAX_TEXT} characters", code="meta-too-large")
        return value
    if kind == "idlike":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise BadRequest(f"meta{where} must be a number or a string", code="bad-meta")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadRequest(f"meta{where} must be a whole number", code="bad-meta")
        return value
    if kind == "num":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise BadRequest(f"meta{where} must be a JSON number (not text like \"48,85\")",
                             code="bad-meta")
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise BadRequest(f"meta{where} must be true or false", code="bad-meta")
        return value
    if kind == "strlist":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadRequest(f"meta{where} must be a list of strings", code="bad-meta")
        if len(value) > MAX_LIST or any(len(v) > MAX_TEXT for v in value):
            raise TooLarge(f"meta{where} is too long", code="meta-too-large")
        return value
    if isinstance(kind, tuple) and kind[0] == "enum":
        if value not in kind[1]:
            raise BadRequest(f"meta{where} must be one of {', '.join(kind[1])}", code="bad-meta")
        return value
    raise AssertionError(kind)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_meta(raw: bytes) -> dict[str, Any]:
    """The checked ``meta`` object (docs/api.md); ``BadRequest`` says exactly what is wrong."""
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise BadRequest("the meta part is not UTF-8 text", code="bad-json") from exc
    except ValueError as exc:
        raise BadRequest(f"the meta part is not valid JSON: {exc}", code="bad-json") from exc
    meta: dict[str, Any] = _check("", data, _TOP)
    meta = {k: v for k, v in meta.items() if v is not None}
    for key in ("source", "metadata", "options"):
        meta[key] = {k: v for k, v in (meta.get(key) or {}).items() if v is not None}
    md = meta["metadata"]
    if "latitude" in md and not -90 <= md["latitude"] <= 90:
        raise BadRequest("meta.metadata.latitude must be between -90 and 90", code="bad-meta")
    if "longitude" in md and not -180 <= md["longitude"] <= 180:
        raise BadRequest("meta.metadata.longitude must be between -180 and 180", code="bad-meta")
    if ("latitude" in md) != ("longitude" in md):
        raise BadRequest("meta.metadata needs both latitude and longitude, or neither", code="bad-meta")
    if not meta.get("batch"):
        meta["batch"] = "api-" + time.strftime("%Y%m%d-%H%M%S")
    if len(meta["batch"]) > 200:
        raise BadRequest("meta.batch is longer than 200 characters", code="bad-meta")
    return meta


# -- the file ---------------------------------------------------------------------------------------
_PATHLIKE = re.compile(r"^(file://|~|/|[A-Za-z]:[\\/]|\\\\)")


def display_name(hint: str | None) -> str:
    """The client's file name, only for showing (never a path on our disk)."""
    name = urllib.parse.unquote(hint or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return name[:200] or "photo"


@dataclass(frozen=True)
class Spooled:
    path: Path
    name: str  # the generated spool name
    size: int
    sha1: str


def _extension(header: bytes, hint: str) -> str:
    mime = sniff_mime(header)
    if mime is not None:
        return CANONICAL_EXTENSION[mime]
    ext = extension_of(hint)
    if ext in EXTENSION_MIME:
        return ext
    raise UnsupportedType(
        f"{display_name(hint)} is not a file type the helper uploads (JPEG, PNG, GIF, TIFF, WebP, SVG, "
        "PDF, WebM); nothing was queued.")


async def spool_file(part: BodyPartReader, spool_dir: Path, job_id: str, *, max_bytes: int) -> Spooled:
    """Stream the ``file`` part to ``spool_dir`` (never whole in memory); durable when this returns."""
    if not part.filename:
        raise BadRequest(
            "the `file` part must carry the file's bytes (a multipart file part with a filename); the "
            "helper never reads a path named in a request. With curl: -F file=@photo.jpg",
            code="not-a-file")
    loop = asyncio.get_running_loop()
    spool_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = spool_dir / f".{job_id}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    digest = hashlib.sha1()  # noqa: S324 - the wiki identifies files by SHA1
    size = 0
    header = b""
    try:
        with os.fdopen(fd, "wb") as fh:
            while chunk := await part.read_chunk(READ_BLOCK):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"the file is larger than the helper accepts ({max_bytes} bytes)",
                                   code="file-too-large")
                if len(header) < 64:
                    header += chunk[: 64 - len(header)]
                # hashing and writing release the GIL: off the event loop, in one hop
                await loop.run_in_executor(None, _hash_and_write, digest, fh, chunk)
            if size == 0:
                raise BadRequest(f"{display_name(part.filename)} is empty; nothing was queued.",
                                 code="empty-file")
            if size < 4096 and sniff_mime(header) is None:
                text = header.decode("utf-8", "replace").strip()
                if _PATHLIKE.match(text):
                    raise BadRequest(
                        "the `file` part holds a path, not a photo; send the file's bytes "
                        "(the helper never reads a path named in a request)", code="not-a-file")
            name = f"{job_id}.{_extension(header, part.filename)}"
            await loop.run_in_executor(None, _flush, fh)
        final = spool_dir / name
        os.replace(tmp, final)
        await loop.run_in_executor(None, fsync_dir, spool_dir)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Spooled(final, name, size, digest.hexdigest())


def _hash_and_write(digest: Any, fh: Any, chunk: bytes) -> None:
    digest.update(chunk)
    fh.write(chunk)


def _flush(fh: Any) -> None:
    fh.flush()
    os.fsync(fh.fileno())


def check_content_length(length: int | None, max_bytes: int, max_meta: int) -> None:
    if length is not None and length > max_bytes + max_meta + 64 * 1024:
        raise TooLarge(f"the request is larger than the helper accepts ({max_bytes} bytes per file)",
                       code="file-too-large")


