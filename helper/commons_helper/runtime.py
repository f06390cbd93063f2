"""Finding and talking to the running helper service through its runtime file.

The service writes ``{"url", "pid", "secret", ...}`` (mode 0600) once it answers. Commands
that talk to it (``status``, ``open``, ``login``) read that file here and call the local API
with the secret, never through a proxy and never to anything but this computer.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from .errors import CommonsHelperError, HelperNotRunning

START_HINT = ("Start it with `commons-helper serve` (or let darktable's export start it), then try "
              "again.")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def read_runtime(path: os.PathLike[str] | str) -> dict[str, Any]:
    """The runtime file's contents (a local url and a secret), or HelperNotRunning saying why."""
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
    if url.scheme != "http" or url.hostname not in LOCAL_HOSTS:
        raise HelperNotRunning(f"The helper's runtime file {path} names {data['url']!r}, which is "
                               "not a local address; refusing to send the secret there.")
    return data


def read_runtime_or_none(path: Path) -> dict[str, Any] | None:
    try:
        return read_runtime(path)
    except HelperNotRunning:
        return None


def pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def call_helper(runtime: dict[str, Any], method: str, path: str, *, timeout: float = 10.0) -> Any:
    """One request to the running helper's local API with its secret; the decoded JSON answer."""
    base = str(runtime["url"]).rstrip("/")
    request = urllib.request.Request(  # noqa: S310 - a local http URL, checked in read_runtime
        f"{base}{path}", data=b"" if method == "POST" else None, method=method,
        headers={"Authorization": f"Bearer {runtime['secret']}", "Accept": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    try:
        with opener.open(request, timeout=timeout) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise HelperNotRunning(
                f"The helper at {base} did not accept the secret from its runtime file; another "
                f"helper may have replaced it. Stop it, then start it again.") from exc
        raise CommonsHelperError(f"The helper at {base} answered HTTP {exc.code} to {path}. Its log "
                                 "says more (`commons-helper paths` shows where).",
                                 code="helper-error") from exc
    except (urllib.error.URLError, OSError) as exc:
        pid = runtime.get("pid")
        raise HelperNotRunning(
            f"The helper is not answering at {base}" + (f" (process {pid})" if pid else "")
            + f"; it may be starting, stopping or stuck. {START_HINT}") from exc
    except ValueError as exc:
        raise CommonsHelperError(f"The helper at {base} sent an answer that is not JSON.",
                                 code="helper-error") from exc


def tell_helper_credentials_changed(runtime_file: Path) -> bool:
    """After a sign-in or sign-out: a running helper resumes a paused queue with the new
    credentials. True when a helper was told; False when none is running."""
    runtime = read_runtime_or_none(runtime_file)
    if runtime is None or not pid_alive(runtime.get("pid")):
        return False
    try:
        call_helper(runtime, "POST", "/api/v1/resume", timeout=5.0)
    except CommonsHelperError:
        return False
    return True
