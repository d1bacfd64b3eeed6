"""History commands: ``history``, ``diff``, ``rollback``, ``log``, ``blame``,
``archive``, ``unarchive``, ``gc``. Each parses, makes one API call, prints."""

from __future__ import annotations

import json
import sys

import click

from gitstore_cli.completion import complete_ticket
from gitstore_cli.output import print_commit, print_json, to_jsonable
from gitstore_cli.session import CliContext, pass_cli


def _short_time(value) -> str:
    from gitstore.timeutil import format_utc

    return format_utc(value)


@click.command("history")
@click.argument("t_no", shell_complete=complete_ticket)
@click.option("--limit", type=int, metavar="N", help="Show at most N commits.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_cli
def history(ctx: CliContext, t_no: str, limit: int | None, as_json: bool) -> None:
    """List the commits that changed ticket T_NO, newest first.

    Each line: commit, time of the update (UTC), actor, agent, which of the E/I/T
    files changed, summary.

    \b
    Example:
      gitstore history 1001
      gitstore history TW-1234 --limit 5 --json
    """
    from gitstore.history.log import ticket_history

    if limit is not None and limit >= 2**63:
        limit = None  # beyond any count SQLite can hold: every commit
    entries = ticket_history(ctx.store(), t_no, limit)
    if as_json:
        print_json(entries)
        return
    ctx.page()
    for e in entries:
        agent = f" agent={e.agent}" if e.agent else ""
        gone = " [ticket deleted]" if not e.exists else ""
        click.echo(f"{e.commit[:12]} {_short_time(e.time)} {''.join(e.kinds):3} {e.actor}{agent}: {e.summary}{gone}")


def _item_line(change) -> str:
    sign = {"added": "+", "removed": "-", "changed": "~"}[change.change]
    d = change.detail
    if change.item == "message":
        text = " ".join(str(d.get("content", "")).split())
        return f"{sign} {change.file} message {change.key} {d.get('sender')}:{d.get('sender_id')} {d.get('timestamp')}: {text}"
    if change.item == "progress_update":
        return f"{sign} I progress {change.key} {d.get('updater')} {d.get('status')} {d.get('timestamp')}: {d.get('notes', '')}"
    return (
        f"{sign} T decision {change.key} {d.get('agent')} {d.get('timestamp')}: "
        f"{json.dumps(d.get('decision'), sort_keys=True)} confidence {d.get('confidence')}"
    )


@click.command("diff")
@click.argument("t_no", shell_complete=complete_ticket)
@click.argument("rev_a", required=False)
@click.argument("rev_b", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON.")
@pass_cli
def diff(ctx: CliContext, t_no: str, rev_a: str | None, rev_b: str | None, as_json: bool) -> None:
    """Show what changed in ticket T_NO, in ticket terms (not a text diff).

    Without REV_A: what the ticket's last change did. REV_A alone: from REV_A to HEAD.
    A REV is a commit id or unique prefix, a ref, or a date (the ticket as it was then).

    \b
    Example:
      gitstore diff 1001
      gitstore diff 1001 HEAD~5
      gitstore diff TW-1234 2020-03-29T10:00Z 2020-03-30 --json
    """
    from gitstore.history.diff import ticket_diff

    result = ticket_diff(ctx.store(), t_no, rev_a, rev_b)
    if as_json:
        print_json(result)
        return
    ctx.page()
    start = result.old_commit[:12] if result.old_commit else "(none)"
    click.echo(f"ticket {t_no}: {start} -> {result.new_commit[:12]}  ({result.old_time or '-'} -> {result.new_time})")
    if result.created:
        click.echo("  created")
    for change in result.items:
        click.echo("  " + _item_line(change))
    for f in result.fields:
        click.echo(f"  {f.file}.{f.field}: {json.dumps(f.old, ensure_ascii=False)} -> {json.dumps(f.new, ensure_ascii=False)}")
    if result.empty:
        click.echo("  no change")


@click.command("rollback")
@click.argument("t_no", shell_complete=complete_ticket)
@click.option("--to", "to", required=True, metavar="REV", help="Commit id or prefix, ref, or date to restore.")
@click.option("--reason", metavar="TEXT", help="Why (recorded as a Reason: trailer).")
@click.option("--json", "as_json", is_flag=True, help="Print the new commit as JSON.")
@pass_cli
def rollback(ctx: CliContext, t_no: str, to: str, reason: str | None, as_json: bool) -> None:
    """Restore ticket T_NO's three files to their content at REV, as ONE new commit.

    History is never rewritten; the commit carries a Rollback-To: trailer, and can
    itself be rolled back.

    \b
    Example:
      gitstore rollback 1001 --to 3f2a9c1 --reason "agent misclassified the ticket"
      gitstore rollback 1001 --to "2 hours ago"
    """
    from gitstore.history.rollback import rollback as do_rollback

    result = do_rollback(ctx.store(write=True), t_no, to, actor=ctx.actor(), agent=ctx.agent, reason=reason)
    print_commit(result, as_json)


@click.command("log")
@click.option("--ticket", "ticket", metavar="T_NO", shell_complete=complete_ticket, help="Only commits that changed this ticket.")
@click.option("--actor", "actor", metavar="ID", help="Only commits by this actor.")
@click.option("--agent", "agent", metavar="NAME", help="Only commits by this automated agent.")
@click.option("--since", metavar="DATE", help="Updates at or after DATE (e.g. 2026-11-01, '3 days ago').")
@click.option("--until", metavar="DATE", help="Updates at or before DATE.")
@click.option("-n", "--limit", type=click.IntRange(min=1), metavar="N", help="Show at most N commits.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array (streamed), like every --json.")
@click.option("--json-lines", "as_lines", is_flag=True, help="Print one JSON object per line (JSON Lines), for line tools.")
@pass_cli
def log(ctx: CliContext, ticket: str | None, actor: str | None, agent: str | None, since: str | None, until: str | None,
        limit: int | None, as_json: bool, as_lines: bool) -> None:
    """Audit log of the whole store, newest first, from the commit trailers.

    Streams: memory stays constant however many commits match, with --json (one
    array, written as it goes) and --json-lines alike.

    \b
    Example:
      gitstore log --since "7 days ago"
      gitstore log --ticket 1001 --actor alice -n 20 --json
      gitstore log --agent classifier --since 2026-11-01 --json-lines | jq .commit
    """
    import itertools

    from gitstore.history.audit import audit_log

    if as_json and as_lines:
        raise click.UsageError("choose --json or --json-lines, not both")
    entries = audit_log(ctx.store(), ticket=ticket, actor=actor, agent=agent, since=since, until=until)
    if limit is not None and limit <= sys.maxsize:  # beyond it: more than any store holds, every commit
        entries = itertools.islice(entries, limit)
    if as_json:
        first = True
        click.echo("[", nl=False)
        for entry in entries:
            text = json.dumps(to_jsonable(entry), ensure_ascii=False, indent=2).replace("\n", "\n  ")
            click.echo(("\n  " if first else ",\n  ") + text, nl=False)
            first = False
        click.echo("]" if first else "\n]")
        return
    if not as_lines:
        ctx.page()
    for entry in entries:
        if as_lines:
            click.echo(json.dumps(to_jsonable(entry), ensure_ascii=False))
            continue
        agent_text = f" agent={entry.agent}" if entry.agent else ""
        tickets = ",".join(entry.tickets) or "-"
        click.echo(f"{entry.commit[:12]} {_short_time(entry.time)} {entry.actor}{agent_text} [{tickets}] {entry.summary}")


@click.command("blame")
@click.argument("t_no", shell_complete=complete_ticket)
@click.option("--external", "kind", flag_value="E", help="Messages of the external conversation (E file).")
@click.option("--internal", "kind", flag_value="I", help="Messages and progress updates of the internal conversation (I file).")
@click.option("--workflow", "kind", flag_value="T", help="Workflow fields and agent decisions (T file).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_cli
def blame(ctx: CliContext, t_no: str, kind: str | None, as_json: bool) -> None:
    """For each message (or field), the commit, time and actor that added (set) it.

    Agrees with plain 'git blame' on the file.

    \b
    Example:
      gitstore blame 1001 --external
      gitstore blame 1001 --workflow --json
    """
    from gitstore.history.blame import blame as do_blame

    if kind is None:
        raise click.UsageError("choose --external, --internal or --workflow")
    lines = do_blame(ctx.store(), t_no, kind)
    if as_json:
        print_json(lines)
        return
    ctx.page()
    for line in lines:
        head = f"{line.commit[:12]} {_short_time(line.time)} {line.actor}"
        if line.item == "field":
            click.echo(f"{head}  {line.key} = {json.dumps(line.detail['value'], ensure_ascii=False)}")
        elif line.item == "message":
            text = " ".join(str(line.detail.get("content", "")).split())
            click.echo(f"{head}  {line.key} {line.detail.get('sender')}:{line.detail.get('sender_id')}: {text}")
        else:
            click.echo(f"{head}  {line.item} {line.key}")


@click.command("archive")
@click.argument("t_no", shell_complete=complete_ticket)
@click.option("--reason", metavar="TEXT", help="Why (recorded as a Reason: trailer).")
@click.option("--json", "as_json", is_flag=True, help="Print the new commit as JSON.")
@pass_cli
def archive(ctx: CliContext, t_no: str, reason: str | None, as_json: bool) -> None:
    """Archive ticket T_NO: read-only and left out of 'ticket list' (one commit).

    \b
    Example:
      gitstore archive 1001 --reason "resolved, no activity for 90 days"
      gitstore ticket list --archived
    """
    from gitstore.tickets.archive import archive as do_archive

    print_commit(do_archive(ctx.store(write=True), t_no, actor=ctx.actor(), agent=ctx.agent, reason=reason), as_json)


@click.command("unarchive")
@click.argument("t_no", shell_complete=complete_ticket)
@click.option("--reason", metavar="TEXT", help="Why (recorded as a Reason: trailer).")
@click.option("--json", "as_json", is_flag=True, help="Print the new commit as JSON.")
@pass_cli
def unarchive(ctx: CliContext, t_no: str, reason: str | None, as_json: bool) -> None:
    """Unarchive ticket T_NO: writable and listed again (one commit).

    \b
    Example:
      gitstore unarchive 1001
    """
    from gitstore.tickets.archive import unarchive as do_unarchive

    print_commit(do_unarchive(ctx.store(write=True), t_no, actor=ctx.actor(), agent=ctx.agent, reason=reason), as_json)


@click.command("gc")
@click.option("--rebuild-history", is_flag=True, help="Rebuild the per-ticket history log from all commits.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_cli
def gc(ctx: CliContext, rebuild_history: bool, as_json: bool) -> None:
    """Pack objects and refresh the history acceleration. Refuses while a writer runs.

    \b
    Example:
      gitstore gc
      gitstore gc --rebuild-history --json
    """
    from gitstore.maintenance import gc as do_gc

    result = do_gc(ctx.store(), rebuild_history=rebuild_history)
    if as_json:
        print_json(result)
        return
    click.echo(
        f"packed: {result.loose_objects_before} loose objects -> {result.loose_objects_after}, "
        f"{result.packs_after} pack(s), {result.size_after_bytes} bytes; commit-graph with changed paths written; "
        f"history log: {result.history_commits} commits (caught up {result.history_added})"
    )
