"""License recognition and the license line: table-driven."""

from __future__ import annotations

import pytest

from commons_helper.errors import PageError
from commons_helper.licenses import (
    license_from_metadata,
    license_option_wikitext,
    license_wikitext,
    recognize_license,
)
from commons_helper.photo import PhotoMetadata

RECOGNISED = [
    # URLs: scheme, www, trailing slash, deed.xx, legalcode
    ("https://creativecommons.org/licenses/by-sa/4.0/", "cc-by-sa-4.0"),
    ("http://creativecommons.org/licenses/by-sa/4.0/", "cc-by-sa-4.0"),
    ("https://creativecommons.org/licenses/by-sa/4.0", "cc-by-sa-4.0"),
    ("creativecommons.org/licenses/by-sa/4.0/".join(["//", ""]), "cc-by-sa-4.0"),
    ("https://www.creativecommons.org/licenses/by-sa/4.0/deed.de", "cc-by-sa-4.0"),
    ("https://creativecommons.org/licenses/by-sa/4.0/deed.pt_BR", "cc-by-sa-4.0"),
    ("https://creativecommons.org/licenses/by-sa/4.0/legalcode", "cc-by-sa-4.0"),
    ("HTTPS://CreativeCommons.org/licenses/BY-SA/4.0/", "cc-by-sa-4.0"),
    ("https://creativecommons.org/licenses/by/4.0/", "cc-by-4.0"),
    ("http://creativecommons.org/licenses/by/4.0", "cc-by-4.0"),
    ("https://creativecommons.org/licenses/by/4.0/deed.en", "cc-by-4.0"),
    ("https://creativecommons.org/licenses/by-sa/3.0/", "cc-by-sa-3.0"),
    ("https://creativecommons.org/licenses/by/2.0/", "cc-by-2.0"),
    ("https://creativecommons.org/publicdomain/zero/1.0/", "cc-zero"),
    ("http://creativecommons.org/publicdomain/zero/1.0", "cc-zero"),
    ("https://creativecommons.org/publicdomain/zero/1.0/deed.fr", "cc-zero"),
    ("Licensed under https://creativecommons.org/licenses/by/4.0/ - thanks", "cc-by-4.0"),
    # short names
    ("CC-BY-SA-4.0", "cc-by-sa-4.0"),
    ("cc-by-sa-4.0", "cc-by-sa-4.0"),
    ("CC BY-SA 4.0", "cc-by-sa-4.0"),
    ("cc by sa 4.0", "cc-by-sa-4.0"),
    ("CC_BY_SA_4.0", "cc-by-sa-4.0"),
    ("CC BY-SA 4", "cc-by-sa-4.0"),
    ("CC BY 4.0", "cc-by-4.0"),
    ("CC-BY-4.0", "cc-by-4.0"),
    ("CC BY-SA 3.0", "cc-by-sa-3.0"),
    ("CC BY 2.5", "cc-by-2.5"),
    ("CC0", "cc-zero"),
    ("cc0", "cc-zero"),
    ("CC0 1.0", "cc-zero"),
    ("CC0 1.0 Universal", "cc-zero"),
    ("CC-0", "cc-zero"),
    ("cc-zero", "cc-zero"),
    # long names
    ("Creative Commons Attribution-ShareAlike 4.0 International", "cc-by-sa-4.0"),
    ("Creative Commons Attribution-Share Alike 4.0 International", "cc-by-sa-4.0"),
    ("Creative Commons Attribution Share-Alike 3.0 Unported", "cc-by-sa-3.0"),
    ("Creative Commons Attribution 4.0 International", "cc-by-4.0"),
    ("Attribution 4.0 International (CC BY 4.0)", "cc-by-4.0"),
    ("This work is licensed under a Creative Commons Attribution-ShareAlike 4.0 International License.",
     "cc-by-sa-4.0"),
    ("© 2024 Jane Doe, CC BY-SA 4.0", "cc-by-sa-4.0"),
    ("Public Domain Dedication", "cc-zero"),
    ("CC0 1.0 Universal (CC0 1.0) Public Domain Dedication", "cc-zero"),
    ("Creative Commons Zero", "cc-zero"),
]


@pytest.mark.parametrize(("text", "template"), RECOGNISED)
def test_recognised_free_licenses(text: str, template: str) -> None:
    found = recognize_license(text)
    assert found is not None, text
    assert found.free
    assert found.template == template


NON_FREE = [
    "https://creativecommons.org/licenses/by-nc/4.0/",
    "https://creativecommons.org/licenses/by-nc-sa/4.0/deed.de",
    "https://creativecommons.org/licenses/by-nd/4.0/",
    "https://creativecommons.org/licenses/by-nc-nd/4.0/",
    "CC BY-NC-SA 4.0",
    "CC-BY-NC-4.0",
    "CC BY-ND 4.0",
    "Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International",
    "Creative Commons Attribution-NoDerivatives 4.0 International",
    "Creative Commons Attribution-NonCommercial-NoDerivs 3.0 Unported",
]


@pytest.mark.parametrize("text", NON_FREE)
def test_recognised_non_free_licenses(text: str) -> None:
    found = recognize_license(text)
    assert found is not None, text
    assert not found.free
    assert found.template == ""
    assert "NC" in found.name or "ND" in found.name


