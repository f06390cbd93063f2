"""``commons-helper install-darktable`` / ``uninstall-darktable``: the darktable plugin.

The plugin is ``commons_export.lua`` plus its folder ``commons_export/``
(``json.lua``, ``logic.lua``). Installing copies them into
``<configdir>/lua/contrib/`` and adds ``require "contrib/commons_export"`` to
``<configdir>/luarc``; both steps are idempotent. Uninstalling removes the
files and only that line.

Where the plugin comes from: the installed package ships it as package data
in ``commons_helper/lua/`` (built from the repository's ``lua-plugin/``); a
checkout run from source uses ``lua-plugin/`` directly.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import LocalFileError
from .fileutil import atomic_write

if TYPE_CHECKING:
    from .cli import Context

PLUGIN = "commons_export"
#: the plugin's files, relative to the plugin folder (the busted specs stay behind)
PLUGIN_FILES = ("commons_export.lua", "commons_export/json.lua", "commons_export/logic.lua")
REQUIRE_LINE = f'require "contrib/{PLUGIN}"'
_REQUIRE_RE = re.compile(r"""^\s*require\s*\(?\s*["']contrib[/.]commons_export["']\s*\)?\s*;?\s*(--.*)?$""")


def register(subparsers: Any) -> None:
    for name, func, helptext in (
        ("install-darktable", run_install,
         "install the darktable plugin (export target \"Wikimedia Commons\") and enable it"),
        ("uninstall-darktable", run_uninstall, "remove the darktable plugin and its line in luarc"),
    ):
        p = subparsers.add_parser(name, help=helptext, description=helptext[0].upper() + helptext[1:] + ".")
        p.add_argument("--configdir", metavar="DIR",
                       help="darktable's configuration folder (default: the one darktable uses, e.g. "
                            "~/.config/darktable; the same as darktable's --configdir)")
        p.add_argument("--json", action="store_true", help="print what was done as JSON")
        p.set_defaults(func=func)


def default_configdir(environ: dict[str, str] | None = None, platform: str | None = None) -> Path:
    """darktable's own default: ``%LOCALAPPDATA%\\darktable`` on Windows, else
    ``$XDG_CONFIG_HOME/darktable`` or ``~/.config/darktable`` (macOS included)."""
    env = os.environ if environ is None else environ
    plat = sys.platform if platform is None else platform
    if plat.startswith("win"):
        base = env.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "darktable"
    xdg = env.get("XDG_CONFIG_HOME")
    base_path = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".config"
    return base_path / "darktable"


def plugin_source() -> Path:
    """The folder holding ``commons_export.lua``: package data, else the repository's lua-plugin/."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "lua", here.parent.parent / "lua-plugin"):
        if all((candidate / f).is_file() for f in PLUGIN_FILES):
            return candidate
    raise LocalFileError(
        f"the darktable plugin's files are missing from this installation (looked in {here / 'lua'} "
        f"and {here.parent.parent / 'lua-plugin'}); reinstall commons-helper.", code="plugin-missing")


@dataclass
class Outcome:
    configdir: Path
    luarc: Path
    files: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"configdir": str(self.configdir), "luarc": str(self.luarc), "files": self.files,
                "changed": self.changed}


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LocalFileError(f"cannot read {path}: {exc.strerror}", code="darktable-config") from exc


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    try:
        atomic_write(path, data, mode=mode)
    except OSError as exc:
        raise LocalFileError(f"cannot write {path}: {exc.strerror}; nothing else was changed after it.",
                             code="darktable-config") from exc


def _mode_of(path: Path, default: int = 0o644) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return default


def install(configdir: Path, source: Path | None = None) -> Outcome:
    src = source or plugin_source()
    contrib = configdir / "lua" / "contrib"
    out = Outcome(configdir=configdir, luarc=configdir / "luarc")
    for rel in PLUGIN_FILES:
        data = (src / rel).read_bytes()
        target = contrib / rel
        out.files.append(str(target))
        if _read(target) != data:
            _write(target, data)
            out.changed.append(str(target))
    luarc = _read(out.luarc)
    text = luarc.decode("utf-8", errors="surrogateescape") if luarc is not None else ""
    if not any(_REQUIRE_RE.match(line) for line in text.splitlines()):
        if text and not text.endswith("\n"):
            text += "\n"
        text += REQUIRE_LINE + "\n"
        _write(out.luarc, text.encode("utf-8", errors="surrogateescape"), _mode_of(out.luarc))
        out.changed.append(str(out.luarc))
    return out


def uninstall(configdir: Path) -> Outcome:
    contrib = configdir / "lua" / "contrib"
    out = Outcome(configdir=configdir, luarc=configdir / "luarc")
    for rel in PLUGIN_FILES:
        target = contrib / rel
        try:
            target.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise LocalFileError(f"cannot remove {target}: {exc.strerror}", code="darktable-config") from exc
        out.files.append(str(target))
        out.changed.append(str(target))
    try:
        (contrib / PLUGIN).rmdir()
    except OSError:
        pass  # absent, or holds files that are not ours
    luarc = _read(out.luarc)
    if luarc is not None:
        text = luarc.decode("utf-8", errors="surrogateescape")
        kept = [line for line in text.splitlines(keepends=True) if not _REQUIRE_RE.match(line.rstrip("\r\n"))]
        if len(kept) != len(text.splitlines(keepends=True)):
            _write(out.luarc, "".join(kept).encode("utf-8", errors="surrogateescape"), _mode_of(out.luarc))
            out.changed.append(str(out.luarc))
    return out


def _configdir(args: argparse.Namespace) -> Path:
    return Path(args.configdir).expanduser() if args.configdir else default_configdir()


def run_install(args: argparse.Namespace, ctx: Context) -> int:
    out = install(_configdir(args))
    if args.json:
        print(json.dumps(out.as_json(), indent=2))
        return 0
    if out.changed:
        print(f"Installed the darktable plugin in {out.configdir / 'lua' / 'contrib'} and enabled it in "
              f"{out.luarc}.")
    else:
        print(f"The darktable plugin is already installed and up to date in {out.configdir}.")
    print("Restart darktable, then choose \"Wikimedia Commons\" as the target storage in the export module. "
          "Sign in once with `commons-helper login` if you have not yet.")
    return 0


def run_uninstall(args: argparse.Namespace, ctx: Context) -> int:
    out = uninstall(_configdir(args))
    if args.json:
        print(json.dumps(out.as_json(), indent=2))
        return 0
    if out.changed:
        print(f"Removed the darktable plugin from {out.configdir} ({len(out.changed)} change(s)). "
              "Restart darktable; your photos, tags and settings are untouched.")
    else:
        print(f"The darktable plugin was not installed in {out.configdir}; nothing changed.")
    return 0
