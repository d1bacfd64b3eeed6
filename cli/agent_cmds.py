"""Agent commands: ``context``, ``decision record|confirm``, ``stage set|show|configure``,
``turn start|complete|show``, ``role set|show``."""

from __future__ import annotations

import dataclasses

import click

from gitstore_cli.completion import complete_ticket
from gitstore_cli.output import print_commit, print_json
from gitstore_cli.session import CliContext, pass_cli


def _json_object(text: str, what: str) -> dict:
    from gitstore.errors import ValidationError
    from gitstore.tickets.jsontext import parse_json

    value = parse_json(text, f"{what} is not valid JSON")
    if not isinstance(value, dict):
        raise ValidationError(f"{what} must be a JSON object, e.g. '{{\"priority\": \"HIGH\"}}'")
    return value


def _print_context(context, as_json: bool, canonical: bool) -> None:
    if canonical:
        click.echo(context.canonical_bytes().decode("utf-8"), nl=False)
        return
    if as_json:
        print_json(context)
        return
    budget = f"{context.max_tokens} (reserve {context.reserve_tokens})" if context.max_tokens else "none"
    click.echo(
        f"context for agent {context.agent} ({context.role}) on ticket {context.t_no} at {context.commit}\n"
        f"strategy {context.strategy}, {context.tokens} tokens ({context.tokenizer}), budget {budget}, "
        f"{len(context.omitted)} omitted, sha256 {context.sha256}"
    )
    for message in context.messages:
        click.echo(f"--- {message['role']}")
        click.echo(message["content"])


@click.command("context")
@click.argument("t_no", shell_complete=complete_ticket)
@click.option("--agent", "agent", metavar="ID", help="The agent whose view to build (default: the global --agent).")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Token budget, response reserve included.")
@click.option("--reserve", "reserve_tokens", type=click.IntRange(min=0), help="Tokens kept for the response (default min(500, budget/4)).")
@click.option("--strategy", type=click.Choice(["recent", "important", "summarized"]), default="recent", show_default=True)
@click.option("--at", "at", metavar="REV", help="Build the context as of this revision.")
@click.option("--trigger", metavar="MESSAGE_ID", help="The triggering message (default: the newest not written by the agent).")
@click.option("--decision", "decision_id", metavar="DECISION_ID", help="Rebuild the context the agent was given for this decision.")
@click.option("--canonical", is_flag=True, help="Print the context's canonical bytes (what sha256 is taken of).")
@click.option("--json", "as_json", is_flag=True, help="Print the context and how it was built as JSON.")
@pass_cli
def context(ctx: CliContext, t_no: str, agent: str | None, max_tokens: int | None, reserve_tokens: int | None,
            strategy: str, at: str | None, trigger: str | None, decision_id: str | None, canonical: bool,
            as_json: bool) -> None:
    """Build the messages agent ID should see for ticket T_NO (LLM API format).

    Own messages are 'assistant', the customer's 'user', everyone else's 'system' with
    attribution; messages since the agent's last processed version come under
    "MESSAGES WHILE YOU WERE AWAY"; the triggering message is last. A customer-facing
    agent never sees internal messages. With --decision, rebuilds byte for byte the
    context the agent was given when it made that decision.

    \b
    Example:
      gitstore context 1001 --agent classifier --max-tokens 4000 --json
      gitstore context 1001 --agent classifier --decision dec_1a2b3c --canonical | sha256sum
    """
    if decision_id is not None:
        if max_tokens or reserve_tokens is not None or at or trigger or strategy != "recent":
            raise click.UsageError("--decision rebuilds with the recorded settings: drop --max-tokens/--reserve/--strategy/--at/--trigger")
        from gitstore.agents import decision_context

        result = decision_context(ctx.store(), t_no, decision_id, agent=agent or ctx.agent)
    else:
        agent = agent or ctx.agent
        if not agent:
            raise click.UsageError("name the agent: --agent ID")
        from gitstore.agents import build_context

        result = build_context(ctx.store(), t_no, agent, max_tokens=max_tokens, strategy=strategy, at=at,
                               trigger=trigger, reserve_tokens=reserve_tokens)
    _print_context(result, as_json, canonical)


