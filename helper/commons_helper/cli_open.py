"""``commons-helper open``: open the running helper's web page in the browser.

Reads the runtime file the service wrote (``{"url", "pid", "secret"}``), asks
the service for a one-time login token with the secret, and opens
``<url>/login?token=...``; the page then holds a session cookie and never sees
the secret. ``--print`` prints the link instead (it works once, for two minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import webbrowser
from typing import TYPE_CHECKING, Any

from .errors import CommonsHelperError

if TYPE_CHECKING:
    from .cli import Context

TIMEOUT = 10.0
START_HINT = "Start it with `commons-helper serve` (or let darktable's export start it), then run " \
             "`commons-helper open` again."


class HelperNotRunning(CommonsHelperError):
    code = "not-running"


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


def read_runtime(path: os.PathLike[str] | str) -> dict[str, Any]:
    """The runtime file's contents, or HelperNotRunning with what to do."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise HelperNotRunning(f"The helper is not running (no runtime file at {path}). "
                               f"{START_HINT}") from None
    except (OSError, ValueError) as exc:
        raise HelperNotRunning(f"The helper's runtime file {path} cannot be read ({exc}). "
                               f"{START_HINT}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("url"), str) \
            or not isinstance(data.get("secret"), str):
        raise HelperNotRunning(f"The helper's runtime file {path} is incomplete. {START_HINT}")
    url = urllib.parse.urlsplit(data["url"])
    if url.scheme != "http" or url.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise HelperNotRunning(f"The helper's runtime file {path} names {data['url']!r}, which is "
                               "not a local address; refusing to send the secret there.")
    return data


def login_url(runtime: dict[str, Any], *, timeout: float = TIMEOUT) -> str:
    """Ask the running helper for a one-time login link."""
    base = str(runtime["url"]).rstrip("/")
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only, checked in read_runtime
        f"{base}/api/v1/session-token", data=b"", method="POST",
        headers={"Authorization": f"Bearer {runtime['secret']}", "Accept": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    try:
        with opener.open(request, timeout=timeout) as resp:
            data = json.load(resp)
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise HelperNotRunning(
                f"The helper at {base} did not accept the secret from its runtime file; another "
                f"helper may have replaced it. Stop it, then {START_HINT[0].lower()}{START_HINT[1:]}"
            ) from exc
        raise CommonsHelperError(f"The helper at {base} answered HTTP {exc.code} when asked for a "
                                 "sign-in link. Its log says more (`commons-helper paths`).",
                                 code="open-failed") from exc
    except (urllib.error.URLError, OSError) as exc:
        pid = runtime.get("pid")
        raise HelperNotRunning(
            f"The helper is not answering at {base}"
            + (f" (process {pid})" if pid else "")
            + f"; it may have stopped without cleaning up. {START_HINT}"
        ) from exc
    except ValueError as exc:
        raise CommonsHelperError(f"The helper at {base} sent an answer that is not JSON.",
                                 code="open-failed") from exc
    token = data.get("token") if isinstance(data, dict) else None
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
