"""``models`` commands: list, get, update, archive, unarchive and delete model cards."""

from __future__ import annotations

import argparse

from mistral_jobs_async import AsyncClient
from mistral_jobs_async._cli._errors import EXIT_OK
from mistral_jobs_async._cli._output import Output, record, when

__all__ = ["MODEL_COLUMNS", "add_model_commands", "run_models"]

MODEL_COLUMNS = ("id", "type", "root", "job", "archived", "name", "created")

_EXAMPLES = """\
examples:
  mistral-jobs models list --fine-tuned
  mistral-jobs models get ft:open-mistral-7b:abc:20261204:1a2b3c4d
  mistral-jobs models update MODEL_ID --name "support bot" --description "v1, 2k samples"
  mistral-jobs models archive MODEL_ID
  mistral-jobs models delete MODEL_ID
"""


def add_model_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``models`` command family."""
    raw = argparse.RawDescriptionHelpFormatter
    models = commands.add_parser(
        "models",
        help="base and fine-tuned models",
        description="Work with model cards: a job that succeeds makes a fine-tuned model.",
        epilog=_EXAMPLES,
        formatter_class=raw,
    )
    actions = models.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list", help="list model cards", epilog=_EXAMPLES, formatter_class=raw
    )
    listing.add_argument("--fine-tuned", action="store_true", help="only fine-tuned models")
    listing.add_argument("--provider", help="only models of this provider (owned_by)")
    listing.add_argument("--model", help="only this model, or those fine-tuned from it")
    update = actions.add_parser(
        "update", help="name or describe a fine-tuned model", epilog=_EXAMPLES, formatter_class=raw
    )
    update.add_argument("model_id", metavar="MODEL_ID")
    update.add_argument("--name")
    update.add_argument("--description")
    for name, what in (
        ("get", "show model cards"),
        ("archive", "archive fine-tuned models"),
        ("unarchive", "bring archived fine-tuned models back"),
        ("delete", "delete fine-tuned models for good"),
    ):
        sub = actions.add_parser(name, help=what, epilog=_EXAMPLES, formatter_class=raw)
        sub.add_argument("ids", nargs="+", metavar="MODEL_ID")
    for sub_parser in actions.choices.values():
        sub_parser.add_argument("--json", action="store_true", help="one JSON object per line")


async def run_models(client: AsyncClient, args: argparse.Namespace, out: Output) -> int:
    """Run a ``models`` command."""
    models = client.models
    if args.action == "list":
        cards = await models.list(provider=args.provider, model=args.model)
        rows = [record(c) for c in cards if c.fine_tuned or not args.fine_tuned]
    elif args.action == "get":
        rows = [record(await models.get(model_id)) for model_id in args.ids]
    elif args.action == "update":
        card = await models.update(args.model_id, name=args.name, description=args.description)
        rows = [record(card)]
    else:
        act = {"archive": models.archive, "unarchive": models.unarchive, "delete": models.delete}
        answers = [record(await act[args.action](model_id)) for model_id in args.ids]
        out.table(answers, ("id", "deleted" if args.action == "delete" else "archived"))
        return EXIT_OK
    for row in rows:
        row["created"] = when(row.get("created"))
    out.table(rows, MODEL_COLUMNS)
    return EXIT_OK
