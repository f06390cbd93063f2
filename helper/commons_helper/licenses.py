"""License recognition: a photo's rights metadata and the ``license`` setting -> a Commons license.

Pure functions, no I/O. Two entry points:

- :func:`recognize_license` reads free text or a URL (``xmpRights:UsageTerms``,
  ``cc:license``, ``dc:rights``, a setting) and says which Creative Commons
  license it names, if any — including the non-free NC/ND ones, so that a
  photo explicitly marked "non-commercial" is refused rather than silently
  relicensed.
- :func:`license_wikitext` decides the license section of one file page:
  the photo's own license if its metadata names one, otherwise the default
  (``--license`` / the ``license`` setting / darktable's export widget), and
  raises :class:`PageError` ``no-license`` when there is none.

What the default may look like is described in docs/file-page.md ("License").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import PageError
from .photo import PhotoMetadata

#: Versions of CC BY / CC BY-SA that exist as Commons templates (cc-by-sa-4.0, ...).
_CC_VERSIONS = frozenset({"1.0", "2.0", "2.5", "3.0", "4.0"})

HOW_TO_SET = (
    "Set one with --license cc-by-sa-4.0 on the command line, once for all photos with "
    "`commons-helper config set license cc-by-sa-4.0` (or in the web page's settings), or in "
    "the license field of the darktable export widget; "
    "or write a CC license (e.g. https://creativecommons.org/licenses/by-sa/4.0/) into "
    "the photo's usage terms."
)


@dataclass(frozen=True)
class License:
    """A license recognised in metadata or settings."""

    template: str  # the Commons template name, e.g. "cc-by-sa-4.0"; "" when Commons has none (non-free)
    name: str  # a human name, e.g. "CC BY-SA 4.0"
    free: bool  # acceptable on Commons


_URL = re.compile(
    r"(?:https?:)?//(?:www\.)?creativecommons\.org/"
    r"(?:licenses/(?P<kind>by(?:-nc)?(?:-sa|-nd)?)/(?P<ver>\d\.\d)(?:/(?P<port>[a-z]{2}(?:-[a-z]{2})?))?"
    r"|publicdomain/(?P<pd>zero|mark)/1\.0)"
    r"(?=/|\s|$|[)\].,;\"'>])",
    re.IGNORECASE,
)

# Words of the long names, folded to the short ones (order matters: longest first).
_FOLD = [
    (re.compile(r"creative\s*commons"), "cc"),
    (re.compile(r"\bnon[\s-]?commercial\b"), "nc"),
    (re.compile(r"\bno[\s-]?deriv(?:ative)?s?(?:\s*works)?\b"), "nd"),
    (re.compile(r"\bshare[\s-]?alike\b"), "sa"),
    (re.compile(r"\b(?:cc[\s_-]*)?attribution\b"), "cc by"),
    (re.compile(r"\bpublic\s+domain\s+dedication\b"), "cc0"),
    (re.compile(r"\bcc[\s_-]*zero\b"), "cc0"),
]
_SHORT = re.compile(
    r"(?<![a-z])cc[\s_-]*by(?P<mods>(?:[\s_-]*(?:sa|nc|nd)(?![a-z]))*)(?:[\s_-]*(?:license|licence))?"
    r"[\s_-]*v?(?P<ver>\d)(?:\.(?P<minor>\d))?(?!\.?\d)(?!-[a-z]{2}\b)"
)
_CC0 = re.compile(r"\bcc[\s_-]?0(?:[\s_-]*(?:1\.0|universal))?\b|\bcc0\b")


def _make(kind: str, version: str, port: str | None = None) -> License | None:
    kind = kind.lower()
    parts = kind.split("-")
    free = "nc" not in parts and "nd" not in parts
    short = "CC " + "-".join(p.upper() for p in parts) + " " + version
    if version not in _CC_VERSIONS:
        return License("", short, free) if not free else None
    if not free:
        return License("", short, False)
    if port:
        # Ported licenses (…/3.0/de/) exist as templates only for some countries; do not guess.
        return None
    return License(f"cc-{kind}-{version}", short, True)


def recognize_license(text: str) -> License | None:
    """The Creative Commons license that ``text`` names (a URL, a short or a long name), if any.

    Recognises CC BY, CC BY-SA (1.0–4.0, international/unported), CC0 1.0 — free —
    and the NC/ND variants, returned with ``free=False``. Anything else
    ("All rights reserved", "© 2024 Jane Doe", a ported license URL) gives None.
    """
    if not text:
        return None
    m = _URL.search(text)
    if m:
        if m.group("pd"):
            if m.group("pd").lower() == "zero":
                return License("cc-zero", "CC0 1.0", True)
            return None  # Public Domain Mark: not a license for one's own work
        return _make(m.group("kind"), m.group("ver"), m.group("port"))
    low = text.lower()
    for rx, short in _FOLD:
        low = rx.sub(short, low)
    m2 = _SHORT.search(low)
    if m2:
        mods = re.findall(r"sa|nc|nd", m2.group("mods"))
        kind = "-".join(["by", *(x for x in ("nc", "sa", "nd") if x in mods)])
        version = f"{m2.group('ver')}.{m2.group('minor') or '0'}"
        return _make(kind, version)
    if _CC0.search(low):
        return License("cc-zero", "CC0 1.0", True)
    return None


def license_from_metadata(meta: PhotoMetadata) -> License | None:
    """The license the photo's metadata names: license URL, then usage terms, then rights."""
    for text in (meta.license_url, meta.usage_terms, meta.rights):
        found = recognize_license(text)
        if found is not None:
            return found
    return None


