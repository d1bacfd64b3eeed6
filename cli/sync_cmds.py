"""Sync commands: ``remote``, ``clone``, ``pull``, ``push``, ``sync``, ``merge-driver``, ``hooks``."""

from __future__ import annotations

import dataclasses
import sys

import click

from gitstore_cli.output import print_json
from gitstore_cli.session import CliContext, pass_cli


@click.group()
def remote() -> None:
    """Manage remotes: other sites and hubs (paths, file://, git://, ssh://, https://).

    \b
    Example:
      gitstore remote add hub git://hub.example.org/support.git
      gitstore remote list --json
      gitstore remote remove hub
    """


@remote.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def remote_add(ctx: CliContext, name: str, url: str, as_json: bool) -> None:
    """Add remote NAME at URL (a local path is stored as an absolute path).

    \b
    Example:
      gitstore remote add origin /srv/hub.git
      gitstore remote add site-b ssh://git@site-b.example.org/srv/store.git
    """
    from gitstore_sync.remotes import add_remote

    info = add_remote(ctx.store(allow_empty=True).repo, name, url)
    if as_json:
        print_json(info)
    else:
        click.echo(f"added remote {info.name} {info.url} ({info.transport})")


@remote.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def remote_list(ctx: CliContext, as_json: bool) -> None:
    """List remotes: name, URL and transport.

    \b
    Example:
      gitstore remote list
      gitstore remote list --json
    """
    from gitstore_sync.remotes import list_remotes

    remotes = list_remotes(ctx.store(allow_empty=True).repo)
    if as_json:
        print_json(remotes)
        return
    for info in remotes:
        click.echo(f"{info.name}\t{info.url}\t({info.transport})")


@remote.command("remove")
@click.argument("name")
@pass_cli
def remote_remove(ctx: CliContext, name: str) -> None:
    """Remove remote NAME (and its remote-tracking refs).

    \b
    Example:
      gitstore remote remove site-b
    """
    from gitstore_sync.remotes import remove_remote

    info = remove_remote(ctx.store(allow_empty=True).repo, name)
    click.echo(f"removed remote {info.name} ({info.url})")


@click.command()
@click.argument("url")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--bare", is_flag=True, help="Make a bare clone (a new hub).")
@click.option("--no-index", is_flag=True, help="Do not build the search index now (it builds on first search).")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def clone(ctx: CliContext, url: str, directory: str, bare: bool, no_index: bool, as_json: bool) -> None:
    """Clone the store at URL into DIRECTORY, with the merge driver, hooks and search index set up.

    \b
    Example:
      gitstore clone git://hub.example.org/support.git site-a
      gitstore clone /srv/hub.git site-b
    """
    from gitstore_sync.clone import clone as clone_store

    store, report = clone_store(url, directory, bare=bare, fsync=ctx.fsync)
    indexed = False if no_index else _refresh_index(store, create=True) is not None
    head = str(store.head().id)
    if as_json:
        print_json({"path": str(store.path), "head": head, "driver": report.driver, "hooks": report.hooks, "index": indexed})
    else:
        click.echo(f"Cloned {url} into {store.path} at {head[:12]} ({len(store.list_tickets())} tickets)")
    for note in report.notes:
        click.echo(f"gitstore: {note}", err=True)


def _print_pull(result) -> None:
    for check in getattr(result, "unverified", []):
        click.echo(f"gitstore: unverified commit {check.commit[:12]} (actor {check.actor}): {check.reason} [{check.rule}]", err=True)
    if result.outcome == "up-to-date":
        click.echo(f"Already up to date with {result.remote} ({result.theirs[:12]})")
        return
    if result.outcome == "empty-remote":
        click.echo(f"{result.remote} is an empty hub: nothing to pull ('gitstore push' fills it)")
        return
    for change in result.tickets:
        if change.status == "merged":
            click.echo(f"merged  {change.ticket} ({change.conflicts} field conflicts resolved)")
        else:
            click.echo(f"{change.status:<7} {change.ticket}")
    for value in result.lost:
        click.echo(f"  conflict {value.file} {value.field}: kept {value.kept!r}, lost {value.lost!r} ({value.reason})")
    what = "Fast-forward" if result.outcome == "fast-forward" else "Merged"
    click.echo(f"{what} {result.before[:12]}..{result.after[:12]} from {result.remote}: {len(result.tickets)} tickets changed")


