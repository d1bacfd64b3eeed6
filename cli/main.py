"""Entry point of the ``gitstore`` command and the one place errors become messages.

Every ``GitStoreError`` raised by the API is printed as ``Error: <one line>`` on stderr
with exit code 1; click's own usage errors keep exit code 2.
"""

from __future__ import annotations

import importlib

import click

from .context import CliContext

# (module, attribute) of each top-level command, imported when the group is built.
COMMANDS = [
    ("cli.store_cmds", "init"),
    ("cli.store_cmds", "verify"),
    ("cli.store_cmds", "repair"),
    ("cli.store_cmds", "commit"),
    ("cli.ticket_cmds", "ticket"),
    ("cli.ticket_cmds", "message"),
    ("cli.ticket_cmds", "state"),
    ("cli.ticket_cmds", "update"),
    ("cli.import_cmds", "import_"),
    ("cli.search_cmds", "search"),
    ("cli.search_cmds", "index_"),
    ("cli.search_cmds", "watch"),
    ("cli.history_cmds", "history"),
    ("cli.history_cmds", "diff"),
    ("cli.history_cmds", "rollback"),
    ("cli.history_cmds", "log"),
    ("cli.history_cmds", "blame"),
    ("cli.history_cmds", "archive"),
    ("cli.history_cmds", "unarchive"),
    ("cli.history_cmds", "gc"),
    ("cli.sync_cmds", "remote"),
    ("cli.sync_cmds", "clone"),
    ("cli.sync_cmds", "pull"),
    ("cli.sync_cmds", "push"),
    ("cli.sync_cmds", "sync_"),
    ("cli.sync_cmds", "merge_driver"),
    ("cli.sync_cmds", "hooks"),
    ("cli.agent_cmds", "context"),
    ("cli.agent_cmds", "decision"),
    ("cli.agent_cmds", "stage"),
    ("cli.agent_cmds", "turn"),
    ("cli.agent_cmds", "role"),
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
