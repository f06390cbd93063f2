"""OAuth 2.0 sign-in and refresh against a real authorization server (tests/peers/oauth_server.py).

The "browser" here follows the redirects programmatically (urllib, in a thread); the Chromium
run is in test_auth_browser.py. Every test runs under ``leak_check``: nothing secret may be
printed or logged.
"""

from __future__ import annotations

import asyncio
import stat
import urllib.parse
from pathlib import Path

import httpx2
import pytest

from commons_helper.auth.bearer import StaticBearer
from commons_helper.auth.callback import LoopbackListener
from commons_helper.auth.flow import Endpoints, PendingAuthorization, authorize_url
from commons_helper.auth.oauth import ClientConfig, OAuthClient
from commons_helper.auth.signin import (
    BrowserSignIn,
    authenticator_for,
    sign_in_with_access_token,
    sign_in_with_browser,
)
from commons_helper.auth.store import Credential, CredentialStore, open_store
from commons_helper.auth.tokens import OAuthAuthenticator
from commons_helper.errors import SignInNeeded, TokenRefused
from commons_helper.paths import get_paths
from tests.peers.oauth_server import MetaOAuthServer
from tests.test_auth_support import *  # noqa: F403 - the fixtures (oauth, leak_check, ...)
from tests.test_auth_support import Transcript, follow_redirects

UA = "commons-helper-tests/1 (test@example.org)"
pytestmark = pytest.mark.usefixtures("leak_check")


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> CredentialStore:
    monkeypatch.setenv("COMMONS_HELPER_KEYRING", "0")
    return open_store(get_paths())


def new_signin(server: MetaOAuthServer, store: CredentialStore, *, confidential: bool = True
               ) -> BrowserSignIn:
    client = server.register_client(confidential=confidential)
    return BrowserSignIn(endpoints=Endpoints.from_base(server.oauth_base),
                         client=ClientConfig(client.client_id, client.client_secret or ""),
                         store=store, user_agent=UA)


async def browse(url: str) -> tuple[int, str, str]:
    return await asyncio.to_thread(follow_redirects, url)


async def code_for(signin: BrowserSignIn, redirect_uri: str = "http://127.0.0.1:1/oauth/callback"
                   ) -> tuple[PendingAuthorization, str]:
    """Run the authorize step and catch the code before it reaches any listener."""
    auth, url = signin.begin(redirect_uri)
    _, callback, _ = await asyncio.to_thread(follow_redirects, url, stop_at_callback=True)
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))
    assert q["state"] == auth.state
    return auth, q["code"]


# -- signing in ---------------------------------------------------------------------------------


@pytest.mark.parametrize("confidential", [True, False], ids=["confidential", "public"])
async def test_browser_sign_in_stores_tokens(oauth: MetaOAuthServer, store: CredentialStore,
                                             confidential: bool) -> None:
    signin = new_signin(oauth, store, confidential=confidential)
    pages: list[tuple[int, str]] = []

    def open_url(url: str) -> None:
        async def go() -> None:
            status, _final, body = await browse(url)
            pages.append((status, body))
        asyncio.get_running_loop().create_task(go())

    cred = await sign_in_with_browser(signin, open_url=open_url, timeout=30)
    await asyncio.sleep(0.2)
    assert pages and pages[0][0] == 200 and "signed in as Admin" in pages[0][1]
    assert cred.username == "Admin" and cred.kind == "oauth"
    assert cred.grants == ("basic", "uploadfile", "editpage", "createeditmovepage")
    assert cred.refresh_token and cred.access_token
    assert cred.confidential is confidential
    assert cred.expires_at is not None and cred.expires_at > cred.obtained_at  # type: ignore[operator]
    stored = store.get(oauth.oauth_base)
    assert stored is not None and stored.access_token == cred.access_token
    assert stored.client_secret == signin.client.client_secret
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert oauth.count("authorize") == 1 and oauth.count("token:authorization_code") == 1
    assert len(signin.pending) == 0  # state used up


async def test_registered_callback_without_port_accepts_any_loopback_port(
        oauth: MetaOAuthServer, store: CredentialStore) -> None:
    signin = new_signin(oauth, store)
    assert oauth.clients[signin.client.client_id].redirect_uri == "http://127.0.0.1/oauth/callback"
    async with LoopbackListener(signin.pending, signin.finish) as listener:
        assert listener.port > 0
        _auth, url = signin.begin(listener.redirect_uri)
        status, final, _body = await browse(url)
        assert await listener.wait(10) == "Admin"
    assert status == 200 and f":{listener.port}/oauth/callback" in final