UNRECOGNISED = [
    "", "All rights reserved", "© 2024 Jane Doe", "Copyright Jane Doe. All rights reserved.",
    "CC BY-SA",  # no version: we do not guess one
    "https://creativecommons.org/licenses/by-sa/3.0/de/",  # ported: not guessed
    "CC-BY-SA-3.0-DE",
    "https://creativecommons.org/publicdomain/mark/1.0/",  # a mark, not a license
    "Public domain", "GPL", "Photo by Jane 4.0", "https://example.org/licenses/by-sa/4.0/",
    "CC BY-SA 9.0",
]


@pytest.mark.parametrize("text", UNRECOGNISED)
def test_unrecognised_texts(text: str) -> None:
    assert recognize_license(text) is None


@pytest.mark.parametrize(("meta", "template"), [
    (PhotoMetadata(license_url="https://creativecommons.org/licenses/by/4.0/", rights="CC BY-SA 4.0"),
     "cc-by-4.0"),
    (PhotoMetadata(usage_terms="CC0", rights="CC BY-SA 4.0"), "cc-zero"),
    (PhotoMetadata(rights="© Jane, CC BY-SA 4.0"), "cc-by-sa-4.0"),
    (PhotoMetadata(license_url="https://example.org/", usage_terms="CC BY 4.0"), "cc-by-4.0"),
])
def test_metadata_priority_url_then_usage_terms_then_rights(meta: PhotoMetadata, template: str) -> None:
    found = license_from_metadata(meta)
    assert found is not None and found.template == template


OPTIONS = [
    ("cc-by-sa-4.0", "{{self|cc-by-sa-4.0}}"),
    ("CC-BY-SA-4.0", "{{self|cc-by-sa-4.0}}"),
    ("CC BY 4.0", "{{self|cc-by-4.0}}"),
    ("cc-zero", "{{self|cc-zero}}"),
    ("CC0", "{{self|cc-zero}}"),
    ("https://creativecommons.org/licenses/by-sa/4.0/", "{{self|cc-by-sa-4.0}}"),
    ("GFDL|cc-by-sa-4.0", "{{self|GFDL|cc-by-sa-4.0}}"),
    ("GFDL, cc-by-sa-4.0", "{{self|GFDL|cc-by-sa-4.0}}"),
    ("cc-by-sa-3.0-de", "{{self|cc-by-sa-3.0-de}}"),
    ("{{self|GFDL|cc-by-sa-4.0}}", "{{self|GFDL|cc-by-sa-4.0}}"),
    ("{{self|cc-by-sa-4.0|author=Jane}}", "{{self|cc-by-sa-4.0|author=Jane}}"),
    ("{{cc-by-4.0}}", "{{cc-by-4.0}}"),
    ("  cc-by-sa-4.0  ", "{{self|cc-by-sa-4.0}}"),
    ("", ""),
]


@pytest.mark.parametrize(("value", "wikitext"), OPTIONS)
def test_license_option_forms(value: str, wikitext: str) -> None:
    assert license_option_wikitext(value) == wikitext


@pytest.mark.parametrize(("value", "code"), [
    ("GFDL", "bad-license"),
    ("{{self|GFDL}}", "bad-license"),
    ("cc-by-nc-4.0", "non-free-license"),
    ("{{self|cc-by-nc-sa-4.0}}", "non-free-license"),
    ("{{self|author=x}}", "bad-license"),
    ("{{self|cc-by-sa-4.0}}[[Category:X]]", "bad-license"),
    ("{{self|{{x}}}}", "bad-license"),
    ("cc-by-sa-4.0}}{{evil", "bad-license"),
    ("<b>cc</b>", "bad-license"),
    ("cc by sa!", "bad-license"),
    ("{{self|cc-by-sa-4.0|~~~~}}", "bad-license"),
])
def test_bad_license_options_are_refused(value: str, code: str) -> None:
    with pytest.raises(PageError) as err:
        license_option_wikitext(value)
    assert err.value.code == code


def test_photo_license_beats_the_default() -> None:
    meta = PhotoMetadata(license_url="https://creativecommons.org/licenses/by/4.0/")
    assert license_wikitext(meta, "cc-by-sa-4.0") == "{{self|cc-by-4.0}}"


def test_default_used_when_photo_names_none_even_if_rights_say_all_rights_reserved() -> None:
    meta = PhotoMetadata(rights="© Jane. All rights reserved.")
    assert license_wikitext(meta, "cc-by-sa-4.0") == "{{self|cc-by-sa-4.0}}"


@pytest.mark.parametrize("meta", [
    PhotoMetadata(),
    PhotoMetadata(rights="All rights reserved"),
    PhotoMetadata(usage_terms="Ask me first", license_url="https://example.org/terms"),
])
def test_no_license_error_says_how_to_set_one(meta: PhotoMetadata) -> None:
    with pytest.raises(PageError) as err:
        license_wikitext(meta, "")
    assert err.value.code == "no-license"
    msg = str(err.value)
    assert "--license cc-by-sa-4.0" in msg and "commons-helper config set license" in msg
    assert "darktable" in msg
    if meta.rights:
        assert "All rights reserved" in msg


def test_non_free_photo_license_is_refused_even_with_a_default() -> None:
    meta = PhotoMetadata(license_url="https://creativecommons.org/licenses/by-nc/4.0/")
    with pytest.raises(PageError) as err:
        license_wikitext(meta, "cc-by-sa-4.0")
    assert err.value.code == "non-free-license"
    assert "CC BY-NC 4.0" in str(err.value)
