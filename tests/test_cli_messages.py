"""What the CLI says when something is off: the key, a status, plain HTTP, a hostile server."""

from __future__ import annotations

import argparse
import ast
import asyncio
import gzip
import importlib.metadata
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import mistral_jobs_async._cli as cli_package
from mistral_jobs_async import (
    ConfigurationError,
    PaginationError,
    RedirectError,
    ResponseDecodeError,
    ResponseTooLargeError,
)
from mistral_jobs_async._cli import main
from mistral_jobs_async._cli._errors import error_exit
from mistral_jobs_async.emulator import Emulator
from mistral_jobs_async.models import FINE_TUNING_STATUSES, FORGE_STATUSES

from .test_cli_watch import KEY, cli


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI finds a key in the environment, and no base URL but the one each test passes."""
    monkeypatch.setenv("MISTRAL_API_KEY", KEY)
    monkeypatch.delenv("MISTRAL_BASE_URL", raising=False)


# --- the key ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_key_says_what_a_shell_user_does(
    mistral_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    """No key: one line saying to export MISTRAL_API_KEY, --base-url for an emulator; exit 3."""
    if value is None:
        monkeypatch.delenv("MISTRAL_API_KEY")
    else:
        monkeypatch.setenv("MISTRAL_API_KEY", value)
    result = cli(mistral_emulator, "jobs", "list")
    assert result.code == 3
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert "export MISTRAL_API_KEY=" in result.err
    assert "--base-url" in result.err
    assert "`mistral-jobs demo` needs no key" in result.err
    assert "AsyncClient" not in result.err
    assert mistral_emulator.request_count() == 0


def test_malformed_key_is_an_authentication_error(
    mistral_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key with a space inside (a paste accident) exits 3 without showing the key."""
    monkeypatch.setenv("MISTRAL_API_KEY", "sk-secret-part one-more")
    result = cli(mistral_emulator, "jobs", "list")
    assert result.code == 3
    assert "spaces or non-printable" in result.err
    assert "secret" not in result.err


# --- an unknown status -----------------------------------------------------------------------


@pytest.mark.parametrize(("status", "guess"), [("RUNNNING", "RUNNING"), ("validated", "VALIDATED")])
def test_unknown_status_filter_warns_with_a_guess(
    mistral_emulator: Emulator, status: str, guess: str
) -> None:
    """--status that no API defines: a warning with a guess and the known list; still listed."""
    result = cli(mistral_emulator, "jobs", "list", "--status", status)
    assert result.code == 0
    assert result.out.splitlines()[-1] == "0 of 0 jobs (page 0)"
    assert result.err.count("\n") == 1
    assert result.err.startswith(f"mistral-jobs: warning: no API defines the status '{status}'")
    assert f"did you mean {guess}?" in result.err
    known = sorted(FINE_TUNING_STATUSES | FORGE_STATUSES)
    assert f"(known: {', '.join(known)})" in result.err
    assert mistral_emulator.request_count() == 1


def test_known_status_filter_is_silent(mistral_emulator: Emulator) -> None:
    """A status the API defines gives no warning, and --json output stays pure JSON lines."""
    for status in sorted(FINE_TUNING_STATUSES):
        result = cli(mistral_emulator, "jobs", "list", "--status", status, "--json")
        assert (result.code, result.out, result.err) == (0, "", ""), status


def test_status_without_a_close_match_lists_the_known_ones(mistral_emulator: Emulator) -> None:
    """A status like nothing known is warned about without a guess."""
    result = cli(mistral_emulator, "jobs", "list", "--status", "zzz")
    assert "did you mean" not in result.err
    assert "known: CANCELLATION_REQUESTED" in result.err


# --- plain HTTP ------------------------------------------------------------------------------


def test_plain_http_beyond_loopback_is_refused_in_one_line() -> None:
    """http:// to another host is refused before any I/O: one line naming the flag, exit 2."""
    result = cli(None, "--base-url", "http://training.example.invalid:8000", "jobs", "list")
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert result.err.startswith("mistral-jobs: error: base_url http://training.example.invalid")
    assert "--allow-insecure-http" in result.err


