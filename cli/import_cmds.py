"""``gitstore import KIND SOURCE``: bring a platform's history into the store."""

from __future__ import annotations

import click

from gitstore_cli.output import print_json
from gitstore_cli.session import CliContext, pass_cli

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_SKIPPED = 3
"""Exit codes of ``gitstore import`` (docs/importers.md "Exit codes"): 0 everything in
the source is in the store (imported now or before); 1 an error: a file that cannot be
parsed (what precedes it is imported) or a bad option; 2 a usage error; 3 imported,
but some records were skipped (each listed with position, id and reason)."""

EXIT_CODES = "Exit codes: 0 everything imported (or already there), 1 error, 2 usage error, 3 records skipped (listed)."

SHOWN = 20
"""Skipped records listed on stderr (``--json`` lists them all)."""


def _report(summary, as_json: bool) -> None:
    if as_json:
        print_json(summary)
        return
    ignored = f"; {len(summary.ignored)} not imported by design" if summary.ignored else ""
    click.echo(
        f"imported: {len(summary.tickets_created)} tickets created, {len(summary.tickets_updated)} updated, "
        f"{summary.messages_added} messages added in {summary.commits} commits; "
        f"{summary.duplicates} already present; {len(summary.skipped)} skipped{ignored}"
    )
    for record in summary.skipped[:SHOWN]:
        ident = f" ({record.id})" if record.id else ""
        click.echo(f"skipped {record.position}{ident}: {record.reason}", err=True)
    if len(summary.skipped) > SHOWN:
        click.echo(f"... and {len(summary.skipped) - SHOWN} more skipped (--json lists them all)", err=True)


def run(ctx: CliContext, kind: str, source: str, as_json: bool, **options) -> None:
    """Run importer ``kind`` on ``source`` and print its summary; exit 1 on a format
    error, 3 when records were skipped."""
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
    if summary.commits:  # acknowledged above; the derived files catch up before the process ends
        from gitstore.maintenance import catch_up_derived

        store = ctx.store()
        click.get_current_context().call_on_close(lambda: catch_up_derived(store))
    if summary.skipped:
        click.get_current_context().exit(EXIT_SKIPPED)


@click.group("import")
def import_() -> None:
    """Import conversations from other platforms (one commit per source event).

    Each source message or event is one commit dated with the source's own time.
    Re-importing the same source adds nothing; a newer export adds only what is
    new. A record that cannot be imported (an odd conversation, action or
    message) is skipped, listed with its position, id and reason, and the rest
    is imported. A file that cannot be parsed is reported with file and position
    after what came before it is imported.

    \b
    Exit codes:
      0  everything in the source is in the store (now or from before)
      1  error: a file that cannot be parsed, a bad option (Error: ... on stderr)
      2  usage error
      3  imported, but records were skipped (listed; --json: "skipped")

    \b
    Example:
      gitstore import email users-2020-07.mbox
      gitstore import slack export/ --channel-map '*=SLACK-{channel}'
      gitstore import trello board.json --json
    """


@import_.command("twitter-care", epilog=EXIT_CODES)
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


