"""The upload engine: one local file to one wiki title, the careful way.

    check the file → SHA1 lookup (already there? stop) → title check (taken? policy)
    → send (one POST, or chunks into the stash, resumable) → publish → decide warnings
    → result

``Uploader.upload`` returns an ``UploadResult`` for every definite outcome
(including local-file and wiki refusals, as ``failed``/``needs-attention``). It
raises only when trying later can help or only the user can help:
``SignInNeeded`` (sign in again) and retryable ``NetworkError`` /
``RetryableWikiError`` once its own bounded retries are spent. Callers that
want "one result per file whatever happens" (the CLI) catch those too.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import (
    CommonsHelperError,
    LocalFileError,
    NetworkError,
    RetryableWikiError,
    SignInNeeded,
    StashError,
    WikiError,
)
from .filetypes import CANONICAL_EXTENSION, EXTENSION_MIME, extension_of, sniff_file
from .fileutil import sha1_of_file
from .mediawiki import FilePart, MediaWikiClient
from .upload_warnings import Decision, decide

log = logging.getLogger(__name__)

FINAL_STATUSES = ("uploaded", "new-version", "duplicate", "unchanged", "needs-attention", "failed")
OK_STATUSES = frozenset({"uploaded", "new-version", "duplicate", "unchanged"})
ASYNC_THRESHOLD = 10 * 1024 * 1024  # like UploadWizard: ask for async assembly above 10 MiB
STASH_GONE = frozenset({"uploadstash-file-not-found", "invalid-file-key", "filekeynotallowed",
                        "uploadstash-bad-path", "stasherror", "missingresult"})
MAX_TITLE_BYTES = 240


@dataclass
class ChunkState:
    """Where a chunked upload stands: persist it after every chunk to resume later."""

    filekey: str | None
    offset: int


@dataclass
class UploadRequest:
    path: Path
    title: str  # "Name.jpg" (with or without "File:")
    text: str
    comment: str = ""
    on_exists: str = "rename"
    chunk_size: int = 5 * 1024 * 1024
    resume: ChunkState | None = None
    sha1: str | None = None  # known SHA1 of ``path`` (computed when None)
    previous_attempt: bool = False  # an earlier try may have landed (crash recovery)


@dataclass
class UploadResult:
    file: str
    status: str
    title: str | None = None
    url: str | None = None
    sha1: str | None = None
    error: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LocalFile:
    path: Path
    size: int
    mime: str
    extension: str  # canonical extension of the real content


ProgressFn = Callable[[int, int], None]
SaveStateFn = Callable[[ChunkState], Awaitable[None]]


def file_title(name: str) -> str:
    """Display form of a title: "File:" prefix, spaces, first letter upper case."""
    name = name.replace("_", " ").strip()
    if name.startswith("File:"):
        name = name[5:]
    if name:
        name = name[0].upper() + name[1:]
    return f"File:{name}"


def bare_name(title: str) -> str:
    return file_title(title)[5:]


def numbered_name(name: str, n: int) -> str:
    """"Name.jpg" → "Name (n).jpg", keeping within the title byte limit."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem = re.sub(r" \(\d+\)$", "", stem)
    suffix = f" ({n})" + (f".{ext}" if ext else "")
    budget = MAX_TITLE_BYTES - len(suffix.encode("utf-8"))
    encoded = stem.encode("utf-8")
    if len(encoded) > budget:
        stem = encoded[:budget].decode("utf-8", errors="ignore").rstrip()
    return stem + suffix


