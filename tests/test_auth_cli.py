"""``commons-helper login / whoami / logout`` in-process, against the real peers.

Also: the leak scanner itself (it must find a planted secret, and it must have secrets to look
for), and credential file permissions after a CLI login.
"""

from __future__ import annotations

import json
import stat
import urllib.parse
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from commons_helper.paths import get_paths
from tests.peers.oauth_server import MetaOAuthServer
from tests.test_auth_support import *  # noqa: F403 - the fixtures (oauth, leak_check, fake_browser, ...)
from tests.test_auth_support import Transcript, all_secrets, find_leaks, run_cli

if TYPE_CHECKING:
    from tests.peers.mediawiki import TestWiki

@pytest.fixture(autouse=True)
def file_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMONS_HELPER_KEYRING", "0")


def test_login_without_options_explains_the_three_ways(capsys: pytest.CaptureFixture[str],
                                                       leak_check: Transcript) -> None:
    status, out, _err = run_cli(capsys, leak_check, ["login"])
    assert status == 0
    assert "Sign in with your browser" in out and "--client-secret-stdin" in out
    assert "owner-only access token" in out and "--access-token-stdin" in out
    assert "bot password" in out and "--bot-password-stdin" in out
    assert "http://127.0.0.1/oauth/callback" in out
    assert "basic uploadfile editpage createeditmovepage" in out
    assert str(get_paths().credentials_file) in out


def test_cli_browser_login_whoami_logout(oauth: MetaOAuthServer, fake_browser: Path,
                                         capsys: pytest.CaptureFixture[str],
                                         leak_check: Transcript) -> None:
    client = oauth.register_client(confidential=True)
    base = ["--oauth-base", oauth.oauth_base]
    status, out, err = run_cli(capsys, leak_check,
                               ["login", *base, "--client-id", client.client_id,
                                "--client-secret-stdin", "--timeout", "30"],
                               stdin=f"{client.client_secret}\n")
    assert status == 0, err
    assert "Signed in as Admin (OAuth 2.0 (browser sign-in))" in out
    assert "renewed automatically" in out
    path = get_paths().credentials_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert oauth.count("token:authorization_code") == 1

    status, out, _ = run_cli(capsys, leak_check, ["whoami", *base, "--json"])
    info = json.loads(out)
    assert status == 0 and info["signed_in"] is True
    assert info["username"] == "Admin" and info["kind"] == "oauth"
    assert info["grants"] == ["basic", "uploadfile", "editpage", "createeditmovepage"]
    assert info["renewable"] is True and info["confidential_client"] is True
    assert info["expires_at"] and info["status"] == "ok"

    status, out, _ = run_cli(capsys, leak_check, ["whoami", *base])
    assert "Signed in as Admin" in out and "Access token expires:" in out

    status, out, _ = run_cli(capsys, leak_check, ["logout", *base])
    assert status == 0 and "Removed the stored sign-in of Admin" in out
    assert "Special:OAuthManageMyGrants" in out
    status, out, _ = run_cli(capsys, leak_check, ["whoami", *base])
    assert status == 1 and "Not signed in" in out
    assert client.client_secret not in path.read_text()  # type: ignore[operator]


def test_cli_login_again_reuses_the_stored_consumer(oauth: MetaOAuthServer, fake_browser: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    leak_check: Transcript) -> None:
    client = oauth.register_client(confidential=False)
    base = ["--oauth-base", oauth.oauth_base]
    assert run_cli(capsys, leak_check, ["login", *base, "--client-id", client.client_id,
                                        "--allow-overwrite-others", "--timeout", "30"])[0] == 0
    status, out, err = run_cli(capsys, leak_check, ["login", *base, "--timeout", "30"])
    assert status == 0 and f"consumer {client.client_id} you used before" in err
    assert "a public client cannot renew it" in out
    assert "uploadeditmovefile" in out
    assert oauth.count("token:authorization_code") == 2


def test_cli_no_browser_prints_the_url(oauth: MetaOAuthServer, capsys: pytest.CaptureFixture[str],
                                       leak_check: Transcript,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    client = oauth.register_client()
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url) or True)
    status, out, err = run_cli(capsys, leak_check, [
        "login", "--oauth-base", oauth.oauth_base, "--client-id", client.client_id,
        "--client-secret-stdin", "--no-browser", "--timeout", "1"],
        stdin=f"{client.client_secret}\n")
    assert status == 1 and "No answer from the sign-in page within 1 seconds" in err
    assert opened == []
    assert out.strip().startswith(f"{oauth.oauth_base}/authorize?response_type=code")
    assert "code_challenge_method=S256" in out


def test_cli_owner_only_token(oauth: MetaOAuthServer, capsys: pytest.CaptureFixture[str],
                              leak_check: Transcript) -> None:
    token = oauth.issue_owner_only_token(oauth.register_client(owner_only=True))
    base = ["--oauth-base", oauth.oauth_base]
    status, out, _ = run_cli(capsys, leak_check, ["login", *base, "--access-token-stdin"],
                             stdin=token + "\n")
    assert status == 0 and "Signed in as Admin (owner-only access token)" in out
    status, out, _ = run_cli(capsys, leak_check, ["whoami", *base, "--json"])
    assert json.loads(out)["kind"] == "access-token"
    status, out, err = run_cli(capsys, leak_check, ["login", *base, "--access-token-stdin"],
                               stdin="wrong-token-value-123\n")
    assert status == 1 and "did not accept the access token" in err
    leak_check.extra_secrets.add("wrong-token-value-123")


def test_cli_bot_password(wiki: TestWiki, capsys: pytest.CaptureFixture[str],
                          leak_check: Transcript) -> None:
    bot = wiki.bots["full"]
    status, out, err = run_cli(capsys, leak_check, ["login", "--wiki", wiki.api, "--bot-user",
                                                    bot.user, "--bot-password-stdin"],
                               stdin=bot.password + "\n")
    assert status == 0, err
    assert "Signed in as Admin (bot password)" in out
    status, out, _ = run_cli(capsys, leak_check, ["whoami", "--wiki", wiki.api, "--json"])
    assert json.loads(out)["kind"] == "bot-password"
    status, out, err = run_cli(capsys, leak_check, ["login", "--wiki", wiki.api, "--bot-user",
                                                    bot.user, "--bot-password-stdin"],
                               stdin="0" * 32 + "\n")
    assert status == 1 and "refused the bot password for Admin@test" in err
    status, out, _ = run_cli(capsys, leak_check, ["logout", "--wiki", wiki.api])
    assert "Special:BotPasswords" in out


def test_cli_refuses_two_ways_at_once(capsys: pytest.CaptureFixture[str],
                                      leak_check: Transcript) -> None:
    status, _out, err = run_cli(capsys, leak_check, ["login", "--client-id", "x",
                                                     "--access-token-stdin"])
    assert status == 2 and "choose one way" in err


def test_leak_scanner_finds_planted_secrets(oauth: MetaOAuthServer) -> None:
    token = oauth.issue_owner_only_token(oauth.register_client(owner_only=True))
    secrets = all_secrets()
    assert token in secrets and len(secrets) >= 2  # token + client secret
    assert find_leaks(f"log line: Bearer {token}", secrets)
    assert find_leaks("nothing here", secrets) == []
    encoded = "https://x/?t=" + urllib.parse.quote("a/b+c=d&e12345", safe="")
    assert find_leaks(encoded, {"a/b+c=d&e12345"})
