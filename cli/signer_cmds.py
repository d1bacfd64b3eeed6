"""``gitstore signer add|remove|list``: the allowed-signers registry (docs/signing.md)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from gitstore_cli.output import print_json
from gitstore_cli.session import CliContext, pass_cli


@click.group("signer")
def signer() -> None:
    """Manage who may sign commits: .gitstore/allowed_signers, changed by commits of its own.

    The file is git's allowed-signers format: point git at it to check signatures
    with plain git (git -c gpg.ssh.allowedSignersFile=.gitstore/allowed_signers log
    --show-signature). Keys are ssh-ed25519 public keys (ssh-keygen -t ed25519).

    \b
    Example:
      gitstore signer add alice ~/.ssh/gitstore_ed25519.pub
      gitstore signer list
      gitstore signer remove alice --since 2026-11-03T09:00:00Z
    """


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    from gitstore.objects.revisions import parse_date

    found = parse_date(value)
    if found is None:
        raise click.BadParameter(f"not a date: {value!r} (use 2026-11-03T09:00:00Z or '2 hours ago')", param_hint=option)
    return found


def _key_text(key: str) -> str:
    if key == "-":
        return sys.stdin.read()
    if key.startswith(("ssh-", "ecdsa-", "sk-")):
        return key
    path = Path(key).expanduser()
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise click.BadParameter(f"{key!r}: no such file (give a .pub file, '-' for stdin, or the key text)", param_hint="KEY") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"{key!r}: cannot read it ({exc})", param_hint="KEY") from None


@signer.command("add")
@click.argument("actor_id", metavar="ACTOR")
@click.argument("key", metavar="KEY")
@click.option("--valid-after", metavar="DATE", help="The key signs from DATE on (default: now).")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def signer_add(ctx: CliContext, actor_id: str, key: str, valid_after: str | None, as_json: bool) -> None:
    """Register KEY (a .pub file, '-' for stdin, or 'ssh-ed25519 AAAA…') as ACTOR's
    signing key, in one commit.

    \b
    Example:
      gitstore signer add alice ~/.ssh/gitstore_ed25519.pub
      gitstore signer add bot-7 /etc/gitstore/bot-7.pub --valid-after 2026-01-01 --json
    """
    from gitstore.signers import add_signer

    after = _when(valid_after, "--valid-after")
    change = add_signer(ctx.store(write=True), actor_id, _key_text(key), actor=ctx.actor(), valid_after=after)
    if as_json:
        print_json(change)
    else:
        click.echo(f"[{change.commit[:12]}] signer {change.actor} added: {change.keys[0]} valid from {change.at.isoformat()}")


@signer.command("remove")
@click.argument("actor_id", metavar="ACTOR")
@click.option("--key", metavar="FINGERPRINT", help="Only this key (SHA256:… as 'signer list' shows it).")
@click.option("--since", metavar="DATE", help="Commits signed after DATE stop verifying (a leak's time; default: now).")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def signer_remove(ctx: CliContext, actor_id: str, key: str | None, since: str | None, as_json: bool) -> None:
    """Stop ACTOR's keys from signing, in one commit: commits signed before stay valid.

    The registry keeps the key with a valid-before date; with --since the date is in
    the past (a leaked key: 'gitstore verify --signatures' then lists what was signed
    after the leak).

    \b
    Example:
      gitstore signer remove alice
      gitstore signer remove alice --key SHA256:Z8vC… --since "2026-11-03 09:00" --json
    """
    from gitstore.signers import remove_signer

    change = remove_signer(ctx.store(write=True), actor_id, actor=ctx.actor(), key=key, since=_when(since, "--since"))
    if as_json:
        print_json(change)
    else:
        click.echo(f"[{change.commit[:12]}] signer {change.actor} removed: {', '.join(change.keys)} valid until {change.at.isoformat()}")


@signer.command("list")
@click.option("--at", "rev", metavar="REV", help="The registry at REV (default: HEAD).")
@click.option("--allowed-signers", "raw", is_flag=True, help="Print the file itself (for gpg.ssh.allowedSignersFile).")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def signer_list(ctx: CliContext, rev: str | None, raw: bool, as_json: bool) -> None:
    """List the registry: actor, key fingerprint, validity, status.

    \b
    Example:
      gitstore signer list
      gitstore -C hub.git signer list --allowed-signers > /tmp/allowed_signers
    """
    from gitstore.signers import list_signers, registry_bytes

    store = ctx.store()
    if raw:
        click.echo(registry_bytes(store, rev).decode("utf-8"), nl=False)
        return
    signers = list_signers(store, rev)
    if as_json:
        print_json(signers)
        return
    if not signers:
        click.echo("no signers: add one with 'gitstore signer add ACTOR KEY.pub'")
    for info in signers:
        after = info.valid_after.isoformat() if info.valid_after else "always"
        before = info.valid_before.isoformat() if info.valid_before else "-"
        click.echo(f"{info.actor}\t{info.key}\t{info.status}\tfrom {after}\tuntil {before}\t{info.comment}".rstrip())
