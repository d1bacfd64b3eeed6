"""Ticket commands: ``ticket create|show|list|path``, ``message add``, ``state set``, ``update``."""

from __future__ import annotations

import json
import sys

import click

from gitstore_cli.session import CliContext, pass_cli
from gitstore_cli.output import print_commit, print_json


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
@click.option("--priority", type=click.Choice(["HIGH", "LOW"]), default="LOW", show_default=True)
@click.option("--channel", type=click.Choice(["MATTERMOST", "FLOCK"]), default="MATTERMOST", show_default=True, help="Internal channel.")
@click.option("--platform", type=click.Choice(["email", "trello", "web_chat"]), default="email", show_default=True, help="External platform.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_cli
def ticket_create(ctx: CliContext, t_no: str, client_name: str, company_name: str, priority: str, channel: str, platform: str, as_json: bool) -> None:
    """Create ticket T_NO (its E, I and T files) in one commit.

    \b
    Example:
      gitstore ticket create 1001 --client "Ana Ruiz" --company Acme --platform web_chat
    """
    store = ctx.store()
    result = store.create_ticket(
        t_no, client_name=client_name, company_name=company_name, priority=priority,
        channel=channel, platform=platform, actor=ctx.actor(), agent=ctx.agent,
    )
    print_commit(result, as_json)


@ticket.command("show")
@click.argument("t_no")
@click.option("--at", "at", metavar="REV", help="Commit id or prefix, ref, or date (e.g. '2020-03-29', '3 days ago').")
@click.option("--json", "as_json", is_flag=True, help="Print the complete context as JSON.")
@pass_cli
def ticket_show(ctx: CliContext, t_no: str, at: str | None, as_json: bool) -> None:
    """Show a ticket: state, unified timeline and decision trail (seed 000 §3.3.1).

    \b
    Example:
      gitstore ticket show 1001
      gitstore ticket show 1001 --at HEAD~3 --json
    """
    context = ctx.store().context(t_no, at=at)
    if as_json:
        print_json(context)
        return
    state = context["workflow_state"]
    external = context["external_conversation"]
    click.echo(f"ticket {t_no}  (version {context['version'][:12]}, at {context['commit'][:12]})")
    click.echo(f"  client: {state['client_name']} ({state['company_name']})")
    click.echo(
        f"  priority: {state['priority']}  channel: {state['channel']}  stage: {state['workflow_stage']}"
        f"  resolved: {str(state['resolved']).lower()}  status: {external['conversation_status']}"
    )
    click.echo(f"  assigned: {state['assigned_member'] or '-'}  platform: {external['platform']}")
    click.echo(f"  last synchronized: {state['last_synchronized']}")
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
@click.option("--status", type=click.Choice(["active", "resolved", "escalated"]), help="Conversation status (from the search index).")
@click.option("--priority", type=click.Choice(["HIGH", "LOW"], case_sensitive=False), help="Priority (from the search index).")
@click.option("--assignee", metavar="ID", help="assigned_member (from the search index).")
@click.option("--stage", type=click.Choice(["trigger", "classifier", "selection", "action", "end"]), help="workflow_stage (from the search index).")
@click.option("--company", metavar="NAME", help="company_name, any case (from the search index).")
@click.option("--since", metavar="DATE", help="Created or with a message at/after DATE (from the search index).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of T_NOs.")
@pass_cli
def ticket_list(ctx: CliContext, at: str | None, with_archived: bool, status, priority, assignee, stage, company, since, as_json: bool) -> None:
    """List ticket numbers; filters are answered from the search index (HEAD).

    \b
    Example:
      gitstore ticket list --json
      gitstore ticket list --status active --priority HIGH --since "7 days ago"
    """
    filters = dict(status=status, priority=priority, assignee=assignee, stage=stage, company=company, since=since)
    if any(filters.values()):
        if at:
            raise click.UsageError("filters answer from the search index at HEAD; they cannot be combined with --at")
        from gitstore_index.tickets import find_tickets

        tickets = find_tickets(ctx.store(), archived=None if with_archived else False, report=lambda line: click.echo(line, err=True), **filters)
    else:
        tickets = ctx.store().list_tickets(at=at, archived=None if with_archived else False)
    if as_json:
        print_json(tickets)
    else:
        for t_no in tickets:
            click.echo(t_no)


@ticket.command("path")
@click.argument("t_no")
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
@click.argument("t_no")
@click.argument("text")
@click.option("--external", "kind", flag_value="E", help="Customer-facing conversation (E file).")
@click.option("--internal", "kind", flag_value="I", help="Internal conversation (I file).")
@click.option("--sender", required=True, help="Sender role: customer|cs_agent (E), cs_agent|technical_member (I).")
@click.option("--sender-id", required=True, help="Sender's id.")
@click.option("--type", "message_type", type=click.Choice(["assignment", "update", "escalation", "resolution"]), help="Internal message type.")
@click.option("--platform", help="Internal platform: flock|mattermost|slack.")
@click.option("--version", "expected_version", metavar="COMMIT", help="Fail if the ticket changed since this version.")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def message_add(ctx: CliContext, t_no: str, text: str, kind: str | None, sender: str, sender_id: str, message_type: str | None, platform: str | None, expected_version: str | None, as_json: bool) -> None:
    """Append a message to ticket T_NO as one commit. TEXT '-' reads standard input.

    \b
    Example:
      gitstore message add 1001 --external --sender customer --sender-id ana "It is still broken"
      echo "DB failover done" | gitstore message add 1001 --internal --sender technical_member --sender-id ops1 --type update -
    """
    if kind is None:
        raise click.UsageError("choose --external or --internal")
    if text == "-":
        raw = sys.stdin.buffer.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise click.ClickException(f"standard input is not valid UTF-8 (byte {exc.start})") from None
    result = ctx.store().add_message(
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
@click.argument("t_no")
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
    result = ctx.store().set_state(t_no, fields, actor=ctx.actor(), agent=ctx.agent, expected_version=expected_version)
    print_commit(result, as_json)


@click.command("update")
@click.argument("t_no")
@click.option("--file", "update_file", required=True, type=click.File("rb"), help="JSON update document ('-' for stdin).")
@click.option("--version", "expected_version", metavar="COMMIT", help="Fail if the ticket changed since this version.")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def update(ctx: CliContext, t_no: str, update_file, expected_version: str | None, as_json: bool) -> None:
    """Apply one synchronized update touching any of E/I/T as one commit.

    The file is seed 000 §3.2.1's update_data: {"E": {...}, "I": {...}, "T": {...}}.
    Lists messages, progress_updates and agent_decisions are appended; other fields set.

    \b
    Example:
      gitstore update 1001 --file update.json
      update.json: {"E": {"messages": [{"sender": "cs_agent", "sender_id": "bob",
                    "content": "On it"}]}, "T": {"assigned_member": "bob"}}
    """
    from gitstore.errors import ValidationError

    raw = update_file.read()
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{update_file.name}: invalid UTF-8 at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{update_file.name}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    result = ctx.store().update(t_no, data, actor=ctx.actor(), agent=ctx.agent, expected_version=expected_version)
    print_commit(result, as_json)
