"""``gitstore serve`` (the HTTP API) and ``gitstore token create|list|revoke`` (docs/http.md)."""

from __future__ import annotations

import click

from gitstore_cli.output import print_json
from gitstore_cli.session import CliContext, pass_cli


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on: 127.0.0.1 is this machine only; 0.0.0.0 every interface (put TLS in front).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="TCP port (0: any free port).")
@pass_cli
def serve(ctx: CliContext, host: str, port: int) -> None:
    """Serve the store over HTTP: the JSON API, Server-Sent Events, the web view.

    Requests authenticate with an API token (gitstore token create ACTOR) and act as
    its actor: reads show what the actor's role may read, writes are commits by it.
    Runs until Ctrl-C or SIGTERM; one line on stderr says where it listens.

    \b
    Example:
      gitstore token create alice --name laptop        # prints the token once
      gitstore serve --port 8080 &
      curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/tickets/1001
      curl -N -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/events
    """
    from gitstore_serve.app import run_server

    run_server(ctx.directory, host=host, port=port, fsync=ctx.fsync, report=lambda line: click.echo(line, err=True))


@click.group("token")
def token() -> None:
    """API tokens for 'gitstore serve' (kept hashed in .git/gitstore/tokens.json, never committed).

    \b
    Example:
      gitstore token create bob --name helpdesk
      gitstore token list
      gitstore token revoke tok_1a2b3c4d5e6f
    """


@token.command("create")
@click.argument("actor")
@click.option("--name", metavar="TEXT", help="A label for the token (where it is used).")
@click.option("--json", "as_json", is_flag=True, help="Print the token and its record as JSON.")
@pass_cli
def token_create(ctx: CliContext, actor: str, name: str | None, as_json: bool) -> None:
    """Create an API token acting as ACTOR; the token is printed once, only its hash is kept.

    Requests with it read and write as ACTOR, with ACTOR's role (gitstore role set).

    \b
    Example:
      TOKEN=$(gitstore token create alice --name laptop)
      curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/tickets
    """
    from gitstore_serve.tokens import create_token

    created = create_token(ctx.store(), actor, name=name)
    if as_json:
        print_json(created.to_json())
    else:
        click.echo(created.token)
        click.echo(f"gitstore: token {created.record.id} acts as {actor}; it is not shown again", err=True)


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (no token or hash in it).")
@pass_cli
def token_list(ctx: CliContext, as_json: bool) -> None:
    """List API tokens: id, actor, name, created, revoked.

    \b
    Example:
      gitstore token list --json
    """
    from gitstore_serve.tokens import list_tokens

    records = list_tokens(ctx.store())
    if as_json:
        print_json([r.to_json() for r in records])
        return
    for r in records:
        state = f"revoked {r.revoked}" if r.revoked else "active"
        label = f" ({r.name})" if r.name else ""
        click.echo(f"{r.id}  {r.actor}{label}  created {r.created}  {state}")


@token.command("revoke")
@click.argument("token_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the revoked record as JSON.")
@pass_cli
def token_revoke(ctx: CliContext, token_id: str, as_json: bool) -> None:
    """Revoke API token ID: requests with it are refused (401) from the next one on.

    \b
    Example:
      gitstore token revoke tok_1a2b3c4d5e6f
    """
    from gitstore_serve.tokens import revoke_token

    record = revoke_token(ctx.store(), token_id)
    if as_json:
        print_json(record.to_json())
    else:
        click.echo(f"token {record.id} ({record.actor}) revoked at {record.revoked}")
