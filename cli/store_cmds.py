"""Store-wide commands: ``init``, ``verify``, ``repair``, ``commit``."""

from __future__ import annotations

import click

from gitstore_cli.session import CliContext, pass_cli
from gitstore_cli.output import print_json


@click.command()
@click.argument("path", default=".", type=click.Path(file_okay=False))
@click.option("--bare", is_flag=True, help="No working tree (hubs, servers, agent back ends).")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def init(ctx: CliContext, path: str, bare: bool, as_json: bool) -> None:
    """Create a new store at PATH (default: the current folder).

    \b
    Example:
      gitstore init support-store
      gitstore init --bare hub.git
    """
    from gitstore import Store

    store = Store.init(path, bare=bare, fsync=ctx.fsync)
    from gitstore_sync.setup import configure_store  # merge driver; a bare hub gets pre-receive

    configure_store(store.repo, hooks=False)
    head = str(store.head().id)
    if as_json:
        print_json({"path": str(store.path), "bare": bare, "head": head})
    else:
        click.echo(f"Initialised {'bare ' if bare else ''}gitstore store in {store.path}")


@click.command()
@click.argument("t_no", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print problems as a JSON array.")
@pass_cli
def verify(ctx: CliContext, t_no: str | None, as_json: bool) -> None:
    """Check tickets, cross-file rules, the working tree and git objects.

    Prints one line per problem and exits 1 if there is any.

    \b
    Example:
      gitstore verify
      gitstore verify 1001 --json
    """
    from gitstore.verify import verify_store

    problems = verify_store(ctx.store(), t_no)
    if as_json:
        print_json([{"ticket": p.ticket, "file": p.file, "message": p.message} for p in problems])
    else:
        for problem in problems:
            click.echo(str(problem))
        if not problems:
            count = "1 ticket" if t_no else f"{len(ctx.store().list_tickets())} tickets"
            click.echo(f"ok: {count} verified at {str(ctx.store().head().id)[:12]}")
    if problems:
        raise SystemExit(1)


@click.command()
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def repair(ctx: CliContext, as_json: bool) -> None:
    """Clear stale locks and restore the working tree from HEAD (never rewrites history).

    Working-tree files that are overwritten are first copied to
    .git/gitstore/repair-backup/<time>/.

    \b
    Example:
      gitstore repair
    """
    from gitstore.verify import repair_store

    report = repair_store(ctx.store())
    if as_json:
        print_json(report)
        return
    for path in report.locks_cleared:
        click.echo(f"cleared stale lock {path}")
    for path in report.restored:
        click.echo(f"restored {path}")
    if report.backup_dir:
        click.echo(f"previous working copies saved in {report.backup_dir}")
    if not (report.locks_cleared or report.restored):
        click.echo("nothing to repair")


@click.command()
@click.option("-m", "--message", "summary", help="Summary line for the commits.")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def commit(ctx: CliContext, summary: str | None, as_json: bool) -> None:
    """Validate hand-edited ticket files and commit each ticket's edit as one update.

    Invalid edits are refused with one line per file and left in place (exit 1).

    \b
    Example:
      $EDITOR Tickets/tickets/a/3/f/T_1001.json
      gitstore commit -m "Fix company name"
    """
    from gitstore.handedit import commit_hand_edits

    report = commit_hand_edits(ctx.store(), actor=ctx.actor(), agent=ctx.agent, summary=summary)
    if as_json:
        print_json(report)
    else:
        for result in report.committed:
            click.echo(f"[{result.commit[:12]}] ticket {result.t_no}: {', '.join(result.files)}")
        for line in report.refused:
            click.echo(f"refused {line}", err=True)
        if not report.committed and not report.refused:
            click.echo("nothing to commit: no ticket file differs from HEAD")
    if report.refused:
        raise SystemExit(1)
