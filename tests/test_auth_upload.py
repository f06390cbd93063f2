"""End to end: uploads signed with OAuth 2.0 tokens land on the real test wiki.

The Bearer gateway (tests/peers/bearer_gateway.py) stands in for the OAuth extension in front
of the real MediaWiki 1.39; the tokens come from the real authorization server
(tests/peers/oauth_server.py). Includes a chunked upload during which the access token dies
(server side, and by its short lifetime) and is refreshed in the middle.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

import httpx2
import pytest

from commons_helper.auth.flow import Endpoints
from commons_helper.auth.oauth import ClientConfig
from commons_helper.auth.signin import BrowserSignIn, authenticator_for
from commons_helper.auth.store import CredentialStore, open_store
from commons_helper.auth.tokens import OAuthAuthenticator
from commons_helper.errors import SignInNeeded
from commons_helper.mediawiki import MediaWikiClient
from commons_helper.paths import get_paths
from commons_helper.upload import Uploader, UploadRequest
from tests.peers.bearer_gateway import BearerGateway
from tests.peers.oauth_server import MetaOAuthServer
from tests.test_auth_support import *  # noqa: F403 - the fixtures (oauth, gateway, ...)
from tests.test_auth_support import follow_redirects

if TYPE_CHECKING:
    from tests.peers.mediawiki import TestWiki

UA = "commons-helper-tests/1 (test@example.org)"
pytestmark = pytest.mark.usefixtures("leak_check")


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> CredentialStore:
    monkeypatch.setenv("COMMONS_HELPER_KEYRING", "0")
    return open_store(get_paths())


async def sign_in(oauth: MetaOAuthServer, store: CredentialStore, *, lifetime: float = 3600,
                  scopes: tuple[str, ...] = ("basic", "uploadfile", "editpage",
                                             "createeditmovepage")) -> OAuthAuthenticator:
    oauth.access_lifetime = lifetime
    client = oauth.register_client()
    signin = BrowserSignIn(endpoints=Endpoints.from_base(oauth.oauth_base),
                           client=ClientConfig(client.client_id, client.client_secret or ""),
                           store=store, user_agent=UA, grants=scopes)
    auth, url = signin.begin("http://127.0.0.1:1/oauth/callback")
    _, callback, _ = await asyncio.to_thread(follow_redirects, url, stop_at_callback=True)
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))["code"]
    await signin.finish(auth, code)
    cred = store.get(oauth.oauth_base)
    assert cred is not None
    a = authenticator_for(cred, store, oauth_base=oauth.oauth_base, user_agent=UA)
    assert isinstance(a, OAuthAuthenticator)
    return a


def noise_jpeg(path: Path, size: str = "700x700") -> Path:
    subprocess.run(["convert", "-size", size, "xc:gray", "+noise", "Random", "-quality", "92",
                    str(path)], check=True, capture_output=True, timeout=60)
    return path


async def test_gateway_answers_bad_tokens_like_the_oauth_extension(gateway: BearerGateway,
                                                                   oauth: MetaOAuthServer,
                                                                   store: CredentialStore) -> None:
    auth = await sign_in(oauth, store)
    async with httpx2.AsyncClient() as http:
        ok = await http.get(gateway.api, params={"action": "query", "meta": "userinfo",
                                                 "format": "json", "formatversion": "2"},
                            headers=await auth.headers())
        bad = await http.get(gateway.api, params={"action": "query", "meta": "userinfo",
                                                  "format": "json", "formatversion": "2"},
                             headers={"Authorization": "Bearer not-a-token-at-all"})
        plain = await http.get(gateway.api, params={"action": "query", "format": "json",
                                                    "errorformat": "plaintext"},
                               headers={"Authorization": "Bearer not-a-token-at-all"})
        anon = await http.get(gateway.api, params={"action": "query", "meta": "userinfo",
                                                   "format": "json", "formatversion": "2"})
    assert ok.json()["query"]["userinfo"]["name"] == "Admin"
    assert bad.status_code == 200  # ApiUsageException from ApiBeforeMain: HTTP 200
    assert bad.headers["MediaWiki-API-Error"] == "mwoauth-invalid-authorization"
    err = bad.json()["error"]
    assert err["code"] == "mwoauth-invalid-authorization"
    assert err["info"].startswith("The authorization headers in your request are not valid")
    assert plain.json()["errors"][0]["code"] == "mwoauth-invalid-authorization"
    assert anon.json()["query"]["userinfo"].get("anon") is True


async def test_wiki_client_refreshes_once_on_invalid_authorization(
        gateway: BearerGateway, oauth: MetaOAuthServer, store: CredentialStore) -> None:
    auth = await sign_in(oauth, store)
    async with MediaWikiClient(gateway.api, auth=auth, user_agent=UA) as client:
        assert await client.username() == "Admin"
        oauth.expire_access_tokens()  # dead on the server, still "valid" in the helper's view
        answers = await asyncio.gather(*(client.get(action="query", meta="userinfo")
                                         for _ in range(5)))
    assert {a["query"]["userinfo"]["name"] for a in answers} == {"Admin"}
    assert oauth.count("token:refresh_token") == 1
    assert gateway.refused >= 1
    assert store.get(oauth.oauth_base).access_token == auth.credential.access_token  # type: ignore[union-attr]


async def test_revoked_consent_stops_uploads_with_sign_in_needed(
        gateway: BearerGateway, oauth: MetaOAuthServer, store: CredentialStore,
        tmp_path: Path, unique: str, wiki: TestWiki) -> None:
    auth = await sign_in(oauth, store)
    photo = noise_jpeg(tmp_path / "p.jpg", "64x64")
    oauth.revoke_grant()
    async with MediaWikiClient(gateway.api, auth=auth, user_agent=UA) as client:
        with pytest.raises(SignInNeeded) as info:
            await Uploader(client).upload(UploadRequest(
                path=photo, title=f"Revoked {unique}.jpg", text="revoked test"))
    assert "sign in again" in str(info.value) and "Queued uploads are kept" in str(info.value)
    assert wiki.file_versions(f"File:Revoked {unique}.jpg") == []


async def test_oauth_signed_upload_lands_on_the_wiki(gateway: BearerGateway, oauth: MetaOAuthServer,
                                                     store: CredentialStore, tmp_path: Path,
                                                     unique: str, wiki: TestWiki) -> None:
    auth = await sign_in(oauth, store)
    photo = noise_jpeg(tmp_path / "p.jpg", "120x90")
    async with MediaWikiClient(gateway.api, auth=auth, user_agent=UA) as client:
        result = await Uploader(client).upload(UploadRequest(
            path=photo, title=f"OAuth upload {unique}.jpg", text="Uploaded with OAuth 2.0"))
    assert result.status == "uploaded", result
    versions = wiki.file_versions(f"File:OAuth upload {unique}.jpg")
    assert len(versions) == 1 and versions[0]["user"] == "Admin"
    assert versions[0]["sha1"] == hashlib.sha1(photo.read_bytes()).hexdigest()
    assert wiki.page_text(f"File:OAuth upload {unique}.jpg") == "Uploaded with OAuth 2.0"


async def test_chunked_upload_survives_a_token_that_dies_mid_upload(
        gateway: BearerGateway, oauth: MetaOAuthServer, store: CredentialStore, tmp_path: Path,
        unique: str, wiki: TestWiki) -> None:
    auth = await sign_in(oauth, store)
    photo = noise_jpeg(tmp_path / "big.jpg", "900x900")
    size = photo.stat().st_size
    chunk = 64 * 1024
    assert size > 8 * chunk
    chunks_seen: list[str] = []

    def kill_token_after_third_chunk(params: dict[str, str]) -> None:
        if params.get("action") == "upload" and params.get("stash") and "offset" in params:
            chunks_seen.append(params["offset"])
            if len(chunks_seen) == 3:
                oauth.expire_access_tokens()

    gateway.before_forward = kill_token_after_third_chunk
    title = f"Chunked OAuth {unique}.jpg"
    async with MediaWikiClient(gateway.api, auth=auth, user_agent=UA) as client:
        result = await Uploader(client).upload(UploadRequest(path=photo, title=title,
                                                             text="chunked", chunk_size=chunk))
    assert result.status == "uploaded", result
    assert oauth.count("token:refresh_token") == 1 and auth.refresh_count == 1
    assert gateway.refused == 1  # the 4th chunk was refused once, then resent with the new token
    assert len(chunks_seen) == -(-size // chunk)  # every chunk forwarded exactly once
    versions = wiki.file_versions(f"File:{title}")
    assert len(versions) == 1 and versions[0]["user"] == "Admin"
    assert versions[0]["sha1"] == hashlib.sha1(photo.read_bytes()).hexdigest()


async def test_chunked_upload_refreshes_a_short_lived_token_before_it_expires(
        gateway: BearerGateway, oauth: MetaOAuthServer, store: CredentialStore, tmp_path: Path,
        unique: str, wiki: TestWiki) -> None:
    auth = await sign_in(oauth, store, lifetime=2)
    photo = noise_jpeg(tmp_path / "big.jpg", "900x900")

    def slow(params: dict[str, str]) -> None:
        if params.get("action") == "upload":
            time.sleep(0.25)  # a slow connection: the upload outlives the 2 s token

    gateway.before_forward = slow
    title = f"Short token {unique}.jpg"
    async with MediaWikiClient(gateway.api, auth=auth, user_agent=UA) as client:
        result = await Uploader(client).upload(UploadRequest(path=photo, title=title,
                                                             text="short-lived token",
                                                             chunk_size=64 * 1024))
    assert result.status == "uploaded", result
    assert len(set(gateway.seen_tokens)) >= 2  # the upload went on with a renewed token
    assert oauth.count("token:refresh_token") >= 1
    assert gateway.refused == 0  # refreshed ahead of expiry, never refused
    assert wiki.file_versions(f"File:{title}")[0]["sha1"] == \
        hashlib.sha1(photo.read_bytes()).hexdigest()
