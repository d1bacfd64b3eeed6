"""``gitstore crypt init|add-recipient|remove-recipient|status|rotate|textconv``:
internal content encrypted at rest for its recipients (docs/encryption.md)."""

from __future__ import annotations

import click

from gitstore_cli.output import print_json
from gitstore_cli.session import CliContext, pass_cli


@click.group("crypt")
def crypt() -> None:
    """Encrypt internal content at rest (age): I message content and progress notes.

    Sealed for the recipients of the committed 'crypt' section; read with this site's
    identity file (GITSTORE_IDENTITY, git config gitstore.identityFile, or
    ~/.config/gitstore/identity), which is never committed. See docs/encryption.md.

    \b
    Example:
      gitstore crypt init                       # a key for you, encryption on
      gitstore crypt add-recipient age1qy… --name bob
      gitstore crypt status
    """


def _print_change(change, as_json: bool, what: str) -> None:
    if as_json:
        print_json(change)
        return
    if change.identity_file:
        click.echo(f"generated an identity at {change.identity_file} (mode 0600; keep it, never commit it)")
    head = f"[{change.commit[:12]}] " if change.commit else ""
    click.echo(f"{head}{what} {change.name}: {change.recipient}")
    names = ", ".join(r["name"] for r in change.recipients)
    click.echo(f"recipients: {names}" if names else "recipients: none (encryption is off)")


@crypt.command("init")
@click.option("--recipient", metavar="KEY", help="Public key to add (age1… or 'ssh-ed25519 AAAA…'); default: your own.")
@click.option("--name", metavar="NAME", help="The recipient's name (default: the actor).")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def crypt_init(ctx: CliContext, recipient: str | None, name: str | None, as_json: bool) -> None:
    """Turn encryption on: add a recipient (yours, generated when you have no identity
    file), the .gitattributes line and git's textconv, in one commit.

    \b
    Example:
      gitstore crypt init
      gitstore crypt init --recipient "$(cat ~/.ssh/id_ed25519.pub)" --name alice
    """
    from gitstore.cryptstore import init_crypt
    from gitstore_sync.setup import textconv_command

    store = ctx.store(write=True)
    change = init_crypt(store, actor=ctx.actor(), recipient=recipient, name=name, textconv_command=textconv_command())
    _print_change(change, as_json, "encrypting for")


@crypt.command("add-recipient")
@click.argument("recipient", metavar="KEY")
@click.option("--name", required=True, metavar="NAME", help="The recipient's name.")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def crypt_add_recipient(ctx: CliContext, recipient: str, name: str, as_json: bool) -> None:
    """Seal items written from now on for KEY too (age1… or 'ssh-ed25519 AAAA…'), in
    one commit. Items written before are not re-sealed: 'gitstore crypt rotate' does.

    \b
    Example:
      gitstore crypt add-recipient age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p --name bob
    """
    from gitstore.cryptstore import add_recipient

    change = add_recipient(ctx.store(write=True), recipient, name=name, actor=ctx.actor())
    _print_change(change, as_json, "added recipient")


@crypt.command("remove-recipient")
@click.argument("name", metavar="NAME")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def crypt_remove_recipient(ctx: CliContext, name: str, as_json: bool) -> None:
    """Stop sealing for NAME, in one commit. Nothing is re-encrypted: what NAME could
    read before stays readable to them in history; 'crypt rotate' re-seals the
    current files without them.

    \b
    Example:
      gitstore crypt remove-recipient bob && gitstore crypt rotate
    """
    from gitstore.cryptstore import remove_recipient

    change = remove_recipient(ctx.store(write=True), name, actor=ctx.actor())
    _print_change(change, as_json, "removed recipient")


@crypt.command("status")
@click.option("--at", "rev", metavar="REV", help="At REV (default: HEAD).")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def crypt_status_cmd(ctx: CliContext, rev: str | None, as_json: bool) -> None:
    """Show whether encryption is on, its recipients, whether this site holds a
    matching key, and how many internal items are sealed, clear and unreadable here.

    \b
    Example:
      gitstore crypt status
      gitstore crypt status --json
    """
    from gitstore.cryptstore import crypt_status

    status = crypt_status(ctx.store(), rev)
    if as_json:
        print_json(status)
        return
    click.echo(f"encryption: {'on' if status.enabled else 'off'}")
    for r in status.recipients:
        mark = "  (your key)" if r["local"] else ""
        click.echo(f"recipient {r['name']}\t{r['kind']}\t{r['recipient']}{mark}")
    key = "yes" if status.has_key else "no"
    click.echo(f"identity file: {status.identity_file} (matches a recipient: {key})")
    if status.counted:
        click.echo(f"internal items: {status.sealed} sealed, {status.clear} clear, {status.unreadable} unreadable here")


@crypt.command("rotate")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def crypt_rotate(ctx: CliContext, as_json: bool) -> None:
    """Seal every internal item of the current files afresh for the current
    recipients, in one commit (needs your key for every sealed item). History keeps
    the old ciphertexts.

    \b
    Example:
      gitstore crypt remove-recipient bob && gitstore crypt rotate
    """
    from gitstore.cryptstore import rotate

    result = rotate(ctx.store(write=True), actor=ctx.actor())
    if as_json:
        print_json(result)
    elif result.commit is None:
        click.echo("no internal item holds text: nothing to re-encrypt")
    else:
        click.echo(f"[{result.commit[:12]}] re-encrypted {result.items} items in {result.files} I files "
                   f"for {', '.join(result.recipients)}")


@crypt.command("textconv")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@pass_cli
def crypt_textconv(ctx: CliContext, path: str) -> None:
    """Print an I file with the sealed fields this site decrypts in clear text (git
    runs this for 'git diff', 'git log -p' and 'git blame': see .gitattributes).

    \b
    Example:
      gitstore crypt textconv Tickets/T_int/a/b/c/I_1001.json
      git -c diff.gitstore-crypt.textconv="gitstore crypt textconv" log -p
    """
    import pygit2

    from gitstore.crypt.textconv import textconv_file

    found = pygit2.discover_repository(ctx.directory)
    click.echo(textconv_file(path, pygit2.Repository(found) if found else None), nl=False)
