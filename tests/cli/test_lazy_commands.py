"""The CLI's command table (commands are imported only when run) matches the commands."""

from __future__ import annotations

import inspect

import typer.main

from authbridge.cli.main import COMMANDS, app, load_command


def test_each_summary_is_the_first_paragraph_of_the_commands_docstring() -> None:
    for name, (_, _, summary) in COMMANDS.items():
        doc = inspect.getdoc(load_command(name)) or ""
        assert summary == doc.split("\n\n")[0], name


def test_each_command_resolves_to_its_function() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    for name in COMMANDS:
        context = group.make_context("authbridge", [name, "--help"], resilient_parsing=True)
        resolved_name, command, _ = group.resolve_command(context, [name])
        assert resolved_name == name
        assert command.callback is not None
        assert command.params, name  # the real command, with its options, not the placeholder
