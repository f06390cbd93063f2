"""Pure parts of the sign-in: PKCE, state, authorize URL, grants, Meta's redirect rule."""

from __future__ import annotations

import base64
import hashlib
import urllib.parse

import pytest

from commons_helper.auth.flow import (
    Endpoints,
    PendingAuthorizations,
    authorize_url,
    loopback_redirect_uri,
    redact_url,
    requested_grants,
)
from commons_helper.errors import SignInNeeded
from tests.peers.oauth_server import redirect_matches


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_endpoints_are_metas_paths() -> None:
    e = Endpoints.from_base("https://meta.wikimedia.org/w/rest.php/oauth2/")
    assert e.authorize == "https://meta.wikimedia.org/w/rest.php/oauth2/authorize"
    assert e.token == "https://meta.wikimedia.org/w/rest.php/oauth2/access_token"
    assert e.profile == "https://meta.wikimedia.org/w/rest.php/oauth2/resource/profile"
    assert e.special_page("OAuthManageMyGrants") == \
        "https://meta.wikimedia.org/wiki/Special:OAuthManageMyGrants"
    assert Endpoints.from_base("http://127.0.0.1:9/rest.php/oauth2").special_page("X") == \
        "http://127.0.0.1:9/index.php?title=Special:X"


@pytest.mark.parametrize(("overwrite", "scopes", "expected"), [
    (False, None, ("basic", "uploadfile", "editpage", "createeditmovepage")),
    (True, None, ("basic", "uploadfile", "editpage", "createeditmovepage", "uploadeditmovefile")),
    (False, "uploadfile editpage", ("basic", "uploadfile", "editpage")),
    (False, "basic,uploadfile", ("basic", "uploadfile")),
    (True, "uploadfile uploadeditmovefile", ("basic", "uploadfile", "uploadeditmovefile")),
])
def test_requested_grants(overwrite: bool, scopes: str | None, expected: tuple[str, ...]) -> None:
    assert requested_grants(overwrite, scopes) == expected


def test_authorize_url_carries_s256_challenge_and_state() -> None:
    pending = PendingAuthorizations().start("client-1", loopback_redirect_uri(4321),
                                            requested_grants())
    url = authorize_url(Endpoints.from_base("https://meta.example/w/rest.php/oauth2"), pending)
    parts = urllib.parse.urlsplit(url)
    q = dict(urllib.parse.parse_qsl(parts.query))
    assert parts.path == "/w/rest.php/oauth2/authorize"
    assert q["response_type"] == "code" and q["client_id"] == "client-1"
    assert q["redirect_uri"] == "http://127.0.0.1:4321/oauth/callback"
    assert q["scope"] == "basic uploadfile editpage createeditmovepage"
    assert q["state"] == pending.state and len(pending.state) >= 32
    assert q["code_challenge_method"] == "S256"
    digest = hashlib.sha256(pending.code_verifier.encode()).digest()
    assert q["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert pending.code_verifier not in url
    assert 43 <= len(pending.code_verifier) <= 128
    assert pending.state not in repr(pending) and pending.code_verifier not in repr(pending)


def test_state_is_single_use() -> None:
    pending = PendingAuthorizations()
    a = pending.start("c", "http://127.0.0.1:1/oauth/callback", ("basic",))
    assert pending.take(a.state) is a
    with pytest.raises(SignInNeeded) as info:
        pending.take(a.state)
    assert info.value.code == "oauth-state-mismatch"
    assert "Nothing was stored" in str(info.value)


@pytest.mark.parametrize("state", [None, "", "forged-state-value"])
def test_unknown_state_is_refused(state: str | None) -> None:
    pending = PendingAuthorizations()
    pending.start("c", "http://127.0.0.1:1/oauth/callback", ("basic",))
    with pytest.raises(SignInNeeded) as info:
        pending.take(state)
    assert info.value.code == "oauth-state-mismatch"
    assert len(pending) == 1  # the real one is still waiting


def test_state_and_verifier_expire_after_ten_minutes() -> None:
    clock = Clock()
    pending = PendingAuthorizations(clock=clock)
    a = pending.start("c", "http://127.0.0.1:1/oauth/callback", ("basic",))
    b = pending.start("c", "http://127.0.0.1:1/oauth/callback", ("basic",))
    clock.now += 599
    assert pending.take(a.state) is a
    clock.now += 2
    with pytest.raises(SignInNeeded) as info:
        pending.take(b.state)
    assert info.value.code == "oauth-state-expired"
    assert "10 minutes" in str(info.value)
    c = pending.start("c", "http://127.0.0.1:1/oauth/callback", ("basic",))
    clock.now += 5000  # very old entries are purged
    pending.start("c", "http://127.0.0.1:1/oauth/callback", ("basic",))
    assert len(pending) == 1 and c.state


def test_states_are_unpredictable() -> None:
    pending = PendingAuthorizations()
    states = {pending.start("c", "u", ("basic",)).state for _ in range(200)}
    assert len(states) == 200


@pytest.mark.parametrize(("registered", "given", "ok"), [
    ("http://127.0.0.1/oauth/callback", "http://127.0.0.1/oauth/callback", True),
    ("http://127.0.0.1/oauth/callback", "http://127.0.0.1:53682/oauth/callback", True),
    ("http://127.0.0.1:8471/oauth/callback", "http://127.0.0.1:9999/oauth/callback", True),
    ("http://[::1]/oauth/callback", "http://[::1]:4000/oauth/callback", True),
    ("http://127.0.0.1/oauth/callback", "http://127.0.0.1:5000/other", False),
    ("http://127.0.0.1/oauth/callback", "http://127.0.0.1:5000/oauth/callback?x=1", False),
    ("http://127.0.0.1/oauth/callback", "http://[::1]:5000/oauth/callback", False),
    ("http://localhost/oauth/callback", "http://localhost:5000/oauth/callback", False),
    ("http://localhost:5000/oauth/callback", "http://localhost:5000/oauth/callback", True),
    ("https://example.org/cb", "https://example.org:444/cb", False),
    ("https://example.org/cb", "https://example.org/cb", True),
    ("http://127.0.0.1/oauth/callback", "https://127.0.0.1:5000/oauth/callback", False),
])
def test_meta_redirect_rule(registered: str, given: str, ok: bool) -> None:
    assert redirect_matches(registered, given) is ok


def test_redact_url_hides_code_and_state() -> None:
    url = "http://127.0.0.1:1/oauth/callback?code=SECRETCODE123&state=STATE123456&x=1"
    red = redact_url(url)
    assert "SECRETCODE123" not in red and "STATE123456" not in red and "x=1" in red
