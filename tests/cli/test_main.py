"""The ``authbridge`` app itself: commands registered, help, exit codes for usage errors."""

from __future__ import annotations

import pytest
from cli_helpers import CLI

COMMANDS = ["secret", "decode", "verify", "mint", "dev-issuer", "jwks", "check", "serve"]


def test_help_lists_every_command_and_the_exit_codes(cli: CLI) -> None:
    result = cli("--help")
    assert result.code == 0
    for command in COMMANDS:
        assert command in result.stdout
    assert "0 ok, 1 invalid, 2 usage or configuration error" in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(cli: CLI, command: str) -> None:
    result = cli(command, "--help")
    assert result.code == 0
    assert "Usage:" in result.stdout
    if command != "serve":
        assert "--json" in result.stdout


def test_usage_errors_exit_2(cli: CLI) -> None:
    assert cli("no-such-command").code == 2
    assert cli("decode").code == 2  # missing argument
    assert cli("mint").code == 2  # missing --sub
    assert cli("secret", "--bytes", "many").code == 2


def test_serve_is_registered_and_checks_settings_first(cli: CLI) -> None:
    result = cli("serve", "--port", "8765")
    assert result.code == 2
    assert "BETTER_AUTH_URL" in result.stderr
