"""``gitstore import KIND SOURCE``: bring a platform's history into the store."""

from __future__ import annotations

import click

from .context import CliContext, pass_cli
from .output import print_json


def _report(summary, as_json: bool) -> None:
    if as_json:
        print_json(summary)
        return
    click.echo(
        f"imported: {len(summary.tickets_created)} tickets created, {len(summary.tickets_updated)} updated, "
        f"{summary.messages_added} messages added in {summary.commits} commits; "
        f"{summary.duplicates} already present; {len(summary.skipped)} skipped"
    )
    for where, reason in summary.skipped[:20]:
        click.echo(f"skipped {where}: {reason}", err=True)
    if len(summary.skipped) > 20:
        click.echo(f"... and {len(summary.skipped) - 20} more skipped", err=True)


def run(ctx: CliContext, kind: str, source: str, as_json: bool, **options) -> None:
    """Run importer ``kind`` on ``source`` and print its summary; exit 1 on a format error."""
    import importlib

    from gitstore.errors import ImportFormatError
    from gitstore.importers import IMPORTERS
    from gitstore.importers.base import run_import

    module = importlib.import_module(IMPORTERS[kind])
    importer = module.make_importer(**options) if options else module.IMPORTER
    try:
        summary = run_import(ctx.store(), importer, source, actor=ctx.actor())
    except ImportFormatError as exc:
        partial = getattr(exc, "summary", None)
        if partial is not None:
            _report(partial, as_json)
        raise
    _report(summary, as_json)


@click.group("import")
def import_() -> None:
    """Import conversations from other platforms (one commit per source event).

    Re-importing the same source adds nothing.
    """


@import_.command("twitter-care")
@click.argument("source", type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_cli
def twitter_care(ctx: CliContext, source: str, as_json: bool) -> None:
    """Import IBM Twitter customer-care conversations (a dev.json/test.json file).

    \b
    Example:
      gitstore import twitter-care examples/twitter_care_sample.json
    """
    run(ctx, "twitter-care", source, as_json)
