"""The browser step driven for real: headless Chromium (Playwright, Debian's /usr/bin/chromium)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from commons_helper.auth.flow import Endpoints
from commons_helper.auth.oauth import ClientConfig
from commons_helper.auth.signin import BrowserSignIn, sign_in_with_browser
from commons_helper.auth.store import open_store
from commons_helper.errors import SignInNeeded
from commons_helper.paths import get_paths
from tests.peers.oauth_server import MetaOAuthServer
from tests.test_auth_support import *  # noqa: F403 - the fixtures (oauth_click, leak_check)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

playwright_api = pytest.importorskip("playwright.async_api")
pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
    pytest.mark.usefixtures("leak_check"),
]


@pytest.fixture
async def browser(tmp_path: Path) -> Any:
    async with playwright_api.async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield context
        finally:
            await context.close()


async def run_sign_in(server: MetaOAuthServer, browser: Any, monkeypatch: pytest.MonkeyPatch,
                      *, click: str) -> tuple[BrowserSignIn, asyncio.Task[Any], Any]:
    monkeypatch.setenv("COMMONS_HELPER_KEYRING", "0")
    client = server.register_client(confidential=False)  # public client: PKCE only
    signin = BrowserSignIn(endpoints=Endpoints.from_base(server.oauth_base),
                           client=ClientConfig(client.client_id), store=open_store(get_paths()),
                           user_agent="commons-helper-tests/1")
    page = await browser.new_page()
    opened: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(sign_in_with_browser(signin, open_url=opened.set_result,
                                                    timeout=60))
    url = await asyncio.wait_for(opened, 10)
    await page.goto(url)
    assert "Allow" in await page.content()
    await page.click(click)
    await page.wait_for_selector("#result")
    return signin, task, page


async def test_chromium_sign_in_with_consent_click(oauth_click: MetaOAuthServer, browser: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    signin, task, page = await run_sign_in(oauth_click, browser, monkeypatch, click="#allow")
    cred = await asyncio.wait_for(task, 30)
    assert await page.inner_text("#result") == "Signed in"
    assert "signed in as Admin" in await page.inner_text("#message")
    assert page.url.startswith("http://127.0.0.1:") and "/oauth/callback?" in page.url
    assert cred.username == "Admin" and cred.kind == "oauth" and cred.refresh_token
    stored = open_store(get_paths()).get(oauth_click.oauth_base)
    assert stored is not None and stored.access_token == cred.access_token
    assert signin.client.client_secret == ""  # public client, PKCE did the work


async def test_chromium_cancel_gives_a_clear_message(oauth_click: MetaOAuthServer, browser: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _signin, task, page = await run_sign_in(oauth_click, browser, monkeypatch, click="#deny")
    with pytest.raises(SignInNeeded) as info:
        await asyncio.wait_for(task, 30)
    assert "access was denied" in str(info.value)
    assert await page.inner_text("#result") == "Sign-in failed"
    assert "access was denied" in await page.inner_text("#message")
    assert open_store(get_paths()).get(oauth_click.oauth_base) is None
