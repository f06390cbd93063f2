"""Signing in, three ways, and turning a stored sign-in back into an authenticator.

- ``BrowserSignIn`` + ``sign_in_with_browser``: authorization code with PKCE S256,
  loopback redirect, code exchange, profile, stored.
- ``sign_in_with_access_token``: an owner-only consumer's token, checked against
  the profile endpoint, stored.
- ``sign_in_with_bot_password``: ``User@appid`` + password, checked with
  ``action=login``, stored.
- ``authenticator_from_store(paths, settings)``: what the CLI and the service use.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx2

from .. import __version__
from ..config import Settings, user_agent
from ..errors import CommonsHelperError, NetworkError, SignInNeeded, TokenRefused, UsageError
from ..paths import Paths
from .base import Authenticator
from .callback import LoopbackListener
from .flow import (
    DEFAULT_GRANTS,
    PENDING_LIFETIME,
    Endpoints,
    PendingAuthorization,
    PendingAuthorizations,
    authorize_url,
)
from .oauth import ClientConfig, OAuthClient
from .store import (
    KIND_ACCESS_TOKEN,
    KIND_BOT_PASSWORD,
    KIND_OAUTH,
    Credential,
    CredentialStore,
    open_store,
)
from .tokens import OAuthAuthenticator

log = logging.getLogger(__name__)

#: How long the browser step may take before the listener gives up.
BROWSER_TIMEOUT = PENDING_LIFETIME


@dataclass
class BrowserSignIn:
    """One consumer's browser sign-in: start (authorize URL), finish (code → stored tokens)."""

    endpoints: Endpoints
    client: ClientConfig
    store: CredentialStore
    user_agent: str
    grants: tuple[str, ...] = DEFAULT_GRANTS
    http: httpx2.AsyncClient | None = None
    pending: PendingAuthorizations = field(default_factory=PendingAuthorizations)
    credential: Credential | None = None

    @property
    def oauth(self) -> OAuthClient:
        return OAuthClient(self.endpoints, self.client, user_agent=self.user_agent, http=self.http)

    def begin(self, redirect_uri: str) -> tuple[PendingAuthorization, str]:
        auth = self.pending.start(self.client.client_id, redirect_uri, self.grants)
        return auth, authorize_url(self.endpoints, auth)

    async def finish(self, auth: PendingAuthorization, code: str) -> str:
        """Exchange ``code`` (with the verifier of ``auth``), fetch the profile, store. → username."""
        oauth = self.oauth
        try:
            tokens = await oauth.exchange_code(code, redirect_uri=auth.redirect_uri,
                                               code_verifier=auth.code_verifier)
        except TokenRefused as exc:
            raise SignInNeeded(_exchange_refused(exc), code=exc.code) from exc
        profile = await oauth.profile(tokens.access_token)
        cred = Credential(
            key=self.endpoints.base,
            kind=KIND_OAUTH,
            username=profile.username,
            grants=profile.grants or tokens.scope or auth.scopes,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_at=tokens.expires_at,
            obtained_at=tokens.obtained_at,
            client_id=self.client.client_id,
            client_secret=self.client.client_secret,
        )
        self.credential = self.store.put(cred)
        log.info("signed in as %s (OAuth 2.0, client %s)", profile.username, self.client.client_id)
        return profile.username


def _exchange_refused(exc: TokenRefused) -> str:
    text = (exc.description or "").lower()
    if "verifier" in text or "challenge" in text:
        why = "the PKCE check failed (code verifier does not match)"
    elif "expired" in text:
        why = "the authorization code expired (codes live 10 minutes)"
    elif "revoked" in text or "used" in text or "invalid 'code'" in text or "invalid code" in text:
        why = "the authorization code was already used or is unknown"
    elif exc.error == "invalid_client":
        why = "Meta did not accept the client id/secret"
    elif "redirect" in text:
        why = "the callback URL does not match the consumer's registered callback"
    else:
        why = f"{exc.error}" + (f": {exc.description}" if exc.description else "")
    return (f"Meta refused to complete the sign-in: {why}. Nothing was stored. Run "
            "`commons-helper login` again.")


async def sign_in_with_browser(
    signin: BrowserSignIn,
    *,
    open_url: Callable[[str], object],
    timeout: float = BROWSER_TIMEOUT,
    port: int = 0,
) -> Credential:
    """Run the whole browser sign-in with a one-shot listener on 127.0.0.1.

    ``open_url`` gets the authorize URL (open a browser, or print it).
    """
    async with LoopbackListener(signin.pending, signin.finish, port=port) as listener:
        _auth, url = signin.begin(listener.redirect_uri)
        open_url(url)
        await listener.wait(timeout)
    assert signin.credential is not None
    return signin.credential