def _local_address() -> str:
    """An address of this machine that is not loopback (that of the default route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # UDP: picks a route, sends nothing
        except OSError:
            pytest.skip("no network interface besides loopback")
        address: str = probe.getsockname()[0]
    if address.startswith("127."):
        pytest.skip("no network interface besides loopback")
    return address


def test_allow_insecure_http_reaches_the_client(mistral_emulator_factory: Any) -> None:
    """--allow-insecure-http lets a plain-HTTP service on a non-loopback address be used."""
    address = _local_address()
    emu = mistral_emulator_factory(host=address)
    url = f"http://{address}:{emu.url.rsplit(':', 1)[1]}"
    refused = cli(None, "--base-url", url, "jobs", "list")
    assert refused.code == 2
    allowed = cli(None, "--base-url", url, "--allow-insecure-http", "jobs", "list")
    assert allowed.code == 0, allowed.err
    assert allowed.out.splitlines()[-1] == "0 of 0 jobs (page 0)"


def test_allow_insecure_http_is_in_the_help() -> None:
    """The flag is shown by --help."""
    result = cli(None, "--help")
    assert result.code == 0
    assert "--allow-insecure-http" in result.out


# --- a hostile server ------------------------------------------------------------------------

_JOB = {"id": "0b9f8c1e-0000-4000-8000-000000000001", "status": "RUNNING", "object": "job"}


async def _redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound(f"http://elsewhere.invalid{request.path}")


async def _same_page(request: web.Request) -> web.Response:
    # Ignores ``page``: a walk of every page would never end.
    return web.json_response({"object": "list", "data": [_JOB], "total": 50})


async def _bomb(request: web.Request) -> web.Response:
    body = gzip.compress(b'{"data": [' + b" " * (40 * 2**20) + b"]}", compresslevel=1)
    return web.Response(
        body=body, content_type="application/json", headers={"Content-Encoding": "gzip"}
    )


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    """A loopback server that redirects away, pages forever and sends a gzip bomb."""
    app = web.Application()
    app.router.add_get("/v1/fine_tuning/jobs/{job_id}", _redirect)
    app.router.add_get("/v1/fine_tuning/jobs", _same_page)
    app.router.add_get("/v1/files", _bomb)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("jobs", "get", _JOB["id"]), 5, "to http://elsewhere.invalid/v1/fine_tuning/jobs/"),
        (("jobs", "list", "--all", "--page-size", "1"), 6, "held nothing new"),
        (("files", "list"), 6, "max_response_bytes"),
    ],
    ids=["redirect", "pagination", "too-large"],
)
def test_refused_answers_are_one_line_with_their_exit_code(
    hostile: str, args: tuple[str, ...], code: int, needle: str
) -> None:
    """A refused redirect exits 5 (network); endless paging and a bomb exit 6: one line each."""
    result = cli(None, "--base-url", hostile, *args)
    assert result.code == code, result.err
    assert result.err.count("\n") == 1
    assert result.err.startswith("mistral-jobs: error: ")
    assert needle in result.err


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (RedirectError("a\nb", status_code=302, location="l", method="GET", url="u"), 5),
        (ResponseTooLargeError("a\nb", limit=1, status_code=200, request_id=None), 6),
        (ResponseDecodeError("a\nb", status_code=200, request_id=None), 6),
        (PaginationError("a\nb"), 6),
        (ConfigurationError("base_url http://x is plain HTTP: the API key would\ncross"), 2),
    ],
)
def test_error_exit_maps_each_kind_to_one_line(error: Exception, code: int) -> None:
    """Each error kind has its exit code, and its message is folded to one line."""
    got, message = error_exit(error)
    assert got == code
    assert "\n" not in message


# --- the package -----------------------------------------------------------------------------


def test_entry_points_reach_main() -> None:
    """The console script and ``python -m mistral_jobs_async`` both reach the package's main."""
    (script,) = importlib.metadata.entry_points(group="console_scripts", name="mistral-jobs")
    assert script.load() is main
    module = Path(cli_package.__file__).parent.parent / "__main__.py"
    assert "from mistral_jobs_async._cli import main" in module.read_text()


@pytest.mark.parametrize(
    ("hidden", "command", "extra"),
    [("optuna", ["sweep", "sweep.toml"], "sweep"), ("mcp", ["mcp"], "mcp")],
)
def test_a_command_whose_extra_is_missing_names_it(
    hidden: str, command: list[str], extra: str
) -> None:
    """Without its extra, a command says which one to install (the package's own words) and
    exits 2, with no traceback."""
    code = (
        f"import sys; sys.modules[{hidden!r}] = None\n"
        "from mistral_jobs_async._cli import main\n"
        "sys.exit(main(sys.argv[1:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "--base-url", "http://127.0.0.1:9", *command],
        capture_output=True, text=True, check=False, env={"MISTRAL_API_KEY": KEY},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert f"pip install 'mistral-jobs-async[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_modules_are_small_and_described() -> None:
    """Each module of the CLI package stays under 400 lines and is named in its docstring."""
    folder = Path(cli_package.__file__).parent
    doc = cli_package.__doc__ or ""
    modules = sorted(folder.glob("_*.py"))
    assert len(modules) >= 4
    for path in modules:
        source = path.read_text()
        assert len(source.splitlines()) < 400, path.name
        assert ast.get_docstring(ast.parse(source)), path.name
        if path.name != "__init__.py":
            assert f"``{path.stem}``" in doc, path.name


def test_the_cli_reference_is_written_from_the_parser() -> None:
    """The docs' CLI reference (put into cli.md when the site is built) has a section for
    every command and action the parser knows, with their options; cli.md keeps the marker."""
    from pathlib import Path

    from mistral_jobs_async._cli._parser import build_parser
    from mistral_jobs_async._cli._reference import render_reference

    reference = render_reference()

    def actions_of(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return dict(action.choices)
        return {}

    for name, command in actions_of(build_parser()).items():
        assert f"### `mistral-jobs {name}`" in reference
        for action_name in actions_of(command):
            assert f"#### `mistral-jobs {name} {action_name}`" in reference
    assert "`--max-cost`" in reference
    assert "`--invalid-sample-skip-percentage`" in reference
    docs = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
    assert "<!-- cli-reference -->" in docs.read_text(encoding="utf-8")