async def test_localhost_callback_is_refused_without_redirect(oauth: MetaOAuthServer,
                                                              store: CredentialStore) -> None:
    signin = new_signin(oauth, store)
    _auth, url = signin.begin("http://localhost:5000/oauth/callback")
    status, final, body = await browse(url)
    assert status == 400 and "/authorize" in final  # never sent to an unregistered address
    assert "invalid_request" in body and "not supported by client" in body


async def test_public_client_must_use_pkce(oauth: MetaOAuthServer, store: CredentialStore) -> None:
    signin = new_signin(oauth, store, confidential=False)
    async with LoopbackListener(signin.pending, signin.finish) as listener:
        _auth, url = signin.begin(listener.redirect_uri)
        q = [(k, v) for k, v in urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query)
             if not k.startswith("code_challenge")]
        await browse(signin.endpoints.authorize + "?" + urllib.parse.urlencode(q))
        with pytest.raises(SignInNeeded) as info:
            await listener.wait(10)
    assert info.value.code == "oauth-invalid_request"
    assert "Code challenge must be provided for public clients" in str(info.value)
    assert store.get(oauth.oauth_base) is None


async def test_denied_consent_is_a_clear_message(store: CredentialStore) -> None:
    server = MetaOAuthServer(consent="click").start()
    try:
        signin = new_signin(server, store)
        async with LoopbackListener(signin.pending, signin.finish) as listener:
            _auth, url = signin.begin(listener.redirect_uri)
            _s, consent_url, page = await browse(url)
            assert "Allow" in page
            form = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(consent_url).query))
            form.pop("title")
            form["accept"] = "0"
            async with httpx2.AsyncClient() as http:
                resp = await http.post(consent_url.split("?")[0]
                                       + "?title=Special:OAuth/authorize", data=form)
            assert resp.status_code == 302
            await browse(resp.headers["Location"])
            with pytest.raises(SignInNeeded) as info:
                await listener.wait(10)
        assert "access was denied" in str(info.value)
        assert store.get(server.oauth_base) is None
    finally:
        server.stop()


async def test_wrong_state_is_refused_and_nothing_stored(oauth: MetaOAuthServer,
                                                         store: CredentialStore) -> None:
    signin = new_signin(oauth, store)
    async with LoopbackListener(signin.pending, signin.finish) as listener:
        auth, url = signin.begin(listener.redirect_uri)
        _s, callback, _b = await asyncio.to_thread(follow_redirects, url, stop_at_callback=True)
        forged = callback.replace(f"state={auth.state}", "state=forged-by-someone-else")
        status, _f, body = await browse(forged)
        with pytest.raises(SignInNeeded) as info:
            await listener.wait(10)
    assert status == 400 and "Sign-in failed" in body
    assert info.value.code == "oauth-state-mismatch"
    assert "does not belong to a sign-in this helper started" in str(info.value)
    assert store.get(oauth.oauth_base) is None
    assert oauth.count("token:authorization_code") == 0  # the code was never exchanged


async def test_replayed_code_is_refused(oauth: MetaOAuthServer, store: CredentialStore) -> None:
    signin = new_signin(oauth, store)
    auth, code = await code_for(signin)
    assert await signin.finish(auth, code) == "Admin"
    first = store.get(oauth.oauth_base)
    with pytest.raises(SignInNeeded) as info:
        await signin.finish(auth, code)
    assert "already used" in str(info.value) and "Nothing was stored" in str(info.value)
    assert store.get(oauth.oauth_base) == first  # the good sign-in is untouched


async def test_replayed_callback_is_refused(oauth: MetaOAuthServer, store: CredentialStore) -> None:
    signin = new_signin(oauth, store)
    async with LoopbackListener(signin.pending, signin.finish) as listener:
        _auth, url = signin.begin(listener.redirect_uri)
        _s, callback, _b = await asyncio.to_thread(follow_redirects, url, stop_at_callback=True)
        first = await browse(callback)
        assert await listener.wait(5) == "Admin"
        again = await browse(callback)
    assert first[0] == 200 and again[0] == 400 and "does not belong" in again[2]
    assert oauth.count("token:authorization_code") == 1


async def test_wrong_verifier_is_refused(oauth: MetaOAuthServer, store: CredentialStore) -> None:
    signin = new_signin(oauth, store, confidential=False)
    auth, code = await code_for(signin)
    other = signin.pending.start(auth.client_id, auth.redirect_uri, auth.scopes)
    wrong = PendingAuthorization(state=auth.state, code_verifier=other.code_verifier,
                                 redirect_uri=auth.redirect_uri, client_id=auth.client_id,
                                 scopes=auth.scopes, created_at=auth.created_at)
    with pytest.raises(SignInNeeded) as info:
        await signin.finish(wrong, code)
    assert "PKCE check failed" in str(info.value)
    assert store.get(oauth.oauth_base) is None


