"""The local JSON API under ``/api/v1/`` (docs/api.md): thin views over the queue and the worker."""

from __future__ import annotations

import contextlib
from typing import Any

from aiohttp import BodyPartReader, web

from .. import __version__
from ..errors import BadRequest, TooLarge
from ..queue import NewJob, new_job_id
from . import events
from .intake import check_content_length, display_name, parse_meta, spool_file
from .keys import DB, EVENTS, LIMITS, PATHS, QUEUE, WORKER

routes = web.RouteTableDef()


def _job_id(request: web.Request) -> str:
    return request.match_info["id"]


@routes.get("/api/v1/health")
async def health(request: web.Request) -> web.Response:
    return web.json_response(await health_json(request.app))


async def health_json(app: web.Application) -> dict[str, Any]:
    counts = await app[DB].call(app[QUEUE].counts)
    worker = app.get(WORKER)
    state: dict[str, Any] = worker.state() if worker else {
        "signed_in": None, "user": None, "paused": False, "pause_reason": None, "running": False}
    return {
        "status": "paused" if state["paused"] else "ok",
        "version": __version__,
        **state,
        "queue": {
            "queued": counts["queued"],
            "active": counts["preparing"] + counts["uploading"],
            **{k.replace("-", "_"): v for k, v in counts.items() if k not in ("queued",)},
        },
    }


@routes.post("/api/v1/uploads")
async def create_upload(request: web.Request) -> web.Response:
    app = request.app
    limits = app[LIMITS]
    check_content_length(request.content_length, limits.max_file_bytes, limits.max_meta_bytes)
    if request.content_type == "application/x-www-form-urlencoded":
        fields = await request.post()
        if "file" in fields:
            raise BadRequest("the `file` field holds text (a path?), not a photo: send multipart/form-data "
                             "with the file's bytes; the helper never reads a path named in a request. "
                             "With curl: -F file=@photo.jpg", code="not-a-file")
    if not request.content_type.startswith("multipart/"):
        raise BadRequest("send multipart/form-data with a `file` part (the photo) and a `meta` part "
                         "(JSON; see docs/api.md)", code="not-multipart")
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError) as exc:
        raise BadRequest(f"the multipart body cannot be read: {exc}", code="bad-multipart") from exc
    job_id = new_job_id()
    spooled = None
    meta: dict[str, Any] | None = None
    file_name = ""
    try:
        while True:
            try:
                part = await reader.next()
            except ValueError as exc:
                raise BadRequest(f"the multipart body is broken: {exc}", code="bad-multipart") from exc
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise BadRequest("nested multipart bodies are not accepted", code="bad-multipart")
            name = part.name
            if name == "meta":
                if meta is not None:
                    raise BadRequest("the request has two `meta` parts", code="bad-multipart")
                raw = await _read_limited(part, limits.max_meta_bytes)
                meta = parse_meta(raw)
            elif name == "file":
                if spooled is not None:
                    raise BadRequest("one file per request: the request has two `file` parts",
                                     code="bad-multipart")
                file_name = display_name(part.filename)
                spooled = await spool_file(part, app[PATHS].spool_dir, job_id,
                                           max_bytes=limits.max_file_bytes)
            else:
                raise BadRequest(f"unknown part {name!r}; send `file` and `meta`", code="unknown-field")
        if spooled is None:
            raise BadRequest("no file: the request needs a `file` part with the photo's bytes",
                             code="no-file")
        meta = meta if meta is not None else parse_meta(b"{}")
        job = await app[DB].call(app[QUEUE].add, NewJob(
            id=job_id, batch=meta["batch"], file_name=file_name, spool_name=spooled.name,
            size=spooled.size, spool_sha1=spooled.sha1, meta=meta))
    except BaseException:
        if spooled is not None:
            with contextlib.suppress(OSError):
                spooled.path.unlink()
        raise
    app[EVENTS].publish("job", job.to_json())
    worker = app.get(WORKER)
    if worker is not None:
        worker.wake()
    return web.json_response({"id": job.id, "batch": job.batch, "status": job.status,
                              "job": job.to_json()}, status=201,
                             headers={"Location": f"/api/v1/uploads/{job.id}"})


