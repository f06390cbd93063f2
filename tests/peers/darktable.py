"""Real darktable 4.2 (Lua API 9.0) under Xvfb, driven by a Lua script, for tests and benchmarks.

Each run owns a throwaway folder: configdir (with the plugin installed by
``install-darktable``'s own code), cachedir, tmpdir, HOME, and uses
``--library :memory:`` and ``--conf write_sidecar_files=never`` so nothing
leaks between runs. The driver is loaded through ``--luacmd`` inside
``pcall`` + ``os.exit``: a Lua error in it would otherwise leave darktable
running forever. A watchdog kills the whole process group (darktable,
Xvfb, and any helper the plugin started) when the time is up.

The driver gets ``T`` (see ``PRELUDE``): ``T.prints`` holds every
``darktable.print`` message; ``T.export(images)`` selects and starts an export
through the selected storage; ``T.collect(summary)``, if the driver defines
it, runs when the plugin prints its summary (inside the plugin's finalize)
and fills ``T.result``, which is then written as JSON with ``done = true``.
``T.finish()`` writes it at once (for runs without an export). The harness
then stops darktable with SIGKILL (4.2.1 ignores SIGTERM here) — a stop it
asked for, told apart from a crash.

Why not a waiter in ``darktable.control.dispatch`` that quits through
``global/quit`` (the pattern in the reference notes): on darktable 4.2.1 such
a dispatched job deadlocked darktable in about one run in ten here (thread
backtraces: the dispatched job in ``dt_lua_gtk_wrap_callback``, the Lua thread
waiting for the Lua lock, the GTK thread waiting for the main context). The
driver therefore runs only at the top level of ``--luacmd`` and in the
plugin's own callbacks, and the waiting happens here, in Python.

darktable acts on the image under the pointer rather than the selection when
the pointer hovers over a thumbnail; Xvfb's pointer sits at the screen centre,
so runs with many images pass ``plugins/lighttable/images_in_row`` large
enough that the centre stays empty.

A crash is never a pass: an exit by signal, a backtrace file, or a run that
ends without a result raises ``DarktableFailed`` with darktable's output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from commons_helper.cli_darktable import install

REPO = Path(__file__).resolve().parents[2]
PLUGIN_SOURCE = REPO / "lua-plugin"

PRELUDE = r"""
local dt = require "darktable"
T = { prints = {}, result = {}, result_path = %(result)s, plugin_dir = %(plugin)s }
T.json = dofile(T.plugin_dir .. "/commons_export/json.lua")
local real_print = dt.print
dt.print = function(msg)
  table.insert(T.prints, tostring(msg))
  io.stdout:write("[T.print] ", tostring(msg), "\n")
  io.stdout:flush()
  local r = real_print(msg)
  T.on_print(tostring(msg))
  return r
