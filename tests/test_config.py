"""Settings and paths: one table of settings, a TOML file, COMMONS_HELPER_HOME, the User-Agent."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from commons_helper.cli import main
from commons_helper.config import (
    PrivacyZone,
    Settings,
    dump_settings,
    from_mapping,
    load_settings,
    save_settings,
    user_agent,
)
from commons_helper.errors import UsageError
from commons_helper.paths import get_paths


def test_home_puts_everything_under_one_folder(tmp_path: Path) -> None:
    paths = get_paths({"COMMONS_HELPER_HOME": str(tmp_path)})
    for p in paths.as_dict().values():
        assert Path(p).is_relative_to(tmp_path)
    default = get_paths({})
    assert not Path(default.config_file).is_relative_to(tmp_path)
    assert "commons-helper" in str(default.config_file)


def test_settings_round_trip_through_the_file(helper_home: Path) -> None:
    paths = get_paths()
    assert load_settings(paths) == Settings()  # no file: defaults
    s = Settings(license="cc-by-4.0", author='Erika "E" Muster\\mann', categories=("A", "B c"),
                 strip_location=True, chunk_size=1048576,
                 privacy_zones=(PrivacyZone(51.05, 13.74, 500.0, "home"),))
    save_settings(paths, s)
    assert load_settings(paths) == s
    assert stat.S_IMODE(paths.config_file.stat().st_mode) == 0o600
    assert "license" in dump_settings(s) and "wiki" not in dump_settings(s)  # only what differs


@pytest.mark.parametrize(("data", "needle"), [
    ({"on_exists": "overwrite"}, "on_exists must be one of"),
    ({"chunk_size": 10}, "chunk_size must be at least"),
    ({"colour": "red"}, "unknown setting(s) colour"),
    ({"strip_location": "yes"}, "must be true or false"),
    ({"port": "eighty"}, "must be a whole number"),
    ({"privacy_zones": [{"lat": 1}]}, "needs numeric lat, lon and radius_m"),
    ({"concurrency": 0}, "concurrency must be between"),
])
def test_bad_settings_are_clear_errors(data: dict[str, object], needle: str) -> None:
    with pytest.raises(UsageError) as info:
        from_mapping(data)
    assert needle in str(info.value)


def test_broken_config_file_is_a_usage_error(helper_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = get_paths()
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text("license = [unclosed\n")
    assert main(["config"]) == 2
    assert "is not valid TOML" in capsys.readouterr().err


def test_config_command_sets_and_unsets(helper_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "set", "license", "cc-zero"]) == 0
    assert main(["config", "set", "categories", "Bridges,Rivers", "Dresden"]) == 0
    assert main(["config", "set", "strip_location", "yes"]) == 0
    s = load_settings(get_paths())
    assert (s.license, s.categories, s.strip_location) == ("cc-zero", ("Bridges", "Rivers", "Dresden"), True)
    assert main(["config", "unset", "license"]) == 0
    assert load_settings(get_paths()).license == ""
    assert main(["config", "set", "on_exists", "sometimes"]) == 2
    assert main(["config", "set", "nonsense", "x"]) == 2
    capsys.readouterr()
    assert main(["config", "--json"]) == 0
    assert '"categories"' in capsys.readouterr().out


def test_user_agent_follows_wikimedia_policy() -> None:
    assert user_agent(Settings(contact="me@example.org"), "1.2", "2.16") == \
        "commons-helper/1.2 (me@example.org) httpx2/2.16"
    assert "(User:Erika)" in user_agent(Settings(username="Erika"), "1.2")
    assert "no contact set" in user_agent(Settings(), "1.2")
    assert "\n" not in user_agent(Settings(contact="a\nb"), "1.2")
