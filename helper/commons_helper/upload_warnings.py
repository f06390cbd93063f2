"""Deciding upload warnings one by one (pure; no I/O).

The wiki answers an upload with ``result: Warning`` and a set of warnings; we
never answer with a blanket ``ignorewarnings``. ``decide`` looks at every
warning and says what to do next: report an outcome, publish again under
another name, check ownership and then overwrite, or proceed ignoring exactly
the warnings that were judged harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Action = Literal["outcome", "rename", "new-version", "proceed"]

#: Warnings that never stop an upload by themselves.
HARMLESS = frozenset({"large-file"})
#: Warnings that mean "this name is taken" in one way or another.
NAME_TAKEN = frozenset({"exists", "page-exists", "exists-normalized"})


@dataclass(frozen=True)
class Decision:
    action: Action
    status: str = ""  # for "outcome": duplicate | unchanged | needs-attention | failed
    code: str = ""
    message: str = ""
    existing: str | None = None  # an existing title to report ("File:X.jpg")
    new_name: str | None = None  # for "proceed" after badfilename: publish under this name


def _file(name: str) -> str:
    name = name.replace("_", " ")
    return name if name.startswith("File:") else f"File:{name}"


def decide(warnings: dict[str, Any], on_exists: str) -> Decision:
    """What to do about the warnings of one upload attempt."""
    names = set(warnings)

    if "duplicate" in names:
        dups = warnings["duplicate"]
        first = dups[0] if isinstance(dups, list) and dups else str(dups)
        return Decision("outcome", "duplicate", "duplicate",
                        f"This photo is already on the wiki as {_file(first)}; nothing was uploaded.",
                        existing=_file(first))
    if "nochange" in names or "duplicateversions" in names:
        target = warnings.get("exists") or warnings.get("nochange")
        existing = _file(str(target)) if isinstance(target, str) else None
        which = "current" if "nochange" in names else "an earlier"
        return Decision("outcome", "unchanged", "unchanged",
                        f"These exact bytes are already {which} version of the file; nothing was "
                        "uploaded.", existing=existing)
    if "duplicate-archive" in names:
        return Decision("outcome", "needs-attention", "duplicate-archive",
                        f"An identical file was deleted from the wiki before "
                        f"({_file(str(warnings['duplicate-archive']))}). It was not uploaded: check "
                        "why it was deleted before trying again.")
    if "was-deleted" in names:
        return Decision("outcome", "needs-attention", "was-deleted",
                        f"A file named {_file(str(warnings['was-deleted']))} was deleted from the wiki "
                        "before. It was not uploaded: check the deletion log, or choose another title.")
    if "bad-prefix" in names or "thumb" in names or "thumb-name" in names:
        code = next(n for n in ("bad-prefix", "thumb", "thumb-name") if n in names)
        return Decision("outcome", "needs-attention", code,
                        "The wiki finds this file name meaningless (a camera default name or a "
                        "thumbnail-like name). It was not uploaded: give the photo a descriptive title.")
    if "filetype-unwanted-type" in names:
        return Decision("outcome", "failed", "filetype-unwanted-type",
                        "The wiki discourages this file type. It was not uploaded.")
    if "empty-file" in names:
        return Decision("outcome", "failed", "empty-file", "The file is empty. It was not uploaded.")
    if "badfilename" in names:
        normalized = str(warnings["badfilename"]).replace("_", " ")
        return Decision("proceed", code="badfilename", new_name=normalized)

    taken = names & NAME_TAKEN
    if taken:
        target = warnings.get("exists") or warnings.get("page-exists") or warnings.get("exists-normalized")
        existing = _file(str(target)) if target else None
        if on_exists == "rename":
            return Decision("rename", code=sorted(taken)[0], existing=existing)
        if on_exists == "new-version":
            # Overwriting sends ignorewarnings: only when "exists" is the one warning that matters.
            if names - HARMLESS == {"exists"}:
                return Decision("new-version", code="exists", existing=existing)
            if taken == {"exists"}:
                others = ", ".join(sorted(names - HARMLESS - {"exists"}))
                return Decision("outcome", "needs-attention", sorted(names - HARMLESS - {"exists"})[0],
                                f"The wiki warned about more than the existing file ({others}), so no "
                                f"new version of {existing} was uploaded. Check the file and its title.",
                                existing=existing)
            return Decision("outcome", "needs-attention", sorted(taken)[0],
                            f"{existing} exists under a slightly different name or has no file to "
                            "replace, so no new version was uploaded. Choose a title, or rename.",
                            existing=existing)
        return Decision("outcome", "failed", "exists",
                        f"{existing} already exists and the policy is to fail. Nothing was uploaded; "
                        "use --on-exists rename or new-version, or another title.", existing=existing)

    unknown = names - HARMLESS
    if unknown:
        listed = ", ".join(sorted(unknown))
        return Decision("outcome", "needs-attention", sorted(unknown)[0],
                        f"The wiki warned about this upload ({listed}). It was not uploaded; "
                        "check the file and its title.")
    return Decision("proceed")