end
function T.tags(img)
  local names = {}
  for _, t in ipairs(dt.tags.get_tags(img)) do names[#names + 1] = t.name end
  table.sort(names)
  return names
end
function T.has_tag(img, name)
  for _, n in ipairs(T.tags(img)) do if n == name then return true end end
  return false
end
function T.import(path)
  local img = dt.database.import(path)
  if not img then error("import failed: " .. path) end
  return img
end
-- start an export of images through the selected storage (runs as a darktable job)
function T.export(images)
  dt.gui.selection(images)
  dt.gui.action("lib/export/export", 0, "", "", 1.0)
end
function T.image_info(img)
  return { id = img.id, title = img.title, description = img.description, tags = T.tags(img),
    filename = img.filename, path = img.path }
end
function T.screenshot(path)
  return os.execute("import -window root " .. "'" .. path:gsub("'", "'\\''") .. "'")
end
function T.write()
  T.result.prints = T.prints
  local f = assert(io.open(T.result_path .. ".part", "w"))
  f:write(T.json.encode(T.result))
  f:close()
  os.rename(T.result_path .. ".part", T.result_path)
end
function T.finish()
  T.result.done = true
  T.write()
end
-- a summary of the plugin: collect and finish (runs inside the plugin's finalize)
function T.on_print(msg)
  if msg:find("Wikimedia Commons: ", 1, true) == 1 and not msg:find("starting the helper", 1, true) then
    T.result.summary = msg
    local ok, err = pcall(function() if T.collect then T.collect(msg) end end)
    if not ok then T.result.driver_error = tostring(err) end
    T.finish()
  end
end
"""

LUACMD = ('local ok, e = pcall(dofile, %s); '
          'if not ok then print("[T] driver failed: " .. tostring(e)); os.exit(1) end')


class DarktableFailed(AssertionError):
    """darktable crashed, hung, or the driver did not finish."""


@dataclass
class DarktableRun:
    returncode: int
    output: str
    result: dict[str, Any]
    seconds: float
    root: Path
    backtraces: list[str] = field(default_factory=list)

    @property
    def prints(self) -> list[str]:
        return list(self.result.get("prints") or [])


def lua_string(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # JSON escapes \" \\ \n are Lua's too


def helper_wrapper(bin_dir: Path) -> Path:
    """A `commons-helper` on PATH that runs this checkout (or the installed package)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "commons-helper"
    script.write_text("#!/bin/sh\n"
                      f"PYTHONPATH={lua_sh(str(REPO / 'helper'))}${{PYTHONPATH:+:$PYTHONPATH}} "
                      f"exec {lua_sh(sys.executable)} -m commons_helper \"$@\"\n")
    script.chmod(0o755)
    return script


def lua_sh(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def available() -> str | None:
    """None when darktable and xvfb-run are here; else why not."""
    for prog in ("darktable", "xvfb-run", "curl"):
        if shutil.which(prog) is None:
            return f"{prog} is not installed (apt-get install darktable xvfb xauth curl)"
    return None


def run_darktable(root: Path, driver: str, *, env: dict[str, str] | None = None,
                  conf: dict[str, str] | None = None, timeout: float = 180.0,
                  install_plugin: bool = True, extra_args: list[str] | None = None,
                  library: str = ":memory:",
                  ready: Callable[[dict[str, Any]], bool] | None = None) -> DarktableRun:
    """Run darktable once with ``driver`` (Lua, after PRELUDE) and return what happened.

    ``library``: ``:memory:`` (default) or a file, to continue in a later run.
    ``ready(result)``: once the driver's result is done, also wait for this before stopping.
    Raises DarktableFailed on a crash, a hang (watchdog) or a missing result.
    """
    root.mkdir(parents=True, exist_ok=True)
    dirs = {name: root / name for name in ("home", "conf", "cache", "tmp")}
    for d in dirs.values():
        d.mkdir(exist_ok=True)
    if install_plugin:
        install(dirs["conf"], PLUGIN_SOURCE)
    result_path = root / "result.json"
    result_path.unlink(missing_ok=True)
    drive = root / "drive.lua"
    prelude = PRELUDE % {"result": lua_string(str(result_path)), "plugin": lua_string(str(PLUGIN_SOURCE))}
    drive.write_text(prelude + "\n" + driver)
    settings = {"write_sidecar_files": "never", "plugins/lighttable/export/storage_name": "commons_export",
                "plugins/lighttable/export/format_name": "jpeg", "ui_last/view": "lighttable",
                "ui_last/window_w": "1280", "ui_last/window_h": "800", "ui_last/maximized": "TRUE",
                "lighttable/ui/1/bottom_visible": "FALSE",
                **(conf or {})}
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", "darktable",
           "--library", library, "--configdir", str(dirs["conf"]), "--cachedir", str(dirs["cache"]),
           "--tmpdir", str(dirs["tmp"]), "--disable-opencl", "-d", "lua"]
    for k, v in settings.items():
        cmd += ["--conf", f"{k}={v}"]
    cmd += [*(extra_args or []), "--luacmd", LUACMD % lua_string(str(drive))]
    run_env = {**os.environ, "HOME": str(dirs["home"]), **(env or {})}
    run_env.pop("DISPLAY", None)
    log = root / "darktable.log"
    started = time.monotonic()
    bt_before = set(Path("/tmp").glob("darktable_bt_*"))
    stopped_by_us = False
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=run_env, start_new_session=True)
        try:
            timed_out = True
            deadline = started + timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    timed_out = False
                    break
                current = _read_result(result_path)
                if current.get("done") and (ready is None or ready(current)):
                    stopped_by_us = _terminate_darktable(proc.pid)
                    try:
                        proc.wait(timeout=30)
                        timed_out = False
                    except subprocess.TimeoutExpired:
                        pass
                    break
                time.sleep(0.1)
            if timed_out:
                _dump_threads(proc.pid, root / "hang-backtrace.txt")
            returncode = proc.returncode if proc.returncode is not None else -9
        finally:
            _kill_group(proc.pid)  # Xvfb, a helper the plugin started, anything left behind
            proc.wait()
    seconds = time.monotonic() - started
    output = log.read_text(errors="replace")
    backtraces = [str(p) for p in set(Path("/tmp").glob("darktable_bt_*")) - bt_before]
    result = _read_result(result_path)
    tail = "\n".join(output.splitlines()[-60:])
    if timed_out:
        stacks = root / "hang-backtrace.txt"
        where = f"\nthreads at the hang: {stacks}\n{_lua_frames(stacks)}" if stacks.exists() else ""
        raise DarktableFailed(f"darktable did not finish within {timeout:.0f} s and was killed "
                              f"(result so far: {result}).{where}\n--- output tail ---\n{tail}")
    # the SIGKILL we sent comes back through xvfb-run as 137; any other signal is a crash
    asked = stopped_by_us and returncode in (0, 128 + signal.SIGKILL, -signal.SIGKILL)
    crashed = (not asked and (returncode < 0 or returncode >= 128)) or bool(backtraces) \
        or re.search(r"(?i)segmentation fault|backtrace written", output) is not None
    if crashed:
        raise DarktableFailed(f"darktable CRASHED (exit status {returncode}, backtraces {backtraces}); "
                              f"this is never a pass.\n--- output tail ---\n{tail}")
    if (returncode != 0 and not asked) or not result.get("done"):
        raise DarktableFailed(f"darktable exited with {returncode} without a driver result "
                              f"(the driver failed or never ran).\n--- output tail ---\n{tail}")
    if result.get("driver_error"):
        raise DarktableFailed(f"the Lua driver failed: {result['driver_error']}\n"
                              f"prints: {result.get('prints')}\n--- output tail ---\n{tail}")
    return DarktableRun(returncode=returncode, output=output, result=result, seconds=seconds, root=root,
                        backtraces=backtraces)


def comma_locale_env(folder: Path) -> dict[str, str]:
    """LOCPATH + LC_NUMERIC for a de_DE.UTF-8 built with localedef (decimal comma), or {}."""
    if shutil.which("localedef") is None:
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "de_DE.UTF-8"
    if not target.exists():
        subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8", str(target)],
                       capture_output=True, timeout=120, check=False)
    if not target.exists():
        return {}
    return {"LOCPATH": str(folder), "LC_NUMERIC": "de_DE.UTF-8"}