@click.command()
@click.argument("remote_name", metavar="[REMOTE]", required=False)
@click.option("--json", "as_json", is_flag=True, help="Per-ticket results and losing values as JSON.")
@pass_cli
def pull(ctx: CliContext, remote_name: str, as_json: bool) -> None:
    """Fetch REMOTE and merge it: a fast-forward or one merge commit.

    REMOTE defaults to the one main tracks (set by clone and by the first push),
    else origin.

    Messages are unioned by id; fields changed differently on both sides resolve to
    the newer side and the losing values are printed and kept in the merge commit's
    Lost-Value trailers. Refused while the working tree has uncommitted edits.

    \b
    Example:
      gitstore pull
      gitstore pull hub --json
    """
    from gitstore_sync.pull import pull as pull_remote
    from gitstore_sync.remotes import default_remote

    store = ctx.store()
    result = pull_remote(store, remote_name or default_remote(store.repo), actor=ctx.actor(), agent=ctx.agent)
    if not store.viewer.internal:  # a customer-facing viewer is told nothing of I (docs/data-model.md#roles)
        result = dataclasses.replace(result, lost=[value for value in result.lost if not value.file.startswith("I_")])
    if as_json:
        print_json(result)
    else:
        _print_pull(result)
    if result.outcome not in ("up-to-date", "empty-remote"):
        _refresh_index(store)


@click.command()
@click.argument("remote_name", metavar="[REMOTE]", required=False)
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def push(ctx: CliContext, remote_name: str, as_json: bool) -> None:
    """Push main to REMOTE; a refused ref is an error with the server's reason.

    REMOTE defaults to the one main tracks, else origin. The first push to a remote
    when main tracks none sets main to track it (like git push -u): an empty hub
    made by 'gitstore init --bare' takes the first push of any store.

    \b
    Example:
      gitstore push
      gitstore push hub --json
    """
    from gitstore_sync.push import push as push_remote
    from gitstore_sync.remotes import default_remote

    store = ctx.store()
    result = push_remote(store, remote_name or default_remote(store.repo))
    if as_json:
        print_json(result)
        return
    for ref in result.refs:
        old = (ref.old or "0" * 12)[:12]
        click.echo(f"{ref.ref}: {ref.status} {old}..{ref.new[:12]} -> {result.remote}")
    if result.tracking:
        click.echo(f"main now tracks {result.tracking}/main ('gitstore pull' and 'git pull' default to it)")


@click.command("sync")
@click.argument("remote_name", metavar="[REMOTE]", required=False)
@click.option("--attempts", default=5, show_default=True, type=click.IntRange(1, 50), help="Pull+push rounds when the remote keeps moving.")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def sync_(ctx: CliContext, remote_name: str, attempts: int, as_json: bool) -> None:
    """Pull from REMOTE, then push; retried when the remote moved meanwhile.

    REMOTE defaults to the one main tracks, else origin.

    \b
    Example:
      gitstore sync
      gitstore sync hub --attempts 10 --json
    """
    from gitstore_sync.exchange import sync as sync_remote
    from gitstore_sync.remotes import default_remote

    store = ctx.store()
    result = sync_remote(store, remote_name or default_remote(store.repo), actor=ctx.actor(), agent=ctx.agent, attempts=attempts)
    if as_json:
        print_json(result)
    else:
        for pulled in result.pulls:
            _print_pull(pulled)
        rounds = f"{result.attempts} round{'s' if result.attempts > 1 else ''}"
        pushed = result.push
        assert pushed is not None  # sync returns only after a push succeeded
        for ref in pushed.refs:
            click.echo(f"{ref.ref}: {ref.status} -> {pushed.remote} ({rounds})")
        if pushed.tracking:
            click.echo(f"main now tracks {pushed.tracking}/main ('gitstore pull' and 'git pull' default to it)")
    if any(pulled.outcome not in ("up-to-date", "empty-remote") for pulled in result.pulls):
        _refresh_index(ctx.store())