# Template names (and arguments of {{self}}) we accept from the setting: letters, digits, . - _ + space.
_TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._+-]*$")
# A full template given by the user: exactly one flat template, no nesting, links or tags.
_FLAT_TEMPLATE = re.compile(r"^\{\{(?P<body>[^{}\[\]<>\n~]+)\}\}$")
_GFDL = re.compile(r"^gfdl(?:-.*)?$", re.IGNORECASE)


def _check_args(args: list[str], original: str) -> None:
    positional = [a.strip() for a in args if "=" not in a]
    if not positional:
        raise PageError(f"the license {original!r} names no license template. {HOW_TO_SET}",
                        code="bad-license")
    for arg in positional:
        known = recognize_license(arg)
        if known is not None and not known.free:
            raise PageError(
                f"{known.name} is not a free license; Wikimedia Commons only accepts free ones "
                f"(e.g. cc-by-sa-4.0, cc-by-4.0, cc-zero). {HOW_TO_SET}",
                code="non-free-license",
            )
    if all(_GFDL.match(a) for a in positional):
        raise PageError(
            f"the license {original!r} is GFDL only, which Commons no longer accepts for photos; "
            "add a Creative Commons license, e.g. {{self|GFDL|cc-by-sa-4.0}}.",
            code="bad-license",
        )


def license_option_wikitext(value: str) -> str:
    """Wikitext for the default license given in settings, or "" when none is set.

    Accepted forms (see docs/file-page.md):
    - a template name: ``cc-by-sa-4.0``, ``cc-zero``, ``GFDL`` -> ``{{self|cc-by-sa-4.0}}``
    - several, separated by ``|`` or ``,``: ``GFDL|cc-by-sa-4.0`` -> ``{{self|GFDL|cc-by-sa-4.0}}``
    - a name or URL we recognise: ``CC BY-SA 4.0``, ``https://creativecommons.org/licenses/by/4.0/``
    - one whole flat template: ``{{self|GFDL|cc-by-sa-4.0}}``, ``{{cc-by-4.0}}`` (used as written)
    """
    value = value.strip()
    if not value:
        return ""
    flat = _FLAT_TEMPLATE.match(value)
    if flat:
        parts = flat.group("body").split("|")
        name = parts[0].strip()
        if not _TEMPLATE_NAME.match(name):
            raise PageError(f"the license template {value!r} has an invalid name. {HOW_TO_SET}",
                            code="bad-license")
        if name.lower() == "self":
            _check_args(parts[1:], value)
        else:
            _check_args([name], value)
        return value
    if "{" in value or "}" in value or "[" in value or "<" in value:
        raise PageError(
            f"the license {value!r} is not a template name nor one whole template like "
            f"{{{{self|cc-by-sa-4.0}}}}. {HOW_TO_SET}",
            code="bad-license",
        )
    known = None if ("|" in value or "," in value) else recognize_license(value)
    if known is not None:
        if not known.free:
            _check_args([value], value)
        if known.template:
            return "{{self|" + known.template + "}}"
    names = [p.strip() for p in re.split(r"[|,]", value) if p.strip()]
    for name in names:
        if not _TEMPLATE_NAME.match(name):
            raise PageError(f"{name!r} is not a license template name. {HOW_TO_SET}", code="bad-license")
    _check_args(names, value)
    return "{{self|" + "|".join(names) + "}}"


def license_wikitext(meta: PhotoMetadata, default: str) -> str:
    """The license line of the file page: the photo's own license, else the default.

    Raises PageError ``no-license`` when neither exists, and ``non-free-license``
    when the photo's metadata names an NC/ND license.
    """
    own = license_from_metadata(meta)
    if own is not None:
        if not own.free:
            raise PageError(
                f"the photo's metadata says {own.name}, which is not a free license; Wikimedia "
                "Commons only accepts free licenses. Change the photo's rights/usage terms to "
                "e.g. CC BY-SA 4.0 (or clear them to use your default license) and export again.",
                code="non-free-license",
            )
        return "{{self|" + own.template + "}}"
    chosen = license_option_wikitext(default)
    if chosen:
        return chosen
    said = meta.rights or meta.usage_terms or meta.license_url
    why = f" (its rights say {said!r}, which is not a free license)" if said else ""
    raise PageError(
        f"no license for this photo{why}: Commons deletes files without one, so nothing was "
        f"uploaded. {HOW_TO_SET}",
        code="no-license",
    )
