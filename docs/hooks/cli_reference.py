"""MkDocs hook: the CLI reference in ``cli.md`` is written from the parser at build time."""

from __future__ import annotations

from typing import Any

from mistral_jobs_async._cli._reference import render_reference

MARKER = "<!-- cli-reference -->"


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace the marker with the reference (pages without it are left as they are)."""
    return markdown.replace(MARKER, render_reference()) if MARKER in markdown else markdown
