"""``commons-helper upload``: put files on the wiki, one result per file."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from .cli import Context, add_page_options, add_upload_options, add_wiki_options
from .errors import CommonsHelperError, SignInNeeded, UsageError
from .progress import ProgressBar
from .session import open_client
from .upload import Uploader, UploadRequest, UploadResult, failed


def register(sub: Any) -> None:
    p = sub.add_parser(
        "upload", help="upload files to the wiki",
        description="Upload photos to Wikimedia Commons (or another wiki). Each file gets a file "
                    "page built from its metadata unless --page-text/--page-file is given. "
                    "Exit status: 0 when every file ended uploaded, new-version, duplicate or "
                    "unchanged; 1 otherwise; 2 for a usage error.")
    p.add_argument("files", nargs="+", metavar="FILE", help="files to upload")
    add_wiki_options(p)
    p.add_argument("--title", help="file name on the wiki (one file only), e.g. 'Eiffel Tower at dusk.jpg'")
    text = p.add_mutually_exclusive_group()
    text.add_argument("--page-text", metavar="TEXT", help="the file page's wikitext, as given")
    text.add_argument("--page-file", metavar="PATH", help="read the file page's wikitext from PATH")
    p.add_argument("--comment", help="upload summary")
    add_upload_options(p)
    add_page_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON array of results")
    p.set_defaults(func=run)


def _page_text(args: argparse.Namespace) -> str | None:
    if args.page_text is not None:
        return str(args.page_text)
    if args.page_file is not None:
        try:
            return Path(args.page_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read --page-file {args.page_file}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise UsageError(f"--page-file {args.page_file} is not UTF-8 text") from exc
    return None


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.title and len(args.files) > 1:
        raise UsageError("--title names one file; give one FILE, or leave --title out")
    page_text = _page_text(args)
    results = asyncio.run(upload_all(args, ctx, page_text))
    if args.json:
        print(json.dumps([r.to_json() for r in results], ensure_ascii=False, indent=2))
    else:
        for r in results:
            print(describe(r))
    return 0 if all(r.ok for r in results) else 1


async def upload_all(args: argparse.Namespace, ctx: Context, page_text: str | None) -> list[UploadResult]:
    from .prepare import Prepared, prepare_file  # the metadata → page → title step

    settings = ctx.settings
    show_progress = not args.json and sys.stderr.isatty()
    results: list[UploadResult] = []
    async with open_client(settings, ctx.paths) as client:
        uploader = Uploader(client)
        taken: list[str] = []
        for seq, name in enumerate(args.files, start=1):
            path = Path(name)
            try:
                prepared: Prepared = prepare_file(path, settings, title=args.title,
                                                  page_text=page_text, taken=taken)
            except CommonsHelperError as exc:
                results.append(failed(path, exc))
                continue
            bar = ProgressBar(path.name, enabled=show_progress)
            req = UploadRequest(path=prepared.upload_path, title=prepared.title, text=prepared.text,
                                comment=args.comment or prepared.comment, on_exists=settings.on_exists,
                                chunk_size=settings.chunk_size)
            try:
                result = await uploader.upload(req, progress=bar.update)
            except SignInNeeded as exc:
                bar.close()
                results.append(failed(path, exc))
                # Without a valid sign-in no other file can go up either.
                results.extend(failed(Path(n), exc) for n in args.files[seq:])
                break
            except CommonsHelperError as exc:
                result = failed(path, exc)
            finally:
                prepared.cleanup()
            bar.close()
            result.file = str(path)
            results.append(result)
    return results


def describe(r: UploadResult) -> str:
    err = (r.error or {}).get("message", "")
    if r.status == "uploaded":
        return f"uploaded     {r.file} → {r.title}  {r.url or ''}".rstrip()
    if r.status == "new-version":
        return f"new version  {r.file} → {r.title}  {r.url or ''}".rstrip()
    if r.status == "duplicate":
        return f"duplicate    {r.file}: already on the wiki as {r.title}; not uploaded again"
    if r.status == "unchanged":
        return f"unchanged    {r.file}: {r.title} already has these exact bytes"
    if r.status == "needs-attention":
        return f"needs attention  {r.file}: {err}"
    return f"failed       {r.file}: {err}"
