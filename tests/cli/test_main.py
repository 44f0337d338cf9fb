"""The ``authbridge`` app itself: commands registered, help, exit codes for usage errors."""

from __future__ import annotations

import pytest
from cli_helpers import CLI

COMMANDS = ["secret", "decode", "verify", "mint", "dev-issuer", "jwks", "check", "revoke"]


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
    assert "--json" in result.stdout


def test_usage_errors_exit_2(cli: CLI) -> None:
    assert cli("no-such-command").code == 2
    assert cli("decode").code == 2  # missing argument
    assert cli("mint").code == 2  # missing --sub
    assert cli("secret", "--bytes", "many").code == 2


def test_the_library_command_does_not_serve_the_app(cli: CLI) -> None:
    """Serving is the Tasks API's own command (``tasks-api serve``): the library has no app."""
    result = cli("serve", "--port", "8765")
    assert result.code == 2
    assert "No such command" in result.stderr


def test_version_is_the_package_version(cli: CLI) -> None:
    from importlib.metadata import version

    import authbridge

    result = cli("--version")
    assert result.code == 0, result.output
    assert result.stdout.strip() == f"authbridge {authbridge.__version__}"
    assert authbridge.__version__ == version("authbridge")  # one place: the wheel reads it
