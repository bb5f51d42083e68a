"""``files`` commands: upload, list, get, download and delete; ``validate`` runs in ``_data``."""

from __future__ import annotations

import argparse
from pathlib import Path

import anyio

from mistral_jobs_async import AsyncClient
from mistral_jobs_async._cli._errors import EXIT_OK, EXIT_USAGE, CliError
from mistral_jobs_async._cli._output import FILE_COLUMNS, Output, record, when

__all__ = ["add_file_commands", "run_files"]

_EXAMPLES = """\
examples:
  mistral-jobs files validate train.jsonl --model open-mistral-7b   # no key needed
  mistral-jobs files validate train.jsonl --fix clean.jsonl
  mistral-jobs files upload train.jsonl
  mistral-jobs files list
  mistral-jobs files download FILE_ID -o copy.jsonl
  mistral-jobs files delete FILE_ID
"""


def add_file_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``files`` command family."""
    raw = argparse.RawDescriptionHelpFormatter
    files = commands.add_parser(
        "files", help="training files", epilog=_EXAMPLES, formatter_class=raw
    )
    actions = files.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, text: str, description: str | None = None) -> argparse.ArgumentParser:
        return actions.add_parser(
            name, help=text, description=description, epilog=_EXAMPLES, formatter_class=raw
        )

    action("upload", "upload JSONL files").add_argument("paths", nargs="+", metavar="PATH")
    listing = action("list", "list files")
    listing.add_argument("--page", type=int, default=0)
    listing.add_argument("--page-size", type=int, default=100)
    for name in ("get", "delete"):
        action(name, f"{name} files").add_argument("ids", nargs="+", metavar="FILE_ID")
    download = action("download", "download a file's content")
    download.add_argument("file_id", metavar="FILE_ID")
    download.add_argument(
        "-o", "--output", metavar="PATH", help="where to write it (default: the file's own name)"
    )
    download.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    check = action(
        "validate",
        "check JSONL training files locally (no key needed); exit 1 if any has errors",
        description="Check training files with the fine-tuning formats' rules (and, with the "
        "data extra, Mistral's own validation and tokenizer): every problem with its line, "
        "then token counts.",
    )
    check.add_argument("paths", nargs="+", metavar="PATH")
    check.add_argument("--model", help="count tokens with this model's tokenizer")
    check.add_argument("--fix", metavar="OUT", help="write the valid lines of PATH to OUT")
    check.add_argument("--no-tokens", action="store_true", help="the rules only (faster)")
    check.add_argument("--price-per-million", type=float, help="for a cost estimate")
    check.add_argument("--epochs", type=float, default=1.0, help="for a cost estimate")
    check.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes that tokenize (default: every core for a file of 8 MiB or more)",
    )
    for sub_parser in actions.choices.values():
        sub_parser.add_argument("--json", action="store_true", help="one JSON object per line")


async def run_files(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    """Run a ``files`` command that talks to the API (all but ``validate``)."""
    if args.action == "upload":
        rows = [record(await client.files.upload(path)) for path in args.paths]
    elif args.action == "list":
        page = await client.files.list(page=args.page, page_size=args.page_size)
        rows = [record(f) for f in page.data]
    elif args.action == "get":
        rows = [record(await client.files.get(file_id)) for file_id in args.ids]
    elif args.action == "download":
        return await _download(client, args, out)
    else:
        rows = [record(await client.files.delete(file_id)) for file_id in args.ids]
        out.table(rows, ("id", "deleted"))
        return EXIT_OK
    for row in rows:
        row["created"] = when(row.get("created_at"))
    out.table(rows, FILE_COLUMNS)
    return EXIT_OK


async def _download(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    """Stream a file's content to --output (default: its own name).

    Never over a file that exists, unless --force.
    """
    target = args.output or Path((await client.files.get(args.file_id)).filename or "").name
    if not target:
        raise CliError("the file has no name: give --output PATH", code=EXIT_USAGE)
    path = Path(target)
    if await anyio.Path(path).exists() and not args.force:
        raise CliError(f"{path} exists: give --force to overwrite it", code=EXIT_USAGE)
    written = await client.files.download(args.file_id, path)
    out.table([{"id": args.file_id, "path": str(path), "bytes": written}], ("id", "path", "bytes"))
    return EXIT_OK
