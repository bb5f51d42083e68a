"""Development sessions: tests, lint, typecheck, docs, coverage, demo, example, bench, soak,
emulator, compat."""

from __future__ import annotations

import nox

nox.needs_version = ">=2025.2.9"  # nox.project.dependency_groups
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False
PYPROJECT = nox.project.load_toml("pyproject.toml")


def install(session: nox.Session, extras: str, *groups: str) -> None:
    """The package (editable) with ``extras``, and the development ``groups`` of pyproject."""
    session.install("-e", f".[{extras}]" if extras else ".")
    if groups:
        session.install(*nox.project.dependency_groups(PYPROJECT, *groups))


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite against the embedded emulator (loopback only)."""
    install(session, "all", "test")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff check and format check."""
    session.install("ruff==0.17.6")  # the version pinned in the lint group
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package, tests and benchmarks."""
    install(session, "all", "lint")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site (MkDocs Material, mkdocstrings) in strict mode: a broken
    link or a missing reference fails. ``nox -s docs -- serve`` serves it instead.

    The build runs the demo and the FastAPI example for their pictures (docs/hooks/screenshots.py),
    hence the cli and fastapi extras; the FastAPI page's needs Chromium on PATH."""
    install(session, "fastapi,cli", "docs")
    session.env["NO_MKDOCS_2_WARNING"] = "1"
    if session.posargs[:1] == ["serve"]:
        session.run("mkdocs", "serve", *session.posargs[1:])
        return
    site = session.create_tmp()
    session.run("mkdocs", "build", "--strict", "--site-dir", f"{site}/site")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: print tables of ratios against baselines measured in the same run, and write
    the plots into docs/img (the official SDK, mistralai 2.5.1, is the baseline for client,
    import and watcher).

    Each script takes its own options (``--help``); run it directly to pass them.
    """
    install(session, "redis,data", "bench")
    plots = ("--plots", "docs/img")
    session.run("python", "benchmarks/bench_client.py", *plots)
    session.run("python", "benchmarks/bench_import.py", *plots)
    session.run("python", "benchmarks/bench_watcher.py", *plots)
    session.run("python", "benchmarks/bench_emulator.py")
    session.run("python", "benchmarks/bench_sharing.py")  # needs Debian's redis-server
    session.run("python", "benchmarks/bench_datasets.py")


@nox.session
def soak(session: nox.Session) -> None:
    """The soak: 2000 jobs under faults for 10 minutes (``-- --minutes 2`` for a short one)."""
    install(session, "")
    session.run("python", "benchmarks/soak.py", *session.posargs)


@nox.session
def coverage(session: nox.Session) -> None:
    """The test suite under coverage, branches included: a report of what it leaves unrun.

    Code run in other processes (the CLI's, the emulator's, worker pools) is not counted.
    """
    install(session, "all", "test")
    session.run("coverage", "erase")
    session.run("coverage", "run", "-m", "pytest", "-q", *session.posargs)
    session.run("coverage", "report")


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: ~100 jobs on the embedded emulator, followed live (no key, no network)."""
    install(session, "cli")
    session.run("mistral-jobs", "demo", *session.posargs)


@nox.session
def example(session: nox.Session) -> None:
    """The FastAPI example app on http://127.0.0.1:8080, against the embedded emulator."""
    install(session, "fastapi")
    session.run("python", "docs/examples/fastapi_app.py", *session.posargs)


@nox.session
def emulator(session: nox.Session) -> None:
    """Start the emulator on 127.0.0.1:8000 (Ctrl-C stops it); extra arguments pass through."""
    install(session, "")
    session.run("mistral-jobs", "emulator", *session.posargs, external=False)


@nox.session(python=["3.10", "3.11", "3.12", "3.13"])
def compat(session: nox.Session) -> None:
    """The test suite on every supported Python found on the machine (missing ones skip)."""
    install(session, "all", "test")
    session.run("pytest", "-q", *session.posargs)
