"""Development sessions: tests, lint, typecheck, docs, demo, example, bench, soak, emulator,
compat."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite against the embedded emulator (loopback only)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff check and format check."""
    session.install("ruff==0.17.6")  # the version pinned in the lint extra
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package, tests and benchmarks."""
    session.install("-e", ".[lint]")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site (MkDocs Material, mkdocstrings) in strict mode: a broken
    link or a missing reference fails. ``nox -s docs -- serve`` serves it instead.

    The build runs the demo and the FastAPI example for their pictures (docs/hooks/screenshots.py),
    hence the cli and fastapi extras; the FastAPI page's needs Chromium on PATH."""
    session.install("-e", ".[docs,fastapi,cli]")
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
    session.install("-e", ".[bench,redis,data]")
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
    session.install("-e", ".[bench]")
    session.run("python", "benchmarks/soak.py", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: ~100 jobs on the embedded emulator, followed live (no key, no network)."""
    session.install("-e", ".[cli]")
    session.run("mistral-jobs", "demo", *session.posargs)


@nox.session
def example(session: nox.Session) -> None:
    """The FastAPI example app on http://127.0.0.1:8080, against the embedded emulator."""
    session.install("-e", ".[fastapi]")
    session.run("python", "docs/examples/fastapi_app.py", *session.posargs)


@nox.session
def emulator(session: nox.Session) -> None:
    """Start the emulator on 127.0.0.1:8000 (Ctrl-C stops it); extra arguments pass through."""
    session.install("-e", ".")
    session.run("mistral-jobs", "emulator", *session.posargs, external=False)


@nox.session(python=["3.10", "3.11", "3.12", "3.13"])
def compat(session: nox.Session) -> None:
    """The test suite on every supported Python found on the machine (missing ones skip)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs)
