"""Run the plugin's busted specs (lua-plugin/spec) as part of the one test command.

A locale with a decimal comma is built with localedef when the machine has
none, so the locale-safety specs run for real instead of being skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[1] / "lua-plugin"


def comma_locale(tmp: Path) -> dict[str, str]:
    """Environment with LOCPATH pointing at a de_DE.UTF-8 built here, if possible."""
    if shutil.which("localedef") is None:
        return {}
    target = tmp / "locales"
    target.mkdir()
    subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8", str(target / "de_DE.UTF-8")],
                   capture_output=True, text=True, timeout=120, check=False)
    if not (target / "de_DE.UTF-8").exists():
        return {}
    return {"LOCPATH": str(target)}


@pytest.mark.skipif(shutil.which("busted") is None,
                    reason="busted is not installed (apt-get install lua5.4 lua-busted)")
def test_busted_specs(tmp_path: Path) -> None:
    env = {**os.environ, **comma_locale(tmp_path)}
    proc = subprocess.run(["busted", "-o", "utfTerminal"],
                          cwd=PLUGIN, env=env, capture_output=True, text=True, timeout=300, check=False)
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report
    if env.get("LOCPATH"):
        assert " 0 pending" in report, report