def _read_result(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _darktable_pids(pgid: int) -> list[str]:
    return subprocess.run(["pgrep", "-g", str(pgid), "-x", "darktable"], capture_output=True, text=True,
                          check=False).stdout.split()


def _terminate_darktable(pgid: int) -> bool:
    """SIGKILL to darktable itself (xvfb-run then ends); True when it was sent.

    darktable 4.2.1 under Xvfb does not react to SIGTERM. Everything the tests
    read later (tags, history) is already committed to its SQLite databases.
    """
    sent = False
    for pid in _darktable_pids(pgid):
        try:
            os.kill(int(pid), signal.SIGKILL)
            sent = True
        except ProcessLookupError:
            pass
    return sent


def _dump_threads(pgid: int, target: Path) -> None:
    """Every thread's backtrace of the hung darktable (needs gdb), for the failure message."""
    if shutil.which("gdb") is None or shutil.which("pgrep") is None:
        return
    for pid in _darktable_pids(pgid)[:1]:
        proc = subprocess.run(["gdb", "-p", pid, "-batch", "-ex", "thread apply all bt 25"],
                              capture_output=True, text=True, timeout=90, check=False)
        target.write_text(proc.stdout + proc.stderr)


def _lua_frames(stacks: Path) -> str:
    """The threads of a backtrace dump that are in darktable's Lua or GUI glue."""
    keep: list[str] = []
    for block in stacks.read_text(errors="replace").split("\nThread ")[1:]:
        frames = [line for line in block.splitlines()
                  if re.search(r"dt_lua|lua_|gtk_main|invoke|dt_control", line)]
        if frames:
            keep.append("Thread " + block.splitlines()[0] + "\n  " + "\n  ".join(frames[:8]))
    return "\n".join(keep)


def _kill_group(pgid: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        time.sleep(0.3)


def make_photo(path: Path, *, size: str = "800x600", seed: int = 0) -> Path:
    """A JPEG from ImageMagick (no fonts needed), different bytes for each seed."""
    colours = ["red", "blue", "green", "orange", "purple", "teal", "gold", "navy"]
    a, b = colours[seed % len(colours)], colours[(seed * 3 + 1) % len(colours)]
    x, y, r = 100 + (seed * 37) % 600, 100 + (seed * 53) % 400, 20 + seed % 60
    subprocess.run(["convert", "-size", size, f"gradient:{a}-{b}", "-fill", "white",
                    "-draw", f"circle {x},{y} {x},{y + r}", "-quality", "90", str(path)],
                   check=True, capture_output=True, timeout=60)
    return path
