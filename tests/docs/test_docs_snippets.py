"""Every code block in docs/ runs, or is checked as what it claims to be (issue #20).

* ``python``: each page's blocks run top to bottom in one namespace, as a reader pastes them;
  names the prose says are the reader's own (``token``, ``create_app``, ...) are given below.
  A block with a top-level ``await`` runs against a fake Better Auth serving its JWKS on
  loopback (``BETTER_AUTH_URL``), except the sketches in ``COMPILED_ONLY``, which are
  compiled and have their imports run. A block that defines
  ``test_*`` functions (the FakeIssuer examples) has them run against a real ``FakeIssuer``.
* ``console``: a shell transcript. Each ``$`` command names a real program, and for
  ``authbridge`` and ``tasks-api`` a real command with real options; ``echo $?`` agrees with the
  doctor's verdict; an ``INVALID:`` code is an ``AuthError`` code; every ``fix:`` line is text
  the CLI has.
* ``bash``/``sh``: ``bash -n`` parses it; its ``authbridge``, ``tasks-api`` and ``make`` calls
  name real commands, options and targets.
* ``json``: parses. ``text`` (and a fence with no language): diagrams and log lines, not run.
* ``js``: Better Auth configuration, not run here (the web app and the interop server run the
  same code).
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from docs_blocks import ROOT, Block, all_blocks
from fastapi import FastAPI

# At module level: the route below names CurrentUser in a string annotation FastAPI resolves.
from authbridge import Verifier
from authbridge.fastapi import CurrentUser
from authbridge.testing import FakeIssuer

BLOCKS = all_blocks()
KNOWN_LANGUAGES = {"python", "console", "bash", "sh", "json", "text", "", "js"}
PROGRAMS = {"authbridge", "tasks-api", "echo", "curl", "uv", "make", "cd", "npm", "docker", "cat"}
PROGRAMS |= {"uvicorn"}


def _by(*languages: str) -> list[Block]:
    return [b for b in BLOCKS if b.lang in languages]


def test_the_docs_have_blocks_of_every_kind_and_no_unknown_language() -> None:
    assert len(_by("python")) >= 15
    assert len(_by("console")) >= 15
    assert {b.lang for b in BLOCKS} <= KNOWN_LANGUAGES, {b.lang for b in BLOCKS}


# --- python -----------------------------------------------------------------------------


def _create_app(bridge: Any) -> Any:
    """The reader's app in the testing examples: one route that returns the caller's id."""
    app = FastAPI()
    bridge.install(app)

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, str]:
        return {"id": user.sub}

    return app


def _given(page: str) -> dict[str, Any]:
    """Names a page's prose says the reader already has."""
    from authbridge import ClaimRules, RemoteJWKS

    origin = "https://auth.example.com"
    common: dict[str, Any] = {
        "__name__": "docs_snippet",
        "create_app": _create_app,
        "url": f"{origin}/api/auth/jwks",
        "service_secret": secrets.token_urlsafe(32),
        "secret": secrets.token_urlsafe(32),
        "keys": RemoteJWKS(f"{origin}/api/auth/jwks"),
        "rules": ClaimRules(issuer=origin, audiences=frozenset({origin})),
    }
    return common


@pytest.fixture
def fake_issuer_online() -> Iterator[FakeIssuer]:
    """A Better Auth stand-in serving its JWKS on loopback: what ``BETTER_AUTH_URL`` names."""
    issuer = FakeIssuer(base_url=None)
    with issuer.serving():
        yield issuer


@pytest.fixture
def reader_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_issuer_online: FakeIssuer
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the repository
    for name in list(os.environ):
        if name.startswith(("AUTHBRIDGE_", "BETTER_AUTH_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BETTER_AUTH_URL", fake_issuer_online.base_url)
    monkeypatch.setenv("SERVICE_JWT_SECRET", secrets.token_urlsafe(32))
    myapp = types.ModuleType("myapp")
    myapp.create_app = _create_app  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "myapp", myapp)


# Blocks with a top-level await that are compiled (and their imports run) but not run.
COMPILED_ONLY = {
    "design.md": "a sketch: StaticJWKS(...) stands for a JWK Set",
    "deploy.md": "needs the app's verifier with Redis revocation, an issuer and a sid",
}


