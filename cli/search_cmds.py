"""Search commands: ``search``, ``index rebuild|status`` and ``watch``."""

from __future__ import annotations

import click

from gitstore_cli.session import CliContext, pass_cli
from gitstore_cli.output import print_json


def _notice(line: str) -> None:
    click.echo(line, err=True)


@click.command("search")
@click.argument("query")
@click.option("--kind", type=click.Choice(["external", "internal", "workflow"]), help="Only this kind of document.")
@click.option("--ticket", "ticket", metavar="T_NO", help="Only this ticket.")
@click.option("--sender-id", metavar="ID", help="Only messages from this sender id.")
@click.option("--platform", metavar="P", help="Only this platform (email, trello, web_chat, slack, mattermost, flock).")
@click.option("--status", type=click.Choice(["active", "resolved", "escalated"]), help="Only tickets with this conversation status.")
@click.option("--priority", type=click.Choice(["HIGH", "LOW"], case_sensitive=False), help="Only tickets of this priority.")
@click.option("--since", metavar="DATE", help="Only documents at or after DATE (2020-03-01, '3 days ago'; UTC).")
@click.option("--until", metavar="DATE", help="Only documents at or before DATE.")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True, help="Hits to show.")
@click.option("--role", type=click.Choice(["customer_facing", "internal", "admin"]), help="Search as this role (default: store config search.default_role, else admin).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@pass_cli
def search(ctx: CliContext, query: str, kind, ticket, sender_id, platform, status, priority, since, until, limit, role, as_json: bool) -> None:
    """Search every conversation (Whoosh query language; best hits first).

    QUERY: words (stemmed: 'printers' finds 'printer'), AND/OR/NOT, "phrases",
    field:value (ticket, kind, sender, sender_id, platform, message_type, time,
    client_name, company, priority, status, stage, assignee), wildcards (refund*),
    fuzzy (refnud~). A customer_facing role never sees internal messages.

    \b
    Example:
      gitstore search "refund AND order"
      gitstore search 'printer NOT "paper jam"' --kind external --since 2020-03-01
      gitstore search "deploy*" --role customer_facing --json
    """
    from gitstore_index.search import search as run

    results = run(
        ctx.store(), query, kind=kind, ticket=ticket, sender_id=sender_id, platform=platform, status=status,
        priority=priority, since=since, until=until, limit=limit, role=role, report=_notice,
    )
    if as_json:
        print_json(results)
        return
    click.echo(f"{results.total} matching ({', '.join(f'{k} {n}' for k, n in results.facets.get('kind', {}).items()) or 'none'}); role {results.role}")
    for t_no, hits in results.by_ticket():
        click.echo(f"ticket {t_no}")
        for hit in hits:
            who = f"{hit.sender}:{hit.sender_id}" if hit.sender else "state"
            click.echo(f"  {hit.rank:>3}. [{hit.kind}] {hit.time or '-'} {who}: {hit.snippet}")


@click.group("index")
def index_() -> None:
    """Manage the search index (.git/gitstore/index/, never committed).

    \b
    Example:
      gitstore index status
      gitstore index rebuild
    """


@index_.command("rebuild")
@click.option("--json", "as_json", is_flag=True, help="Print the new status as JSON.")
@pass_cli
def index_rebuild(ctx: CliContext, as_json: bool) -> None:
    """Rebuild the search index from HEAD (progress bar on a terminal).

    \b
    Example:
      gitstore index rebuild
    """
    from gitstore_index.store_index import rebuild_index

    status = rebuild_index(ctx.store(), progress=not as_json, report=_notice)
    if as_json:
        print_json(status)
    else:
        click.echo(f"indexed {status.documents} documents at {status.commit[:12]} ({status.size_bytes} bytes)")


@index_.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_cli
def index_status(ctx: CliContext, as_json: bool) -> None:
    """Show the indexed commit, HEAD, document count and size of the search index.

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
    click.echo(f"documents:      {status.documents}")
    click.echo(f"size:           {status.size_bytes} bytes in {status.segments} segment(s)")
    click.echo(f"schema version: {status.schema_version}")


@click.command("watch")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line per changed ticket on stdout.")
@click.option("--debounce", type=click.FloatRange(0.0, 60.0), default=0.1, show_default=True, help="Seconds of quiet before a ticket is reindexed.")
@click.option("--duration", type=click.FloatRange(0.0), default=None, help="Stop after this many seconds (default: until Ctrl-C).")
@pass_cli
def watch(ctx: CliContext, as_json: bool, debounce: float, duration: float | None) -> None:
    """Keep the search index fresh while files and refs change (plain git, pulls).

    Logs one line per change on stderr; with --json prints
    {"ticket", "commit", "kinds", "added", "deleted"} per changed ticket on stdout.

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
        _notice(f"indexed {change.t_no} at {change.commit[:12]}: {', '.join(change.kinds) or 'no change'}" + (f", {added} message(s) added" if added else ""))

    def stop(*_args) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        run_watcher(ctx.store(), debounce=debounce, duration=duration, on_change=report, on_log=_notice)
    finally:
        signal.signal(signal.SIGTERM, previous)
