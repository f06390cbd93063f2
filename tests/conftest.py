"""Shared fixtures: a real MediaWiki for the whole session, an isolated COMMONS_HELPER_HOME per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.mediawiki import TestWiki, remove, start_wiki
from tests.peers.service import Service


@pytest.fixture(scope="session")
def wiki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestWiki]:
    """A real MediaWiki 1.39 on 127.0.0.1, shared by the session. Use unique file names."""
    root = tmp_path_factory.mktemp("wiki")
    w = start_wiki(root)
    try:
        yield w
    finally:
        w.stop()
        if not os.environ.get("KEEP_TEST_WIKI"):
            remove(root)


@pytest.fixture(autouse=True)
def helper_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own COMMONS_HELPER_HOME; no test sees the user's real files."""
    home = tmp_path / "home"
    monkeypatch.setenv("COMMONS_HELPER_HOME", str(home))
    for var in ("COMMONS_HELPER_BOT_USER", "COMMONS_HELPER_BOT_PASSWORD", "COMMONS_HELPER_ACCESS_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def service(wiki: TestWiki, helper_home: Path) -> Iterator[Service]:
    """A real `commons-helper serve` process on the session's wiki, signed in with a bot password."""
    bot = wiki.bots["full"]
    svc = Service(home=helper_home, wiki_api=wiki.api, bot_user=bot.user, bot_password=bot.password)
    svc.start()
    yield svc
    if svc.process is not None:
        svc.stop()


@pytest.fixture
def unique() -> str:
    """A short unique word for file names on the shared test wiki."""
    return uuid.uuid4().hex[:10]


#: Skips that are about this machine, not a missing peer (e.g. running as root).
EXPECTED_SKIPS = ("root reads everything", "exiftool trims", "POSIX file names")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Under ./run-tests (COMMONS_HELPER_TESTS_STRICT=1) every peer is installed, so a test that
    skips for a missing peer (darktable, Chromium, busted, ...) fails instead of passing quietly."""
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and os.environ.get("COMMONS_HELPER_TESTS_STRICT")):
        return
    reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
    if not any(expected in reason for expected in EXPECTED_SKIPS):
        report.outcome = "failed"
        report.longrepr = f"skipped under ./run-tests, where every peer should be installed: {reason}"