def _compile(block: Block) -> types.CodeType:
    return compile(block.code, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def _awaits_at_top_level(code: types.CodeType) -> bool:
    return bool(code.co_flags & inspect.CO_COROUTINE)


def _run_imports(block: Block, namespace: dict[str, Any]) -> None:
    tree = ast.parse(block.code)
    imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    exec(compile(ast.Module(body=imports, type_ignores=[]), block.where, "exec"), namespace)


async def _run_tests_defined(namespace: dict[str, Any], before: set[str]) -> int:
    from authbridge.fastapi import AuthBridge

    ran = 0
    for name, function in list(namespace.items()):
        if name in before or not name.startswith("test_") or not callable(function):
            continue
        issuer = FakeIssuer()
        fixtures = {"fake_issuer": issuer, "app": _create_app(AuthBridge(issuer.verifier()))}
        wanted = inspect.signature(function).parameters
        result = function(**{p: fixtures[p] for p in wanted})
        if inspect.isawaitable(result):
            await result
        ran += 1
    return ran


PAGES = sorted({b.page for b in _by("python")})


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.usefixtures("reader_environment")
async def test_the_python_blocks_of_a_page_run_in_order(
    page: str, monkeypatch: pytest.MonkeyPatch, fake_issuer_online: FakeIssuer
) -> None:
    # A real module: typed users resolve their annotations through sys.modules.
    module = types.ModuleType("docs_snippet")
    monkeypatch.setitem(sys.modules, "docs_snippet", module)
    namespace = module.__dict__
    namespace.update(_given(page))
    namespace["token"] = fake_issuer_online.token()  # the reader's Better Auth JWT
    ran = compiled_only = tests_ran = 0
    page_blocks = [b for b in _by("python") if b.page == page]
    try:
        for block in page_blocks:
            code = _compile(block)
            if _awaits_at_top_level(code) and page in COMPILED_ONLY:
                _run_imports(block, namespace)
                compiled_only += 1
                continue
            before = set(namespace)
            try:
                result = eval(code, namespace)  # a coroutine when the block awaits
                if inspect.isawaitable(result):
                    await result
            except Exception as error:
                pytest.fail(f"{block.where}: {type(error).__name__}: {error}")
            tests_ran += await _run_tests_defined(namespace, before)
            ran += 1
    finally:
        for value in list(namespace.values()):
            if isinstance(value, Verifier):
                await value.aclose()
    assert ran + compiled_only == len(page_blocks)
    if any(re.search(r"^async def test_", b.code, re.M) for b in page_blocks):
        assert tests_ran > 0, f"{page}: the example tests were defined but not run"


def test_the_faked_issuer_examples_really_run_their_tests() -> None:
    """The FakeIssuer blocks define test functions; the runner above must call them."""
    defining = [b for b in _by("python") if re.search(r"^async def test_", b.code, re.M)]
    assert len(defining) >= 2


# --- console transcripts ------------------------------------------------------------------


def _command_options() -> dict[str, dict[str, set[str]]]:
    from authbridge.cli.main import app as authbridge_app
    from tasks_api.cli import app as tasks_app

    found: dict[str, dict[str, set[str]]] = {}
    for program, app in (("authbridge", authbridge_app), ("tasks-api", tasks_app)):
        group: Any = typer.main.get_command(app)
        found[program] = {}
        for name in group.commands:
            command = group._real(name) if hasattr(group, "_real") else group.commands[name]
            options = {o for p in command.params for o in getattr(p, "opts", [])}
            options |= {o for p in command.params for o in getattr(p, "secondary_opts", [])}
            found[program][name] = options | {"--help"}
    return found


COMMANDS = _command_options()


def _commands_in(line: str) -> Iterator[list[str]]:
    """The simple commands of a shell line: assignments dropped, split at pipes and &&."""
    line = re.sub(r"\s#.*$", "", line)
    line = line.replace("…", "x").replace("<", "'<").replace(">", ">'")
    for part in re.split(r"\|\||&&|\|", line):
        try:
            words = shlex.split(part)
        except ValueError:
            words = part.split()
        while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
            words.pop(0)
        if words:
            yield words


def _check_command(words: list[str], where: str) -> None:
    program = words[0]
    assert program in PROGRAMS, f"{where}: unknown program {program!r}"
    if program == "uv" and words[1:2] == ["run"]:
        _check_command(words[2:], where)
    elif program in COMMANDS:
        assert len(words) > 1, f"{where}: {program} without a command"
        command = words[1]
        assert command in COMMANDS[program], f"{where}: `{program} {command}` does not exist"
        for word in words[2:]:
            if word.startswith("--"):
                option = word.split("=", 1)[0]
                known = COMMANDS[program][command]
                assert option in known, f"{where}: `{program} {command}` has no {option}"
    elif program == "make":
        targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))
        for target in (w for w in words[1:] if not w.startswith("-") and "=" not in w):
            assert target in targets, f"{where}: no make target {target!r}"


