"""Entry point of the ``gitstore`` command and the one place errors become messages.

The error contract (README "Errors and exit codes"), held by ``GitStoreGroup.main`` for
every command:

- 0: done. 1: an error (``Error: <one line>`` on stderr; nothing was written), or
  problems found and listed (``verify``, ``commit``). 2: a usage error (unknown
  command or option, missing or bad argument, a file option that cannot be opened):
  also one line, ``Error: …; see 'gitstore CMD -h'``.
- 130: interrupted (Ctrl-C). 141: the output pipe was closed (``gitstore log |
  head -1``), silently, as git does; 0 when a pager's reader quit early.
- An I/O error on stdout or stderr (a full disk, a closed pipe) never prints a
  Python traceback; any other ``OSError`` is one ``Error:`` line naming the file.
"""

from __future__ import annotations

import errno
import importlib
import os
import sys

import click

# gitstore uses no pydantic plugin: skip their discovery (an entry-point scan of every
# installed package, ~10 ms of each command's start; pydantic's documented switch)
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from gitstore_cli.session import CliContext  # noqa: E402 - after the switch above

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
    ("gitstore_cli.config_cmds", "config"),
    ("gitstore_cli.signer_cmds", "signer"),
    ("gitstore_cli.crypt_cmds", "crypt"),
    ("gitstore_cli.webhook_cmds", "webhook"),
    ("gitstore_cli.serve_cmds", "serve"),
    ("gitstore_cli.serve_cmds", "token"),
]


EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_PIPE = 141
"""Exit codes: 128 + SIGINT, 128 + SIGPIPE (what a shell reports for git in the same case)."""


def one_line(text: str) -> str:
    """Fold a message onto one line (whitespace runs become one space)."""
    return " ".join(str(text).split())


def _say(line: str) -> None:
    """Write one line on stderr; a broken stderr is ignored (there is nowhere to say it)."""
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush cannot fail loudly."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError, AttributeError):  # no real file descriptor (CliRunner)
        pass


def _usage_line(exc: click.UsageError) -> str:
    message = one_line(exc.format_message()).rstrip(".")
    if exc.ctx is not None:
        message += f"; see '{exc.ctx.command_path} -h'"
    return f"Error: {message}"


def _os_error_line(exc: OSError, output: bool) -> str:
    reason = one_line(exc.strerror or str(exc))
    if output:
        return f"Error: cannot write the output: {reason}"
    where = f": {exc.filename}" if exc.filename else ""
    return f"Error: {reason}{where}"


class GitStoreGroup(click.Group):
    """A click group that maps gitstore's exception tree to one-line errors."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # noqa: ANN001
        """Run the command line and exit, holding the error contract of the module docstring."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        code = 0
        try:
            try:
                result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
                code = result if isinstance(result, int) and not isinstance(result, bool) else 0
            except SystemExit as exc:
                if isinstance(exc.code, str):
                    _say(f"Error: {one_line(exc.code)}")
                    code = EXIT_ERROR
                else:
                    code = exc.code or 0
            sys.stdout.flush()
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()
            code = exc.exit_code
        except click.UsageError as exc:
            _say(_usage_line(exc))
            code = EXIT_USAGE
        except click.ClickException as exc:
            _say(f"Error: {one_line(exc.format_message())}")
            code = exc.exit_code
        except click.Abort as exc:
            interrupted = isinstance(exc.__cause__, KeyboardInterrupt)
            if not interrupted:
                _say("Error: aborted")
            code = EXIT_INTERRUPTED if interrupted else EXIT_ERROR
        except KeyboardInterrupt:
            code = EXIT_INTERRUPTED
        except (OSError, OutputFailed) as caught:
            error = caught.error if isinstance(caught, OutputFailed) else caught
            output = caught.output if isinstance(caught, OutputFailed) else error.filename is None
            if error.errno == errno.EPIPE:
                from gitstore_cli.pager import PAGING

                code = 0 if PAGING["active"] else EXIT_PIPE
            else:
                _say(_os_error_line(error, output))
                code = EXIT_ERROR
            _silence_stdout()
        sys.exit(code)

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
            if isinstance(exc, OSError):  # click would turn a closed pipe into a silent exit 1
                raise OutputFailed(exc, _from_output(exc)) from None
            raise


class OutputFailed(Exception):
    """An ``OSError`` raised inside a command, carried past click's own handling.

    Attributes:
        error: the ``OSError``.
        output: True when it was raised writing the command's output (``click.echo``).
    """

    def __init__(self, error: OSError, output: bool):
        super().__init__(str(error))
        self.error = error
        self.output = output


def _from_output(exc: BaseException) -> bool:
    """True when the traceback of ``exc`` passes through ``click.echo`` (a write to stdout/stderr)."""
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name in ("echo", "secho") and code.co_filename.endswith(os.path.join("click", "utils.py")):
            return True
        tb = tb.tb_next
    return False


@click.group(cls=GitStoreGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "directory", default=".", metavar="PATH", help="Run as if started in PATH (like git -C).")
@click.option("--actor", envvar="GITSTORE_ACTOR", metavar="ID", help="Who acts: commit author (default: git config user.name).")
@click.option("--agent", envvar="GITSTORE_AGENT", metavar="NAME", help="Automated agent's name (adds an Agent: trailer).")
@click.option("--role", "role", type=click.Choice(["customer_facing", "internal", "admin"]), default=None,
              help="Narrow what reads show to this role (never wider than the actor's own role).")
@click.option("--no-fsync", is_flag=True, help="Do not flush writes to disk (faster, for throwaway stores).")
@click.option("--color", "color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="Colour: auto colours a terminal unless NO_COLOR is set.")
@click.option("-P", "--no-pager", is_flag=True, help="Do not page long output (the pager is $GITSTORE_PAGER, $PAGER or less).")
@click.version_option(package_name="gitstore", prog_name="gitstore")  # read on --version only: no import of gitstore at start
@click.pass_context
def cli(
    ctx: click.Context, directory: str, actor: str | None, agent: str | None, role: str | None, no_fsync: bool, color: str,
    no_pager: bool,
) -> None:
    """gitstore: customer-service tickets as JSON files in git.

    Every synchronized update of a ticket is one git commit.

    \b
    Example:
      gitstore init demo && cd demo
      gitstore --actor alice ticket create 1001 --client Ana --company Acme
      gitstore --actor alice message add 1001 --external --sender customer --sender-id ana "Printer is down"
      gitstore ticket show 1001

    Reads show what the acting identity's role may read (gitstore role set; docs/data-model.md#roles).
    """
    from gitstore_cli.pager import color_setting

    ctx.color = color_setting(color)
    ctx.obj = CliContext(
        directory=directory, actor_option=actor, agent=agent, role=role, fsync=not no_fsync, pager=not no_pager
    )


for _module, _attr in COMMANDS:
    cli.add_command(getattr(importlib.import_module(_module), _attr))


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="gitstore")


if __name__ == "__main__":
    main()