@click.command("merge-driver")
@click.argument("base")
@click.argument("ours")
@click.argument("theirs")
@click.argument("path")
def merge_driver(base: str, ours: str, theirs: str, path: str) -> None:
    """git merge driver for ticket files (git runs it; see .gitattributes).

    Writes the semantic merge of BASE (%O), OURS (%A) and THEIRS (%B) into OURS; PATH
    (%P) is the file's path. Exit 1 (a conflict for git) when the rules cannot settle it.

    \b
    Example (.git/config, written by gitstore init/clone):
      [merge "gitstore"]
        driver = gitstore merge-driver %O %A %B %P
    """
    from gitstore_sync.driver import run_merge_driver

    result = run_merge_driver(base, ours, theirs, path)
    for value in result.lost:
        click.echo(f"gitstore: {path} {value.field}: kept {value.kept!r}, lost {value.lost!r} ({value.reason})", err=True)


@click.group()
def hooks() -> None:
    """Install and run gitstore's git hooks (validation for plain git users and hubs).

    \b
    Example:
      gitstore hooks install
      gitstore -C hub.git hooks install --force
    """


@hooks.command("install")
@click.option("--force", is_flag=True, help="Replace hooks gitstore did not write.")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def hooks_install(ctx: CliContext, force: bool, as_json: bool) -> None:
    """Install the hooks: pre-receive in a bare store; pre-commit, post-merge and
    post-checkout (and the merge driver) in a store with a working tree.

    \b
    Example:
      gitstore hooks install
    """
    from gitstore_sync.setup import configure_store

    report = configure_store(ctx.store(allow_empty=True).repo, hooks=True, force=force)
    if as_json:
        print_json(report)
        return
    for path in report.hooks:
        click.echo(f"installed {path}")
    if report.driver:
        click.echo(f"merge driver: {report.driver}")


@hooks.command("pre-commit")
def hooks_pre_commit() -> None:
    """Validate staged ticket files (run by the pre-commit hook); exit 1 on problems.

    \b
    Example:
      gitstore hooks pre-commit
    """
    import os

    from gitstore_sync.hookchecks import check_staged, open_for_hook

    problems = check_staged(open_for_hook(), os.environ.get("GIT_INDEX_FILE"))
    for line in problems:
        click.echo(f"gitstore: {line}", err=True)
    if problems:
        click.echo("gitstore: commit refused: fix the files above (or use 'gitstore commit')", err=True)
        raise SystemExit(1)


@hooks.command("pre-receive")
def hooks_pre_receive() -> None:
    """Validate a push from stdin's "<old> <new> <ref>" lines (run by pre-receive); exit 1 to refuse.

    \b
    Example:
      echo "$OLD $NEW refs/heads/main" | gitstore hooks pre-receive
    """
    from gitstore_sync.hookchecks import check_receive, open_for_hook

    updates = [tuple(line.split()) for line in sys.stdin.read().splitlines() if line.strip()]
    problems = check_receive(open_for_hook(), updates)
    for line in problems:
        click.echo(f"gitstore: {line}", err=True)
    if problems:
        click.echo(f"gitstore: push refused: {len(problems)} problem(s) (ticket files, signatures in signed mode)", err=True)
        raise SystemExit(1)


@hooks.command("refresh-index")
@pass_cli
def hooks_refresh_index(ctx: CliContext) -> None:
    """Bring the search index up to HEAD if the store has one (run by post-merge/post-checkout).

    \b
    Example:
      gitstore hooks refresh-index
    """
    note = _refresh_index(ctx.store())
    if note:
        click.echo(note)


def _refresh_index(store, create: bool = False) -> str | None:
    """Catch the search index up to HEAD when the store has one (or build it when
    ``create``); return a note, or None when there is no index.

    A failure to refresh never undoes a pull: it is reported on stderr (the index
    also catches up by itself the next time it is opened).
    """
    from gitstore.errors import GitStoreError
    from gitstore_index.paths import index_exists

    if not create and not index_exists(store):
        return None
    try:
        from gitstore_index.store_index import SearchIndex

        with SearchIndex.open(store, catch_up=False) as search_index:
            changes = search_index.catch_up()
    except (GitStoreError, OSError) as exc:
        click.echo(f"gitstore: search index not refreshed: {exc} (run 'gitstore index rebuild')", err=True)
        return None
    return f"search index up to date ({len(changes)} tickets reindexed)"
