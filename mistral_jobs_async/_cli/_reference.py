"""The command line's reference, written from its parser (so the docs cannot drift from it).

``render_reference()`` gives Markdown: every command and action with its usage and its
options' help, in the parser's order. The docs site's build puts it in ``cli.md``.
"""

from __future__ import annotations

import argparse

from mistral_jobs_async._cli._parser import build_parser

__all__ = ["render_reference"]


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _section(parser: argparse.ArgumentParser, level: int) -> list[str]:
    usage = " ".join(parser.format_usage().split())
    usage = usage.removeprefix("usage: ")
    lines = [f"{'#' * level} `{parser.prog}`", ""]
    if parser.description:
        lines += [" ".join(parser.description.split()), ""]
    lines += ["```text", usage, "```", ""]
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
            continue
        flags = ", ".join(f"`{o}`" for o in action.option_strings)
        names = flags or f"`{action.metavar or action.dest}`"
        text = (action.help or "").replace("%(default)s", str(action.default))
        text = text.replace("|", "\\|")  # a pipe would end the table's cell
        rows.append(f"| {names} | {' '.join(text.split())} |")
    if rows:
        lines += ["| argument | what |", "|---|---|", *rows, ""]
    return lines


def render_reference() -> str:
    """Markdown for every command of ``mistral-jobs``, from its parser."""
    root = build_parser()
    lines = _section(root, 3)
    for command in _subcommands(root).values():
        lines += _section(command, 3)
        for action in _subcommands(command).values():
            lines += _section(action, 4)
    return "\n".join(lines)
