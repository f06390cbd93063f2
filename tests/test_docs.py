"""The docs keep up with the code: every command, option, setting and variable is documented."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from commons_helper.cli import build_parser
from commons_helper.config import setting_names

ROOT = Path(__file__).resolve().parent.parent
CLI_DOC = (ROOT / "docs" / "cli.md").read_text()
SETTINGS_DOC = (ROOT / "docs" / "settings.md").read_text()


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_is_documented() -> None:
    commands = subcommands()
    assert {"upload", "preview", "config", "login", "serve", "install-darktable"} <= set(commands)
    for name in commands:
        assert f"commons-helper {name}" in CLI_DOC, f"docs/cli.md does not show `commons-helper {name}`"


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_option_is_documented(name: str) -> None:
    parser = subcommands()[name]
    for action in parser._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert flag in CLI_DOC, f"docs/cli.md does not mention {flag} of `{name}`"


def test_every_setting_is_documented() -> None:
    for name in setting_names():
        assert f"`{name}`" in SETTINGS_DOC, f"docs/settings.md does not describe `{name}`"


def test_every_environment_variable_is_documented() -> None:
    used = set()
    for path in (ROOT / "helper").rglob("*.py"):
        used |= set(re.findall(r"COMMONS_HELPER_[A-Z_]+", path.read_text()))
    for var in used:
        assert var in SETTINGS_DOC, f"docs/settings.md does not describe {var}"


def test_readme_has_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "    ./install.sh\n" in readme and "    ./run-tests\n" in readme
    assert "exec ./run-tests" in (ROOT / ".ci" / "run").read_text()
