"""Shared state of one CLI invocation: which store, which actor, fsync on or off."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import click


@dataclass
class CliContext:
    """Options of the top-level ``gitstore`` command, shared by every subcommand.

    Attributes:
        directory: the ``-C`` path (the store is searched upwards from it).
        actor_option: ``--actor`` or ``GITSTORE_ACTOR``; None to use git's user.name.
        agent: ``--agent`` name for automated agents (``Agent:`` trailer).
        fsync: False with ``--no-fsync``.
    """

    directory: str = "."
    actor_option: str | None = None
    agent: str | None = None
    fsync: bool = True
    _store: Any = field(default=None, repr=False)

    def store(self):
        """Open the store once per invocation; closed (working tree caught up) on exit."""
        if self._store is None:
            from gitstore import Store

            self._store = Store.open(self.directory, fsync=self.fsync)
            click.get_current_context().call_on_close(self._store.close)
            from gitstore_index.paths import index_exists  # no Whoosh import: the index opens on first commit

            if index_exists(self._store):
                from gitstore_index.subscriber import subscribe_index

                subscriber = subscribe_index(self._store, report=lambda line: click.echo(line, err=True))
                click.get_current_context().call_on_close(subscriber.close)
        return self._store

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
