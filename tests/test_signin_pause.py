"""Sign-in needed, for real: a running `serve` whose OAuth sign-in cannot be refreshed pauses its
queue (nothing failed, nothing lost); `commons-helper login` in another process tells it, and the
queued photos go up.

Peers: the real test wiki behind the Bearer gateway, the Meta-like OAuth server (a public client,
whose refresh Meta refuses), a real `commons-helper serve` process.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from commons_helper.config import Settings, save_settings
from commons_helper.paths import get_paths
from tests.peers.bearer_gateway import BearerGateway
from tests.peers.images import make_jpeg
from tests.peers.oauth_server import MetaOAuthServer
from tests.peers.service import Service, plugin_meta
from tests.test_auth_support import *  # noqa: F403 - the fixtures (oauth, gateway, fake_browser, leak_check)
from tests.test_auth_support import Transcript, run_cli


def wait_for(predicate, timeout: float = 60.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {what}")
        time.sleep(0.2)


def test_refresh_refused_pauses_the_queue_and_login_resumes_it(
        oauth: MetaOAuthServer, gateway: BearerGateway, helper_home: Path, tmp_path: Path, unique: str,
        fake_browser: Path, capsys: pytest.CaptureFixture[str], leak_check: Transcript,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMONS_HELPER_KEYRING", "0")
    save_settings(get_paths(), Settings(license="cc-by-sa-4.0", wiki=gateway.api,
                                        oauth_base=oauth.oauth_base))
    public = oauth.register_client(confidential=False)
    oauth.access_lifetime = 3  # seconds; a public client cannot refresh it afterwards
    status, out, err = run_cli(capsys, leak_check, ["login", "--client-id", public.client_id,
                                                    "--timeout", "30"])
    assert status == 0, err
    assert "a public client cannot renew it" in out

    service = Service(home=helper_home, wiki_api=gateway.api,
                      env={"COMMONS_HELPER_KEYRING": "0"})
    service.start()
    try:
        time.sleep(3.5)  # the access token expires
        photos = [make_jpeg(tmp_path / f"p{i}.jpg", f"{unique}-{i}") for i in range(2)]
        ids = []
        for i, p in enumerate(photos):
            resp = service.enqueue(p, plugin_meta(f"Paused {unique} {i}", image_id=i + 1))
            assert resp.status_code == 201, resp.text
            ids.append(resp.json()["id"])

        def health() -> dict[str, object]:
            return dict(service.get("/api/v1/health").json())

        wait_for(lambda: health()["paused"] is True, what="the queue to pause")
        h = health()
        assert "commons-helper login" in str(h["pause_reason"])
        jobs = [service.get(f"/api/v1/uploads/{i}").json() for i in ids]
        assert {j["status"] for j in jobs} == {"queued"}  # waiting, not failed
        assert all(j["error"] is None or "sign-in" in j["error"]["message"].lower() for j in jobs)
        assert oauth.count("refused:refresh_token:401") >= 1  # it tried to renew; Meta refused

        # The photographer signs in again, in another process; the running helper is told.
        oauth.access_lifetime = 3600
        status, out, err = run_cli(capsys, leak_check, ["login", "--timeout", "30"])
        assert status == 0, err
        assert "The running helper service now uses this sign-in" in out

        done = service.wait_all_final(ids, timeout=90)
        assert [j["status"] for j in done] == ["uploaded", "uploaded"], done
        assert health()["paused"] is False
        for job, photo in zip(done, photos, strict=True):
            assert job["title"].startswith(f"File:Paused {unique}")
            landed = gateway.wiki.file_versions(job["title"])[0]["sha1"]
            assert landed == job["sha1"] == hashlib.sha1(photo.read_bytes()).hexdigest()
        assert json.dumps(done).count("Waiting for sign-in") == 0  # the waiting note is gone
    finally:
        service.stop()
        leak_check.add(service.output())
