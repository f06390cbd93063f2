"""The upload engine against the real local MediaWiki 1.39: every outcome, chunking, resync, faults."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from commons_helper.auth.botpassword import BotPassword
from commons_helper.errors import MissingRights
from commons_helper.mediawiki import MediaWikiClient
from commons_helper.retry import FAST
from commons_helper.upload import ChunkState, Uploader, UploadRequest
from tests.peers.faultproxy import FaultProxy
from tests.peers.images import make_jpeg, make_png
from tests.peers.mediawiki import TestWiki, remove, start_wiki

UA = "commons-helper-tests/0 (tests@example.org)"
MiB = 1024 * 1024


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


@pytest.fixture
async def client(wiki: TestWiki) -> AsyncIterator[MediaWikiClient]:
    bot = wiki.bots["full"]
    async with MediaWikiClient(wiki.api, auth=BotPassword(bot.user, bot.password), user_agent=UA,
                               retry=FAST) as c:
        yield c


@pytest.fixture
def jpeg(tmp_path: Path, unique: str) -> Callable[..., Path]:
    counter = iter(range(1000))

    def make(size: int = 0, name: str = "") -> Path:
        n = next(counter)
        return make_jpeg(tmp_path / (name or f"photo{n}.jpg"), f"{unique}-{n}", size)

    return make


def req(path: Path, title: str, **kw: object) -> UploadRequest:
    return UploadRequest(path=path, title=title, text=f"Test page for {title}", **kw)  # type: ignore[arg-type]


async def test_new_file_lands_with_its_page_and_bytes(client: MediaWikiClient, wiki: TestWiki,
                                                      jpeg: Callable[..., Path], unique: str) -> None:
    path = jpeg()
    result = await Uploader(client).upload(req(path, f"New {unique}.jpg"))
    assert result.status == "uploaded", result
    assert result.title == f"File:New {unique}.jpg"
    assert result.error is None and result.url and result.url.startswith(wiki.server)
    versions = wiki.file_versions(result.title)
    assert len(versions) == 1 and versions[0]["sha1"] == sha1(path) == result.sha1
    assert wiki.page_text(result.title) == f"Test page for New {unique}.jpg"


async def test_same_bytes_under_another_name_is_a_duplicate(client: MediaWikiClient, wiki: TestWiki,
                                                            jpeg: Callable[..., Path], unique: str) -> None:
    path = jpeg()
    first = await Uploader(client).upload(req(path, f"Dup A {unique}.jpg"))
    assert first.status == "uploaded"
    second = await Uploader(client).upload(req(path, f"Dup B {unique}.jpg"))
    assert second.status == "duplicate"
    assert second.title == f"File:Dup A {unique}.jpg"
    assert wiki.file_versions(f"File:Dup B {unique}.jpg") == []
    assert wiki.files_with_sha1(sha1(path)) == [f"File:Dup A {unique}.jpg"]


async def test_identical_bytes_to_current_version_are_unchanged(client: MediaWikiClient, wiki: TestWiki,
                                                                jpeg: Callable[..., Path],
                                                                unique: str) -> None:
    path = jpeg()
    title = f"Same {unique}.jpg"
    assert (await Uploader(client).upload(req(path, title))).status == "uploaded"
    for policy in ("rename", "new-version", "fail"):
        again = await Uploader(client).upload(req(path, title, on_exists=policy))
        assert again.status == "unchanged", (policy, again)
        assert again.title == f"File:{title}"
    assert len(wiki.file_versions(f"File:{title}")) == 1


@pytest.mark.parametrize("policy", ["rename", "new-version", "fail"])
async def test_same_name_new_bytes_under_each_policy(policy: str, client: MediaWikiClient,
                                                     wiki: TestWiki, jpeg: Callable[..., Path],
                                                     unique: str) -> None:
    title = f"Taken {policy} {unique}.jpg"
    old, new = jpeg(), jpeg()
    assert (await Uploader(client).upload(req(old, title))).status == "uploaded"
    result = await Uploader(client).upload(req(new, title, on_exists=policy))
    versions = wiki.file_versions(f"File:{title}")
    if policy == "rename":
        assert result.status == "uploaded"
        assert result.title == f"File:Taken {policy} {unique} (2).jpg"
        assert len(versions) == 1
        assert wiki.file_versions(result.title)[0]["sha1"] == sha1(new)
    elif policy == "new-version":
        assert result.status == "new-version"
        assert result.title == f"File:{title}"
        assert [v["sha1"] for v in versions] == [sha1(new), sha1(old)]
    else:
        assert result.status == "failed"
        assert result.error is not None and result.error["code"] == "exists"
        assert "already exists" in result.error["message"]
        assert [v["sha1"] for v in versions] == [sha1(old)]


async def test_rename_skips_every_taken_number(client: MediaWikiClient, wiki: TestWiki,
                                               jpeg: Callable[..., Path], unique: str) -> None:
    title = f"Crowded {unique}.jpg"
    for t in (title, f"Crowded {unique} (2).jpg", f"Crowded {unique} (3).jpg"):
        assert (await Uploader(client).upload(req(jpeg(), t, on_exists="fail"))).status == "uploaded"
    result = await Uploader(client).upload(req(jpeg(), title))
    assert result.title == f"File:Crowded {unique} (4).jpg"


async def test_new_version_refused_over_someone_elses_file(wiki: TestWiki, client: MediaWikiClient,
                                                           jpeg: Callable[..., Path], unique: str) -> None:
    other = f"Other{unique}"
    wiki.create_user(other, "other-password-123")
    bot = wiki.create_bot_password("up", "basic,uploadfile,editpage,createeditmovepage", user=other)
    title = f"Theirs {unique}.jpg"
    async with MediaWikiClient(wiki.api, auth=BotPassword(bot.user, bot.password), user_agent=UA,
                               retry=FAST) as theirs:
        assert (await Uploader(theirs).upload(req(jpeg(), title))).status == "uploaded"
    mine = jpeg()
    result = await Uploader(client).upload(req(mine, title, on_exists="new-version"))
    assert result.status == "needs-attention"
    assert result.error is not None and result.error["code"] == "not-own-file"
    assert other in result.error["message"] and "not by you" in result.error["message"]
    assert len(wiki.file_versions(f"File:{title}")) == 1


async def test_page_without_file(client: MediaWikiClient, wiki: TestWiki, jpeg: Callable[..., Path],
                                 unique: str) -> None:
    title = f"Page only {unique}.jpg"
    await client.post({"action": "edit", "title": f"File:{title}", "text": "just a page"})
    renamed = await Uploader(client).upload(req(jpeg(), title))
    assert renamed.status == "uploaded" and renamed.title == f"File:Page only {unique} (2).jpg"
    refused = await Uploader(client).upload(req(jpeg(), title, on_exists="new-version"))
    assert refused.status == "needs-attention"
    assert refused.error is not None and refused.error["code"] == "page-exists"


@pytest.mark.parametrize("chunk", [1 * MiB, 5 * MiB])
async def test_chunked_30mb_upload_matches_sha1(chunk: int, client: MediaWikiClient, wiki: TestWiki,
                                                jpeg: Callable[..., Path], unique: str) -> None:
    path = jpeg(size=30 * 1000 * 1000)
    states: list[ChunkState] = []
    progress: list[tuple[int, int]] = []

    async def save(state: ChunkState) -> None:
        states.append(state)

    result = await Uploader(client).upload(
        req(path, f"Big {chunk} {unique}.jpg", chunk_size=chunk),
        progress=lambda d, t: progress.append((d, t)), save_state=save)
    assert result.status == "uploaded", result
    assert wiki.file_versions(result.title or "")[0]["sha1"] == sha1(path)
    size = path.stat().st_size
    expected_chunks = -(-size // chunk)
    assert len(states) == expected_chunks  # one saved state per chunk
    assert states[-1].offset == size and states[0].offset == chunk
    assert progress[-1] == (size, size)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)


async def test_resume_from_saved_state(client: MediaWikiClient, wiki: TestWiki,
                                       jpeg: Callable[..., Path], unique: str) -> None:
    """A second Uploader (as after a restart) continues from the saved filekey and offset."""
    path = jpeg(size=4 * MiB + 123)
    proxy = await FaultProxy(wiki.api).start()
    try:
        # The 3rd chunk never reaches the wiki and the client gives up (no retries).
        proxy.add("drop-before", lambda f: f.get("offset") == str(2 * MiB), times=100)
        bot = wiki.bots["full"]
        saved: list[ChunkState] = []

        async def save(state: ChunkState) -> None:
            saved.append(state)

        from commons_helper.retry import RetryPolicy

        async with MediaWikiClient(proxy.url, auth=BotPassword(bot.user, bot.password), user_agent=UA,
                                   retry=RetryPolicy(attempts=1, base=0.01, cap=0.01)) as flaky:
            with pytest.raises(Exception) as info:
                await Uploader(flaky).upload(req(path, f"Resumed {unique}.jpg", chunk_size=MiB),
                                             save_state=save)
            assert getattr(info.value, "retryable", False)
        assert saved[-1].offset == 2 * MiB and saved[-1].filekey
        proxy.rules.clear()
        sent_before = len([f for f in proxy.forwarded if f.get("offset")])
        result = await Uploader(client).upload(
            req(path, f"Resumed {unique}.jpg", chunk_size=MiB, resume=saved[-1]))
        assert result.status == "uploaded"
        assert wiki.file_versions(result.title or "")[0]["sha1"] == sha1(path)
        assert sent_before == 2  # only chunks 1 and 2 went through the proxy before the failure
    finally:
        await proxy.stop()


async def test_offset_mismatch_resyncs(client: MediaWikiClient, wiki: TestWiki, jpeg: Callable[..., Path],
                                       unique: str) -> None:
    """The wiki got the chunk but the answer was lost: the retry meets stashfailed and resyncs."""
    path = jpeg(size=3 * MiB + 5)
    proxy = await FaultProxy(wiki.api).start()
    try:
        proxy.add("drop-after", lambda f: f.get("offset") == str(MiB))
        bot = wiki.bots["full"]
        async with MediaWikiClient(proxy.url, auth=BotPassword(bot.user, bot.password), user_agent=UA,
                                   retry=FAST) as c:
            result = await Uploader(c).upload(req(path, f"Resync {unique}.jpg", chunk_size=MiB))
        assert result.status == "uploaded"
        assert wiki.file_versions(result.title or "")[0]["sha1"] == sha1(path)
        offsets = [f.get("offset") for f in proxy.seen if f.get("stash")]
        # chunk at 1 MiB sent twice (the second answered stashfailed), then 2 MiB and 3 MiB once
        assert offsets == ["0", str(MiB), str(MiB), str(2 * MiB), str(3 * MiB)]
    finally:
        await proxy.stop()


async def test_expired_session_logs_in_again(client: MediaWikiClient, wiki: TestWiki,
                                              jpeg: Callable[..., Path], unique: str) -> None:
    """The bot password session ends on the wiki while a CSRF token is cached: badtoken, then an
    anonymous token; the client logs in again once instead of giving up."""
    await client.csrf_token()
    client.http.cookies.clear()  # the wiki forgot the session
    result = await Uploader(client).upload(req(jpeg(), f"Expired {unique}.jpg"))
    assert result.status == "uploaded"
    assert await client.username() == "Admin"


async def test_badtoken_recovery(client: MediaWikiClient, wiki: TestWiki, jpeg: Callable[..., Path],
                                 unique: str) -> None:
    token = await client.csrf_token()
    # Invalidate the session between token and upload: log in again in the same cookie jar.
    await client.auth.recover(client, "test")
    client._csrf = token  # the client still holds the old, now invalid token
    result = await Uploader(client).upload(req(jpeg(), f"Badtoken {unique}.jpg"))
    assert result.status == "uploaded"
    assert await client.csrf_token() != token


@pytest.mark.parametrize("fault", ["drop-mid-chunk", "drop-after-chunk", "503", "maxlag",
                                   "drop-after-publish", "503-on-whole"])
async def test_faults_complete_exactly_once(fault: str, wiki: TestWiki, jpeg: Callable[..., Path],
                                            unique: str) -> None:
    small = fault.endswith("whole")
    path = jpeg(size=0 if small else 3 * MiB + 77)
    proxy = await FaultProxy(wiki.api).start()

    def chunk_at(offset: int) -> Callable[[dict[str, str]], bool]:
        return lambda f: f.get("stash") == "1" and f.get("offset") == str(offset)

    if fault == "drop-mid-chunk":
        proxy.add("drop-before", chunk_at(MiB))
    elif fault == "drop-after-chunk":
        proxy.add("drop-after", chunk_at(2 * MiB))
    elif fault == "503":
        proxy.add("status", chunk_at(MiB), status=503, times=2)
    elif fault == "maxlag":
        proxy.add("maxlag", lambda f: f.get("action") == "upload", retry_after="1", times=2)
    elif fault == "drop-after-publish":
        proxy.add("drop-after", lambda f: f.get("action") == "upload" and "filekey" in f
                  and "stash" not in f and "checkstatus" not in f)
    elif fault == "503-on-whole":
        proxy.add("status", lambda f: f.get("action") == "upload", status=503, retry_after="0")
    try:
        bot = wiki.bots["full"]
        async with MediaWikiClient(proxy.url, auth=BotPassword(bot.user, bot.password), user_agent=UA,
                                   retry=FAST) as c:
            waits: list[float] = []

            async def no_sleep(s: float) -> None:
                waits.append(s)

            c.sleep = no_sleep
            result = await Uploader(c).upload(req(path, f"Fault {fault} {unique}.jpg", chunk_size=MiB))
        assert result.status == "uploaded", result
        assert all(r.fired for r in proxy.rules)
        assert wiki.files_with_sha1(sha1(path)) == [result.title]
        assert len(wiki.file_versions(result.title or "")) == 1
        if fault == "maxlag":
            assert waits and min(waits) >= 1.0  # Retry-After honoured
    finally:
        await proxy.stop()


async def test_missing_createpage_grant_names_it(wiki: TestWiki, jpeg: Callable[..., Path],
                                                 unique: str) -> None:
    bot = wiki.bots["nocreate"]
    async with MediaWikiClient(wiki.api, auth=BotPassword(bot.user, bot.password), user_agent=UA,
                               retry=FAST) as c:
        with pytest.raises(MissingRights) as info:
            await Uploader(c).upload(req(jpeg(), f"Nocreate {unique}.jpg"))
    assert "createeditmovepage" in str(info.value)


async def test_png_and_type_checks(client: MediaWikiClient, wiki: TestWiki, tmp_path: Path,
                                   unique: str) -> None:
    png = make_png(tmp_path / "p.png", unique)
    ok = await Uploader(client).upload(req(png, f"Png {unique}.png"))
    assert ok.status == "uploaded"
    wrong_title = await Uploader(client).upload(req(png, f"Png {unique}.jpg"))
    assert wrong_title.status == "failed"
    assert wrong_title.error is not None and wrong_title.error["code"] == "title-extension-mismatch"


async def test_deleted_file_needs_attention(client: MediaWikiClient, wiki: TestWiki,
                                            jpeg: Callable[..., Path], unique: str, tmp_path: Path) -> None:
    path = jpeg()
    title = f"Deleted {unique}.jpg"
    assert (await Uploader(client).upload(req(path, title))).status == "uploaded"
    listing = tmp_path / "delete.txt"
    listing.write_text(f"File:{title}\n")
    wiki.maintenance("deleteBatch.php", "-u", "Admin", "-r", "test", str(listing))
    again = await Uploader(client).upload(req(path, f"Another {unique}.jpg"))
    assert again.status == "needs-attention"
    assert again.error is not None and again.error["code"] == "duplicate-archive"
    same_name = await Uploader(client).upload(req(jpeg(), title))
    assert same_name.status == "needs-attention"
    assert same_name.error is not None and same_name.error["code"] == "was-deleted"
    assert wiki.file_versions(f"File:{title}") == []


@pytest.fixture(scope="module")
def async_wiki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestWiki]:
    """A second wiki with asynchronous uploads on (its jobs are run by the test)."""
    root = tmp_path_factory.mktemp("async-wiki")
    w = start_wiki(root, async_uploads=True)
    try:
        yield w
    finally:
        w.stop()
        remove(root)


async def test_async_assembly_and_publish_are_polled(async_wiki: TestWiki, jpeg: Callable[..., Path],
                                                     unique: str) -> None:
    """Above 10 MiB the last chunk and the publish ask for async; the wiki answers Poll and the
    engine polls checkstatus until the job runner has assembled and published the file."""
    path = jpeg(size=11 * MiB)
    bot = async_wiki.bots["full"]
    calls: list[tuple[dict[str, Any], str]] = []
    async with MediaWikiClient(async_wiki.api, auth=BotPassword(bot.user, bot.password),
                               user_agent=UA, retry=FAST) as c:
        real_post = c.post

        async def spy(params: Any, **kw: Any) -> dict[str, Any]:
            answer = await real_post(params, **kw)
            calls.append((dict(params), str(answer.get("upload", {}).get("result"))))
            return answer

        c.post = spy  # type: ignore[method-assign]

        async def job_runner_catches_up(seconds: float) -> None:
            # While the engine waits between polls, the wiki's job runner does its work.
            # (Run here, not in a thread: SQLite would refuse the concurrent writer.)
            await asyncio.to_thread(async_wiki.run_upload_jobs)

        c.sleep = job_runner_catches_up
        result = await Uploader(c).upload(req(path, f"Async {unique}.jpg", chunk_size=4 * MiB))
    assert result.status == "uploaded", result
    assert async_wiki.file_versions(result.title or "")[0]["sha1"] == sha1(path)
    results = [r for _, r in calls]
    assert "Poll" in results
    polls = [p for p, r in calls if p.get("checkstatus")]
    assert polls, "the engine never asked checkstatus"
    last_chunk = next(p for p, _ in calls if p.get("stash") and int(p["offset"]) >= 8 * MiB)
    assert last_chunk.get("async") is True
