"""An async MediaWiki Action API client over httpx2.

One place translates httpx2's exceptions and the API's error answers into the
exception tree (``_interpret`` and ``_send``). It sends ``maxlag=5``, JSON
format version 2 and a User-Agent that follows Wikimedia's policy, caches the
CSRF token (refetched once on ``badtoken``), asks the authenticator to recover
once when the wiki says the sign-in is gone, and retries what is safe to
retry with capped, jittered backoff.

Retrying: an error the wiki raised *before* doing anything (maxlag,
ratelimited, readonly) is always safe to repeat. A dropped connection or a 5xx
after a POST may or may not have taken effect: such requests are repeated only
when the caller says they are ``idempotent`` (reads, token fetches, chunk
posts, which the offset check makes safe); otherwise the error goes up to the
caller, which knows how to check what happened (the upload engine asks the
wiki by SHA1).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx2

from .auth.base import Authenticator
from .errors import (
    CommonsHelperError,
    MissingRights,
    NetworkError,
    RetryableWikiError,
    SignInNeeded,
    StashError,
    WikiError,
)
from .retry import RetryPolicy

log = logging.getLogger(__name__)

#: Set while the authenticator prepares (e.g. logs in): its own requests skip preparation.
_PREPARING: contextvars.ContextVar[bool] = contextvars.ContextVar("preparing", default=False)

#: API error codes that mean "the sign-in is missing or no longer valid".
AUTH_CODES = frozenset({
    "mustbeloggedin", "notloggedin", "assertuserfailed", "assertnameduserfailed",
    "mwoauth-invalid-authorization", "mwoauth-invalid-authorization-invalid-user",
})
#: Errors the wiki raises before doing anything: always safe to retry.
RETRY_CODES = frozenset({"maxlag", "ratelimited", "readonly", "internal_api_error_DBQueryError",
                         "internal_api_error_DBConnectionError", "backend-fail-internal"})
#: Rights MediaWiki names in permission errors -> the grant that carries them.
RIGHT_TO_GRANT = {
    "upload": "uploadfile",
    "reupload-own": "uploadfile",
    "reupload": "uploadeditmovefile",
    "reupload-shared": "uploadeditmovefile",
    "edit": "editpage",
    "createpage": "createeditmovepage",
    "writeapi": "basic",
}
PERMISSION_CODES = frozenset({"permissiondenied", "cantcreate", "noedit", "writeapidenied",
                              "cantcreate-anon", "badaccess-groups", "fileexists-forbidden",
                              "protectedpage", "cascadeprotected"})

FRIENDLY = {
    "cantcreate": "The wiki refused to create the file's description page.",
    "blocked": "Your account is blocked from uploading on this wiki.",
    "autoblocked": "Your IP address is blocked from editing on this wiki.",
    "readonly": "The wiki is read-only for maintenance right now.",
    "ratelimited": "The wiki's upload rate limit was reached.",
    "maxlag": "The wiki's database servers are lagging.",
    "filetype-banned": "The wiki does not accept this type of file.",
    "filetype-missing": "The file name has no extension.",
    "verification-error": "The wiki checked the file and refused it.",
    "empty-file": "The file is empty.",
    "file-too-large": "The file is larger than the wiki accepts.",
    "illegal-filename": "The wiki does not allow this file name.",
    "filename-toolong": "The file name is too long for the wiki.",
    "titleblacklist-forbidden": "The wiki's title blacklist forbids this file name.",
    "abusefilter-disallowed": "An abuse filter on the wiki stopped this upload.",
    "abusefilter-warning": "An abuse filter on the wiki warned about this upload.",
    "spamblacklist": "The page text contains a link on the wiki's spam blacklist.",
    "publishfailed": "The wiki could not publish the uploaded file.",
    "uploadstash-file-not-found": "The wiki no longer has the partly uploaded file.",
    "invalid-file-key": "The wiki no longer has the partly uploaded file.",
    "fileexists-forbidden": "A file with this name exists and cannot be overwritten.",
}


@dataclass(frozen=True)
class FilePart:
    """A file to send as one multipart field: a whole file on disk or bytes in memory."""

    field: str
    source: Path | bytes
    filename: str = "file.bin"  # ASCII placeholder: non-ASCII part names break some servers
    on_read: Callable[[int], None] | None = None  # called with byte counts as they are sent


class _CountingReader:
    """A file object wrapper that reports bytes read (httpx2 streams multipart in blocks)."""

    def __init__(self, fh: IO[bytes], on_read: Callable[[int], None]) -> None:
        self._fh = fh
        self._on_read = on_read

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        if data:
            self._on_read(len(data))
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def fileno(self) -> int:
        return self._fh.fileno()


def describe_error(code: str, info: str) -> str:
    friendly = FRIENDLY.get(code)
    if friendly:
        return f"{friendly} (wiki said: {code}: {info})"
    return f"The wiki refused the request: {code}: {info}"


def missing_grant_message(code: str, info: str, rights: list[str] | None = None) -> str:
    grants = sorted({RIGHT_TO_GRANT[r] for r in rights or [] if r in RIGHT_TO_GRANT})
    if not grants and code in ("cantcreate", "cantcreate-anon"):
        grants = ["createeditmovepage"]
    if not grants and code in ("noedit", "permissiondenied") and "edit" in info.lower():
        grants = ["editpage"]
    if grants:
        named = ", ".join(f"“{g}”" for g in grants)
        return (
            f"Your sign-in lacks the right this needs ({code}: {info}). Add the grant {named} "
            "to your bot password (Special:BotPasswords) or OAuth consumer, or sign in again "
            "with `commons-helper login`."
        )
    return f"You are not allowed to do this on the wiki ({code}: {info})."


def interpret(payload: Any) -> dict[str, Any]:
    """Return the answer, or raise the matching error for an API error answer (pure)."""
    if not isinstance(payload, dict):
        raise WikiError("The wiki answered with something that is not an API answer.", code="bad-answer")
    err = payload.get("error")
    if not err:
        return payload
    code = str(err.get("code", "unknown"))
    info = str(err.get("info", err.get("text", "")))
    if code in RETRY_CODES or code.startswith("internal_api_error_DB"):
        retry_after = None
        if code == "maxlag":
            retry_after = 5.0
        if code == "ratelimited":
            retry_after = 60.0
        raise RetryableWikiError(describe_error(code, info), code=code, details=err,
                                 retry_after=retry_after)
    if code in AUTH_CODES:
        raise SignInNeeded(
            "The wiki does not accept your sign-in any more. Run `commons-helper login` and try "
            f"again; nothing queued was lost. (wiki said: {code}: {info})",
            code=code, details=err,
        )
    if code in PERMISSION_CODES or code.endswith("-denied"):
        rights = err.get("missing-rights") or err.get("rights")
        raise MissingRights(missing_grant_message(code, info, rights if isinstance(rights, list) else None),
                            code=code, details=err)
    if code == "stashfailed":
        raise StashError(describe_error(code, info), code=code, details=err)
    raise WikiError(describe_error(code, info), code=code, details=err)


class MediaWikiClient:
    def __init__(
        self,
        api_url: str,
        *,
        auth: Authenticator,
        user_agent: str,
        retry: RetryPolicy | None = None,
        timeout: float = 120.0,
        http: httpx2.AsyncClient | None = None,
        maxlag: int = 5,
    ) -> None:
        self.api_url = api_url
        self.auth = auth
        self.retry = retry or RetryPolicy()
        self.maxlag = maxlag
        self._owns_http = http is None
        self.http = http or httpx2.AsyncClient(
            timeout=httpx2.Timeout(timeout, connect=20.0),
            headers={"User-Agent": user_agent},
            follow_redirects=False,
        )
        self._prepared = False
        self._prepare_lock = asyncio.Lock()
        self._csrf: str | None = None
        self._csrf_lock = asyncio.Lock()
        self._username: str | None = None
        self.sleep: Callable[[float], Any] = asyncio.sleep  # replaceable in tests

    async def __aenter__(self) -> MediaWikiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    # -- low level ---------------------------------------------------------------------------

    async def _ensure_prepared(self) -> None:
        if self._prepared or _PREPARING.get():
            return
        async with self._prepare_lock:
            if not self._prepared:
                token = _PREPARING.set(True)
                try:
                    await self.auth.prepare(self)
                finally:
                    _PREPARING.reset(token)
                self._prepared = True

    async def _send(self, method: str, params: Mapping[str, str], file: FilePart | None,
                    headers: Mapping[str, str]) -> Any:
        """One HTTP exchange; translates transport failures. Returns the decoded JSON."""
        try:
            if method == "GET":
                resp = await self.http.get(self.api_url, params=params, headers=headers)
            elif file is None:
                resp = await self.http.post(self.api_url, data=params, headers=headers)
            elif isinstance(file.source, bytes):
                resp = await self.http.post(
                    self.api_url, data=params, headers=headers,
                    files={file.field: (file.filename, file.source, "application/octet-stream")},
                )
                if file.on_read:
                    file.on_read(len(file.source))
            else:
                with file.source.open("rb") as raw:
                    fh: Any = _CountingReader(raw, file.on_read) if file.on_read else raw
                    resp = await self.http.post(
                        self.api_url, data=params, headers=headers,
                        files={file.field: (file.filename, fh, "application/octet-stream")},
                    )
        except httpx2.TimeoutException as exc:
            raise NetworkError(f"The wiki did not answer in time ({type(exc).__name__}).",
                               code="timeout") from exc
        except httpx2.TransportError as exc:
            raise NetworkError(f"The connection to the wiki failed ({type(exc).__name__}: {exc}).",
                               code="connection") from exc
        except OSError as exc:
            raise NetworkError(f"Could not read the file to send: {exc}", code="read-error") from exc
        retry_after = _retry_after(resp.headers.get("retry-after"))
        if resp.status_code == 429 or resp.status_code >= 500:
            raise RetryableWikiError(
                f"The wiki is having trouble (HTTP {resp.status_code}).",
                code=f"http-{resp.status_code}", retry_after=retry_after,
            )
        if resp.status_code == 401:
            raise SignInNeeded("The wiki refused the sign-in (HTTP 401). Run `commons-helper login`.",
                               code="mwoauth-invalid-authorization")
        try:
            payload = resp.json()
        except ValueError as exc:
            raise RetryableWikiError(
                f"The wiki answered HTTP {resp.status_code} with something that is not JSON.",
                code="bad-answer",
            ) from exc
        try:
            return interpret(payload)
        except RetryableWikiError as exc:
            if retry_after is not None:
                exc.retry_after = max(exc.retry_after or 0.0, retry_after)
            raise

    async def call(
        self,
        method: str,
        params: Mapping[str, Any],
        *,
        file: FilePart | None = None,
        idempotent: bool | None = None,
        token: bool = False,
    ) -> dict[str, Any]:
        """Make an API request, with auth, retries and token handling. Returns the answer."""
        await self._ensure_prepared()
        if idempotent is None:
            idempotent = method == "GET"
        base = {k: _param(v) for k, v in params.items() if v is not None and v is not False}
        base.update(format="json", formatversion="2", maxlag=str(self.maxlag))
        attempt = 0
        recovered = False
        token_refreshed = False
        while True:
            attempt += 1
            send = dict(base)
            try:
                if token:  # inside: an anonymous token (session gone) goes through recover()
                    send["token"] = await self.csrf_token()
                headers = await self.auth.headers()
                return await self._send(method, send, file, headers)  # type: ignore[no-any-return]
            except SignInNeeded as exc:
                if recovered:
                    raise
                recovered = True
                log.info("sign-in not accepted (%s); asking the authenticator to recover", exc.code)
                if not await self.auth.recover(self, exc.code):
                    raise
                self._csrf = None
            except WikiError as exc:
                if exc.code == "badtoken" and token and not token_refreshed:
                    token_refreshed = True
                    log.info("CSRF token rejected; fetching a new one")
                    self._csrf = None
                    continue
                if not self._may_retry(exc, attempt, idempotent):
                    raise
                await self._backoff(attempt, exc)
            except NetworkError as exc:
                if not self._may_retry(exc, attempt, idempotent):
                    raise
                await self._backoff(attempt, exc)

    def _may_retry(self, exc: CommonsHelperError, attempt: int, idempotent: bool) -> bool:
        if not self.retry.should_retry(attempt, exc):
            return False
        if idempotent:
            return True
        # Not idempotent: only errors the wiki raised before acting.
        return isinstance(exc, RetryableWikiError) and exc.code in RETRY_CODES

    async def _backoff(self, attempt: int, exc: CommonsHelperError) -> None:
        wait = self.retry.delay(attempt, exc)
        log.warning("%s (%s); trying again in %.1f s", exc.message, exc.code, wait)
        await self.sleep(wait)

    # -- conveniences ------------------------------------------------------------------------

    async def get(self, **params: Any) -> dict[str, Any]:
        return await self.call("GET", params)

    async def post(self, params: Mapping[str, Any], *, file: FilePart | None = None,
                   idempotent: bool = False, token: bool = True) -> dict[str, Any]:
        return await self.call("POST", params, file=file, idempotent=idempotent, token=token)

    async def csrf_token(self) -> str:
        async with self._csrf_lock:
            if self._csrf is None:
                await self._ensure_prepared()
                data = await self.call("GET", {"action": "query", "meta": "tokens", "type": "csrf"})
                tok = str(data["query"]["tokens"]["csrftoken"])
                if tok == "+\\":
                    raise SignInNeeded(
                        "The wiki treats you as not signed in (anonymous token). Run "
                        "`commons-helper login` or set COMMONS_HELPER_BOT_USER and "
                        "COMMONS_HELPER_BOT_PASSWORD.", code="mustbeloggedin")
                self._csrf = tok
            return self._csrf

    def forget_csrf_token(self) -> None:
        self._csrf = None

    async def username(self) -> str:
        if self._username is None:
            data = await self.get(action="query", meta="userinfo")
            info = data["query"]["userinfo"]
            if info.get("anon"):
                raise SignInNeeded("You are not signed in to the wiki. Run `commons-helper login`.",
                                   code="mustbeloggedin")
            self._username = str(info["name"])
        return self._username

    async def file_extensions(self) -> set[str]:
        data = await self.get(action="query", meta="siteinfo", siprop="fileextensions")
        return {str(e["ext"]).lower() for e in data["query"]["fileextensions"]}


def _param(value: Any) -> str:
    if value is True:
        return "1"
    if isinstance(value, list | tuple | set):
        return "|".join(str(v) for v in value)
    return str(value)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
