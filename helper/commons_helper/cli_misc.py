"""``commons-helper preview``: the title and file page a photo would get, offline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .cli import Context, add_page_options
from .errors import CommonsHelperError
from .prepare import prepare_file


def register(sub: Any) -> None:
    p = sub.add_parser(
        "preview", help="show the title and file page a photo would get (offline)",
        description="Show the Commons title and file page text that `upload` would use for each "
                    "photo, built from its metadata and your settings. Works offline; uploads "
                    "nothing. Exit status 1 when a photo could not be prepared (e.g. no license).")
    p.add_argument("files", nargs="+", metavar="FILE", help="photos to preview")
    p.add_argument("--title", help="file name on the wiki (one file only)")
    add_page_options(p)
    p.add_argument("--json", action="store_true",
                   help='print one JSON array of {"file", "title", "text"} (plus "error" on failure)')
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from .errors import UsageError

    if args.title and len(args.files) > 1:
        raise UsageError("--title names one file; give one FILE, or leave --title out")
    entries: list[dict[str, Any]] = []
    taken: list[str] = []
    for name in args.files:
        path = Path(name)
        try:
            prepared = prepare_file(path, ctx.settings, title=args.title, taken=taken)
        except CommonsHelperError as exc:
            entries.append({"file": str(path), "title": None, "text": None, "error": exc.to_json()})
            continue
        prepared.cleanup()
        entries.append({"file": str(path), "title": f"File:{prepared.title}", "text": prepared.text})
    if args.json:
        print(json.dumps(entries, ensure_ascii=False, indent=2))
    else:
        for i, e in enumerate(entries):
            if i:
                print()
            if e.get("error"):
                print(f"── {e['file']}: not ready to upload\n{e['error']['message']}")
            else:
                print(f"── {e['file']} → {e['title']}\n{e['text']}")
    return 1 if any(e.get("error") for e in entries) else 0