async def test_expired_code_is_refused(oauth: MetaOAuthServer, store: CredentialStore) -> None:
    oauth.code_lifetime = 0.0
    signin = new_signin(oauth, store)
    auth, code = await code_for(signin)
    with pytest.raises(SignInNeeded) as info:
        await signin.finish(auth, code)
    assert "expired" in str(info.value)
    assert store.get(oauth.oauth_base) is None


async def test_redirect_uri_must_be_identical_at_the_token_step(oauth: MetaOAuthServer,
                                                                store: CredentialStore) -> None:
    signin = new_signin(oauth, store)
    auth, code = await code_for(signin, "http://127.0.0.1:1111/oauth/callback")
    oauth_client = signin.oauth
    with pytest.raises(TokenRefused) as info:
        await oauth_client.exchange_code(code, redirect_uri="http://127.0.0.1:2222/oauth/callback",
                                         code_verifier=auth.code_verifier)
    assert info.value.error == "invalid_grant" and info.value.status == 400


async def test_owner_only_token_is_checked_against_the_profile(oauth: MetaOAuthServer,
                                                               store: CredentialStore) -> None:
    consumer = oauth.register_client(owner_only=True)
    token = oauth.issue_owner_only_token(consumer)
    endpoints = Endpoints.from_base(oauth.oauth_base)
    cred = await sign_in_with_access_token(endpoints, token + "\n", store, user_agent=UA)
    assert cred.kind == "access-token" and cred.username == "Admin" and cred.access_token == token
    assert "uploadfile" in cred.grants
    auth = authenticator_for(cred, store, oauth_base=oauth.oauth_base, user_agent=UA)
    assert isinstance(auth, StaticBearer) and auth.kind == "access-token"
    assert await auth.headers() == {"Authorization": f"Bearer {token}"}
    with pytest.raises(SignInNeeded) as info:
        await sign_in_with_access_token(endpoints, "not-a-real-token-000000", store, user_agent=UA)
    assert info.value.code == "oauth-invalid-token" and "Nothing was stored" in str(info.value)
    assert store.get(oauth.oauth_base) == cred


# -- refresh ------------------------------------------------------------------------------------


async def signed_in(oauth: MetaOAuthServer, store: CredentialStore, *, confidential: bool = True,
                    lifetime: float = 3600) -> OAuthAuthenticator:
    oauth.access_lifetime = lifetime
    signin = new_signin(oauth, store, confidential=confidential)
    auth, code = await code_for(signin)
    await signin.finish(auth, code)
    cred = store.get(oauth.oauth_base)
    assert cred is not None
    a = authenticator_for(cred, store, oauth_base=oauth.oauth_base, user_agent=UA)
    assert isinstance(a, OAuthAuthenticator)
    return a


async def test_refresh_before_expiry_rotates_and_persists(oauth: MetaOAuthServer,
                                                          store: CredentialStore) -> None:
    auth = await signed_in(oauth, store, lifetime=1)
    first = auth.credential
    await asyncio.sleep(1.1)
    assert auth.needs_refresh()
    header = await auth.headers()
    new = auth.credential
    assert header == {"Authorization": f"Bearer {new.access_token}"}
    assert new.access_token != first.access_token and new.refresh_token != first.refresh_token
    assert oauth.count("token:refresh_token") == 1 and auth.refresh_count == 1
    stored = store.get(oauth.oauth_base)
    assert stored is not None
    assert (stored.access_token, stored.refresh_token) == (new.access_token, new.refresh_token)
    # Meta rotates: the old refresh token (and access token) no longer work
    assert oauth.validate_access_token(first.access_token) is None
    with pytest.raises(TokenRefused) as info:
        await auth.oauth.refresh(first.refresh_token)
    assert info.value.error == "invalid_grant"


async def test_tokens_are_persisted_before_they_are_used(oauth: MetaOAuthServer,
                                                         store: CredentialStore) -> None:
    auth = await signed_in(oauth, store, lifetime=1)
    old = auth.credential.access_token

    class FullDisk(Exception):
        pass

    def broken_put(cred: Credential) -> Credential:
        raise FullDisk("disk full")

    auth.store = CredentialStore(store.path)
    auth.store.put = broken_put  # type: ignore[method-assign]
    await asyncio.sleep(1.1)
    with pytest.raises(FullDisk):
        await auth.headers()
    assert auth.credential.access_token == old  # the unsaved new token was never handed out


async def test_concurrent_requests_cause_exactly_one_refresh(oauth: MetaOAuthServer,
                                                             store: CredentialStore) -> None:
    auth = await signed_in(oauth, store, lifetime=1)
    await asyncio.sleep(1.1)
    headers = await asyncio.gather(*(auth.headers() for _ in range(25)))
    assert len({h["Authorization"] for h in headers}) == 1
    assert oauth.count("token:refresh_token") == 1


