"""The credential store: one record per sign-in target, secrets kept safe.

A record is keyed by the OAuth base URL (OAuth and owner-only tokens work on
every wiki of that farm) or by the Action API URL (bot passwords belong to one
wiki). Its public part (kind, username, grants, expiry, client id) always lives
in ``paths.credentials_file``; its secrets (access token, refresh token, client
secret, bot password) live in the OS keychain through ``keyring`` when a usable
backend exists, else in that same file. The file is JSON, mode 0600, written
atomically (temp file, fsync, rename) under an advisory lock so the CLI and the
helper service never lose each other's writes.

Set ``COMMONS_HELPER_KEYRING=0`` to keep everything in the file (tests,
headless machines without a keychain daemon).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..errors import AuthError
from ..fileutil import atomic_write
from ..paths import Paths, ensure_private_dir

log = logging.getLogger(__name__)

KEYRING_ENV = "COMMONS_HELPER_KEYRING"
KEYRING_SERVICE = "commons-helper"
FILE_VERSION = 1

KIND_OAUTH = "oauth"
KIND_ACCESS_TOKEN = "access-token"  # noqa: S105 - a kind, not a secret
KIND_BOT_PASSWORD = "bot-password"  # noqa: S105 - a kind, not a secret
KINDS = (KIND_OAUTH, KIND_ACCESS_TOKEN, KIND_BOT_PASSWORD)

#: Record fields that are secret: never printed, logged, or written next to the public part
#: when a keychain is available.
SECRET_FIELDS = ("access_token", "refresh_token", "client_secret", "bot_password")


def _secret() -> Any:
    return field(default="", repr=False)


@dataclass(frozen=True)
class Credential:
    """One stored sign-in. ``repr`` never shows a secret."""

    key: str
    kind: str
    username: str = ""
    grants: tuple[str, ...] = ()
    access_token: str = _secret()
    refresh_token: str = _secret()
    #: Unix time when the access token expires (None: does not expire)
    expires_at: float | None = None
    #: Unix time when the access token was obtained
    obtained_at: float | None = None
    client_id: str = ""
    client_secret: str = _secret()
    bot_user: str = ""
    bot_password: str = _secret()
    #: "ok", or "sign-in-needed" once the wiki refused to renew it
    status: str = "ok"
    updated_at: float = 0.0

    @property
    def confidential(self) -> bool:
        return bool(self.client_secret)

    def secrets(self) -> dict[str, str]:
        return {name: str(getattr(self, name)) for name in SECRET_FIELDS if getattr(self, name)}

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        for name in SECRET_FIELDS:
            data.pop(name, None)
        data["grants"] = list(self.grants)
        return data

    def with_changes(self, **changes: Any) -> Credential:
        return replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Credential:
        names = {f.name for f in fields(cls)}
        clean = {k: v for k, v in data.items() if k in names}
        clean["grants"] = tuple(str(g) for g in clean.get("grants", ()))
        return cls(**clean)


# -- keychain -------------------------------------------------------------------------------


def usable_keyring() -> Any | None:
    """The keyring backend to use, or None when there is no usable keychain.

    Refuses the ``fail`` and ``null`` backends, a chainer with no backends, and any backend
    with priority <= 0; honours ``COMMONS_HELPER_KEYRING=0``.
    """
    if os.environ.get(KEYRING_ENV, "").strip().lower() in ("0", "no", "false", "off"):
        return None
    try:
        import keyring
        from keyring.backends import chainer, fail
    except Exception:  # keyring missing or broken: use the file
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken backend: use the file
        return None
    if isinstance(backend, fail.Keyring):
        return None
    module = type(backend).__module__
    if module.endswith(".null") or module.endswith(".fail"):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not list(backend.backends):
        return None
    try:
        if float(backend.priority) <= 0:
            return None
    except Exception:  # priority may be a property that raises
        return None
    return backend


# -- the store -------------------------------------------------------------------------------


class CredentialStore:
    """Read and write credential records. Safe for several processes (flock on a lock file)."""

    def __init__(self, path: Path, keyring_backend: Any | None = None) -> None:
        self.path = path
        self.keyring = keyring_backend

    @property
    def location(self) -> str:
        """Where the secrets are, in words (for messages; never a secret)."""
        if self.keyring is not None:
            name = getattr(self.keyring, "name", type(self.keyring).__name__)
            return f"the system keychain ({name}); details in {self.path}"
        return str(self.path)

    # public API

    def get(self, key: str) -> Credential | None:
        with self._locked():
            data = self._read()
        raw = data["records"].get(key)
        if raw is None:
            return None
        return self._hydrate(key, raw)

    def all(self) -> list[Credential]:
        with self._locked():
            data = self._read()
        return [self._hydrate(k, v) for k, v in sorted(data["records"].items())]

    def put(self, cred: Credential) -> Credential:
        if cred.kind not in KINDS:
            raise ValueError(f"unknown credential kind {cred.kind!r}")
        cred = cred.with_changes(updated_at=time.time())
        with self._locked():
            data = self._read()
            record = cred.public()
            secrets = cred.secrets()
            if self.keyring is not None:
                self._keyring_set(cred.key, secrets)
                record["secrets"] = "keyring"
            else:
                record["secrets"] = secrets
            data["records"][cred.key] = record
            self._write(data)
        return cred

    def delete(self, key: str) -> Credential | None:
        with self._locked():
            data = self._read()
            raw = data["records"].pop(key, None)
            if raw is None:
                return None
            cred = self._hydrate(key, raw)
            if raw.get("secrets") == "keyring" and self.keyring is not None:
                with contextlib.suppress(Exception):
                    self.keyring.delete_password(KEYRING_SERVICE, key)
            self._write(data)
        return cred

    # internals

    def _hydrate(self, key: str, raw: dict[str, Any]) -> Credential:
        stored = raw.get("secrets")
        if stored == "keyring":
            secrets = self._keyring_get(key)
        elif isinstance(stored, dict):
            secrets = {k: str(v) for k, v in stored.items() if k in SECRET_FIELDS}
        else:
            secrets = {}
        public = {k: v for k, v in raw.items() if k not in ("secrets", *SECRET_FIELDS)}
        return Credential.from_dict({**public, **secrets, "key": key})

    def _keyring_get(self, key: str) -> dict[str, str]:
        if self.keyring is None:
            raise AuthError(
                f"The secrets of your sign-in for {key} are in a system keychain that is not "
                "available now. Unlock the keychain (or run `commons-helper login` again).",
                code="keychain-unavailable",
            )
        try:
            text = self.keyring.get_password(KEYRING_SERVICE, key)
        except Exception as exc:  # keyring backends raise their own types
            raise AuthError(
                f"The system keychain refused to give the secrets of your sign-in for {key} "
                f"({type(exc).__name__}). Unlock it and try again; nothing was changed.",
                code="keychain-unavailable",
            ) from exc
        if not text:
            return {}
        data = json.loads(text)
        return {k: str(v) for k, v in data.items() if k in SECRET_FIELDS}

    def _keyring_set(self, key: str, secrets: dict[str, str]) -> None:
        assert self.keyring is not None
        try:
            self.keyring.set_password(KEYRING_SERVICE, key, json.dumps(secrets))
        except Exception as exc:
            raise AuthError(
                f"The system keychain refused to store your sign-in ({type(exc).__name__}). "
                f"Unlock it, or set {KEYRING_ENV}=0 to keep credentials in {self.path} "
                "(readable by your user only).",
                code="keychain-unavailable",
            ) from exc

    def _read(self) -> dict[str, Any]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {"version": FILE_VERSION, "records": {}}
        except OSError as exc:
            raise AuthError(f"cannot read the credential file {self.path}: {exc.strerror}",
                            code="credential-store") from exc
        try:
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise AuthError(
                f"The credential file {self.path} is damaged (not JSON). Move it away and run "
                "`commons-helper login` again.",
                code="credential-store",
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("records"), dict):
            return {"version": FILE_VERSION, "records": {}}
        return data

    def _write(self, data: dict[str, Any]) -> None:
        data["version"] = FILE_VERSION
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        atomic_write(self.path, text.encode("utf-8"), mode=0o600)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        ensure_private_dir(self.path.parent)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def open_store(paths: Paths) -> CredentialStore:
    """The store for this installation: keychain when usable, else the 0600 file."""
    return CredentialStore(paths.credentials_file, usable_keyring())


def authenticator_from_store(paths: Paths, settings: Any) -> Any:
    """Same as ``commons_helper.auth.signin.authenticator_from_store`` (imported lazily)."""
    from .signin import authenticator_from_store as build

    return build(paths, settings)