def check_local_file(path: Path, allowed_extensions: set[str] | None = None) -> LocalFile:
    """Everything we can know about a file before talking to the wiki."""
    shown = str(path)
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise LocalFileError(f"{shown} does not exist. Check the path.", code="file-missing") from exc
    except OSError as exc:
        raise LocalFileError(f"Cannot read {shown}: {exc.strerror}.", code="file-unreadable") from exc
    if stat.S_ISDIR(st.st_mode):
        raise LocalFileError(f"{shown} is a folder, not a file. Give the photo files themselves.",
                             code="not-a-file")
    if not stat.S_ISREG(st.st_mode):
        raise LocalFileError(f"{shown} is not a regular file.", code="not-a-file")
    if not os.access(path, os.R_OK):
        raise LocalFileError(f"Cannot read {shown}: permission denied. Check the file's permissions.",
                             code="file-unreadable")
    if st.st_size == 0:
        raise LocalFileError(f"{shown} is empty (0 bytes); nothing to upload.", code="empty-file")
    ext = extension_of(path.name)
    if allowed_extensions is not None and ext and ext not in allowed_extensions:
        raise LocalFileError(
            f"The wiki does not accept .{ext} files ({shown}). It accepts: "
            f"{', '.join(sorted(allowed_extensions))}.", code="filetype-banned")
    try:
        mime = sniff_file(path)
    except OSError as exc:
        raise LocalFileError(f"Cannot read {shown}: {exc.strerror}.", code="file-unreadable") from exc
    if mime is None:
        raise LocalFileError(
            f"{shown} is not an image or media file the wiki accepts (its content is not JPEG, "
            "PNG, GIF, TIFF, WebP, SVG, PDF or WebM).", code="filetype-unknown")
    expected = EXTENSION_MIME.get(ext)
    if expected is not None and expected != mime:
        raise LocalFileError(
            f"{shown} is named .{ext} but its content is {mime}. Rename it to "
            f".{CANONICAL_EXTENSION[mime]} or export it again.", code="filetype-mismatch")
    if allowed_extensions is not None and CANONICAL_EXTENSION[mime] not in allowed_extensions:
        raise LocalFileError(f"The wiki does not accept {mime} files ({shown}).", code="filetype-banned")
    return LocalFile(path=path, size=st.st_size, mime=mime, extension=CANONICAL_EXTENSION[mime])


def failed(path: Path, error: CommonsHelperError, sha1: str | None = None,
           status: str = "failed", title: str | None = None) -> UploadResult:
    return UploadResult(file=str(path), status=status, title=title, sha1=sha1, error=error.to_json())


