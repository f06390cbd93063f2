"""Exporting a known image again: a new version of the same Commons file, never a second file.

A real ``serve`` process and the real wiki. The identity is what darktable sends
(application, library id, source path + duplicate index, the title it tagged).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from commons_helper.auth.botpassword import BotPassword
from commons_helper.mediawiki import FilePart, MediaWikiClient
from commons_helper.retry import FAST
from tests.peers.mediawiki import TestWiki
from tests.peers.service import Service, make_jpeg, plugin_meta, read_db

pytestmark = pytest.mark.slow


def export(service: Service, photo: Path, title: str, batch: str, **kw: Any) -> dict[str, Any]:
    resp = service.enqueue(photo, plugin_meta(title, batch=batch, image_id=41, path="/photos/r.NEF", **kw))
    assert resp.status_code == 201, resp.text
    return service.wait_all_final([resp.json()["id"]])[0]


def comments(wiki: TestWiki, title: str) -> list[str]:
    data = wiki.query(action="query", prop="imageinfo", titles=title, iiprop="comment", iilimit="10")
    return [str(i["comment"]) for i in data["query"]["pages"][0]["imageinfo"]]  # type: ignore[index]


def test_reexport_is_a_new_version(service: Service, wiki: TestWiki, tmp_path: Path, unique: str) -> None:
    first = make_jpeg(tmp_path / "v1.jpg", color="#112233")
    job1 = export(service, first, f"Reexport {unique}", f"{unique}-1")
    assert job1["status"] == "uploaded", job1
    title = str(job1["title"])

    edited = make_jpeg(tmp_path / "v2.jpg", color="#445566")  # the photo edited, same image
    job2 = export(service, edited, f"Reexport {unique} (retitled)", f"{unique}-2")
    assert job2["status"] == "new-version", job2
    assert job2["title"] == title  # the ledger's title wins over the new metadata title
    versions = wiki.file_versions(title)
    assert [v["sha1"] for v in versions] == [job2["sha1"], job1["sha1"]]
    assert "New version" in comments(wiki, title)[0]
    assert wiki.files_with_sha1(str(job2["sha1"])) == [title]

    # exporting the same bytes again changes nothing
    again = make_jpeg(tmp_path / "v3.jpg")
    again.write_bytes(edited.read_bytes())
    job3 = export(service, again, f"Reexport {unique}", f"{unique}-3")
    assert job3["status"] == "unchanged", job3
    assert len(wiki.file_versions(title)) == 2

    # the ledger: one image, both versions we sent
    rows = read_db(service.database, "SELECT i.title, v.sha1, v.status FROM images i JOIN versions v "
                   "ON v.image = i.id WHERE i.image_id = '41' AND i.title = ? ORDER BY v.id", title)
    assert [(r["sha1"], r["status"]) for r in rows] == [(job1["sha1"], "uploaded"),
                                                       (job2["sha1"], "new-version")]

    # the user may ask for a new file instead
    fresh = make_jpeg(tmp_path / "v4.jpg", color="#778899")
    job4 = export(service, fresh, f"Reexport {unique} copy", f"{unique}-4", on_reexport="new-file")
    assert job4["status"] == "uploaded" and job4["title"] != title

    # another computer (an empty ledger there) knows the image only by the title darktable tagged it with
    tagged = make_jpeg(tmp_path / "v5.jpg", color="#aabbcc")
    resp = service.enqueue(tagged, plugin_meta("Whatever", batch=f"{unique}-5", image_id=7,
                                               path="/elsewhere/r.NEF", commons_title=title))
    job5 = service.wait_all_final([resp.json()["id"]])[0]
    assert job5["status"] == "new-version" and job5["title"] == title
    assert len(wiki.file_versions(title)) == 3


def test_reexport_over_someone_elses_version_needs_attention(
        service: Service, wiki: TestWiki, tmp_path: Path, unique: str) -> None:
    job1 = export(service, make_jpeg(tmp_path / "a.jpg", color="#123123"), f"Contested {unique}",
                  f"{unique}-a")
    assert job1["status"] == "uploaded"
    title = str(job1["title"])
    # somebody else uploads a version on top
    other = f"Other{unique}"
    wiki.create_user(other, "other-password-" + unique)
    bot = wiki.create_bot_password(f"o{unique}", "basic,uploadfile,uploadeditmovefile,editpage,"
                                   "createeditmovepage", user=other)

    # (sent with ignorewarnings by the test, as another client would; our engine would refuse it)
    status = asyncio.run(_upload_over(wiki, bot.user, bot.password, title, tmp_path))
    assert status == "Success"
    assert wiki.file_versions(title)[0]["user"] == other

    job2 = export(service, make_jpeg(tmp_path / "b.jpg", color="#321321"), f"Contested {unique}",
                  f"{unique}-b")
    assert job2["status"] == "needs-attention", job2
    error = job2["error"]
    assert isinstance(error, dict) and error["code"] == "not-own-file"
    assert other in error["message"]
    assert len(wiki.file_versions(title)) == 2  # nothing was added


async def _upload_over(wiki: TestWiki, user: str, password: str, title: str, tmp_path: Path) -> str:
    """Another user's new version, sent with the Action API directly (an independent client)."""
    path = make_jpeg(tmp_path / "theirs.jpg", color="#999111")
    async with MediaWikiClient(wiki.api, auth=BotPassword(user, password),
                               user_agent="commons-helper-tests/0.1", retry=FAST) as client:
        answer = await client.post(
            {"action": "upload", "filename": title.removeprefix("File:"), "comment": "their edit",
             "text": "theirs", "ignorewarnings": True},
            file=FilePart("file", path, filename="file.jpg"))
        return str(answer["upload"]["result"])
