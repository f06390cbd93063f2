"""Build a signed-in wiki client from the environment, the credential store and the settings."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping

import httpx2

from . import __version__
from .auth.base import Anonymous, Authenticator
from .auth.bearer import StaticBearer
from .auth.botpassword import BotPassword
from .config import Settings, user_agent
from .errors import UsageError
from .mediawiki import MediaWikiClient
from .paths import Paths
from .retry import RetryPolicy

ENV_BOT_USER = "COMMONS_HELPER_BOT_USER"
ENV_BOT_PASSWORD = "COMMONS_HELPER_BOT_PASSWORD"  # noqa: S105 - a variable name, not a secret
ENV_ACCESS_TOKEN = "COMMONS_HELPER_ACCESS_TOKEN"  # noqa: S105


def authenticator_from_env(environ: Mapping[str, str]) -> Authenticator | None:
    token = environ.get(ENV_ACCESS_TOKEN, "").strip()
    user = environ.get(ENV_BOT_USER, "").strip()
    password = environ.get(ENV_BOT_PASSWORD, "")
    if token and (user or password):
        raise UsageError(f"Set either {ENV_ACCESS_TOKEN} or {ENV_BOT_USER} + {ENV_BOT_PASSWORD}, not both.")
    if token:
        return StaticBearer(token)
    if user or password:
        if not (user and password):
            raise UsageError(f"{ENV_BOT_USER} and {ENV_BOT_PASSWORD} must be set together.")
        return BotPassword(user, password)
    return None


def find_authenticator(settings: Settings, paths: Paths,
                       environ: Mapping[str, str] | None = None) -> Authenticator:
    """Environment first, then the credential store (`commons-helper login`), else anonymous."""
    env = os.environ if environ is None else environ
    auth = authenticator_from_env(env)
    if auth is not None:
        return auth
    try:
        store = importlib.import_module("commons_helper.auth.store")
    except ModuleNotFoundError:
        return Anonymous()
    from_store = getattr(store, "authenticator_from_store", None)
    if from_store is not None:
        found: Authenticator | None = from_store(paths, settings)
        if found is not None:
            return found
    return Anonymous()


def open_client(settings: Settings, paths: Paths, *, retry: RetryPolicy | None = None,
                environ: Mapping[str, str] | None = None) -> MediaWikiClient:
    return MediaWikiClient(
        settings.wiki,
        auth=find_authenticator(settings, paths, environ),
        user_agent=user_agent(settings, __version__, httpx2.__version__),
        retry=retry,
    )
