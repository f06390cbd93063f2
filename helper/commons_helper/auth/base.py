"""How the wiki client authenticates: one small protocol, several implementations.

The Action API client (``commons_helper.mediawiki.MediaWikiClient``) calls
``prepare`` once before its first request, adds ``headers()`` to every request,
and calls ``recover`` once when the wiki says the sign-in is not (or no longer)
valid (``mustbeloggedin``, ``mwoauth-invalid-authorization``, HTTP 401).
``recover`` returns True when the request is worth repeating (re-login,
refreshed token) and raises ``SignInNeeded`` when only the user can fix it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..mediawiki import MediaWikiClient


class Authenticator(Protocol):
    #: "bot-password", "access-token" or "oauth"
    kind: str

    async def prepare(self, client: MediaWikiClient) -> None: ...

    async def headers(self) -> dict[str, str]: ...

    async def recover(self, client: MediaWikiClient, code: str) -> bool: ...


class Anonymous:
    """No sign-in: reads work, uploads answer ``mustbeloggedin``."""

    kind = "anonymous"

    async def prepare(self, client: MediaWikiClient) -> None:
        return None

    async def headers(self) -> dict[str, str]:
        return {}

    async def recover(self, client: MediaWikiClient, code: str) -> bool:
        from ..errors import SignInNeeded

        raise SignInNeeded(
            "You are not signed in to the wiki. Run `commons-helper login` (or set "
            "COMMONS_HELPER_BOT_USER and COMMONS_HELPER_BOT_PASSWORD) and try again.",
            code="not-signed-in",
        )
