"""Fixtures and helpers shared by the tests/test_auth_*.py modules (no tests of its own).

- ``oauth`` / ``oauth_click``: a fresh Meta-like OAuth server (tests/peers/oauth_server.py);
- ``gateway``: the Bearer gateway in front of the session's real test wiki;
- ``fake_browser``: ``$BROWSER`` is a separate process that follows the sign-in redirects;
- ``leak_check``: captures everything the helper prints (stdout/stderr) and logs (every
  ``commons_helper`` logger at DEBUG, plus log files under COMMONS_HELPER_HOME) during the test,
  and fails the test if any token, code, client secret, PKCE verifier or bot password handled
  in it shows up there.
"""

from __future__ import annotations

import io
import logging
import sys
import textwrap
import urllib.error
import urllib.parse
import urllib.request
import webbrowser
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from commons_helper import cli
from tests.peers.bearer_gateway import BearerGateway
from tests.peers.oauth_server import MetaOAuthServer

if TYPE_CHECKING:
    from tests.peers.mediawiki import TestWiki

#: What ``from tests.test_auth_support import *`` brings into a test module: the fixtures.
__all__ = ["fake_browser", "gateway", "leak_check", "oauth", "oauth_click"]

SCANNED_LOGGERS = ("commons_helper", "aiohttp.access", "aiohttp.server", "httpx2", "httpx",
                   "authlib.integrations")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(SCANNED_LOGGERS):
            return
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name}: {text}")


@dataclass
class Transcript:
    """Everything the helper showed or logged in one test."""

    chunks: list[str] = field(default_factory=list)
    extra_secrets: set[str] = field(default_factory=set)

    def add(self, text: str) -> None:
        self.chunks.append(text)

    @property
    def text(self) -> str:
        return "\n".join(self.chunks)


def find_leaks(text: str, secrets: set[str]) -> list[str]:
    """The secrets (shown shortened) that appear in ``text``, also URL-encoded."""
    found = []
    for s in sorted(secrets):
        if len(s) < 8:
            continue
        if s in text or urllib.parse.quote(s, safe="") in text:
            found.append(s[:4] + "…")
    return found


def all_secrets(wiki: TestWiki | None = None) -> set[str]:
    secrets: set[str] = set()
    for server in MetaOAuthServer.instances:
        with server.lock:
            secrets |= set(server.issued)
    if wiki is not None:
        secrets |= {b.password for b in wiki.bots.values()}
    return secrets


@pytest.fixture
def leak_check(capsys: pytest.CaptureFixture[str], helper_home: Path,
               request: pytest.FixtureRequest) -> Iterator[Transcript]:
    transcript = Transcript()
    handler = _Collect()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield transcript
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    out, err = capsys.readouterr()
    transcript.add(out)
    transcript.add(err)
    transcript.chunks.extend(handler.lines)
    for path in helper_home.rglob("*.log"):
        transcript.add(path.read_text(errors="replace"))
    wiki = request.getfixturevalue("wiki") if "wiki" in request.fixturenames else None
    secrets = all_secrets(wiki) | transcript.extra_secrets
    leaks = find_leaks(transcript.text, secrets)
    assert not leaks, f"secrets leaked into output/logs: {leaks}"


@pytest.fixture
def oauth() -> Iterator[MetaOAuthServer]:
    server = MetaOAuthServer(consent="auto").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def oauth_click() -> Iterator[MetaOAuthServer]:
    server = MetaOAuthServer(consent="click").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def gateway(wiki: TestWiki, oauth: MetaOAuthServer) -> Iterator[BearerGateway]:
    gw = BearerGateway(wiki, oauth).start()
    try:
        yield gw
    finally:
        gw.stop()


def run_cli(capsys: pytest.CaptureFixture[str], transcript: Transcript, argv: list[str],
            stdin: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None
            ) -> tuple[int, str, str]:
    """Run ``commons-helper argv`` in-process; returns (status, stdout, stderr)."""
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        status = cli.main(argv)
    finally:
        sys.stdin = old_stdin
    out, err = capsys.readouterr()
    transcript.add(out)
    transcript.add(err)
    return status, out, err


def follow_redirects(url: str, *, stop_at_callback: bool = False, limit: int = 10
                     ) -> tuple[int, str, str]:
    """A minimal "browser" (urllib, no logging): follow redirects from ``url``.

    Returns (status, final URL, body). With ``stop_at_callback`` it returns the callback URL
    without requesting it.
    """

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    for _ in range(limit):
        if stop_at_callback and "/oauth/callback" in urllib.parse.urlsplit(url).path:
            return 0, url, ""
        try:
            with opener.open(url, timeout=30) as resp:
                return int(resp.status), url, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            if exc.code in (301, 302, 303, 307, 308):
                url = urllib.parse.urljoin(url, exc.headers["Location"])
                continue
            return int(exc.code), url, exc.read().decode("utf-8", "replace")
    raise AssertionError("too many redirects")


FOLLOWER = '''
import sys, urllib.error, urllib.parse, urllib.request
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None
opener = urllib.request.build_opener(NoRedirect)
url = sys.argv[1]
for _ in range(10):
    try:
        with opener.open(url, timeout=30) as r:
            r.read()
            break
    except urllib.error.HTTPError as e:
        if e.code in (301, 302, 303, 307, 308):
            url = urllib.parse.urljoin(url, e.headers["Location"])
            continue
        break
'''


@pytest.fixture
def fake_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """$BROWSER = a separate process that follows the redirects (webbrowser runs it)."""
    script = tmp_path / "follow.py"
    script.write_text(textwrap.dedent(FOLLOWER))
    monkeypatch.setenv("BROWSER", f"{sys.executable} {script} %s")
    monkeypatch.setattr(webbrowser, "_tryorder", None)
    monkeypatch.setattr(webbrowser, "_browsers", {})
    return script
