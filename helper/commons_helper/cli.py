"""The ``commons-helper`` command line: parser assembly and the error edge.

Each command lives in its own module exposing ``register(subparsers)``; the
parser it adds sets ``func`` to a handler ``(args, ctx) -> int``. Errors from
the one exception tree become one clean message on stderr (never a traceback)
and an exit status: 0 success, 1 failure, 2 usage error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import __version__
from .config import ON_EXISTS_POLICIES, Settings, load_settings
from .errors import CommonsHelperError, UsageError
from .paths import Paths, get_paths

#: Command -> the module that adds it (``register(subparsers)``). Only the module of the
#: command being run is imported, so a quick command starts quickly.
COMMANDS = {
    "upload": "commons_helper.cli_upload",
    "preview": "commons_helper.cli_misc",
    "config": "commons_helper.cli_config",
    "login": "commons_helper.cli_auth",
    "whoami": "commons_helper.cli_auth",
    "logout": "commons_helper.cli_auth",
    "serve": "commons_helper.cli_service",
    "status": "commons_helper.cli_service",
    "paths": "commons_helper.cli_service",
    "open": "commons_helper.cli_open",
    "install-darktable": "commons_helper.cli_darktable",
    "uninstall-darktable": "commons_helper.cli_darktable",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))


@dataclass
class Context:
    paths: Paths
    settings: Settings  # config file + command-line overrides


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print usage and exit 2 itself
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def add_wiki_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wiki", metavar="API_URL",
                        help="Action API URL (default: Wikimedia Commons, or `wiki` in the config)")


def add_page_options(parser: argparse.ArgumentParser) -> None:
    """Settings that shape file pages and titles; the same names as in the config file."""
    g = parser.add_argument_group("file page settings (override the config file)")
    g.add_argument("--license", help="license template for your own work, e.g. cc-by-sa-4.0")
    g.add_argument("--author", help="author name shown on the file page")
    g.add_argument("--username", help="your Wikimedia username (links the author)")
    g.add_argument("--category", action="append", dest="categories", metavar="NAME",
                   help="add a category (repeatable)")
    g.add_argument("--language", help="language of descriptions that do not say their own (e.g. en)")
    g.add_argument("--title-pattern", help="pattern for file names, e.g. '{title} {date}'")
    g.add_argument("--strip-location", action="store_true", default=None,
                   help="publish no location and remove GPS from the uploaded copy")
    g.add_argument("--source", help="source field (default {{own}})")


def add_upload_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--on-exists", choices=ON_EXISTS_POLICIES,
                        help="when the title is taken: rename (default), new-version (own files "
                             "only) or fail")
    parser.add_argument("--chunk-size", type=int, metavar="BYTES",
                        help="chunk size for large files (default 5 MiB)")


SETTING_ARGS = ("wiki", "license", "author", "username", "categories", "language", "title_pattern",
                "strip_location", "source", "on_exists", "chunk_size", "port", "oauth_base")


def settings_from_args(args: argparse.Namespace, base: Settings) -> Settings:
    overrides: dict[str, Any] = {}
    for name in SETTING_ARGS:
        value = getattr(args, name, None)
        if value is None:
            continue
        if name == "categories":
            value = tuple((*base.categories, *value))
        overrides[name] = value
    return base.with_overrides(**overrides)


def build_parser(command: str | None = None) -> ArgumentParser:
    """The whole parser, or (``command`` given) one with just that command's module."""
    parser = ArgumentParser(
        prog="commons-helper",
        description="Put your photos on Wikimedia Commons: sign in, upload, preview, "
                    "run the helper service for darktable.",
    )
    parser.add_argument("--version", action="version", version=f"commons-helper {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    modules = [COMMANDS[command]] if command in COMMANDS else COMMAND_MODULES
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args_list if not a.startswith("-")), None)
    parser = build_parser(first)
    try:
        args = parser.parse_args(args_list)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        paths = get_paths()
        ctx = Context(paths=paths, settings=settings_from_args(args, load_settings(paths)))
        return int(args.func(args, ctx))
    except CommonsHelperError as exc:
        print(f"commons-helper: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("commons-helper: interrupted; nothing queued was lost.", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so plainly, keep the details for the report
        report = _save_crash_report()
        print(f"commons-helper: internal error ({type(exc).__name__}: {exc}). This is a bug; "
              f"nothing queued was lost. Details: {report}", file=sys.stderr)
        return 1


def _save_crash_report() -> str:
    import tempfile
    import time
    import traceback

    text = traceback.format_exc()
    try:
        folder = get_paths().log_dir
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}.txt"
        path.write_text(text, encoding="utf-8")
    except OSError:
        fd, name = tempfile.mkstemp(prefix="commons-helper-crash-", suffix=".txt")
        with open(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        return name
    return str(path)
