"""Shared state of one CLI invocation: which store, which actor, fsync on or off."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click


@dataclass
class CliContext:
    """Options of the top-level ``gitstore`` command, shared by every subcommand.

    Attributes:
        directory: the ``-C`` path (the store is searched upwards from it).
        actor_option: ``--actor`` or ``GITSTORE_ACTOR``; None to use git's user.name.
        agent: ``--agent`` name for automated agents (``Agent:`` trailer).
        role: ``--role``: narrows what reads show (never wider than the viewer's role).
        fsync: False with ``--no-fsync``.
        pager: False with ``--no-pager``.
    """

    directory: str = "."
    actor_option: str | None = None
    agent: str | None = None
    role: str | None = None
    fsync: bool = True
    pager: bool = True
    _store: Any = field(default=None, repr=False)

    def store(self, *, allow_empty: bool = False, write: bool = False):
        """Open the store once per invocation; closed (working tree caught up) on exit.

        A store cloned with plain ``git clone`` is set up on first use (merge driver,
        hooks: ``gitstore_sync.setup.ensure_configured``), said in one line on stderr.
        An empty hub (``gitstore init --bare``, nothing pushed yet) is refused by
        commands that read tickets; a command that writes gives it the first commit of
        a new store (``gitstore_sync.hub.fill_empty``), said in one line.

        Args:
            allow_empty: accept an empty hub as it is (remotes, hooks).
            write: the command writes tickets or configuration.

        Raises:
            NotAStoreError: not a store, or an empty hub for a command that reads.
        """
        if self._store is None:
            from gitstore import Store
            from gitstore.errors import NotAStoreError
            from gitstore_sync.hub import fill_empty, is_empty
            from gitstore_sync.setup import ensure_configured

            store = Store.open(self.directory, fsync=self.fsync)
            store.view_as(self._viewer_name(store), agent=self.agent, role=self.role)
            if is_empty(store.repo) and not allow_empty:
                if not write:
                    raise NotAStoreError(
                        f"{store.path} is an empty hub: nothing was pushed to it yet ('gitstore push' from a store fills it)"
                    )
                fill_empty(store.repo)
                click.echo(f"gitstore: {store.path} was an empty hub: it now holds a new store (its first commit)", err=True)
            self._store = store
            click.get_current_context().call_on_close(self._store.close)
            setup = ensure_configured(store.repo)
            if setup is not None:
                hooks = ", ".join(Path(h).name for h in setup.hooks) or "no hooks"
                notes = "".join(f"; {note}" for note in setup.notes)
                click.echo(
                    f"gitstore: set up this clone for gitstore: merge driver and {hooks} in .git (git clone does not copy them){notes}",
                    err=True,
                )
            from gitstore_index.paths import index_exists  # no Whoosh import: the index opens on first commit

            if index_exists(self._store):
                from gitstore_index.subscriber import subscribe_index

                subscriber = subscribe_index(self._store, report=lambda line: click.echo(line, err=True), after_write=True)

                def index_after_output() -> None:  # the write is acknowledged first, then indexed
                    try:
                        sys.stdout.flush()
                    except (OSError, ValueError):
                        pass  # a closed pipe: the error contract of gitstore_cli.main reports it
                    subscriber.close()

                click.get_current_context().call_on_close(index_after_output)
        return self._store

    def page(self) -> bool:
        """Page the rest of this command's output when stdout is a terminal (``pager``)."""
        from gitstore_cli.pager import start_pager

        return start_pager(self.pager)

    def viewer(self) -> str | None:
        """The identity whose role decides what a read shows: the actor when one is
        known (--actor, GITSTORE_ACTOR, git's user.name), else None (the store's
        default role). The store is opened for it (``Store.viewer``)."""
        return self._viewer_name(self.store())

    def _viewer_name(self, store: Any) -> str | None:
        if self.actor_option:
            return self.actor_option
        try:
            return store.repo.config["user.name"]
        except KeyError:
            return None

    def actor(self) -> str:
        """Return the acting identity: --actor, GITSTORE_ACTOR, or git's user.name.

        Raises:
            click.ClickException: none of them is set.
        """
        if self.actor_option:
            return self.actor_option
        store = self.store()
        try:
            return store.repo.config["user.name"]
        except KeyError:
            raise click.ClickException(
                "no actor: pass --actor ID, set GITSTORE_ACTOR, or set git config user.name"
            ) from None


pass_cli = click.make_pass_decorator(CliContext)