class Uploader:
    def __init__(self, client: MediaWikiClient, *, check_extensions: bool = True,
                 max_renames: int = 50) -> None:
        self.client = client
        self.check_extensions = check_extensions
        self.max_renames = max_renames
        self._extensions: set[str] | None = None

    async def allowed_extensions(self) -> set[str] | None:
        if not self.check_extensions:
            return None
        if self._extensions is None:
            self._extensions = await self.client.file_extensions()
        return self._extensions

    # -- queries ---------------------------------------------------------------------------

    async def titles_with_sha1(self, sha1: str) -> list[str]:
        data = await self.client.get(action="query", list="allimages", aisha1=sha1, ailimit=10)
        return [file_title(i["title"]) for i in data["query"]["allimages"]]

    async def title_info(self, title: str) -> dict[str, Any]:
        """``{"exists": bool (file), "page": bool, "user": latest uploader, "sha1": ..., "versions": n}``."""
        return (await self.lookup(title))[1]

    async def lookup(self, title: str, sha1: str | None = None) -> tuple[list[str], dict[str, Any]]:
        """One request for both questions asked before an upload: which files already have
        these bytes (current versions, by SHA1), and what is at ``title``."""
        params: dict[str, Any] = {"action": "query", "prop": "imageinfo", "titles": file_title(title),
                                  "iiprop": "user|sha1|timestamp", "iilimit": 50}
        if sha1:
            params.update(list="allimages", aisha1=sha1, ailimit=10)
        data = await self.client.get(**params)
        found = [file_title(i["title"]) for i in data["query"].get("allimages", [])]
        page = data["query"]["pages"][0]
        infos = page.get("imageinfo") or []
        latest = infos[0] if infos else {}
        return found, {
            "exists": bool(infos),
            "page": not page.get("missing", False),
            "user": latest.get("user"),
            "sha1": latest.get("sha1"),
            "versions": len(infos),
            "invalid": bool(page.get("invalid")),
        }

    async def free_name(self, name: str) -> str:
        """The first of "Name (2).jpg", "Name (3).jpg", ... with neither file nor page."""
        start = 2
        while start < self.max_renames + 2:
            candidates = [numbered_name(name, n) for n in range(start, start + 10)]
            data = await self.client.get(action="query", prop="imageinfo",
                                         titles="|".join(file_title(c) for c in candidates))
            missing = {p["title"] for p in data["query"]["pages"] if p.get("missing")}
            for c in candidates:
                if file_title(c) in missing:
                    return bare_name(c)
            start += 10
        raise WikiError(f"Could not find a free name like “{name}” after {self.max_renames} tries; "
                        "choose another title.", code="no-free-name")

    # -- the whole job -----------------------------------------------------------------------

    async def upload(self, req: UploadRequest, *, progress: ProgressFn | None = None,
                     save_state: SaveStateFn | None = None) -> UploadResult:
        path = req.path
        try:
            local = check_local_file(path, await self.allowed_extensions())
        except LocalFileError as exc:
            return failed(path, exc)
        name = bare_name(req.title)
        title_ext = extension_of(name)
        if EXTENSION_MIME.get(title_ext) != local.mime:
            return failed(path, LocalFileError(
                f"The title “{name}” ends in .{title_ext or '(nothing)'} but the file is {local.mime}; "
                f"use a title ending in .{local.extension}.", code="title-extension-mismatch"))
        sha1 = req.sha1 or sha1_of_file(path)

        # 1. Already on the wiki? Is the name free? (one request, before sending a single byte)
        found, info = await self.lookup(name, sha1)
        if found:
            return await self._already_there(req, local, sha1, found)

        # 2. Apply the name policy before sending the bytes.
        if info["invalid"]:
            return failed(path, WikiError(f"“{name}” is not a valid file name on the wiki; choose "
                                          "another title.", code="illegal-filename"), sha1)
        new_version = False
        if info["exists"] or info["page"]:
            early = await self._name_taken(req, name, info, sha1)
            if isinstance(early, UploadResult):
                return early
            name, new_version = early

        # 3. Send and publish.
        return await self._send_and_publish(req, local, sha1, name, new_version, progress, save_state)

    async def _already_there(self, req: UploadRequest, local: LocalFile, sha1: str,
                             found: list[str]) -> UploadResult:
        target = file_title(req.title)
        if req.previous_attempt:
            # An earlier try of this very job may have landed before a crash.
            landed = await self._landed(req, sha1, found)
            if landed is not None:
                return landed
        if target in found:
            return UploadResult(str(req.path), "unchanged", target, await self.page_url(target), sha1)
        first = found[0]
        return UploadResult(str(req.path), "duplicate", first, await self.page_url(first), sha1)

    async def _name_taken(self, req: UploadRequest, name: str, info: dict[str, Any],
                          sha1: str) -> UploadResult | tuple[str, bool]:
        title = file_title(name)
        if req.on_exists == "rename":
            return await self.free_name(name), False
        if req.on_exists == "new-version":
            if not info["exists"]:
                return failed(req.path, WikiError(
                    f"{title} is a page without a file, so there is no file to replace. Nothing "
                    "was uploaded; choose another title.", code="page-exists"), sha1,
                    status="needs-attention", title=title)
            refusal = await self._ownership_refusal(title, info)
            if refusal:
                return failed(req.path, refusal, sha1, status="needs-attention", title=title)
            return name, True
        return failed(req.path, WikiError(
            f"{title} already exists and the policy is to fail. Nothing was uploaded; use "
            "--on-exists rename or new-version, or another title.", code="exists"), sha1, title=title)

    async def _ownership_refusal(self, title: str, info: dict[str, Any]) -> WikiError | None:
        me = await self.client.username()
        if info.get("user") == me:
            return None
        return WikiError(
            f"The latest version of {title} was uploaded by {info.get('user') or 'someone else'}, "
            f"not by you ({me}). A new version was not uploaded: overwriting other people's files "
            "needs their agreement. Upload under another title instead.", code="not-own-file")

    async def page_url(self, title: str) -> str:
        data = await self.client.get(action="query", prop="info", inprop="url", titles=file_title(title))
        return str(data["query"]["pages"][0].get("fullurl", ""))

    # -- sending -------------------------------------------------------------------------------

    async def _send_and_publish(self, req: UploadRequest, local: LocalFile, sha1: str, name: str,
                                new_version: bool, progress: ProgressFn | None,
                                save_state: SaveStateFn | None) -> UploadResult:
        attempts = 0
        while True:
            attempts += 1
            try:
                if local.size <= req.chunk_size and req.resume is None:
                    answer = await self._post_whole(req, local, name, new_version, progress)
                    filekey = None
                else:
                    filekey = await self._send_chunks(req, local, progress, save_state)
                    answer = await self._publish(req, filekey, name, ignore=False,
                                                 asynchronous=local.size > ASYNC_THRESHOLD,
                                                 new_version=new_version)
                return await self._conclude(req, local, sha1, name, answer, new_version)
            except (NetworkError, RetryableWikiError) as exc:
                # The request may or may not have taken effect: ask the wiki before trying again.
                landed = await self._landed(req, sha1)
                if landed is not None:
                    return landed
                if attempts >= self.client.retry.attempts:
                    raise
                log.warning("upload of %s interrupted (%s); trying again", req.path, exc.code)
                await self.client.sleep(self.client.retry.delay(attempts, exc))
            except WikiError as exc:
                if exc.code in STASH_GONE or isinstance(exc, StashError):
                    if attempts >= 3:
                        return failed(req.path, exc, sha1)
                    log.warning("the wiki lost the partly uploaded file (%s); starting over", exc.code)
                    req.resume = None
                    if save_state:
                        await save_state(ChunkState(None, 0))
                    continue
                return failed(req.path, exc, sha1, title=file_title(name))

    async def _landed(self, req: UploadRequest, sha1: str,
                      found: list[str] | None = None) -> UploadResult | None:
        """Our bytes under a title whose latest version is ours: an earlier try of this upload."""
        if found is None:
            try:
                found = await self.titles_with_sha1(sha1)
            except (NetworkError, RetryableWikiError):
                return None
        me = await self.client.username()
        for t in found:
            info = await self.title_info(t)
            if info["user"] == me:
                status = "new-version" if info["versions"] > 1 and req.on_exists == "new-version" \
                    else "uploaded"
                return UploadResult(str(req.path), status, t, await self.page_url(t), sha1)
        return None

    async def _post_whole(self, req: UploadRequest, local: LocalFile, name: str, new_version: bool,
                          progress: ProgressFn | None) -> dict[str, Any]:
        sent = 0

        def on_read(n: int) -> None:
            nonlocal sent
            sent += n
            if progress:
                progress(min(sent, local.size), local.size)

        # Never ignorewarnings on a first try: the warnings are decided one by one in _conclude.
        params: dict[str, Any] = {"action": "upload", "filename": name, "text": req.text,
                                  "comment": req.comment or _default_comment(new_version)}
        part = FilePart("file", local.path, filename=f"file.{local.extension}", on_read=on_read)
        return await self.client.post(params, file=part)

    async def _send_chunks(self, req: UploadRequest, local: LocalFile, progress: ProgressFn | None,
                           save_state: SaveStateFn | None) -> str:
        """Send the file into the stash chunk by chunk; return the filekey of the whole."""
        state = req.resume or ChunkState(None, 0)
        if state.filekey is None:
            state = ChunkState(None, 0)
        elif state.offset >= local.size:
            return state.filekey  # every chunk is in the stash already: publish it
        stash_name = f"upload.{local.extension}"
        resyncs = 0
        with local.path.open("rb") as fh:
            while True:
                fh.seek(state.offset)
                chunk = fh.read(req.chunk_size)
                last = state.offset + len(chunk) >= local.size
                # ignorewarnings on a chunk only means "append it to the stash": a stash upload
                # publishes nothing, and every warning is decided one by one at publish time.
                # Without it MediaWiki answers a chunk with a warning (e.g. large-file once the
                # stash passes $wgUploadSizeWarning) and silently does NOT append that chunk.
                params: dict[str, Any] = {
                    "action": "upload", "stash": True, "filename": stash_name,
                    "filesize": local.size, "offset": state.offset, "ignorewarnings": True,
                }
                if state.filekey and state.offset > 0:
                    params["filekey"] = state.filekey
                if last and local.size > ASYNC_THRESHOLD:
                    params["async"] = True
                try:
                    answer = await self.client.post(
                        params, file=FilePart("chunk", chunk, filename=f"chunk.{local.extension}"),
                        idempotent=True)
                except StashError as exc:
                    expected = _expected_offset(exc)
                    if expected is None or resyncs >= 5:
                        raise WikiError(exc.message, code="stasherror", details=exc.details) from exc
                    resyncs += 1
                    log.info("chunk offset mismatch: the wiki expects %d, we sent %d; resyncing",
                             expected, state.offset)
                    state = ChunkState(state.filekey, expected)
                    continue
                result = answer["upload"]
                status = result.get("result")
                if status == "Continue":
                    state = ChunkState(str(result["filekey"]), int(result["offset"]))
                    req.resume = state
                    if save_state:
                        await save_state(state)
                    if progress:
                        progress(state.offset, local.size)
                    continue
                if status == "Poll":
                    result = await self._poll(str(result.get("filekey") or state.filekey))
                    status = result.get("result")
                if status == "Success":
                    if progress:
                        progress(local.size, local.size)
                    key = str(result["filekey"])
                    req.resume = ChunkState(key, local.size)
                    if save_state:
                        await save_state(ChunkState(key, local.size))
                    return key
                raise WikiError(f"The wiki gave an unexpected answer to a chunk: {status}",
                                code="stasherror", details=result)

    async def _poll(self, filekey: str) -> dict[str, Any]:
        """Wait for the wiki's asynchronous assembly or publishing of ``filekey``."""
        for i in range(600):
            answer = await self.client.post({"action": "upload", "filekey": filekey, "checkstatus": True},
                                            idempotent=True)
            result: dict[str, Any] = answer["upload"]
            if result.get("result") == "Poll":
                await self.client.sleep(min(1.0 + i * 0.5, 10.0))
                continue
            if result.get("result") == "Failure":
                details = result.get("details") or ["unknown reason"]
                raise WikiError(f"The wiki could not assemble the uploaded file: {details}",
                                code="stashfailed", details=result)
            return result
        raise RetryableWikiError("The wiki is still assembling the file after a long wait.",
                                 code="poll-timeout")

    async def _publish(self, req: UploadRequest, filekey: str, name: str, *, ignore: bool,
                       asynchronous: bool, new_version: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = {"action": "upload", "filekey": filekey, "filename": name,
                                  "text": req.text,
                                  "comment": req.comment or _default_comment(new_version or ignore)}
        if ignore:
            params["ignorewarnings"] = True
        if asynchronous:
            params["async"] = True
        answer = await self.client.post(params)
        if answer.get("upload", {}).get("result") == "Poll":
            answer = {"upload": await self._poll(filekey)}
        return answer

    async def _conclude(self, req: UploadRequest, local: LocalFile, sha1: str, name: str,
                        answer: dict[str, Any], new_version: bool) -> UploadResult:
        """Follow warnings until a definite outcome."""
        for _ in range(self.max_renames + 5):
            result = answer["upload"]
            if result.get("result") == "Success":
                return await self._success(req, sha1, result, name, new_version)
            if result.get("result") != "Warning":
                raise WikiError(f"The wiki gave an unexpected answer: {result.get('result')}",
                                code="unexpected", details=result)
            filekey = result.get("filekey") or result.get("sessionkey")
            decision = decide(result.get("warnings") or {}, req.on_exists)
            if decision.action == "outcome" or not filekey:
                return await self._outcome(req, sha1, decision, name)
            if decision.action == "rename":
                name = await self.free_name(name)
                answer = await self._publish(req, str(filekey), name, ignore=False,
                                             asynchronous=local.size > ASYNC_THRESHOLD)
                continue
            if decision.action == "new-version":
                info = await self.title_info(name)
                refusal = await self._ownership_refusal(file_title(name), info)
                if refusal:
                    return failed(req.path, refusal, sha1, status="needs-attention",
                                  title=file_title(name))
                new_version = True
                answer = await self._publish(req, str(filekey), name, ignore=True,
                                             asynchronous=local.size > ASYNC_THRESHOLD)
                continue
            # proceed: a normalized name to publish under, or only harmless warnings left
            if decision.new_name:
                name = decision.new_name
            answer = await self._publish(req, str(filekey), name, ignore=not decision.new_name,
                                         asynchronous=local.size > ASYNC_THRESHOLD)
        raise WikiError("The wiki kept answering with warnings; giving up on this file.",
                        code="too-many-warnings")

    async def _outcome(self, req: UploadRequest, sha1: str, d: Decision, name: str) -> UploadResult:
        title = d.existing or file_title(name)
        if d.status in OK_STATUSES:  # duplicate / unchanged: a fine outcome, not an error
            return UploadResult(str(req.path), d.status, title, await self.page_url(title), sha1)
        return UploadResult(str(req.path), d.status, title, None, sha1,
                            {"code": d.code, "message": d.message})

    async def _success(self, req: UploadRequest, sha1: str, result: dict[str, Any], name: str,
                       new_version: bool) -> UploadResult:
        title = file_title(str(result.get("filename") or name))
        info = result.get("imageinfo") or {}
        remote_sha1 = info.get("sha1")
        if remote_sha1 and remote_sha1 != sha1:
            return failed(req.path, WikiError(
                f"The wiki stored {title} with SHA1 {remote_sha1}, not {sha1}; the file was "
                "damaged on the way. Check the file page and upload again.", code="sha1-mismatch"),
                sha1, title=title)
        url = str(info.get("descriptionurl") or "") or await self.page_url(title)
        if new_version:
            # The ownership check and the upload were two requests: make sure nobody else's
            # version slipped in between (it would now be hidden under ours).
            versions = (await self.client.get(action="query", prop="imageinfo", titles=title,
                                              iiprop="user|sha1", iilimit=2))["query"]["pages"][0]
            previous = (versions.get("imageinfo") or [{}, {}])[1:2]
            me = await self.client.username()
            if previous and previous[0].get("user") not in (me, None):
                return UploadResult(str(req.path), "needs-attention", title, url, sha1, {
                    "code": "overwrote-other",
                    "message": f"Your new version of {title} was uploaded, but the version just "
                               f"before it is {previous[0].get('user')}'s (uploaded moments "
                               "earlier). Check the file's history and revert if that was not "
                               "meant to be replaced."})
        return UploadResult(str(req.path), "new-version" if new_version else "uploaded", title, url, sha1)


def _default_comment(new_version: bool) -> str:
    if new_version:
        return "New version of an edited photo (commons-helper)"
    return "Uploaded with commons-helper"


def _expected_offset(exc: WikiError) -> int | None:
    details = exc.details if isinstance(exc.details, dict) else {}
    try:
        return int(details["offset"])
    except (KeyError, TypeError, ValueError):
        return None


__all__ = [
    "ChunkState",
    "LocalFile",
    "SignInNeeded",
    "UploadRequest",
    "UploadResult",
    "Uploader",
    "check_local_file",
    "file_title",
]
