"""Read + render speed: photos per second on one core, metadata file → title and file page.

    .venv/bin/python bench/bench_pages.py [--photos 1000]

Generates N photos (darktable-, digiKam-, Lightroom- and exiftool-style metadata, a quarter each,
each with its own title so every title is distinct), then times, in this one process (one core):
  baseline  pyexiv2 opening each file and reading its three metadata blocks (the floor: I/O + exiv2)
  full      commons-helper's read_metadata + render_page + make_title for each photo
Prints photos/s for both and the ratio. Target: full >= 300 photos/s. Not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=1000)
    args = ap.parse_args()

    import pyexiv2
    from tests.photos import make_photo

    from commons_helper.config import Settings
    from commons_helper.metadata import read_metadata
    from commons_helper.titles import make_title
    from commons_helper.wikitext import options_from_settings, render_page

    styles = ("darktable", "digikam", "lightroom", "exiftool")
    work = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    templates = {s: make_photo(work / s, style=s, title=f"Template {s}") for s in styles}
    for s in styles:
        (work / s).mkdir(exist_ok=True)
    paths = []
    for i in range(args.photos):
        style = styles[i % len(styles)]
        dst = work / style / f"p{i:05d}.jpg"
        dst.write_bytes(templates[style].read_bytes())
        paths.append(dst)
    settings = Settings(license="cc-by-sa-4.0", username="Bench User")

    pyexiv2.set_log_level(4)
    start = time.perf_counter()
    for p in paths:
        with pyexiv2.Image(str(p)) as img:
            img.read_exif(), img.read_iptc(), img.read_xmp()
    baseline = time.perf_counter() - start

    start = time.perf_counter()
    for n, p in enumerate(paths, start=1):
        meta = read_metadata(p)
        render_page(meta, options_from_settings(settings, meta, username=settings.username))
        make_title(meta, pattern=settings.title_pattern, seq=n, filename=p.stem)
    full = time.perf_counter() - start

    result = {"photos": args.photos, "baseline_photos_per_s": round(args.photos / baseline),
              "full_photos_per_s": round(args.photos / full), "full_vs_baseline_time": round(full / baseline, 2)}
    print(json.dumps(result, indent=2))
    print(f"target: >= 300 photos/s read + render (got {result['full_photos_per_s']})")


if __name__ == "__main__":
    main()
