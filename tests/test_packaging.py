"""What `pip install` ships: the darktable plugin and the web page's files are inside the wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_carries_the_plugin_and_the_page(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("commons_helper-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("commons_helper/lua/commons_export.lua", "commons_helper/lua/commons_export/json.lua",
                   "commons_helper/lua/commons_export/logic.lua", "commons_helper/static/index.html",
                   "commons_helper/static/app.js", "commons_helper/static/app.css"):
        assert needed in names, needed
    assert not any("/spec/" in n for n in names)  # the busted specs stay in the repository
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt")))
    assert b"commons-helper = commons_helper.cli:main" in entry
