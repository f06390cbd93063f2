"""Bot password sign-in (``User@appid`` + generated password, ``action=login``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import SignInNeeded

if TYPE_CHECKING:
    from ..mediawiki import MediaWikiClient


class BotPassword:
    kind = "bot-password"

    def __init__(self, user: str, password: str) -> None:
        if "@" not in user:
            raise SignInNeeded(
                f"“{user}” is not a bot password login name; it looks like User@appid "
                "(see Special:BotPasswords on the wiki).", code="bad-bot-user")
        self.user = user
        self._password = password

    def __repr__(self) -> str:  # never show the password
        return f"BotPassword(user={self.user!r})"

    async def prepare(self, client: MediaWikiClient) -> None:
        await self._login(client)

    async def headers(self) -> dict[str, str]:
        return {}

    async def recover(self, client: MediaWikiClient, code: str) -> bool:
        # The session expired or was dropped: start a fresh session and log in again, once.
        # (MediaWiki refuses action=login inside a session that is still a bot session.)
        client.http.cookies.clear()
        await self._login(client)
        return True

    async def _login(self, client: MediaWikiClient) -> None:
        data = await client.call("GET", {"action": "query", "meta": "tokens", "type": "login"})
        login_token = data["query"]["tokens"]["logintoken"]
        answer = await client.call(
            "POST",
            {"action": "login", "lgname": self.user, "lgpassword": self._password,
             "lgtoken": login_token},
            idempotent=True,
        )
        result = answer.get("login", {})
        if result.get("result") != "Success":
            reason = result.get("reason") or result.get("result") or "unknown reason"
            if isinstance(reason, dict):
                reason = reason.get("text") or reason.get("code") or str(reason)
            raise SignInNeeded(
                f"The wiki refused the bot password for {self.user}: {reason}. Check the name "
                "(User@appid) and password on Special:BotPasswords, then set them again.",
                code="login-failed",
            )
        client.forget_csrf_token()