async def _read_limited(part: BodyPartReader, limit: int) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data += chunk
        if len(data) > limit:
            raise TooLarge(f"the meta part is larger than {limit} bytes", code="meta-too-large")
    return bytes(data)


@routes.get("/api/v1/uploads")
async def list_uploads(request: web.Request) -> web.Response:
    batch = request.query.get("batch")
    try:
        limit = min(max(int(request.query.get("limit", "1000")), 1), 10000)
    except ValueError as exc:
        raise BadRequest("limit must be a whole number", code="bad-query") from exc
    jobs = await request.app[DB].call(request.app[QUEUE].jobs, batch=batch, limit=limit)
    return web.json_response({"jobs": [j.to_json() for j in jobs]})


@routes.get("/api/v1/uploads/{id}")
async def get_upload(request: web.Request) -> web.Response:
    job = await request.app[DB].call(request.app[QUEUE].get, _job_id(request))
    return web.json_response(job.to_json())


@routes.post("/api/v1/uploads/{id}/retry")
async def retry_upload(request: web.Request) -> web.Response:
    app = request.app
    job = await app[DB].call(app[QUEUE].retry, _job_id(request))
    app[EVENTS].publish("job", job.to_json())
    worker = app.get(WORKER)
    if worker is not None:
        worker.wake()
    return web.json_response(job.to_json())


@routes.post("/api/v1/uploads/{id}/cancel")
async def cancel_upload(request: web.Request) -> web.Response:
    app = request.app
    job = await app[DB].call(app[QUEUE].cancel, _job_id(request))
    worker = app.get(WORKER)
    if worker is not None:
        await worker.cancel_job(job.id)
    app[EVENTS].publish("job", job.to_json())
    return web.json_response(job.to_json())


@routes.get("/api/v1/uploads/{id}/wikitext")
async def upload_wikitext(request: web.Request) -> web.Response:
    app = request.app
    job = await app[DB].call(app[QUEUE].get, _job_id(request))
    if job.page_text is None or job.page_title is None:
        worker = app.get(WORKER)
        if worker is None:
            raise BadRequest("the file page is written when the job is prepared; it is not yet",
                             code="not-prepared")
        title, text = await worker.preview(job)
    else:
        title, text = job.page_title, job.page_text
    return web.json_response({"title": f"File:{title}", "text": text})


@routes.get("/api/v1/uploads/{id}/file")
async def upload_file(request: web.Request) -> web.StreamResponse:
    """The spooled file (for thumbnails); gone once the upload succeeded."""
    app = request.app
    job = await app[DB].call(app[QUEUE].get, _job_id(request))
    path = app[PATHS].spool_dir / job.spool_name
    if not path.exists():
        return web.json_response({"error": {"code": "gone", "message": "The helper no longer keeps this "
                                            "file; it is on the wiki."}}, status=410)
    # The bytes came from outside: never let them run as a page of the helper's origin (an SVG).
    return web.FileResponse(path, headers={"Content-Disposition": "inline",
                                           "Content-Security-Policy": "sandbox; default-src 'none'",
                                           "X-Content-Type-Options": "nosniff"})


@routes.get("/api/v1/uploads/{id}/thumbnail")
async def upload_thumbnail(request: web.Request) -> web.StreamResponse:
    """A small JPEG preview, made while the job is prepared and kept after the upload."""
    app = request.app
    job = await app[DB].call(app[QUEUE].get, _job_id(request))
    path = app[PATHS].thumbnail_dir / f"{job.id}.jpg"
    if not path.exists():
        return web.json_response({"error": {"code": "no-thumbnail", "message": "No preview yet; it "
                                            "is made when the photo is prepared."}}, status=404)
    return web.FileResponse(path, headers={"Content-Disposition": "inline",
                                           "Cache-Control": "private, max-age=86400"})


@routes.post("/api/v1/resume")
async def resume(request: web.Request) -> web.Response:
    """Credentials changed (or the user asks): un-pause the queue and sign in afresh."""
    worker = request.app.get(WORKER)
    if worker is not None:
        await worker.resume()
    return web.json_response(await health_json(request.app))


routes.get("/api/v1/events")(events.stream)
