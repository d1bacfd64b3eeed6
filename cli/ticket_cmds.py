"""Ticket commands: ``ticket create|show|list|path``, ``message add``, ``state set``, ``update``."""

from __future__ import annotations

import json
import sys

import click

from gitstore_cli.completion import complete_ticket
from gitstore_cli.output import print_commit, print_json
from gitstore_cli.session import CliContext, pass_cli


@click.group()
def ticket() -> None:
    """Create, show and list tickets.

    \b
    Example:
      gitstore ticket create 1001 --client "Ana Ruiz" --company Acme --priority HIGH
      gitstore ticket show 1001 --json
    """


@ticket.command("create")
@click.argument("t_no")
@click.option("--client", "client_name", required=True, help="Customer's name (client_name).")
@click.option("--company", "company_name", required=True, help="Customer's company (company_name).")
@click.option("--priority", type=click.Choice(["HIGH", "LOW"], case_sensitive=False), default="LOW", show_default=True)
@click.option("--channel", type=click.Choice(["MATTERMOST", "FLOCK"], case_sensitive=False), default="MATTERMOST", show_default=True,
              help="Internal channel: where the technical team talks (I file).")
@click.option("--platform", type=click.Choice(["email", "trello", "web_chat"], case_sensitive=False), default="email", show_default=True,
              help="External platform: where the customer talks (E file).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_cli
def ticket_create(ctx: CliContext, t_no: str, client_name: str, company_name: str, priority: str, channel: str, platform: str,
                  as_json: bool) -> None:
    """Create ticket T_NO (its E, I and T files) in one commit.

    \b
    Example:
      gitstore ticket create 1001 --client "Ana Ruiz" --company Acme --platform web_chat
    """
    store = ctx.store(write=True)
    result = store.create_ticket(
        t_no, client_name=client_name, company_name=company_name, priority=priority,
        channel=channel, platform=platform, actor=ctx.actor(), agent=ctx.agent,
    )
    print_commit(result, as_json)


@ticket.command("show")
@click.argument("t_no", shell_complete=complete_ticket)
@click.option("--at", "at", metavar="REV", help="Commit id or prefix, ref, or date (e.g. '2020-03-29', '3 days ago').")
@click.option("--json", "as_json", is_flag=True, help="Print the complete context as JSON.")
@pass_cli
def ticket_show(ctx: CliContext, t_no: str, at: str | None, as_json: bool) -> None:
    """Show a ticket: state, unified timeline and decision trail (docs/data-model.md#complete-context).

    \b
    Example:
      gitstore ticket show 1001
      gitstore ticket show 1001 --at HEAD~3 --json
    """
    context = ctx.store().context(t_no, at=at).to_json()
    if as_json:
        print_json(context)
        return
    ctx.page()
    state = context["workflow_state"]
    external = context["external_conversation"]
    click.echo(f"ticket {t_no}  (version {context['version'][:12]}, at {context['commit'][:12]})")
    click.echo(f"  client: {state['client_name']} ({state['company_name']})")
    click.echo(
        f"  priority: {state['priority']}  stage: {state['workflow_stage']}"
        f"  resolved: {str(state['resolved']).lower()}  status: {external['conversation_status']}"
    )
    click.echo(f"  assigned: {state['assigned_member'] or '-'}")
    click.echo(f"  customer platform (E): {external['platform']}  internal channel (I): {state['channel'] or '-'}")
    click.echo(f"  last synchronized: {state['last_synchronized']}")
    if context.get("unreadable_internal_items"):
        click.echo(
            f"  {context['unreadable_internal_items']} internal item(s) are encrypted for keys this site does not hold"
            " (gitstore crypt status)"
        )
    click.echo("timeline:")
    for item in context["unified_timeline"]:
        tag = "E" if item["kind"] == "external" else "I"
        text = " ".join(item["content"].split())
        click.echo(f"  {item['timestamp']} [{tag}] {item['sender']}:{item['sender_id']}: {text}")
    if context["decision_trail"]:
        click.echo("decisions:")
        for decision in context["decision_trail"]:
            confirmed = " (confirmed)" if decision["human_confirmed"] else ""
            click.echo(
                f"  {decision['timestamp']} {decision['agent']} {json.dumps(decision['decision'], sort_keys=True)}"
                f" confidence {decision['confidence']}{confirmed}"
            )


@ticket.command("list")
@click.option("--at", "at", metavar="REV", help="List tickets as they were at REV.")
@click.option("--archived", "with_archived", is_flag=True, help="Include archived tickets (left out by default).")
@click.option("--status", type=click.Choice(["active", "resolved", "escalated"], case_sensitive=False), help="conversation_status.")
@click.option("--priority", type=click.Choice(["HIGH", "LOW"], case_sensitive=False), help="Priority.")
@click.option("--assignee", metavar="ID", help="assigned_member, any case.")
@click.option("--stage", metavar="STAGE", help="workflow_stage: one of the store's configured stages (gitstore stage configure).")
@click.option("--company", metavar="NAME", help="company_name, any case.")
@click.option("--since", metavar="DATE", help="Created or with a message at/after DATE (2020-03-01, '7 days ago').")
@click.option("-L", "--limit", type=click.IntRange(min=1), default=30, show_default=True, help="Show at most N tickets.")
@click.option("--all", "show_all", is_flag=True, help="Show every matching ticket (no --limit).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of objects with the table's fields.")
@pass_cli
def ticket_list(ctx: CliContext, at: str | None, with_archived: bool, status, priority, assignee, stage, company, since,
                limit: int, show_all: bool, as_json: bool) -> None:
    """List tickets, most recently updated first (like gh issue list).

    Columns: ID, STATUS, PRIORITY, STAGE, ASSIGNEE, CLIENT (company), UPDATED and the
    first line of the LATEST MESSAGE ([I] marks an internal one). On a terminal: a
    table; in a pipe: tab-separated fields (ticket, status, priority, stage, assignee,
    client, company, updated, latest message), full UTC times, no header. --json:
    objects with the same fields plus latest_kind, latest_time, created, archived.

    \b
    Example:
      gitstore ticket list
      gitstore ticket list --status active --priority high --since "7 days ago"
      gitstore ticket list --stage classifier --all --json
    """
    from gitstore.listing import list_ticket_rows

    store = ctx.store()
    if stage is not None:
        stages = store.workflow().stages
        if stage.lower() not in stages:
            raise click.BadParameter(f"{stage!r} is not a configured stage (configured: {', '.join(stages)})", param_hint="'--stage'")
        stage = stage.lower()
    found = list_ticket_rows(
        store, at=at, status=status, priority=priority, assignee=assignee, stage=stage, company=company,
        since=since, archived=None if with_archived else False, limit=None if show_all else limit,
    )
    if as_json:
        print_json(found.rows)
    else:
        print_ticket_table(ctx, found.rows)
    if found.total > len(found.rows):
        click.echo(f"gitstore: showing {len(found.rows)} of {found.total} tickets (--limit N or --all for more)", err=True)


def print_ticket_table(ctx: CliContext, rows) -> None:
    """Print ``ticket list`` rows: a table on a terminal, tab-separated in a pipe."""
    from gitstore_cli.table import relative_time, render

    tty = _is_terminal()
    if tty:
        ctx.page()
    cells = []
    for row in rows:
        latest = ("[I] " if row.latest_kind == "internal" else "") + row.latest_message
        if row.problem:
            latest = f"(unreadable: {row.problem})"
        if tty:
            client = f"{row.client or '-'} ({row.company})" if row.company else (row.client or "-")
            cells.append([row.ticket, row.status or "?", row.priority or "?", row.stage or "?", row.assignee or "-",
                          client, relative_time(row.updated), latest])
        else:
            cells.append([row.ticket, row.status or "", row.priority or "", row.stage or "", row.assignee or "",
                          row.client or "", row.company or "", row.updated or "", latest])
    header = ["ID", "STATUS", "PRIORITY", "STAGE", "ASSIGNEE", "CLIENT", "UPDATED", "LATEST MESSAGE"]
    lines = render(header, cells, tty=tty, caps={0: 24, 4: 16, 5: 32}, styles={0: {"fg": "green"}, 2: {"bold": True}})
    if tty and not rows:
        lines = ["no tickets match"]
    for line in lines:
        click.echo(line)


def _is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


@ticket.command("path")
@click.argument("t_no", shell_complete=complete_ticket)
@click.option("--json", "as_json", is_flag=True)
def ticket_path(t_no: str, as_json: bool) -> None:
    """Print where a ticket's three files live in the tree.

    \b
    Example:
      gitstore ticket path 1001
    """
    from gitstore.tickets import layout

    paths = layout.ticket_paths(t_no)
    if as_json:
        print_json(paths)
    else:
        for kind in layout.KINDS:
            click.echo(paths[kind])


@click.group()
def message() -> None:
    """Add messages to a ticket's external (E) or internal (I) conversation."""


@message.command("add")
@click.argument("t_no", shell_complete=complete_ticket)
@click.argument("text")
@click.option("--external", is_flag=True, help="Customer-facing conversation (E file).")
@click.option("--internal", is_flag=True, help="Internal conversation (I file).")
@click.option("--sender", required=True, help="Sender role: customer|cs_agent (E), cs_agent|technical_member (I).")
@click.option("--sender-id", required=True, help="Sender's id.")
@click.option("--type", "message_type", type=click.Choice(["assignment", "update", "escalation", "resolution"]),
              help="Internal message type.")
@click.option("--platform", help="Internal platform: flock|mattermost|slack.")
@click.option("--version", "expected_version", metavar="COMMIT", help="Fail if the ticket changed since this version.")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def message_add(ctx: CliContext, t_no: str, text: str, external: bool, internal: bool, sender: str, sender_id: str,
                message_type: str | None, platform: str | None, expected_version: str | None, as_json: bool) -> None:
    """Append a message to ticket T_NO as one commit. TEXT '-' reads standard input.

    \b
    Example:
      gitstore message add 1001 --external --sender customer --sender-id ana "It is still broken"
      echo "DB failover done" | gitstore message add 1001 --internal --sender technical_member --sender-id ops1 --type update -
    """
    if external == internal:
        raise click.UsageError("choose one of --external or --internal" + (", not both" if external else ""))
    kind = "E" if external else "I"
    where = "the message text"
    if text == "-":
        raw = sys.stdin.buffer.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise click.ClickException(f"standard input is not valid UTF-8 (byte {exc.start})") from None
        where = "standard input"
    if not text.strip():
        raise click.BadParameter(f"{where} is {'empty' if not text else 'only white space'}: nothing to add", param_hint="TEXT")
    result = ctx.store(write=True).add_message(
        t_no, kind, sender=sender, sender_id=sender_id, content=text, actor=ctx.actor(),
        agent=ctx.agent, message_type=message_type, platform=platform, expected_version=expected_version,
    )
    print_commit(result, as_json)


_BOOL = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def parse_assignment(text: str) -> tuple[str, object]:
    """Parse ``FIELD=VALUE``: ``resolved`` takes true/false, empty or ``null`` clears."""
    if "=" not in text:
        raise click.BadParameter(f"{text!r} is not FIELD=VALUE")
    key, value = text.split("=", 1)
    key = key.strip()
    if key == "resolved":
        if value.lower() not in _BOOL:
            raise click.BadParameter(f"resolved must be true or false, not {value!r}")
        return key, _BOOL[value.lower()]
    if value in ("", "null"):
        return key, None
    return key, value


@click.group()
def state() -> None:
    """Change a ticket's workflow state (T file)."""


@state.command("set")
@click.argument("t_no", shell_complete=complete_ticket)
@click.argument("assignments", nargs=-1, required=True)
@click.option("--version", "expected_version", metavar="COMMIT", help="Fail if the ticket changed since this version.")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def state_set(ctx: CliContext, t_no: str, assignments: tuple[str, ...], expected_version: str | None, as_json: bool) -> None:
    """Set workflow fields (priority, channel, assigned_member, workflow_stage, resolved, ...).

    \b
    Example:
      gitstore state set 1001 priority=HIGH assigned_member=bob workflow_stage=classifier
      gitstore state set 1001 resolved=true conversation_status=resolved
    """
    fields = dict(parse_assignment(a) for a in assignments)
    result = ctx.store(write=True).set_state(t_no, fields, actor=ctx.actor(), agent=ctx.agent, expected_version=expected_version)
    print_commit(result, as_json)


@click.command("update")
@click.argument("t_no", shell_complete=complete_ticket)
@click.option("--file", "update_file", required=True, type=click.File("rb"), help="JSON update document ('-' for stdin).")
@click.option("--version", "expected_version", metavar="COMMIT", help="Fail if the ticket changed since this version.")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def update(ctx: CliContext, t_no: str, update_file, expected_version: str | None, as_json: bool) -> None:
    """Apply one synchronized update touching any of E/I/T as one commit.

    The file is an update (docs/data-model.md#update-rules): {"E": {...}, "I": {...}, "T": {...}}.
    Lists messages, progress_updates and agent_decisions are appended; other fields set.

    \b
    Example:
      gitstore update 1001 --file update.json
      update.json: {"E": {"messages": [{"sender": "cs_agent", "sender_id": "bob",
                    "content": "On it"}]}, "T": {"assigned_member": "bob"}}
    """
    from gitstore.tickets.jsontext import parse_json

    data = parse_json(update_file.read(), getattr(update_file, "name", "-"))
    result = ctx.store(write=True).update(t_no, data, actor=ctx.actor(), agent=ctx.agent, expected_version=expected_version)
    print_commit(result, as_json)