def _auth_error_codes() -> set[str]:
    from authbridge import errors

    return {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.AuthError)
    }


def _source_text() -> str:
    text = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "src").rglob("*.py"))
    return re.sub(r"\"\s*\n\s*f?\"", "", text)  # implicit concatenation of string literals


def _said_by_the_cli(sentence: str, source: str) -> bool:
    """Some run of five words of ``sentence`` is literal text in the library's source."""
    words = sentence.split()
    runs = [" ".join(words[i : i + 5]) for i in range(max(1, len(words) - 4))]
    return any(run in source for run in runs if "$" not in run)


@pytest.mark.parametrize("block", _by("console"), ids=lambda b: b.where)
def test_a_console_block_is_a_transcript_of_real_commands(block: Block) -> None:
    lines = block.code.splitlines()
    prompts = [i for i, line in enumerate(lines) if line.startswith("$ ")]
    assert prompts, f"{block.where}: a console block must be a transcript (`$ command`)"
    codes = _auth_error_codes()
    source = _source_text()
    for number, index in enumerate(prompts):
        end = prompts[number + 1] if number + 1 < len(prompts) else len(lines)
        command, output = lines[index][2:], lines[index + 1 : end]
        for words in _commands_in(command):
            _check_command(words, block.where)
        if command.strip() == "echo $?":
            status = int(output[0])
            earlier = lines[:index]
            verdicts = [line for line in earlier if re.match(r"^(VALID|INVALID):", line)]
            if verdicts:
                expected = 1 if verdicts[-1].startswith("INVALID") else 0
                assert status == expected, f"{block.where}: exit {status} after {verdicts[-1]}"
        for line in output:
            verdict = re.match(r"^INVALID: (\w+):", line)
            if verdict:
                assert verdict.group(1) in codes, f"{block.where}: no error code {verdict[1]}"
            fix = re.match(r"^\s+fix: (.+)$", line)
            if fix:
                assert _said_by_the_cli(fix.group(1), source), f"{block.where}: {fix.group(1)}"


# --- shell scripts, JSON ------------------------------------------------------------------


@pytest.mark.parametrize("block", _by("bash", "sh"), ids=lambda b: b.where)
def test_a_shell_block_parses_and_names_real_commands(block: Block) -> None:
    checked = subprocess.run(
        ["bash", "-n"], input=block.code, text=True, capture_output=True, check=False
    )
    assert checked.returncode == 0, f"{block.where}: {checked.stderr}"
    for line in block.code.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or line.startswith((" ", "\t")):
            continue  # continuation lines carry arguments, not commands
        for words in _commands_in(stripped):
            if words[0] in COMMANDS or words[0] in ("make", "uv"):
                _check_command(words, block.where)


@pytest.mark.parametrize("block", _by("json"), ids=lambda b: b.where)
def test_a_json_block_parses(block: Block) -> None:
    lines = [line for line in block.code.splitlines() if line.strip()]
    try:
        json.loads(block.code)
    except json.JSONDecodeError:
        for line in lines:  # JSON Lines, as a log prints them
            json.loads(line)


def test_the_runner_sees_a_coroutine_flag() -> None:
    """The top-level-await detection the python runner relies on."""
    block = Block("x.md", 1, "python", "import asyncio\nawait asyncio.sleep(0)\n")
    assert _awaits_at_top_level(_compile(block))
    plain = Block("x.md", 1, "python", "x = 1\n")
    assert not _awaits_at_top_level(_compile(plain))
    assert asyncio.iscoroutinefunction(_run_tests_defined)