_AGENT_DOMAIN = click.option(
    "--agent-domain", "agent_domains", multiple=True, metavar="DOMAIN",
    help="Senders with an e-mail address in DOMAIN (or a subdomain) are support agents (cs_agent). Repeatable.",
)
_CHANNEL_MAP = click.option(
    "--channel-map", "channel_map", multiple=True, metavar="CHANNEL=T_NO",
    help="Put CHANNEL's messages into ticket T_NO (created if needed); '*=T_NO' for every other channel; "
    "'{channel}' in T_NO is replaced by the channel name. Repeatable.",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")


@import_.command("email", epilog=EXIT_CODES)
@click.argument("source", type=click.Path(exists=True))
@_AGENT_DOMAIN
@_JSON
@pass_cli
def email(ctx: CliContext, source: str, agent_domains: tuple[str, ...], as_json: bool) -> None:
    """Import e-mail: an mbox file or a folder of .eml files.

    Each thread (Message-ID / In-Reply-To / References) becomes a ticket EM-<hash>;
    a subject tag [T_<T_NO>] (e.g. "Re: printer [T_1001]") puts the thread into
    ticket <T_NO>. The first sender is the customer, the others agents, unless
    --agent-domain says who the agents are. Attachments are recorded, not inlined.

    \b
    Example:
      gitstore import email support-2020-07.mbox --agent-domain example.org
      gitstore import email inbox/ --json
    """
    run(ctx, "email", source, as_json, agent_domains=agent_domains)


@import_.command("slack", epilog=EXIT_CODES)
@click.argument("source", type=click.Path(exists=True, file_okay=False))
@_CHANNEL_MAP
@_AGENT_DOMAIN
@_JSON
@pass_cli
def slack(ctx: CliContext, source: str, channel_map: tuple[str, ...], agent_domains: tuple[str, ...], as_json: bool) -> None:
    """Import a Slack export folder (channels.json, users.json, <channel>/<date>.json).

    Messages become internal messages (platform slack). A ticket tag [T_<T_NO>] in
    a message (or its thread's first message) decides its ticket, then
    --channel-map; unmapped messages are reported as skipped.

    \b
    Example:
      gitstore import slack export/ --channel-map support=1001 --channel-map '*=SLACK-{channel}'
    """
    run(ctx, "slack", source, as_json, channel_map=channel_map, agent_domains=agent_domains)


@import_.command("mattermost", epilog=EXIT_CODES)
@click.argument("source", type=click.Path(exists=True))
@_CHANNEL_MAP
@_AGENT_DOMAIN
@_JSON
@pass_cli
def mattermost(ctx: CliContext, source: str, channel_map: tuple[str, ...], agent_domains: tuple[str, ...], as_json: bool) -> None:
    """Import a Mattermost bulk export (JSONL, as 'mmctl export' writes it).

    Posts and replies become internal messages (platform mattermost), mapped to
    tickets like 'import slack'.

    \b
    Example:
      gitstore import mattermost export.jsonl --channel-map town-square=1001
    """
    run(ctx, "mattermost", source, as_json, channel_map=channel_map, agent_domains=agent_domains)


@import_.command("trello", epilog=EXIT_CODES)
@click.argument("source", type=click.Path(exists=True))
@click.option(
    "--stage-map", "stage_map", multiple=True, metavar="LIST=STAGE",
    help="Workflow stage (trigger|classifier|selection|action|end) of the Trello list named LIST. "
    "Repeatable; other lists follow the default rules (Done → end, Doing → action, To Do → selection …).",
)
@_JSON
@pass_cli
def trello(ctx: CliContext, source: str, stage_map: tuple[str, ...], as_json: bool) -> None:
    """Import a Trello board export (the board's "Export JSON").

    Each card becomes ticket TR-<board>-<card number>; comments are external
    messages; list moves set workflow_stage and add a progress update.

    \b
    Example:
      gitstore import trello board.json --stage-map "Ready for QA=action" --stage-map Shipped=end
    """
    run(ctx, "trello", source, as_json, stage_map=stage_map)


@import_.command("abcd", epilog=EXIT_CODES)
@click.argument("source", type=click.Path(exists=True))
@click.option(
    "--start", default="2020-01-01T00:00:00Z", show_default=True, metavar="TIME",
    help="ISO 8601 time (with zone) of the synthetic clock: ABCD conversations have no times.",
)
@_JSON
@pass_cli
def abcd(ctx: CliContext, source: str, start: str, as_json: bool) -> None:
    """Import ABCD conversations (abcd_sample.json, abcd_v1.1.json, or their folder).

    Customer and agent turns become external messages; the agent's actions (the
    buttons of the agent tool, with their values) become agent_decisions in T;
    the scenario (flow, subflow, customer details) goes to the messages'
    metadata. Times are synthetic (--start), and marked so.

    \b
    Example:
      gitstore import abcd abcd_sample/ --json
    """
    run(ctx, "abcd", source, as_json, start=start)


@import_.command("sgd", epilog=EXIT_CODES)
@click.argument("source", type=click.Path(exists=True))
@click.option(
    "--start", default="2019-01-01T00:00:00Z", show_default=True, metavar="TIME",
    help="ISO 8601 time (with zone) of the synthetic clock: SGD dialogues have no times.",
)
@_JSON
@pass_cli
def sgd(ctx: CliContext, source: str, start: str, as_json: bool) -> None:
    """Import Schema-Guided Dialogue files (dialogues_*.json, a file or folder).

    Turns become external messages; labelled states, system actions and service
    calls become agent_decisions in T.

    \b
    Example:
      gitstore import sgd dstc8/dev/
    """
    run(ctx, "sgd", source, as_json, start=start)
