"""Browser sessions for the local web page (the way Jupyter does it).

``commons-helper open`` asks the running helper (with the Bearer secret from
the runtime file) for a one-time login token and opens
``<url>/login?token=...``. The page redeems the token for a session cookie;
from then on the browser talks to the API with that cookie and never sees the
secret.

- A login token is single-use and expires after two minutes.
- A session cookie value is 32 random bytes; it lives in memory only, so a
  restart of the helper means ``commons-helper open`` again.
- Tokens and cookies are looked up by their SHA-256 and checked with
  ``hmac.compare_digest``: nothing about a secret leaks through timing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

COOKIE_NAME = "commons_helper_session"
LOGIN_TOKEN_TTL = 120.0  # seconds
MAX_PENDING_TOKENS = 64
MAX_SESSIONS = 256


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


class Sessions:
    """One-time login tokens and the session cookies they turn into."""

    def __init__(
        self,
        *,
        token_ttl: float = LOGIN_TOKEN_TTL,
        session_ttl: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token_ttl = token_ttl
        self._session_ttl = session_ttl
        self._clock = clock
        self._tokens: dict[str, float] = {}  # sha256(token) -> expiry
        self._sessions: dict[str, float] = {}  # sha256(cookie) -> expiry (inf: until restart)

    def _prune(self) -> None:
        now = self._clock()
        for table in (self._tokens, self._sessions):
            for key in [k for k, expiry in table.items() if expiry <= now]:
                del table[key]

    def issue_login_token(self) -> str:
        """A new one-time token for ``/login?token=...`` (single use, two minutes)."""
        self._prune()
        if len(self._tokens) >= MAX_PENDING_TOKENS:  # drop the oldest, never grow without bound
            del self._tokens[min(self._tokens, key=self._tokens.__getitem__)]
        token = secrets.token_urlsafe(32)
        self._tokens[_digest(token)] = self._clock() + self._token_ttl
        return token

    def redeem(self, token: str | None) -> str | None:
        """Use up ``token``; return a new session cookie value, or None if it is unknown/used/expired."""
        if not token:
            return None
        self._prune()
        key = _digest(token)
        stored = self._lookup(self._tokens, key)
        if stored is None:
            return None
        del self._tokens[stored]
        if len(self._sessions) >= MAX_SESSIONS:
            del self._sessions[min(self._sessions, key=self._sessions.__getitem__)]
        cookie = secrets.token_urlsafe(32)
        expiry = float("inf") if self._session_ttl is None else self._clock() + self._session_ttl
        self._sessions[_digest(cookie)] = expiry
        return cookie

    def is_valid(self, cookie_value: str | None) -> bool:
        """True when ``cookie_value`` is a live session cookie."""
        if not cookie_value:
            return False
        key = _digest(cookie_value)
        stored = self._lookup(self._sessions, key)
        return stored is not None and self._sessions[stored] > self._clock()

    def revoke(self, cookie_value: str | None) -> None:
        """Forget one session (the browser must use a new one-time URL)."""
        if not cookie_value:
            return
        stored = self._lookup(self._sessions, _digest(cookie_value))
        if stored is not None:
            del self._sessions[stored]

    def revoke_all(self) -> None:
        self._tokens.clear()
        self._sessions.clear()

    @staticmethod
    def _lookup(table: dict[str, float], key: str) -> str | None:
        # The dict lookup is on a hash of the secret (an attacker cannot steer it byte by
        # byte); the final equality is still checked in constant time.
        candidate = key if key in table else None
        if candidate is not None and hmac.compare_digest(candidate, key):
            return candidate
        return None
