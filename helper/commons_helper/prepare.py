"""The command line's preparation of one file: title, page text and the bytes to send.

With ``--page-text``/``--page-file`` the page is the caller's; otherwise the file's own
metadata becomes the page exactly as in the helper service (``pipeline.prepare``).
The user's file is never modified: a photo whose location must be hidden is sent as
a GPS-free copy in a temp folder, removed by ``cleanup()``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .config import Settings
from .errors import TitleError
from .upload import bare_name, numbered_name


@dataclass
class Prepared:
    source: Path  # the user's file (never modified)
    upload_path: Path  # what is sent: the source, or a copy with GPS removed
    title: str  # "Name.jpg"
    text: str
    comment: str = ""
    location_hidden: bool = False
    _cleanup: list[Callable[[], None]] = field(default_factory=list)

    def cleanup(self) -> None:
        while self._cleanup:
            self._cleanup.pop()()


def _claim(title: str, taken: list[str]) -> str:
    """``title``, or "title (n)" when an earlier file of this batch has it already."""
    keys = {bare_name(t).casefold() for t in taken}
    candidate, n = bare_name(title), 1
    while candidate.casefold() in keys:
        n += 1
        candidate = numbered_name(bare_name(title), n)
    taken.append(candidate)
    return candidate


def prepare_file(path: Path, settings: Settings, *, title: str | None = None,
                 page_text: str | None = None, taken: list[str] | None = None) -> Prepared:
    """Raises LocalFileError, MetadataError, PageError or TitleError with a clear message."""
    taken = [] if taken is None else taken
    if page_text is not None:
        name = title or path.name
        if not name.strip():
            raise TitleError("The title is empty; give --title.", code="empty-title")
        return Prepared(source=path, upload_path=path, title=_claim(name, taken), text=page_text)

    from .pipeline import prepare  # pyexiv2 and the renderers load only when pages are rendered
    from .upload import check_local_file

    check_local_file(path)  # a clear error for a missing, empty or mistyped file first
    tmpdir = Path(tempfile.mkdtemp(prefix="commons-helper-"))
    try:
        options = {"title": title} if title else {}
        done = prepare(path, {"options": options}, settings, known_title=None,
                       taken_titles=list(taken), stripped_path=tmpdir / f"upload{path.suffix.lower()}",
                       file_name=path.name, username=settings.username)
    except BaseException:
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    taken.append(done.title)
    return Prepared(source=path, upload_path=done.upload_path, title=done.title, text=done.text,
                    comment=done.comment, location_hidden=done.location_hidden,
                    _cleanup=[lambda: shutil.rmtree(tmpdir, ignore_errors=True)])
