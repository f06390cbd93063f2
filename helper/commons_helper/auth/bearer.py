"""A static OAuth 2.0 access token, e.g. an owner-only consumer's (never expires, never refreshed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import SignInNeeded

if TYPE_CHECKING:
    from ..mediawiki import MediaWikiClient


class StaticBearer:
    kind = "access-token"

    def __init__(self, token: str) -> None:
        self._token = token.strip()

    def __repr__(self) -> str:  # never show the token
        return "StaticBearer(<hidden>)"

    async def prepare(self, client: MediaWikiClient) -> None:
        return None

    async def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    async def recover(self, client: MediaWikiClient, code: str) -> bool:
        raise SignInNeeded(
            "The wiki refused your access token (it was revoked or is not valid for this wiki). "
            "Create a new owner-only token on Meta and run `commons-helper login "
            "--access-token-stdin`; nothing queued was lost.",
            code=code,
        )
