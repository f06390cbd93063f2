"""Talking to Meta's OAuth 2.0 endpoints: code exchange, refresh, profile.

Pure RFC 6749 request building comes from Authlib (``prepare_token_request``);
this module owns the HTTP (an injected ``httpx2.AsyncClient``, or a short-lived
one per call) and is the one place where httpx2 errors and OAuth error answers
become ``commons_helper.errors`` exceptions. No token or secret ever appears in
a message or a log line.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
from authlib.oauth2.rfc6749.parameters import prepare_token_request

from ..errors import AuthError, NetworkError, SignInNeeded, TokenRefused
from .flow import Endpoints

log = logging.getLogger(__name__)

TIMEOUT = 30.0


@dataclass(frozen=True)
class ClientConfig:
    """A consumer registered on Meta. Public clients have no secret."""

    client_id: str
    client_secret: str = field(default="", repr=False)

    @property
    def confidential(self) -> bool:
        return bool(self.client_secret)


@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str = field(default="", repr=False)
    expires_at: float | None = None
    obtained_at: float = 0.0
    scope: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    username: str
    grants: tuple[str, ...] = ()
    sub: str = ""
    blocked: bool = False


class OAuthClient:
    """Meta's token and profile endpoints for one consumer."""

    def __init__(self, endpoints: Endpoints, client: ClientConfig, *, user_agent: str,
                 http: httpx2.AsyncClient | None = None,
                 clock: Any = time.time) -> None:
        self.endpoints = endpoints
        self.client = client
        self.user_agent = user_agent
        self._http = http
        self.clock = clock

    async def exchange_code(self, code: str, *, redirect_uri: str, code_verifier: str) -> TokenSet:
        """Trade an authorization code for tokens (PKCE verifier always sent)."""
        return await self._token_request(
            "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=code_verifier,
        )

    async def refresh(self, refresh_token: str) -> TokenSet:
        """A new access token (and, on Meta, a new refresh token: the old one is revoked)."""
        return await self._token_request("refresh_token", refresh_token=refresh_token)

    async def profile(self, access_token: str) -> Profile:
        """Who the token belongs to and what it may do (``/resource/profile``)."""
        headers = {"Authorization": f"Bearer {access_token}", "User-Agent": self.user_agent,
                   "Accept": "application/json"}
        async with self._session() as http:
            try:
                resp = await http.get(self.endpoints.profile, headers=headers)
            except httpx2.TransportError as exc:
                raise _network_error(self.endpoints.profile, exc) from exc
        if resp.status_code in (401, 403):
            raise SignInNeeded(
                "The wiki did not accept the access token (it may be mistyped, revoked or "
                "expired). Nothing was stored. Check the token and run `commons-helper login` "
                "again.",
                code="oauth-invalid-token",
            )
        data = _json_or_error(resp, self.endpoints.profile)
        username = str(data.get("username") or "")
        if not username:
            raise AuthError("The profile endpoint did not say which user this token belongs to.",
                            code="oauth-bad-profile")
        grants = data.get("grants") or ()
        return Profile(
            username=username,
            grants=tuple(str(g) for g in grants) if isinstance(grants, list) else (),
            sub=str(data.get("sub") or ""),
            blocked=bool(data.get("blocked")),
        )

    # internals

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[httpx2.AsyncClient]:
        if self._http is not None:
            yield self._http
            return
        async with httpx2.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as http:
            yield http

    async def _token_request(self, grant_type: str, **params: str) -> TokenSet:
        fields: dict[str, Any] = {"client_id": self.client.client_id}
        if self.client.client_secret:
            fields["client_secret"] = self.client.client_secret
        fields.update(params)
        redirect_uri = fields.pop("redirect_uri", None)
        body = prepare_token_request(grant_type, redirect_uri=redirect_uri, **fields)
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "Accept": "application/json", "User-Agent": self.user_agent}
        started = self.clock()
        log.debug("token request grant_type=%s to %s", grant_type, self.endpoints.token)
        async with self._session() as http:
            try:
                resp = await http.post(self.endpoints.token, content=body.encode("ascii"),
                                       headers=headers)
            except httpx2.TransportError as exc:
                raise _network_error(self.endpoints.token, exc) from exc
        if resp.status_code >= 500 or resp.status_code == 429:
            raise NetworkError(
                f"Meta's sign-in service answered HTTP {resp.status_code}; your sign-in is kept. "
                "Trying again later usually helps.",
                code="oauth-unavailable", retry_after=_retry_after(resp),
            )
        data = _json_body(resp)
        if resp.status_code >= 400 or "error" in data or "access_token" not in data:
            error = str(data.get("error") or f"http-{resp.status_code}")
            description = str(data.get("error_description") or data.get("hint")
                              or data.get("message") or "")
            log.info("token request grant_type=%s refused: %s (HTTP %s)", grant_type, error,
                     resp.status_code)
            raise TokenRefused(
                f"Meta refused the {grant_type.replace('_', ' ')} request: {error}"
                + (f" ({description})" if description else ""),
                error=error, status=resp.status_code, description=description,
            )
        expires_in = data.get("expires_in")
        expires_at = started + float(expires_in) if expires_in not in (None, "") else None
        scope = str(data.get("scope") or "")
        return TokenSet(
            access_token=str(data["access_token"]),
            refresh_token=str(data.get("refresh_token") or ""),
            expires_at=expires_at,
            obtained_at=started,
            scope=tuple(scope.split()),
        )


def _json_body(resp: httpx2.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _json_or_error(resp: httpx2.Response, url: str) -> dict[str, Any]:
    if resp.status_code >= 500 or resp.status_code == 429:
        raise NetworkError(f"{_host(url)} answered HTTP {resp.status_code}; try again later.",
                           code="oauth-unavailable", retry_after=_retry_after(resp))
    if resp.status_code >= 400:
        raise AuthError(f"{_host(url)} answered HTTP {resp.status_code} to the profile request.",
                        code="oauth-bad-profile")
    data = _json_body(resp)
    if not data:
        raise AuthError(f"{_host(url)} did not answer with JSON; is --oauth-base right?",
                        code="oauth-bad-profile")
    return data


def _retry_after(resp: httpx2.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _network_error(url: str, exc: httpx2.TransportError) -> NetworkError:
    return NetworkError(
        f"Could not reach {_host(url)} ({type(exc).__name__}); your sign-in and queued uploads are "
        "kept. Check the network and try again.",
        code="network",
    )
