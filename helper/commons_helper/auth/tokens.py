"""The OAuth 2.0 authenticator: Bearer tokens that renew themselves.

Implements ``commons_helper.auth.base.Authenticator`` (owner-only tokens use
``commons_helper.auth.bearer.StaticBearer``). It keeps its access token fresh:
it refreshes shortly before expiry and when the wiki answers
``mwoauth-invalid-authorization``; Meta rotates refresh tokens, so the new pair
is persisted (``update_token``, the single place tokens are written) *before*
it is used; an ``asyncio.Lock`` makes concurrent requests share one refresh.
When Meta refuses to renew (public client, consent revoked, refresh token
expired) it raises ``SignInNeeded`` and marks the stored sign-in, so queued
uploads wait until the user signs in again.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import SignInNeeded, TokenRefused
from .oauth import OAuthClient, TokenSet
from .store import Credential, CredentialStore

if TYPE_CHECKING:
    from ..mediawiki import MediaWikiClient

log = logging.getLogger(__name__)

#: Wiki error codes (and pseudo-codes for HTTP statuses) that mean "this token is not valid".
INVALID_TOKEN_CODES = frozenset({
    "mwoauth-invalid-authorization", "mwoauth-invalid-authorization-invalid-user",
    "mwoauth-invalid-authorization-not-approved", "mustbeloggedin", "assertuserfailed",
    "assertnameduserfailed", "http-401", "401",
})
DEFAULT_LEEWAY = 60.0
WAIT_NOTE = "Queued uploads are kept and wait; they continue once you have signed in again."

#: The access token the current task last put on a request (so ``recover`` knows whether the
#: token that failed is still the current one, or another task has already refreshed it).
_sent_token: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "commons_helper_sent_token", default=None)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class OAuthAuthenticator:
    """OAuth 2.0 access + refresh token of one consumer, kept fresh and persisted."""

    kind = "oauth"

    def __init__(self, credential: Credential, oauth: OAuthClient, store: CredentialStore | None, *,
                 leeway: float = DEFAULT_LEEWAY, clock: Callable[[], float] = time.time) -> None:
        self._cred = credential
        self.oauth = oauth
        self.store = store
        self.leeway = leeway
        self.clock = clock
        self._lock = asyncio.Lock()
        #: How many refreshes this authenticator performed (for status pages and tests).
        self.refresh_count = 0

    def __repr__(self) -> str:
        return f"OAuthAuthenticator(username={self._cred.username!r}, key={self._cred.key!r})"

    @property
    def credential(self) -> Credential:
        return self._cred

    @property
    def username(self) -> str:
        return self._cred.username

    # -- Authenticator protocol --

    async def prepare(self, client: MediaWikiClient) -> None:
        await self.ensure_fresh()

    async def headers(self) -> dict[str, str]:
        token = await self.ensure_fresh()
        _sent_token.set(token)
        return _bearer(token)

    async def recover(self, client: MediaWikiClient, code: str) -> bool:
        if code not in INVALID_TOKEN_CODES:
            return False
        sent = _sent_token.get()
        log.info("the wiki refused the access token (%s); refreshing", code)
        await self.refresh(stale=sent if sent is not None else self._cred.access_token)
        return True

    # -- refresh --

    def needs_refresh(self) -> bool:
        cred = self._cred
        if cred.status != "ok":
            return True
        if cred.expires_at is None:
            return False
        leeway = self.leeway
        if cred.obtained_at is not None:
            # Short-lived tokens (tests, other wikis): never refresh more often than every
            # three quarters of the lifetime.
            leeway = min(leeway, max(0.0, (cred.expires_at - cred.obtained_at) / 4))
        return self.clock() >= cred.expires_at - leeway

    async def ensure_fresh(self) -> str:
        """The access token to use now, refreshing first if it is (about to be) expired."""
        if self.needs_refresh():
            await self.refresh(stale=self._cred.access_token)
        return self._cred.access_token

    async def refresh(self, *, stale: str | None = None) -> None:
        """Renew the tokens once, however many tasks ask at the same time.

        ``stale`` is the access token the caller saw fail or expire; if another task has
        already replaced it, nothing is done.
        """
        async with self._lock:
            await self._adopt_stored()
            cred = self._cred
            if (stale is not None and cred.access_token != stale and cred.status == "ok"
                    and not self.needs_refresh()):
                return
            if cred.status != "ok":
                raise self._sign_in_needed("your last sign-in could not be renewed")
            if not cred.refresh_token:
                await self._mark_needs_sign_in()
                raise self._sign_in_needed("this sign-in has no refresh token")
            try:
                tokens = await self.oauth.refresh(cred.refresh_token)
            except TokenRefused as exc:
                await self._mark_needs_sign_in()
                raise self._sign_in_needed(_why_refused(exc, cred)) from exc
            await self.update_token(tokens)
            self.refresh_count += 1

    async def update_token(self, tokens: TokenSet) -> None:
        """Persist ``tokens`` (before anyone uses them), then make them current.

        Meta revoked the old refresh token when it issued this one: if the new pair were
        used before being written and the helper then stopped, the sign-in would be lost.
        """
        cred = self._cred.with_changes(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token or self._cred.refresh_token,
            expires_at=tokens.expires_at,
            obtained_at=tokens.obtained_at or self.clock(),
            grants=tokens.scope or self._cred.grants,
            status="ok",
        )
        if self.store is not None:
            cred = await asyncio.to_thread(self.store.put, cred)
        self._cred = cred
        log.info("renewed the Wikimedia sign-in of %s", cred.username or "(unknown user)")

    async def _adopt_stored(self) -> None:
        """Take the stored record if another process (CLI login, the service) renewed it."""
        if self.store is None:
            return
        stored = await asyncio.to_thread(self.store.get, self._cred.key)
        if (stored is None or stored.kind != self._cred.kind
                or stored.access_token == self._cred.access_token or stored.status != "ok"):
            return
        log.info("using the sign-in renewed by another commons-helper process")
        self._cred = stored

    async def _mark_needs_sign_in(self) -> None:
        self._cred = self._cred.with_changes(status="sign-in-needed")
        if self.store is not None:
            try:
                await asyncio.to_thread(self.store.put, self._cred)
            except Exception:  # the message to the user matters more than the flag
                log.warning("could not record that the sign-in needs renewing", exc_info=True)

    def _sign_in_needed(self, why: str) -> SignInNeeded:
        who = f" as {self._cred.username}" if self._cred.username else ""
        return SignInNeeded(
            f"Your Wikimedia sign-in{who} has ended: {why}. Run `commons-helper login` to sign "
            f"in again. {WAIT_NOTE}",
            code="sign-in-needed",
        )


def _why_refused(exc: TokenRefused, cred: Credential) -> str:
    if exc.error == "invalid_client" and not cred.confidential:
        return ("Meta does not renew tokens of a public client (one without a client secret); "
                "a confidential client or an owner-only token avoids signing in every few hours")
    if exc.error == "invalid_client":
        return "Meta no longer accepts the client id/secret (consumer disabled or secret reset)"
    if exc.error in ("invalid_grant", "invalid_request"):
        return "Meta refused to renew it (consent revoked, or the refresh token expired)"
    return f"Meta refused to renew it ({exc.error})"
