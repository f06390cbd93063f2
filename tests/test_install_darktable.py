"""install-darktable / uninstall-darktable: files copied, luarc line added once, undone cleanly."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from commons_helper import cli, cli_darktable
from commons_helper.cli_darktable import PLUGIN_FILES, REQUIRE_LINE, default_configdir

REPO_PLUGIN = Path(__file__).resolve().parents[1] / "lua-plugin"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_install_copies_the_plugin_and_enables_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "darktable"
    code, out, _ = run(capsys, "install-darktable", "--configdir", str(conf))
    assert code == 0
    assert "Installed the darktable plugin" in out and "Wikimedia Commons" in out
    for rel in PLUGIN_FILES:
        assert (conf / "lua" / "contrib" / rel).read_bytes() == (REPO_PLUGIN / rel).read_bytes()
    assert not (conf / "lua" / "contrib" / "spec").exists()
    assert (conf / "luarc").read_text() == REQUIRE_LINE + "\n"


def test_install_is_idempotent_and_keeps_the_users_luarc(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "dt"
    conf.mkdir()
    (conf / "luarc").write_text('require "tools/script_manager"\n-- my line, no newline at end')
    (conf / "luarc").chmod(0o640)
    assert run(capsys, "install-darktable", "--configdir", str(conf))[0] == 0
    code, out, _ = run(capsys, "install-darktable", "--configdir", str(conf), "--json")
    assert code == 0
    assert json.loads(out)["changed"] == []
    assert (conf / "luarc").read_text() == (
        'require "tools/script_manager"\n-- my line, no newline at end\n' + REQUIRE_LINE + "\n")
    assert stat.S_IMODE((conf / "luarc").stat().st_mode) == 0o640


@pytest.mark.parametrize("existing", ["require('contrib/commons_export')", "require 'contrib.commons_export'",
                                      '  require "contrib/commons_export"  -- Commons'])
def test_install_recognises_an_existing_require(tmp_path: Path, existing: str) -> None:
    conf = tmp_path / "dt"
    conf.mkdir()
    (conf / "luarc").write_text(existing + "\n")
    cli_darktable.install(conf)
    assert (conf / "luarc").read_text() == existing + "\n"


def test_install_updates_changed_files(tmp_path: Path) -> None:
    conf = tmp_path / "dt"
    cli_darktable.install(conf)
    old = conf / "lua" / "contrib" / "commons_export" / "logic.lua"
    old.write_text("-- an older version\n")
    out = cli_darktable.install(conf)
    assert out.changed == [str(old)]
    assert old.read_bytes() == (REPO_PLUGIN / "commons_export" / "logic.lua").read_bytes()


def test_uninstall_removes_only_what_install_added(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "dt"
    (conf / "lua" / "contrib").mkdir(parents=True)
    (conf / "lua" / "contrib" / "other.lua").write_text("-- someone else's\n")
    (conf / "luarc").write_text('require "contrib/other"\n')
    run(capsys, "install-darktable", "--configdir", str(conf))
    code, out, _ = run(capsys, "uninstall-darktable", "--configdir", str(conf))
    assert code == 0 and "Removed the darktable plugin" in out
    assert (conf / "luarc").read_text() == 'require "contrib/other"\n'
    assert sorted(p.name for p in (conf / "lua" / "contrib").iterdir()) == ["other.lua"]
    code, out, _ = run(capsys, "uninstall-darktable", "--configdir", str(conf))
    assert code == 0 and "nothing changed" in out


def test_uninstall_keeps_a_folder_with_foreign_files(tmp_path: Path) -> None:
    conf = tmp_path / "dt"
    cli_darktable.install(conf)
    (conf / "lua" / "contrib" / "commons_export" / "notes.txt").write_text("mine")
    cli_darktable.uninstall(conf)
    assert (conf / "lua" / "contrib" / "commons_export" / "notes.txt").exists()


def test_default_configdir_follows_darktable() -> None:
    assert default_configdir({"XDG_CONFIG_HOME": "/x/cfg"}, "linux") == Path("/x/cfg/darktable")
    assert default_configdir({}, "linux") == Path.home() / ".config" / "darktable"
    assert default_configdir({}, "darwin") == Path.home() / ".config" / "darktable"
    assert default_configdir({"LOCALAPPDATA": "C:/Users/a/AppData/Local"}, "win32") == \
        Path("C:/Users/a/AppData/Local/darktable")


def test_a_missing_plugin_is_a_clean_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli_darktable, "__file__", str(tmp_path / "pkg" / "commons_helper" / "x.py"))
    code, _, err = run(capsys, "install-darktable", "--configdir", str(tmp_path / "dt"))
    assert code == 1
    assert "plugin's files are missing" in err and "Traceback" not in err
    assert not (tmp_path / "dt" / "luarc").exists()


def test_an_unwritable_configdir_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "dt"
    conf.write_text("a file, not a folder")
    code, _, err = run(capsys, "install-darktable", "--configdir", str(conf))
    assert code == 1
    assert "Not a directory" in err and "Traceback" not in err
