"""Entry point of the ``gitstore`` command and the one place errors become messages.

Every ``GitStoreError`` raised by the API is printed as ``Error: <one line>`` on stderr
with exit code 1; click's own usage errors keep exit code 2.
"""

from __future__ import annotations

import importlib

import click

from gitstore_cli.session import CliContext

# (module, attribute) of each top-level command, imported when the group is built.
COMMANDS = [
    ("gitstore_cli.store_cmds", "init"),
    ("gitstore_cli.store_cmds", "verify"),
    ("gitstore_cli.store_cmds", "repair"),
    ("gitstore_cli.store_cmds", "commit"),
    ("gitstore_cli.ticket_cmds", "ticket"),
    ("gitstore_cli.ticket_cmds", "message"),
    ("gitstore_cli.ticket_cmds", "state"),
    ("gitstore_cli.ticket_cmds", "update"),
    ("gitstore_cli.import_cmds", "import_"),
    ("gitstore_cli.search_cmds", "search"),
    ("gitstore_cli.search_cmds", "index_"),
    ("gitstore_cli.search_cmds", "watch"),
    ("gitstore_cli.history_cmds", "history"),
    ("gitstore_cli.history_cmds", "diff"),
    ("gitstore_cli.history_cmds", "rollback"),
    ("gitstore_cli.history_cmds", "log"),
    ("gitstore_cli.history_cmds", "blame"),
    ("gitstore_cli.history_cmds", "archive"),
    ("gitstore_cli.history_cmds", "unarchive"),
    ("gitstore_cli.history_cmds", "gc"),
    ("gitstore_cli.sync_cmds", "remote"),
    ("gitstore_cli.sync_cmds", "clone"),
    ("gitstore_cli.sync_cmds", "pull"),
    ("gitstore_cli.sync_cmds", "push"),
    ("gitstore_cli.sync_cmds", "sync_"),
    ("gitstore_cli.sync_cmds", "merge_driver"),
    ("gitstore_cli.sync_cmds", "hooks"),
    ("gitstore_cli.agent_cmds", "context"),
    ("gitstore_cli.agent_cmds", "decision"),
    ("gitstore_cli.agent_cmds", "stage"),
    ("gitstore_cli.agent_cmds", "turn"),
    ("gitstore_cli.agent_cmds", "role"),
]


class GitStoreGroup(click.Group):
    """A click group that maps gitstore's exception tree to one-line errors."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.exceptions.Exit:
            raise
        except Exception as exc:  # mapped once, here
            from gitstore.errors import GitStoreError

            if isinstance(exc, GitStoreError):
                message = " ".join(str(exc).split("\n")[0].split()) or type(exc).__name__
                raise click.ClickException(message) from None
            raise


@click.group(cls=GitStoreGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "directory", default=".", metavar="PATH", help="Run as if started in PATH (like git -C).")
@click.option("--actor", envvar="GITSTORE_ACTOR", metavar="ID", help="Who acts: commit author (default: git config user.name).")
@click.option("--agent", envvar="GITSTORE_AGENT", metavar="NAME", help="Automated agent's name (adds an Agent: trailer).")
@click.option("--no-fsync", is_flag=True, help="Do not flush writes to disk (faster, for throwaway stores).")
@click.version_option("0.1.0", prog_name="gitstore")
@click.pass_context
def cli(ctx: click.Context, directory: str, actor: str | None, agent: str | None, no_fsync: bool) -> None:
    """gitstore: customer-service tickets as JSON files in git.

    Every synchronized update of a ticket is one git commit.

    \b
    Example:
      gitstore init demo && cd demo
      gitstore --actor alice ticket create 1001 --client Ana --company Acme
      gitstore --actor alice message add 1001 --external --sender customer --sender-id ana "Printer is down"
      gitstore ticket show 1001
    """
    ctx.obj = CliContext(directory=directory, actor_option=actor, agent=agent, fsync=not no_fsync)


for _module, _attr in COMMANDS:
    cli.add_command(getattr(importlib.import_module(_module), _attr))


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="gitstore")


if __name__ == "__main__":
    main()
