"""Store-wide commands: ``init``, ``verify``, ``repair``, ``commit``."""

from __future__ import annotations

from pathlib import Path

import click

from gitstore_cli.completion import complete_ticket
from gitstore_cli.output import print_json, to_jsonable
from gitstore_cli.session import CliContext, pass_cli


@click.command()
@click.argument("path", default=".", type=click.Path(file_okay=False))
@click.option("--bare", is_flag=True, help="No working tree (hubs, servers, agent back ends).")
@click.option("--require-signed", is_flag=True,
              help="Signed mode: take pushes and pulls of verifying commits only (docs/signing.md).")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def init(ctx: CliContext, path: str, bare: bool, require_signed: bool, as_json: bool) -> None:
    """Create a new store at PATH (default: the current folder), or with --bare an
    empty hub that takes the first push of any store.

    With --require-signed a hub refuses pushed commits whose signatures do not
    verify, and a store refuses to pull them.

    \b
    Example:
      gitstore init support-store
      gitstore init --bare hub.git
      gitstore init --bare --require-signed hub.git
    """
    if bare:
        from gitstore_sync.hub import init_hub  # empty: takes the first push of any store

        repo, _report = init_hub(path, require_signed=require_signed)
        if as_json:
            print_json({"path": str(Path(repo.path).resolve()), "bare": True, "head": None})
        else:
            click.echo(f"Initialised empty gitstore hub in {Path(repo.path).resolve()} (push a store to it)")
        return
    from gitstore import Store

    store = Store.init(path, fsync=ctx.fsync)
    from gitstore_sync.setup import configure_store  # the merge driver

    configure_store(store.repo, hooks=False)
    if require_signed:
        from gitstore_sync.signedmode import set_signed_mode

        set_signed_mode(store.repo)
    head = str(store.head().id)
    if as_json:
        print_json({"path": str(store.path), "bare": False, "head": head})
    else:
        click.echo(f"Initialised gitstore store in {store.path}")


@click.command()
@click.argument("t_no", required=False, shell_complete=complete_ticket)
@click.option("--json", "as_json", is_flag=True, help="Print problems as a JSON array.")
@click.option("--signatures", is_flag=True, help="Check commit signatures instead (docs/signing.md).")
@click.option("--since", metavar="REV", help="With --signatures: only the commits after REV.")
@click.option("--no-objects", "skip_objects", is_flag=True,
              help="Skip git fsck (object health): on a large store most of the time and memory.")
@pass_cli
def verify(ctx: CliContext, t_no: str | None, as_json: bool, signatures: bool, since: str | None,
           skip_objects: bool) -> None:
    """Check tickets, cross-file rules, the working tree and git objects.

    Prints one line per problem and exits 1 if there is any. With --signatures,
    checks every commit instead: signed, by a key of .gitstore/allowed_signers valid
    at the commit's date, for its committer and actor (one line per failure:
    commit, actor, reason, rule).

    \b
    Example:
      gitstore verify
      gitstore verify 1001 --json
      gitstore verify --no-objects
      gitstore verify --signatures --since v1 --json
    """
    if signatures:
        if t_no is not None:
            raise click.UsageError("--signatures checks commits, not one ticket: leave T_NO out")
        _verify_signatures(ctx, since, as_json)
        return
    if since is not None:
        raise click.UsageError("--since goes with --signatures")
    from gitstore.verify import verify_store

    problems = verify_store(ctx.store(), t_no, objects=not skip_objects)
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


def _verify_signatures(ctx: CliContext, since: str | None, as_json: bool) -> None:
    from gitstore.signers import verify_signatures

    report = verify_signatures(ctx.store(), since)
    if as_json:
        print_json({"ok": report.ok, **to_jsonable(report)})
    else:
        for failure in report.failures:
            click.echo(str(failure))
        skipped = f" ({len(report.skipped)} skipped: the store's initial commit)" if report.skipped else ""
        if report.ok:
            click.echo(f"ok: {report.verified} commits verified at {report.tip[:12]}{skipped}")
        else:
            click.echo(f"{len(report.failures)} of {report.checked} commits do not verify (registry at {report.tip[:12]}){skipped}")
    if not report.ok:
        raise SystemExit(1)


@click.command()
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def repair(ctx: CliContext, as_json: bool) -> None:
    """Clear stale locks and restore the working tree from HEAD (never rewrites history).

    An unfinished git merge, cherry-pick or revert (or stray conflict entries) is
    aborted first, as 'git merge --abort' would; a rebase, am or bisect is left to
    git, with what to run. Working-tree files that are overwritten are first copied
    to .git/gitstore/repair-backup/<time>/.

    \b
    Example:
      gitstore repair
    """
    from gitstore.objects.repostate import clear_operation
    from gitstore.timeutil import utc_now
    from gitstore.verify import repair_store

    store = ctx.store()
    with store.lock:
        recovered = list(store.lock.recovered)  # taking the lock clears stale ones
        backup = store.state_dir / "repair-backup" / utc_now().strftime("%Y%m%dT%H%M%SZ")
        cleared = clear_operation(store.repo, backup)
    report = repair_store(store)
    report.locks_cleared = recovered + [lock for lock in report.locks_cleared if lock not in recovered]
    if as_json:
        print_json({"operation": cleared, **to_jsonable(report)})
        return
    if cleared is not None:
        what = "conflict entries" if cleared.state == "conflicts" else f"the unfinished git {cleared.state}"
        click.echo(f"aborted {what}: {len(cleared.restored)} path(s) set back to HEAD")
        if cleared.backup_dir:
            click.echo(f"their working copies saved in {cleared.backup_dir}")
    for path in report.locks_cleared:
        click.echo(f"cleared stale lock {path}")
    for path in report.restored:
        click.echo(f"restored {path}")
    if report.backup_dir:
        click.echo(f"previous working copies saved in {report.backup_dir}")
    if not (report.locks_cleared or report.restored or cleared):
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

    report = commit_hand_edits(ctx.store(write=True), actor=ctx.actor(), agent=ctx.agent, summary=summary)
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
