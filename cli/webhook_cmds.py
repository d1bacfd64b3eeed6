"""``gitstore webhook add|list|remove|rotate-secret|enable|deliveries|deliver`` (docs/http.md#webhooks)."""

from __future__ import annotations

import re

import click

from gitstore_cli.output import print_json
from gitstore_cli.session import CliContext, pass_cli

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(value: str) -> float:
    """Seconds of ``90``, ``90s``, ``30m``, ``24h`` or ``7d``."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value)
    if found is None:
        raise click.BadParameter(f"not a duration: {value!r} (use 90s, 30m, 24h or 7d)", param_hint="--keep-old")
    return float(found.group(1)) * _UNITS[found.group(2) or "s"]


@click.group("webhook")
def webhook() -> None:
    """Deliver every committed change to HTTP endpoints, signed (Standard Webhooks).

    Each commit on the branch (gitstore writes, pulls, plain git commits) is POSTed as
    JSON to every endpoint that takes its event type, as the endpoint's actor may see
    it, in commit order, retried until acknowledged. 'gitstore serve' delivers while it
    runs; 'gitstore webhook deliver' delivers what is pending and exits. The registry
    and its secrets stay in .git/gitstore/webhooks/ (never committed). docs/http.md#webhooks

    \b
    Example:
      gitstore webhook add https://hooks.example.org/gitstore --events ticket.created,ticket.updated --actor bob
      gitstore webhook list
      gitstore webhook deliver --wait 30
      gitstore webhook deliveries --json
    """


@webhook.command("add")
@click.argument("url")
@click.option("--events", metavar="TYPES", default=None,
              help="Comma-separated event types: ticket.created, ticket.updated, config.updated, store.updated (default: all).")
@click.option("--actor", "endpoint_actor", metavar="ACTOR", default=None,
              help="Whose role decides what the endpoint receives (default: the acting identity).")
@click.option("--from-start", is_flag=True, help="Deliver the whole history, not only commits after the current head.")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def webhook_add(ctx: CliContext, url: str, events: str | None, endpoint_actor: str | None, from_start: bool, as_json: bool) -> None:
    """Register an endpoint at URL; prints its id and its secret (shown this once).

    A customer-facing ACTOR's endpoint receives what that actor may see: no event of a
    commit that changed only internal notes, no internal summary. An endpoint never
    receives more than the identity registering it may read.

    \b
    Example:
      gitstore webhook add https://crm.example.org/hooks --events ticket.created --actor bob
      gitstore webhook add http://127.0.0.1:8900/in --from-start --json
    """
    from gitstore_serve.webhooks import add_webhook

    store = ctx.store()
    added = add_webhook(store, url, events=events, actor=endpoint_actor or ctx.viewer(), from_start=from_start)
    if as_json:
        print_json(added.to_json())
        return
    endpoint = added.endpoint
    start = "from the first commit" if endpoint.start is None else f"after {endpoint.start[:12]}"
    click.echo(f"added webhook {endpoint.id} {endpoint.url} (events: {', '.join(endpoint.events)}; "
               f"as {endpoint.actor or 'an unnamed reader'}; {start})")
    click.echo(f"secret: {added.secret}")
    click.echo("the secret is shown this once: give it to the receiver (Standard Webhooks verification)", err=True)


@webhook.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def webhook_list(ctx: CliContext, as_json: bool) -> None:
    """List endpoints: id, URL, events, actor and role, where delivery stands (no secrets).

    \b
    Example:
      gitstore webhook list
      gitstore webhook list --json
    """
    from gitstore_serve.webhooks import list_webhooks

    found = list_webhooks(ctx.store())
    if as_json:
        print_json([s.to_json() for s in found])
        return
    for status in found:
        e = status.endpoint
        if e["disabled"]:
            where = f"disabled: {e['disabled']}"
        elif status.behind is None:
            where = f"cursor {status.cursor} not on the branch"
        elif status.failures:
            tries = f"{status.failures} failed attempt{'s' if status.failures != 1 else ''}"
            where = f"{status.behind} behind, {tries} ({status.last_error}), next attempt {status.next_attempt}"
        else:
            where = "caught up" if status.behind == 0 else f"{status.behind} behind"
        rotating = " (rotating secret: 2 signatures)" if e["signing"] > 1 else ""
        who = f"{e['actor'] or 'unnamed'} ({status.role or 'unrestricted'})"
        click.echo(f"{e['id']}\t{e['url']}\t{','.join(e['events'])}\t{who}\t{where}{rotating}")


@webhook.command("remove")
@click.argument("endpoint_id", metavar="ID")
@pass_cli
def webhook_remove(ctx: CliContext, endpoint_id: str) -> None:
    """Remove endpoint ID, its cursor and its delivery history.

    \b
    Example:
      gitstore webhook remove ep_3f9a0c1b2d4e
    """
    from gitstore_serve.webhooks import remove_webhook

    removed = remove_webhook(ctx.store(), endpoint_id)
    click.echo(f"removed webhook {removed.id} {removed.url}")


@webhook.command("rotate-secret")
@click.argument("endpoint_id", metavar="ID")
@click.option("--keep-old", metavar="DURATION", default="24h", show_default=True,
              help="How long the old secret keeps signing beside the new one (90s, 30m, 24h, 7d).")
@click.option("--expire-old", is_flag=True, help="End a rotation: no new secret; the old ones stop signing now.")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def webhook_rotate_secret(ctx: CliContext, endpoint_id: str, keep_old: str, expire_old: bool, as_json: bool) -> None:
    """Give endpoint ID a new secret; the old one keeps signing too until it expires.

    Meanwhile each delivery carries both signatures in webhook-signature (space-
    separated), so the receiver can switch to the new secret without a failed delivery.

    \b
    Example:
      gitstore webhook rotate-secret ep_3f9a0c1b2d4e --keep-old 2h
      gitstore webhook rotate-secret ep_3f9a0c1b2d4e --expire-old
    """
    from gitstore_serve.webhooks import rotate_secret

    seconds = _duration(keep_old)
    rotation = rotate_secret(ctx.store(), endpoint_id, keep_old=seconds, expire_old=expire_old)
    if as_json:
        print_json(rotation.to_json())
    elif rotation.secret is None:
        click.echo(f"webhook {endpoint_id}: only the newest secret signs from now on")
    else:
        until = f"; the old one signs too until {rotation.old_expires}" if rotation.old_expires else ""
        click.echo(f"webhook {endpoint_id}: new secret {rotation.secret}{until}")


@webhook.command("enable")
@click.argument("endpoint_id", metavar="ID")
@pass_cli
def webhook_enable(ctx: CliContext, endpoint_id: str) -> None:
    """Resume deliveries to endpoint ID after its receiver answered 410 Gone (from where they stopped).

    \b
    Example:
      gitstore webhook enable ep_3f9a0c1b2d4e
    """
    from gitstore_serve.webhooks import enable_webhook

    enabled = enable_webhook(ctx.store(), endpoint_id)
    click.echo(f"webhook {enabled.id}: deliveries resume")


@webhook.command("deliveries")
@click.option("--endpoint", "endpoint_id", metavar="ID", default=None, help="Only this endpoint's attempts.")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def webhook_deliveries(ctx: CliContext, endpoint_id: str | None, limit: int, as_json: bool) -> None:
    """List delivery attempts, newest first: webhook-id, event, attempt, outcome, HTTP status.

    Metadata only, for every reader: no payload, no summary, no response body.

    \b
    Example:
      gitstore webhook deliveries -n 10
      gitstore webhook deliveries --endpoint ep_3f9a0c1b2d4e --json
    """
    from gitstore_serve.webhooks import delivery_attempts

    attempts = delivery_attempts(ctx.store(), endpoint=endpoint_id, limit=limit)
    if as_json:
        print_json(attempts)
        return
    for a in attempts:
        detail = a.error or (f"HTTP {a.status}" if a.status is not None else "")
        click.echo(f"{a.started}\t{a.webhook_id}\t{a.type}\tattempt {a.attempt}\t{a.outcome}\t{detail}".rstrip())


@webhook.command("deliver")
@click.option("--endpoint", "endpoint_id", metavar="ID", default=None, help="Only this endpoint.")
@click.option("--wait", type=click.FloatRange(min=0), default=0.0, show_default=True, metavar="SECONDS",
              help="Keep retrying failed deliveries (with backoff) this long; 0: try each endpoint once.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=15.0, show_default=True, metavar="SECONDS",
              help="Seconds per request.")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def webhook_deliver(ctx: CliContext, endpoint_id: str | None, wait: float, timeout: float, as_json: bool) -> None:
    """Deliver pending events to every endpoint, in order, and exit.

    Useful without a server (cron, a post-merge hook). Events that could not be
    delivered stay pending (nothing is dropped) and are said per endpoint; the exit
    status is 0 either way.

    \b
    Example:
      gitstore webhook deliver
      gitstore webhook deliver --wait 60 --json
    """
    from gitstore_serve.webhooks import deliver_pending

    report = deliver_pending(ctx.store().path, wait=wait, endpoint=endpoint_id, fsync=ctx.fsync, timeout=timeout)
    if as_json:
        print_json(report.to_json())
        return
    for o in report.endpoints:
        done = f"{o.delivered} delivered" + (f", {o.skipped} passed over" if o.skipped else "")
        if o.disabled:
            state = f"disabled: {o.error}"
        elif o.busy:
            state = "another process is delivering to it"
        elif o.behind:
            state = f"{o.behind} pending: {o.error}" + (f" (next attempt {o.next_attempt})" if o.next_attempt else "")
        else:
            state = "caught up"
        click.echo(f"{o.endpoint}\t{o.url}\t{done}\t{state}")
