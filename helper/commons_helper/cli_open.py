"""``commons-helper open``: open the running helper's web page in the browser.

Reads the runtime file the service wrote (``{"url", "pid", "secret"}``), asks
the service for a one-time login token with the secret, and opens
``<url>/login?token=...``; the page then holds a session cookie and never sees
the secret. ``--print`` prints the link instead (it works once, for two minutes).
"""

from __future__ import annotations

import argparse
import urllib.parse
import webbrowser
from typing import TYPE_CHECKING, Any

from .errors import CommonsHelperError, HelperNotRunning
from .runtime import call_helper, read_runtime

__all__ = ["HelperNotRunning", "login_url", "read_runtime", "register"]

if TYPE_CHECKING:
    from .cli import Context

TIMEOUT = 10.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "open",
        help="open the helper's web page (queue, sign-in, settings) in your browser",
        description="Open the running helper's web page in your browser with a one-time sign-in "
                    "link (it works once, for two minutes).",
    )
    parser.add_argument("--print", action="store_true", dest="print_only",
                        help="print the one-time link instead of opening a browser")
    parser.set_defaults(func=run)


def login_url(runtime: dict[str, Any], *, timeout: float = TIMEOUT) -> str:
    """Ask the running helper for a one-time login link."""
    data = call_helper(runtime, "POST", "/api/v1/session-token", timeout=timeout)
    token = data.get("token") if isinstance(data, dict) else None
    base = str(runtime["url"]).rstrip("/")
    if not isinstance(token, str) or not token:
        raise CommonsHelperError(f"The helper at {base} sent no sign-in token.", code="open-failed")
    return f"{base}/login?token={urllib.parse.quote(token, safe='')}"


def run(args: argparse.Namespace, ctx: Context) -> int:
    url = login_url(read_runtime(ctx.paths.runtime_file))
    if args.print_only:
        print(url)
        return 0
    if webbrowser.open(url, new=2):
        print("Opened the helper's page in your browser.")
        return 0
    print("No browser could be opened here. Open this link (it works once, for two minutes):")
    print(url)
    return 0