@click.group()
def decision() -> None:
    """Record agent decisions and confirm them (T file agent_decisions).

    \b
    Example:
      gitstore decision record 1001 --agent classifier --decision '{"priority": "HIGH"}' --confidence 0.92 --seen 3f2a…
      gitstore decision confirm 1001 dec_1a2b3c
    """


@decision.command("record")
@click.argument("t_no", shell_complete=complete_ticket)
@click.option("--agent", "agent", required=True, metavar="ID", help="The deciding agent.")
@click.option("--decision", "decision_json", required=True, metavar="JSON", help="The decision, a JSON object.")
@click.option("--confidence", required=True, type=float, help="Confidence in [0, 1].")
@click.option("--seen", required=True, metavar="COMMIT", help="The commit the agent's context was built from (context --json: commit).")
@click.option("--max-tokens", type=click.IntRange(min=1), help="The budget the context was built with.")
@click.option("--reserve", "reserve_tokens", type=click.IntRange(min=0), help="The response reserve the context was built with.")
@click.option("--strategy", type=click.Choice(["recent", "important", "summarized"]), default="recent", show_default=True)
@click.option("--trigger", metavar="MESSAGE_ID", help="The triggering message the context was built with.")
@click.option("--reply-external", metavar="TEXT", help="The agent's reply to the customer (E file), same commit.")
@click.option("--reply-internal", metavar="TEXT", help="The agent's internal note (I file), same commit.")
@click.option("--session", "session_id", metavar="ID", help="The agent's session id, kept in its view state.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_cli
def decision_record(ctx: CliContext, t_no: str, agent: str, decision_json: str, confidence: float, seen: str,
                    max_tokens: int | None, reserve_tokens: int | None, strategy: str, trigger: str | None,
                    reply_external: str | None, reply_internal: str | None, session_id: str | None,
                    as_json: bool) -> None:
    """Record agent ID's decision on T_NO as one commit (Agent: and Decision: trailers).

    Pass the same --max-tokens/--strategy/--trigger the context was built with, so
    'gitstore context --decision' can rebuild it. If the ticket changed after --seen the
    decision is still recorded, and the messages the agent missed are listed.

    \b
    Example:
      gitstore decision record 1001 --agent classifier --seen 3f2a9c… --max-tokens 4000 \\
          --decision '{"priority": "HIGH"}' --confidence 0.92 --reply-internal "Looks like a P1"
    """
    if reply_external is not None and reply_internal is not None:
        raise click.UsageError("give --reply-external or --reply-internal, not both")
    from gitstore.agents import record_decision

    value = _json_object(decision_json, "--decision")
    response = reply_external if reply_external is not None else reply_internal
    result = record_decision(
        ctx.store(write=True), t_no, agent, value, confidence, seen=seen, response=response,
        response_kind="I" if reply_internal is not None else "E", max_tokens=max_tokens, strategy=strategy,
        reserve_tokens=reserve_tokens, trigger=trigger, session_id=session_id, actor=ctx.actor_option or agent,
    )
    if as_json:
        print_json(result)
        return
    click.echo(f"[{result.commit[:12]}] ticket {t_no}: decision {result.decision_id} by {agent} (saw {result.context_commit[:12]})")
    for missed in result.missed:
        click.echo(f"missed {missed['kind']} message {missed['message_id']} from {missed['sender_id']} at {missed['timestamp']}")


@decision.command("confirm")
@click.argument("t_no", shell_complete=complete_ticket)
@click.argument("decision_id")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_cli
def decision_confirm(ctx: CliContext, t_no: str, decision_id: str, as_json: bool) -> None:
    """Mark decision DECISION_ID of T_NO as confirmed by a human (one commit).

    \b
    Example:
      gitstore --actor lead decision confirm 1001 dec_1a2b3c
    """
    from gitstore.agents import confirm_decision

    result = confirm_decision(ctx.store(write=True), t_no, decision_id, actor=ctx.actor(), agent=ctx.agent)
    print_commit(result, as_json)


@click.group()
def stage() -> None:
    """Move tickets through the configured workflow stages.

    \b
    Example:
      gitstore stage set 1001 classifier --reason "new ticket"
      gitstore stage show 1001
    """


@stage.command("set")
@click.argument("t_no", shell_complete=complete_ticket)
@click.argument("stage_name", metavar="STAGE")
@click.option("--reason", required=True, help="Why the ticket moves (kept in phase_transitions).")
@click.option("--summary", help="State summary for the hand-off.")
@click.option("--version", "expected_version", metavar="COMMIT", help="Fail if the ticket changed since this version.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_cli
def stage_set(ctx: CliContext, t_no: str, stage_name: str, reason: str, summary: str | None,
              expected_version: str | None, as_json: bool) -> None:
    """Move T_NO to STAGE if the workflow allows it; refused with the allowed stages listed.

    \b
    Example:
      gitstore --agent orchestrator stage set 1001 selection --reason "classified HIGH" --summary "printer outage"
    """
    from gitstore.agents import set_stage

    result = set_stage(ctx.store(write=True), t_no, stage_name, reason=reason, summary=summary, actor=ctx.actor(),
                       agent=ctx.agent, expected_version=expected_version)
    print_commit(result, as_json)


@stage.command("show")
@click.argument("t_no", shell_complete=complete_ticket)
@click.option("--at", "at", metavar="REV", help="As of this revision.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_cli
def stage_show(ctx: CliContext, t_no: str, at: str | None, as_json: bool) -> None:
    """Show T_NO's stage, the stages it may move to, and its transition history.

    \b
    Example:
      gitstore stage show 1001 --json
    """
    from gitstore.agents.workflow import stage_info

    info = stage_info(ctx.store(), t_no, at=at)
    if as_json:
        print_json(dataclasses.asdict(info))
        return
    click.echo(f"ticket {t_no}: stage {info.stage}; may move to: {', '.join(info.allowed) or 'nothing'}")
    for t in info.phase_transitions:
        who = f"{t['actor']}" + (f" ({t['agent']})" if t["agent"] else "")
        click.echo(f"  {t['timestamp']} {t['from']} -> {t['to']} by {who}: {t['reason']}")


@stage.command("configure")
@click.option("--preset", type=click.Choice(["seed000", "tenex"]), help="A built-in workflow.")
@click.option("--file", "config_file", type=click.File("rb"), help="A JSON workflow section: stages, initial, transitions.")
@click.option("--json", "as_json", is_flag=True, help="Print the commit as JSON.")
@pass_cli
def stage_configure(ctx: CliContext, preset: str | None, config_file, as_json: bool) -> None:
    """Commit the store's workflow (stages and allowed transitions).

    \b
    Example:
      gitstore stage configure --preset tenex
      gitstore stage configure --file workflow.json
    """
    if (preset is None) == (config_file is None):
        raise click.UsageError("give --preset or --file")
    from gitstore.agents import configure_workflow

    value = preset if preset else _json_object(config_file.read().decode("utf-8", "replace"), config_file.name)
    commit = configure_workflow(ctx.store(write=True), value, actor=ctx.actor())
    if as_json:
        print_json({"commit": commit})
    else:
        click.echo(f"[{commit[:12]}] workflow configured")


@click.group()
def turn() -> None:
    """Orchestrator turns: route a ticket to agents and track their completions.

    \b
    Example:
      gitstore turn start 1001 --agents selector,updates --reason "classified: pick an action"
      gitstore turn complete 1001 turn_9f1c --agent selector --summary "chose reset"
      gitstore turn show 1001 --json
    """


@turn.command("start")
@click.argument("t_no", shell_complete=complete_ticket)
@click.option("--agents", required=True, metavar="ID,ID", help="Comma-separated agents to route to.")
@click.option("--reason", required=True, help="Why the orchestrator routes there.")
@click.option("--json", "as_json", is_flag=True, help="Print the turn id and commit as JSON.")
@pass_cli
def turn_start(ctx: CliContext, t_no: str, agents: str, reason: str, as_json: bool) -> None:
    """Open a turn routing T_NO to the given agents (one commit).

    \b
    Example:
      gitstore --actor orchestrator turn start 1001 --agents selector,updates --reason "classified"
    """
    from gitstore.agents import start_turn

    names = [a.strip() for a in agents.split(",") if a.strip()]
    turn_id, result = start_turn(ctx.store(write=True), t_no, names, reason, actor=ctx.actor(), agent=ctx.agent or "orchestrator")
    if as_json:
        print_json({"turn_id": turn_id, "commit": result.commit})
    else:
        click.echo(f"[{result.commit[:12]}] ticket {t_no}: turn {turn_id} routes to {', '.join(names)}")


@turn.command("complete")
@click.argument("t_no", shell_complete=complete_ticket)
@click.argument("turn_id")
@click.option("--agent", "agent", required=True, metavar="ID", help="The agent that completed its part.")
@click.option("--summary", required=True, help="What the agent did.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_cli
def turn_complete(ctx: CliContext, t_no: str, turn_id: str, agent: str, summary: str, as_json: bool) -> None:
    """Record AGENT's completion of TURN_ID; the turn completes when all routed agents have.

    \b
    Example:
      gitstore turn complete 1001 turn_9f1c2a --agent selector --summary "chose a password reset"
    """
    from gitstore.agents import complete

    result = complete(ctx.store(write=True), t_no, turn_id, agent, summary, actor=ctx.actor_option or agent)
    print_commit(result, as_json)


@turn.command("show")
@click.argument("t_no", shell_complete=complete_ticket)
@click.option("--at", "at", metavar="REV", help="As of this revision.")
@click.option("--json", "as_json", is_flag=True, help="Print the routing context as JSON.")
@pass_cli
def turn_show(ctx: CliContext, t_no: str, at: str | None, as_json: bool) -> None:
    """Show the orchestrator's routing context: user request, history, current turn, loops.

    \b
    Example:
      gitstore turn show 1001 --json
    """
    from gitstore.agents import routing_context

    info = routing_context(ctx.store(), t_no, at=at)
    if as_json:
        print_json(info.to_json())
        return
    click.echo(f"user request: {info.user_request or '-'}")
    for entry in info.routing_history:
        click.echo(f"  done {entry['turn_id']} -> {', '.join(entry['agents'])}: {entry['reason']}")
    current = info.current_routing
    if current:
        done = ", ".join(c["agent"] for c in current["completions"]) or "none yet"
        click.echo(f"  open {current['turn_id']} -> {', '.join(current['agents'])} (completed: {done})")
    loop = info.routing_loop
    if loop.detected:
        click.echo(f"routing loop: {', '.join(loop.agents or [])} routed {loop.count} times in a row without a new customer message")


@click.group()
def role() -> None:
    """Roles of actors and agents (customer_facing, internal, admin; docs/data-model.md#roles).

    \b
    Example:
      gitstore role set bob customer_facing
      gitstore role set triage-bot internal --agent
      gitstore role show --json
    """


@role.command("set")
@click.argument("name")
@click.argument("role_name", metavar="ROLE", type=click.Choice(["customer_facing", "internal", "admin"]))
@click.option("--agent", "is_agent", is_flag=True, help="NAME is an agent: register it with this role.")
@click.option("--json", "as_json", is_flag=True, help="Print the commit as JSON.")
@pass_cli
def role_set(ctx: CliContext, name: str, role_name: str, is_agent: bool, as_json: bool) -> None:
    """Give actor (or agent) NAME a role, committed to the store configuration.

    \b
    Example:
      gitstore --actor lead role set bob customer_facing
    """
    from gitstore.agents import set_role

    commit = set_role(ctx.store(write=True), name, role_name, actor=ctx.actor(), agent=is_agent)
    if as_json:
        print_json({"commit": commit})
    else:
        click.echo(f"[{commit[:12]}] {'agent' if is_agent else 'actor'} {name} has role {role_name}")


@role.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_cli
def role_show(ctx: CliContext, as_json: bool) -> None:
    """Show configured actor roles and agents.

    \b
    Example:
      gitstore role show --json
    """
    from gitstore.agents import load_access

    access = load_access(ctx.store())
    data = {"actors": access.actors, "default": access.default, "agents": access.agents}
    if as_json:
        print_json(data)
        return
    for name, value in sorted(access.actors.items()):
        click.echo(f"actor {name}: {value}")
    click.echo(f"other actors: {access.default or 'unrestricted'}")
    for name, value in sorted(access.agents.items()):
        click.echo(f"agent {name}: {value}")
