"""The one exception tree of commons-helper.

Every error a user can cause or suffer is one of these. Each knows a short
machine-readable ``code`` (the API's own code where the wiki gave one), a
sentence a photographer understands (``str(error)``), whether trying again
later can help (``retryable``), and how it maps to an exit status and an
HTTP status at the edges (CLI, local API).

    CommonsHelperError
    ├── UsageError              bad command line or settings (exit 2, HTTP 400)
    ├── LocalFileError          the file on disk cannot be uploaded as it is
    ├── MetadataError           the photo's metadata cannot be read
    ├── PageError               no file page can be written (e.g. no license)
    ├── TitleError              no valid Commons title can be made
    ├── AuthError               not signed in, or signed in without the rights needed
    │   ├── SignInNeeded        credentials missing, expired or refused: sign in again
    │   ├── MissingRights       the sign-in lacks a grant/right (names the grant)
    │   └── TokenRefused        the OAuth token endpoint said no (its ``error`` code kept)
    ├── WikiError               the wiki answered with an error code
    │   ├── RetryableWikiError  maxlag, ratelimited, readonly, a server error (retry later)
    │   └── StashError          the upload stash lost or refused our chunks
    ├── NetworkError            connection refused/reset, timeout (retryable)
    ├── BadRequest              a bad request to the local API (HTTP 400)
    │   ├── TooLarge            a request over the size limits (HTTP 413)
    │   └── UnsupportedType     not multipart/form-data (HTTP 415)
    ├── JobNotFound             no such job in the queue (HTTP 404)
    ├── JobConflict             the job cannot do that in its state (HTTP 409)
    ├── DatabaseError           the helper's SQLite database failed (HTTP 500)
    ├── HelperNotRunning        no helper service answers on this computer
    └── AlreadyRunning          a second ``serve`` while one runs

Foreign exceptions (httpx2, OSError, pyexiv2) are translated into these in
exactly one place each (the module that talks to them), with ``raise ... from``.
"""

from __future__ import annotations

from typing import Any


class CommonsHelperError(Exception):
    """Base of every error commons-helper raises on purpose."""

    code: str = "error"
    retryable: bool = False
    exit_code: int = 1
    http_status: int = 500

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


class UsageError(CommonsHelperError):
    code = "usage"
    exit_code = 2
    http_status = 400


class LocalFileError(CommonsHelperError):
    code = "bad-file"
    http_status = 400


class MetadataError(CommonsHelperError):
    code = "bad-metadata"
    http_status = 400


class PageError(CommonsHelperError):
    code = "bad-page"
    http_status = 400


class TitleError(CommonsHelperError):
    code = "bad-title"
    http_status = 400


class AuthError(CommonsHelperError):
    code = "auth"
    http_status = 401


class SignInNeeded(AuthError):
    code = "sign-in-needed"


class MissingRights(AuthError):
    code = "missing-rights"
    http_status = 403


class WikiError(CommonsHelperError):
    """The wiki refused the request; ``code`` is the API's error code."""

    code = "wiki-error"
    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.retry_after = retry_after


class RetryableWikiError(WikiError):
    retryable = True
    http_status = 503


class StashError(WikiError):
    code = "stashfailed"


class NetworkError(CommonsHelperError):
    code = "network"
    retryable = True
    http_status = 503

    def __init__(self, message: str, *, code: str | None = None, details: Any = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message, code=code, details=details)
        self.retry_after = retry_after


class TokenRefused(AuthError):
    """The token endpoint answered with an OAuth error (``error`` holds its code)."""

    def __init__(self, message: str, *, error: str, status: int, description: str = "") -> None:
        super().__init__(message, code=f"oauth-{error}", details={"error": error, "status": status})
        self.error = error
        self.status = status
        self.description = description


class BadRequest(CommonsHelperError):
    code = "bad-request"
    http_status = 400


class TooLarge(BadRequest):
    code = "too-large"
    http_status = 413


class UnsupportedType(BadRequest):
    code = "unsupported-type"
    http_status = 415


class JobNotFound(CommonsHelperError):
    code = "not-found"
    http_status = 404


class JobConflict(CommonsHelperError):
    code = "conflict"
    http_status = 409


class DatabaseError(CommonsHelperError):
    code = "database"
    http_status = 500


class HelperNotRunning(CommonsHelperError):
    code = "not-running"


class AlreadyRunning(CommonsHelperError):
    code = "already-running"
