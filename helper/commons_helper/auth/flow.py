"""The pure parts of the authorization-code flow: endpoints, PKCE, state, the authorize URL.

No I/O here, so every step can be driven in tests without a network. ``state`` and
the PKCE verifier are generated together, are single-use, and expire after 10
minutes (the lifetime of Meta's authorization codes).
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from ..errors import SignInNeeded

#: What an uploader needs (commons-api.md): ``uploadfile`` alone cannot create the file page.
DEFAULT_GRANTS = ("basic", "uploadfile", "editpage", "createeditmovepage")
#: Opt-in: overwrite files someone else uploaded last.
OVERWRITE_GRANT = "uploadeditmovefile"
CALLBACK_PATH = "/oauth/callback"
PENDING_LIFETIME = 600.0


@dataclass(frozen=True)
class Endpoints:
    """Meta's OAuth 2.0 endpoints below one base URL (``.../w/rest.php/oauth2``)."""

    base: str

    @classmethod
    def from_base(cls, base: str) -> Endpoints:
        return cls(base.rstrip("/"))

    @property
    def authorize(self) -> str:
        return f"{self.base}/authorize"

    @property
    def token(self) -> str:
        return f"{self.base}/access_token"

    @property
    def profile(self) -> str:
        return f"{self.base}/resource/profile"

    def special_page(self, name: str) -> str:
        """A special page on the wiki that hosts these endpoints (where to manage or revoke)."""
        root = self.base
        marker = "/rest.php/oauth2"
        if marker in root:
            root = root[: root.index(marker)]
            if root.endswith("/w"):
                return f"{root[:-2]}/wiki/Special:{name}"
            return f"{root}/index.php?title=Special:{name}"
        return f"{root}/Special:{name}"


def requested_grants(allow_overwrite_others: bool = False, scopes: str | None = None) -> tuple[str, ...]:
    """The grants to ask for: ``scopes`` when given, else the uploader default (+ overwrite)."""
    if scopes:
        grants = [s for s in scopes.replace(",", " ").split() if s]
        if "basic" not in grants:
            grants.insert(0, "basic")
    else:
        grants = list(DEFAULT_GRANTS)
    if allow_overwrite_others and OVERWRITE_GRANT not in grants:
        grants.append(OVERWRITE_GRANT)
    return tuple(dict.fromkeys(grants))


def loopback_redirect_uri(port: int, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{port}{CALLBACK_PATH}"


@dataclass(frozen=True)
class PendingAuthorization:
    """One started sign-in: what the callback must match. Secret parts hidden from repr."""

    state: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str
    client_id: str
    scopes: tuple[str, ...]
    created_at: float

    @property
    def code_challenge(self) -> str:
        return str(create_s256_code_challenge(self.code_verifier))


class PendingAuthorizations:
    """Started sign-ins by ``state``: each can be taken once, within ``lifetime`` seconds."""

    def __init__(self, lifetime: float = PENDING_LIFETIME,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime = lifetime
        self.clock = clock
        self._items: dict[str, PendingAuthorization] = {}
        self._lock = threading.Lock()

    def start(self, client_id: str, redirect_uri: str, scopes: tuple[str, ...]) -> PendingAuthorization:
        pending = PendingAuthorization(
            state=generate_token(32),
            code_verifier=generate_token(64),
            redirect_uri=redirect_uri,
            client_id=client_id,
            scopes=scopes,
            created_at=self.clock(),
        )
        with self._lock:
            self._purge()
            self._items[pending.state] = pending
        return pending

    def take(self, state: str | None) -> PendingAuthorization:
        """The pending sign-in for ``state``, removed; raises SignInNeeded if none is valid."""
        with self._lock:
            pending = self._items.pop(state, None) if state else None
            self._purge()
        if pending is None:
            raise SignInNeeded(
                "The answer from the sign-in page does not belong to a sign-in this helper started "
                "(unknown or already used `state`). Nothing was stored. Run `commons-helper login` "
                "again and finish it in the browser window it opens.",
                code="oauth-state-mismatch",
            )
        if self.clock() - pending.created_at > self.lifetime:
            minutes = int(self.lifetime // 60)
            raise SignInNeeded(
                f"The sign-in took longer than {minutes} minutes and has expired. Nothing was "
                "stored. Run `commons-helper login` again.",
                code="oauth-state-expired",
            )
        return pending

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def _purge(self) -> None:
        now = self.clock()
        for key in [k for k, p in self._items.items() if now - p.created_at > 2 * self.lifetime]:
            del self._items[key]


def authorize_url(endpoints: Endpoints, pending: PendingAuthorization) -> str:
    """The URL to open in the browser (carries state and the S256 challenge, never a secret)."""
    return str(prepare_grant_uri(
        endpoints.authorize,
        client_id=pending.client_id,
        response_type="code",
        redirect_uri=pending.redirect_uri,
        scope=" ".join(pending.scopes),
        state=pending.state,
        code_challenge=pending.code_challenge,
        code_challenge_method="S256",
    ))


def redact_url(url: str) -> str:
    """``url`` with the values of code/state/token-like query parameters replaced (for logs)."""
    parts = urllib.parse.urlsplit(url)
    if not parts.query:
        return url
    hidden = {"code", "state", "access_token", "refresh_token", "client_secret", "code_verifier",
              "token"}
    query = [(k, "***" if k in hidden else v)
             for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
