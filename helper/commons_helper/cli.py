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

#: Modules that add commands (each has ``register(subparsers)``).
COMMAND_MODULES = (
    "commons_helper.cli_upload",
    "commons_helper.cli_misc",
    "commons_helper.cli_config",
    "commons_helper.cli_auth",
    "commons_helper.cli_service",
    "commons_helper.cli_darktable",
    "commons_helper.cli_open",
)


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


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="commons-helper",
        description="Put your photos on Wikimedia Commons: sign in, upload, preview, "
                    "run the helper service for darktable.",
    )
    parser.add_argument("--version", action="version", version=f"commons-helper {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
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