async def sign_in_with_access_token(endpoints: Endpoints, token: str, store: CredentialStore, *,
                                    user_agent: str, http: httpx2.AsyncClient | None = None
                                    ) -> Credential:
    """Check an owner-only access token against the profile endpoint and store it."""
    token = token.strip()
    if not token:
        raise UsageError("No access token was given on standard input.")
    oauth = OAuthClient(endpoints, ClientConfig(""), user_agent=user_agent, http=http)
    profile = await oauth.profile(token)
    cred = Credential(key=endpoints.base, kind=KIND_ACCESS_TOKEN, username=profile.username,
                      grants=profile.grants, access_token=token, obtained_at=time.time())
    return store.put(cred)


async def sign_in_with_bot_password(api_url: str, user: str, password: str, store: CredentialStore,
                                    *, user_agent: str, http: httpx2.AsyncClient | None = None
                                    ) -> Credential:
    """Log in once with ``action=login`` to check the bot password, then store it."""
    user = user.strip()
    password = password.strip()
    if "@" not in user:
        raise UsageError(f"“{user}” is not a bot password login name; it looks like User@appid "
                         "(see Special:BotPasswords on the wiki).")
    if not password:
        raise UsageError("No bot password was given on standard input.")
    username = await _check_bot_password(api_url, user, password, user_agent, http)
    cred = Credential(key=api_url, kind=KIND_BOT_PASSWORD, username=username, bot_user=user,
                      bot_password=password, obtained_at=time.time())
    return store.put(cred)


async def _check_bot_password(api_url: str, user: str, password: str, user_agent: str,
                              http: httpx2.AsyncClient | None) -> str:
    own = http is None
    client = http or httpx2.AsyncClient(timeout=60.0, headers={"User-Agent": user_agent})
    try:
        base = {"format": "json", "formatversion": "2"}
        try:
            resp = await client.get(api_url, params={**base, "action": "query", "meta": "tokens",
                                                     "type": "login"})
            login_token = resp.json()["query"]["tokens"]["logintoken"]
            resp = await client.post(api_url, data={**base, "action": "login", "lgname": user,
                                                    "lgpassword": password, "lgtoken": login_token})
            answer = resp.json().get("login", {})
        except httpx2.TransportError as exc:
            raise NetworkError(f"Could not reach the wiki at {api_url} ({type(exc).__name__}).",
                               code="network") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{api_url} does not answer like a MediaWiki Action API; check "
                             "--wiki.") from exc
    finally:
        if own:
            await client.aclose()
    if answer.get("result") != "Success":
        reason = answer.get("reason") or answer.get("result") or "unknown reason"
        if isinstance(reason, dict):
            reason = reason.get("text") or reason.get("code") or str(reason)
        raise SignInNeeded(f"The wiki refused the bot password for {user}: {reason}. Nothing was "
                           "stored. Check the name and password on Special:BotPasswords.",
                           code="login-failed")
    return str(answer.get("lgusername") or user.split("@", 1)[0])


# -- from the store -----------------------------------------------------------------------------


def find_credential(store: CredentialStore, *, oauth_base: str, wiki: str) -> Credential | None:
    """The sign-in to use: OAuth/owner-only for ``oauth_base``, else a bot password for ``wiki``."""
    cred = store.get(Endpoints.from_base(oauth_base).base)
    if cred is not None and cred.kind in (KIND_OAUTH, KIND_ACCESS_TOKEN):
        return cred
    cred = store.get(wiki)
    if cred is not None and cred.kind == KIND_BOT_PASSWORD:
        return cred
    return None


def authenticator_for(cred: Credential, store: CredentialStore | None, *, oauth_base: str,
                      user_agent: str, http: httpx2.AsyncClient | None = None,
                      leeway: float | None = None) -> Authenticator:
    """The authenticator for one stored sign-in."""
    if cred.kind == KIND_OAUTH:
        oauth = OAuthClient(Endpoints.from_base(oauth_base),
                            ClientConfig(cred.client_id, cred.client_secret),
                            user_agent=user_agent, http=http)
        if leeway is None:
            return OAuthAuthenticator(cred, oauth, store)
        return OAuthAuthenticator(cred, oauth, store, leeway=leeway)
    if cred.kind == KIND_ACCESS_TOKEN:
        from .bearer import StaticBearer

        return StaticBearer(cred.access_token)
    if cred.kind == KIND_BOT_PASSWORD:
        from .botpassword import BotPassword

        return BotPassword(cred.bot_user, cred.bot_password)
    raise CommonsHelperError(f"unknown kind of stored sign-in: {cred.kind}")


def authenticator_from_store(paths: Paths, settings: Settings, *,
                             store: CredentialStore | None = None,
                             http: httpx2.AsyncClient | None = None) -> Authenticator | None:
    """The authenticator for the stored sign-in matching ``settings`` (None: not signed in).

    OAuth 2.0 and owner-only tokens are looked up by ``settings.oauth_base``; a bot password
    by ``settings.wiki``. Refreshed tokens are written back to the same store.
    """
    store = store or open_store(paths)
    cred = find_credential(store, oauth_base=settings.oauth_base, wiki=settings.wiki)
    if cred is None:
        return None
    return authenticator_for(cred, store, oauth_base=settings.oauth_base,
                             user_agent=user_agent(settings, __version__), http=http)
