"""Search commands: ``search``, ``index rebuild|status`` and ``watch``."""

from __future__ import annotations

import re

import click

from gitstore_cli.completion import complete_ticket
from gitstore_cli.output import print_json
from gitstore_cli.session import CliContext, pass_cli


def _notice(line: str) -> None:
    click.echo(line, err=True)


_MARKED = re.compile(r"\*\*(.+?)\*\*")


def emphasise(snippet: str) -> str:
    """Turn the index's ``**match**`` marks into bold text (``click.style``): bold on a
    terminal with colour, plain words in a pipe or with ``NO_COLOR``/``--color never``."""
    return _MARKED.sub(lambda found: click.style(found.group(1), bold=True), snippet)


@click.command("search")
@click.argument("query")
@click.option("--kind", type=click.Choice(["external", "internal", "workflow"]), help="Only this kind of document.")
@click.option("--ticket", "ticket", metavar="T_NO", shell_complete=complete_ticket, help="Only this ticket.")
@click.option("--sender-id", metavar="ID", help="Only messages from this sender id.")
@click.option("--platform", metavar="P", help="Only this platform (email, trello, web_chat, slack, mattermost, flock).")
@click.option("--status", type=click.Choice(["active", "resolved", "escalated"]), help="Only tickets with this conversation status.")
@click.option("--priority", type=click.Choice(["HIGH", "LOW"], case_sensitive=False), help="Only tickets of this priority.")
@click.option("--since", metavar="DATE", help="Only documents at or after DATE (2020-03-01, '3 days ago'; UTC).")
@click.option("--until", metavar="DATE", help="Only documents at or before DATE.")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True, help="Hits to show.")
@click.option("--role", type=click.Choice(["customer_facing", "internal", "admin"]),
              help="Narrow the search to this role (never wider than the actor's own role; default: the actor's role).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@pass_cli
def search(ctx: CliContext, query: str, kind, ticket, sender_id, platform, status, priority, since, until, limit, role,
           as_json: bool) -> None:
    """Search every conversation (Whoosh query language; best hits first).

    QUERY: words (stemmed: 'printers' finds 'printer'), AND/OR/NOT, "phrases",
    field:value (ticket, kind, sender, sender_id, platform, message_type, time,
    client_name, company, priority, status, stage, assignee), wildcards (refund*),
    fuzzy (refnud~2: up to 2 edits away). The search runs for the acting identity's
    role (gitstore role set; docs/data-model.md#search-roles): a customer_facing actor
    never sees internal messages, not even in counts or scores, and --role may narrow
    that role, never widen it. Matches are bold on a terminal, plain text in a pipe;
    --json snippets mark them between ** **.

    \b
    Example:
      gitstore search "refund AND order"
      gitstore search 'printer NOT "paper jam"' --kind external --since 2020-03-01
      gitstore search "deploy*" --role customer_facing --json
      gitstore --actor cora search refund        # as cora's role
    """
    from gitstore_index.search import search as run

    results = run(
        ctx.store(), query, kind=kind, ticket=ticket, sender_id=sender_id, platform=platform, status=status,
        priority=priority, since=since, until=until, limit=limit, role=role, report=_notice,
    )
    if as_json:
        print_json(results)
        return
    ctx.page()
    kinds = ", ".join(f"{k} {n}" for k, n in results.facets.get("kind", {}).items()) or "none"
    click.echo(f"{results.total} matching ({kinds}); role {results.role}")
    for t_no, hits in results.by_ticket():
        click.echo(f"ticket {t_no}")
        for hit in hits:
            who = f"{hit.sender}:{hit.sender_id}" if hit.sender else "state"
            click.echo(f"  {hit.rank:>3}. [{hit.kind}] {hit.time or '-'} {who}: {emphasise(hit.snippet)}")


@click.group("index")
def index_() -> None:
    """Manage the search index (.git/gitstore/index/, never committed).

    \b
    Example:
      gitstore index status
      gitstore index rebuild
    """


@index_.command("rebuild")
@click.option("--procs", type=click.IntRange(1, 64), default=None,
              help="Writer processes (default: one per CPU, up to 4, from 2,000 tickets; else 1).")
@click.option("--json", "as_json", is_flag=True, help="Print the new status as JSON.")
@pass_cli
def index_rebuild(ctx: CliContext, procs: int | None, as_json: bool) -> None:
    """Rebuild the search index from HEAD (progress bar on a terminal).

    \b
    Example:
      gitstore index rebuild --procs 2
    """
    from gitstore_index.store_index import rebuild_index

    status = rebuild_index(ctx.store(), progress=not as_json, procs=procs, report=_notice)
    if as_json:
        print_json(status)
    else:
        size = f" ({status.size_bytes} bytes)" if status.size_bytes is not None else ""
        click.echo(f"indexed {status.documents} documents at {(status.commit or '-')[:12]}{size}")


@index_.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_cli
def index_status(ctx: CliContext, as_json: bool) -> None:
    """Show the indexed commit, HEAD, document count and size of the search index.

    Counts are what the acting identity's role may see: for a customer_facing actor
    internal messages are not counted and the size is not shown.

    \b
    Example:
      gitstore index status --json
    """
    from gitstore_index.store_index import index_status as status_of

    status = status_of(ctx.store())
    if as_json:
        print_json(status)
        return
    if not status.exists:
        click.echo(f"no search index (it is built on first search, or by 'gitstore index rebuild'); HEAD {status.head[:12]}")
        return
    if status.problem:
        click.echo(f"search index unreadable: {status.problem} (the next search rebuilds it)")
        return
    fresh = "up to date" if status.up_to_date else "behind HEAD (catches up on next use)"
    click.echo(f"indexed commit: {status.commit[:12] if status.commit else '-'}")
    click.echo(f"HEAD:           {status.head[:12]} ({fresh})")
    click.echo(f"documents:      {status.documents} (visible to role {status.role})")
    if status.size_bytes is not None:
        click.echo(f"size:           {status.size_bytes} bytes in {status.segments} segment(s)")
    click.echo(f"schema version: {status.schema_version}")


@click.command("watch")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line per changed ticket on stdout.")
@click.option("--debounce", type=click.FloatRange(0.0, 60.0), default=0.1, show_default=True,
              help="Seconds of quiet before a ticket is reindexed.")
@click.option("--duration", type=click.FloatRange(0.0), default=None, help="Stop after this many seconds (default: until Ctrl-C).")
@pass_cli
def watch(ctx: CliContext, as_json: bool, debounce: float, duration: float | None) -> None:
    """Keep the search index fresh while files and refs change (plain git, pulls).

    Logs one line per change on stderr; with --json prints
    {"ticket", "commit", "kinds", "added", "deleted"} per changed ticket on stdout.
    Changes are shown as the acting identity's role may see them: a customer_facing
    actor is told nothing of internal messages (no kind, id or count; a change of
    internal messages only is not shown).
    Ctrl-C stops it with exit code 130; SIGTERM and --duration stop it with 0.

    \b
    Example:
      gitstore watch
      gitstore watch --json | my-notifier
    """
    import json
    import signal

    from gitstore_index.watcher import run_watcher

    def report(change) -> None:
        if as_json:
            click.echo(json.dumps(change.report(), sort_keys=True))
        added = sum(len(v) for v in change.added.values())
        kinds = ", ".join(change.kinds) or "no change"
        _notice(f"indexed {change.t_no} at {change.commit[:12]}: {kinds}" + (f", {added} message(s) added" if added else ""))

    stopped_by: list[int] = []

    def stop(signum, _frame) -> None:
        stopped_by.append(signum)
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        run_watcher(ctx.store(), debounce=debounce, duration=duration, on_change=report, on_log=_notice)
    except KeyboardInterrupt:  # a signal between the watcher's own handlers
        pass
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if signal.SIGINT in stopped_by:  # 128 + SIGINT, as a shell reports it; SIGTERM is a clean stop (0)
        click.get_current_context().exit(128 + signal.SIGINT)
