"""``gitstore config get|set|unset``: the committed configuration, ``.gitstore/config.json``."""

from __future__ import annotations

import json

import click

from gitstore_cli.output import print_json
from gitstore_cli.session import CliContext, pass_cli


@click.group("config")
def config() -> None:
    """Read and change the store's committed configuration (.gitstore/config.json).

    Keys are dotted: a section (search) or a value in one (search.default_role).
    Every change is one commit, replicated by push and pull like tickets.

    \b
    Example:
      gitstore config set search.default_role internal
      gitstore config get search.default_role
      gitstore config get --json
    """


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


@config.command("get")
@click.argument("key", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the value (or the whole configuration) as JSON.")
@pass_cli
def config_get(ctx: CliContext, key: str | None, as_json: bool) -> None:
    """Print the value at KEY; without KEY, every key=value that is set.

    A missing key is an error (exit 1).

    \b
    Example:
      gitstore config get
      gitstore config get workflow.stages --json
    """
    from gitstore.configkeys import flatten, get_value, read_all

    data = read_all(ctx.store())
    if key is None:
        if as_json:
            print_json(data)
        else:
            for name, value in flatten(data):
                click.echo(f"{name}={_text(value)}")
        return
    value = get_value(data, key)
    if as_json:
        print_json(value)
    else:
        click.echo(_text(value))


@config.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--json", "as_json", is_flag=True, help="Print the commit as JSON.")
@pass_cli
def config_set(ctx: CliContext, key: str, value: str, as_json: bool) -> None:
    """Set KEY to VALUE in one commit. VALUE is JSON when it parses as JSON (4, true,
    ["a","b"], {"k": 1}), else text. Enforced sections (roles, agents, workflow) are
    validated first.

    \b
    Example:
      gitstore config set search.default_role customer_facing
      gitstore config set workflow.routing_loop_threshold 4
    """
    from gitstore.configkeys import parse_value, set_value

    commit = set_value(ctx.store(write=True), key, parse_value(value), actor=ctx.actor())
    if as_json:
        print_json({"key": key, "commit": commit, "changed": commit is not None})
    elif commit is None:
        click.echo(f"{key} already has that value: nothing to commit")
    else:
        click.echo(f"[{commit[:12]}] configuration {key} set")


@config.command("unset")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print the commit as JSON.")
@pass_cli
def config_unset(ctx: CliContext, key: str, as_json: bool) -> None:
    """Remove KEY from the configuration in one commit.

    \b
    Example:
      gitstore config unset search.default_role
    """
    from gitstore.configkeys import unset_value

    commit = unset_value(ctx.store(write=True), key, actor=ctx.actor())
    if as_json:
        print_json({"key": key, "commit": commit})
    else:
        click.echo(f"[{commit[:12]}] configuration {key} removed")