async def test_concurrent_invalid_token_answers_cause_exactly_one_refresh(
        oauth: MetaOAuthServer, store: CredentialStore) -> None:
    auth = await signed_in(oauth, store)

    async def request_that_fails_once() -> str:
        await auth.headers()
        await asyncio.sleep(0.01)
        assert await auth.recover(None, "mwoauth-invalid-authorization")  # type: ignore[arg-type]
        return (await auth.headers())["Authorization"]

    oauth.expire_access_tokens()
    results = await asyncio.gather(*(request_that_fails_once() for _ in range(10)))
    assert len(set(results)) == 1
    assert oauth.count("token:refresh_token") == 1
    assert oauth.validate_access_token(auth.credential.access_token) is not None


async def test_recover_ignores_unrelated_errors(oauth: MetaOAuthServer,
                                                store: CredentialStore) -> None:
    auth = await signed_in(oauth, store)
    assert await auth.recover(None, "badtoken") is False  # type: ignore[arg-type]
    assert oauth.count("token:refresh_token") == 0


async def test_public_client_refresh_refused_means_sign_in_needed(
        oauth: MetaOAuthServer, store: CredentialStore) -> None:
    auth = await signed_in(oauth, store, confidential=False, lifetime=1)
    await asyncio.sleep(1.1)
    with pytest.raises(SignInNeeded) as info:
        await auth.headers()
    message = str(info.value)
    assert "public client" in message and "commons-helper login" in message
    assert "Queued uploads are kept and wait" in message
    assert oauth.count("refused:refresh_token:401") == 1
    stored = store.get(oauth.oauth_base)
    assert stored is not None and stored.status == "sign-in-needed"
    # no more asking Meta: every later request gets the same clear answer at once
    with pytest.raises(SignInNeeded):
        await auth.headers()
    assert oauth.count("refused:refresh_token:401") == 1


async def test_revoked_consent_means_sign_in_needed(oauth: MetaOAuthServer,
                                                    store: CredentialStore) -> None:
    auth = await signed_in(oauth, store)
    oauth.revoke_grant()
    with pytest.raises(SignInNeeded) as info:
        await auth.recover(None, "mwoauth-invalid-authorization")  # type: ignore[arg-type]
    assert "consent revoked" in str(info.value)
    assert "Run `commons-helper login`" in str(info.value)


async def test_expired_refresh_token_means_sign_in_needed(oauth: MetaOAuthServer,
                                                          store: CredentialStore) -> None:
    oauth.refresh_lifetime = 0.0
    auth = await signed_in(oauth, store, lifetime=1)
    await asyncio.sleep(1.1)
    with pytest.raises(SignInNeeded) as info:
        await auth.headers()
    assert "refresh token expired" in str(info.value)


async def test_sign_in_again_is_picked_up_by_a_running_authenticator(
        oauth: MetaOAuthServer, store: CredentialStore) -> None:
    """After "sign-in needed", a new `login` (another process) lets queued work resume."""
    auth = await signed_in(oauth, store, confidential=False, lifetime=1)
    await asyncio.sleep(1.1)
    with pytest.raises(SignInNeeded):
        await auth.headers()
    oauth.access_lifetime = 3600
    client = next(iter(oauth.clients.values()))
    again = BrowserSignIn(endpoints=Endpoints.from_base(oauth.oauth_base),
                          client=ClientConfig(client.client_id), store=CredentialStore(store.path),
                          user_agent=UA)
    a, code = await code_for(again)
    await again.finish(a, code)
    header = await auth.headers()
    assert header["Authorization"].removeprefix("Bearer ") == again.credential.access_token  # type: ignore[union-attr]
    assert auth.credential.status == "ok"


async def test_token_endpoint_outage_is_retryable_not_sign_in(store: CredentialStore,
                                                              unused_tcp_port: int) -> None:
    oauth_client = OAuthClient(Endpoints.from_base(f"http://127.0.0.1:{unused_tcp_port}/oauth2"),
                               ClientConfig("c", "s"), user_agent=UA)
    from commons_helper.errors import NetworkError

    with pytest.raises(NetworkError) as info:
        await oauth_client.refresh("some-refresh-token-value")
    assert info.value.retryable and "kept" in str(info.value)


def test_authorize_url_of_a_started_sign_in_is_safe_to_print(oauth: MetaOAuthServer,
                                                             store: CredentialStore,
                                                             leak_check: Transcript) -> None:
    signin = new_signin(oauth, store)
    auth, url = signin.begin("http://127.0.0.1:9/oauth/callback")
    assert url == authorize_url(signin.endpoints, auth)
    assert signin.client.client_secret not in url and auth.code_verifier not in url
    print(url)  # what --no-browser prints; the leak check below must accept it
    assert Path(store.path).exists() is False
