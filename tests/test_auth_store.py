"""The credential store: 0600 file written atomically, or the OS keychain through keyring."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from commons_helper.auth import store as store_mod
from commons_helper.auth.store import (
    KIND_BOT_PASSWORD,
    KIND_OAUTH,
    Credential,
    CredentialStore,
    open_store,
    usable_keyring,
)
from commons_helper.paths import get_paths


def oauth_record(key: str = "https://meta.example/w/rest.php/oauth2", **kw: Any) -> Credential:
    base: dict[str, Any] = dict(key=key, kind=KIND_OAUTH, username="Photographer",
                                grants=("basic", "uploadfile"), access_token="AT-secret-123456",
                                refresh_token="RT-secret-123456", expires_at=2_000_000_000.0,
                                client_id="cid", client_secret="CS-secret-123456")
    base.update(kw)
    return Credential(**base)


class MemoryKeyring(KeyringBackend):
    """A real keyring backend (keyring's own base class) that keeps passwords in memory."""

    priority = 5  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


def test_file_store_round_trip_with_0600_permissions(helper_home: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMONS_HELPER_KEYRING", "0")
    store = open_store(get_paths())
    assert store.keyring is None
    cred = store.put(oauth_record())
    path = get_paths().credentials_file
    assert path.is_relative_to(helper_home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    again = store.get(cred.key)
    assert again is not None
    assert (again.access_token, again.refresh_token, again.client_secret) == (
        "AT-secret-123456", "RT-secret-123456", "CS-secret-123456")
    assert again.grants == ("basic", "uploadfile")
    assert again.expires_at == 2_000_000_000.0
    # rewriting keeps the mode, and leaves no temp files behind
    store.put(again.with_changes(access_token="AT-new-secret-999"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["credentials.json",
                                                             "credentials.json.lock"]
    assert store.get(cred.key).access_token == "AT-new-secret-999"  # type: ignore[union-attr]


def test_repr_never_shows_secrets() -> None:
    text = repr(oauth_record()) + str(oauth_record()) + repr(
        Credential(key="k", kind=KIND_BOT_PASSWORD, bot_user="U@a", bot_password="BP-secret-xyz1"))
    for secret in ("AT-secret", "RT-secret", "CS-secret", "BP-secret"):
        assert secret not in text
    assert "Photographer" in text


def test_one_record_per_key_and_delete(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "c.json")
    store.put(oauth_record("https://a/oauth2"))
    store.put(oauth_record("https://b/oauth2", username="Other"))
    store.put(oauth_record("https://a/oauth2", username="Replaced"))
    assert [(c.key, c.username) for c in store.all()] == [("https://a/oauth2", "Replaced"),
                                                          ("https://b/oauth2", "Other")]
    removed = store.delete("https://a/oauth2")
    assert removed is not None and removed.username == "Replaced"
    assert store.get("https://a/oauth2") is None
    assert store.delete("https://a/oauth2") is None


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "c.json")

    def write(i: int) -> None:
        CredentialStore(tmp_path / "c.json").put(oauth_record(f"https://w{i}/oauth2"))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.all()) == 20


def test_damaged_file_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{not json")
    with pytest.raises(Exception, match="damaged") as info:
        CredentialStore(path).get("x")
    assert "commons-helper login" in str(info.value)


def test_keyring_backend_keeps_secrets_out_of_the_file(tmp_path: Path) -> None:
    ring = MemoryKeyring()
    store = CredentialStore(tmp_path / "c.json", ring)
    cred = store.put(oauth_record())
    raw = (tmp_path / "c.json").read_text()
    for secret in ("AT-secret", "RT-secret", "CS-secret"):
        assert secret not in raw
    data = json.loads(raw)["records"][cred.key]
    assert data["secrets"] == "keyring"
    assert data["username"] == "Photographer" and data["client_id"] == "cid"
    kept = json.loads(ring.items[("commons-helper", cred.key)])
    assert kept == {"access_token": "AT-secret-123456", "refresh_token": "RT-secret-123456",
                    "client_secret": "CS-secret-123456"}
    assert store.get(cred.key).refresh_token == "RT-secret-123456"  # type: ignore[union-attr]
    store.delete(cred.key)
    assert ring.items == {}


def test_usable_keyring_refuses_fail_null_and_empty_chainer(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring

    monkeypatch.delenv("COMMONS_HELPER_KEYRING", raising=False)
    for backend in (fail.Keyring(), null.Keyring(), chainer.ChainerBackend()):
        monkeypatch.setattr(keyring, "get_keyring", lambda b=backend: b)
        if isinstance(backend, chainer.ChainerBackend):
            monkeypatch.setattr(chainer.ChainerBackend, "backends", [], raising=False)
        assert usable_keyring() is None, type(backend)
    ring = MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: ring)
    assert usable_keyring() is ring
    monkeypatch.setenv("COMMONS_HELPER_KEYRING", "0")
    assert usable_keyring() is None
    assert store_mod.KEYRING_ENV == "COMMONS_HELPER_KEYRING"


def test_store_module_offers_authenticator_from_store_for_session(helper_home: Path,
                                                                  monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    """session.find_authenticator looks it up in commons_helper.auth.store."""
    from commons_helper.config import Settings

    monkeypatch.setenv("COMMONS_HELPER_KEYRING", "0")
    paths = get_paths()
    assert store_mod.authenticator_from_store(paths, Settings()) is None
    open_store(paths).put(oauth_record(key="https://meta.wikimedia.org/w/rest.php/oauth2"))
    auth = store_mod.authenticator_from_store(paths, Settings())
    assert auth is not None and auth.kind == "oauth"
    assert "AT-secret" not in repr(auth)
    assert os.environ["COMMONS_HELPER_HOME"] == str(helper_home)
