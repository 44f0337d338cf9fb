"""Every code block in docs/ runs, or is checked as what it claims to be (issue #20).

* ``python``: each page's blocks run top to bottom in one namespace, as a reader pastes them;
  names the prose says are the reader's own (``token``, ``create_app``, ...) are given below.
  A block with a top-level ``await`` runs against a fake Better Auth serving its JWKS on
  loopback (``BETTER_AUTH_URL``); a page named in ``COMPILED_ONLY`` (none at present) would
  only be compiled and have its imports run. A block that defines
  ``test_*`` functions (the FakeIssuer examples) has them run against a real ``FakeIssuer``.
* ``console``: a shell transcript. Each ``$`` command names a real program, and for
  ``authbridge`` and ``tasks-api`` a real command with real options; ``echo $?`` agrees with the
  doctor's verdict; an ``INVALID:`` code is an ``AuthError`` code; every ``fix:`` line is text
  the CLI has.
* ``bash``/``sh``: ``bash -n`` parses it; its ``authbridge``, ``tasks-api`` and ``make`` calls
  name real commands, options and targets.
* ``json``: parses. ``text`` (and a fence with no language): diagrams and log lines, not run.
* ``js`` and ``ts``: a block that is only ``--8<-- "file:section"`` lines is included by MkDocs
  from the file the web app or the interop server runs: the section's markers must exist once
  each around real code. Every ``js`` block (included or written out) passes ``node --check``.
  ``ts`` cannot be checked without the web app's node_modules, so a ``ts`` block must be an
  include.
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
import shutil
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
KNOWN_LANGUAGES = {"python", "console", "bash", "sh", "json", "text", "", "js", "ts"}
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
# (None since issue #20: the design sketch runs against the fake issuer, and deploy.md's
# revocation calls run on a verifier with an in-process RevocationList, the one Redis shares.)
COMPILED_ONLY: dict[str, str] = {}


async def _reader_with_revocation(namespace: dict[str, Any], issuer: FakeIssuer) -> str:
    """deploy.md: "with the app's verifier", and the issuer, sid and sub of a signed-in user."""
    from authbridge.revocation import RevocationList

    user = issuer.make_user()
    sid = "session-" + secrets.token_hex(8)
    token = issuer.token(user, sid=sid)
    verifier = issuer.verifier(revocations=RevocationList())
    assert (await verifier.verify(token)).sub == user["id"]  # valid before the block runs
    namespace.update(verifier=verifier, issuer=issuer.issuer, sid=sid, sub=user["id"])
    return token


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
    # design.md: "`jwks`: the issuer's JWK Set; `origin`: BETTER_AUTH_URL", the running fake's.
    namespace["jwks"] = fake_issuer_online.jwks()
    namespace["origin"] = fake_issuer_online.base_url
    revoked = None
    if page == "deploy.md":
        revoked = await _reader_with_revocation(namespace, fake_issuer_online)
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
        if revoked is not None:  # the revocation block did revoke the user's session
            from authbridge.errors import TokenRevoked

            with pytest.raises(TokenRevoked):
                await namespace["verifier"].verify(revoked)
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


# --- js and ts: included from the real files, or syntax-checked -------------------------

_INCLUDE = re.compile(r'^--8<-- "(?P<path>[^":]+)(?::(?P<section>[a-z][-_0-9a-z]*))?"$')


def _is_include(block: Block) -> bool:
    lines = [line for line in block.code.splitlines() if line.strip()]
    return bool(lines) and all(_INCLUDE.match(line.strip()) for line in lines)


def _section(text: str, name: str, where: str) -> str:
    """The lines between ``--8<-- [start:name]`` and ``--8<-- [end:name]``, as MkDocs cuts them."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if f"--8<-- [start:{name}]" in line]
    ends = [i for i, line in enumerate(lines) if f"--8<-- [end:{name}]" in line]
    assert len(starts) == 1, f"{where}: the start of section {name!r} is not marked once"
    assert len(ends) == 1, f"{where}: the end of section {name!r} is not marked once"
    assert starts[0] < ends[0], f"{where}: section {name!r} ends before it starts"
    region = "\n".join(lines[starts[0] + 1 : ends[0]])
    assert region.strip(), f"{where}: section {name!r} is empty"
    return region


def _included(block: Block) -> str:
    """The code MkDocs puts in the page for an include-only block."""
    parts = []
    for line in (line.strip() for line in block.code.splitlines() if line.strip()):
        match = _INCLUDE.match(line)
        assert match is not None
        path = ROOT / match.group("path")
        assert path.is_file(), f"{block.where}: {match.group('path')} does not exist"
        assert "node_modules" not in path.parts
        text = path.read_text(encoding="utf-8")
        section = match.group("section")
        parts.append(_section(text, section, block.where) if section else text)
    return "\n".join(parts)


def _node_check(code: str, where: str, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node is not None, "node (20+) must be on PATH: the web app and interop server need it"
    module = tmp_path / "block.mjs"
    module.write_text(code, encoding="utf-8")
    checked = subprocess.run(
        [node, "--check", str(module)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, f"{where}: {checked.stderr}"


@pytest.mark.parametrize("block", _by("js", "ts"), ids=lambda b: b.where)
def test_a_js_or_ts_block_is_included_from_a_real_file_or_valid_javascript(
    block: Block, tmp_path: Path
) -> None:
    if block.lang == "ts":
        assert _is_include(block), f"{block.where}: TypeScript must be included from web/"
    code = _included(block) if _is_include(block) else block.code
    if block.lang == "js":
        _node_check(code, block.where, tmp_path)


def test_an_included_block_shows_the_marked_code_without_its_markers() -> None:
    """The region is what sits between the markers: code, and no marker of its own."""
    region = _section(
        (ROOT / "interop/better-auth/server.mjs").read_text(encoding="utf-8"), "auth", "x"
    )
    assert region.startswith("export const auth = betterAuth({")
    assert region.rstrip().endswith("});")
    assert "--8<--" not in region


def test_the_better_auth_page_shows_the_server_and_client_configuration() -> None:
    """Issue #20: the plugins, the JWT options and the client calls, as the servers run them."""
    page = [b for b in _by("js", "ts") if b.page == "better-auth.md"]
    shown = "\n".join(_included(b) if _is_include(b) else b.code for b in page)
    for piece in ("betterAuth({", "jwt({", "jwks:", "issuer:", "audience", "expirationTime"):
        assert piece in shown, piece
    for piece in ("definePayload", "bearer(", "organization()", "admin()", "apiKey("):
        assert piece in shown, piece
    for piece in ("authClient.token()", "set-auth-jwt", "jwtClient()"):
        assert piece in shown, piece
    assert sum(_is_include(b) for b in page) >= 4
