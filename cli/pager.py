"""Colour and paging, as git does them.

Colour (``--color auto|always|never``): ``auto`` colours a terminal only, and never when
``NO_COLOR`` is set (https://no-color.org); ``always`` colours pipes too. Output is
written with ``click.style``; click drops the escape codes whenever colour is off, so a
pipe gets plain text.

Paging: a command with long output (``ticket list``, ``ticket show``, ``history``,
``log``, ``diff``, ``blame``, ``search``) writes through a pager when stdout is a
terminal: ``$GITSTORE_PAGER``, else ``$PAGER``, else ``less``; ``less`` gets
``LESS=FRX`` unless ``LESS`` is set (quit at once if the text fits one screen, keep
colours, leave the text on the screen), like git. ``--no-pager``, a pager of ``cat`` or
an empty one turn it off.
"""

from __future__ import annotations

import io
import os
import sys

import click

PAGER_ENV = {"LESS": "FRX", "LV": "-c"}
"""Environment defaults for the pager (git's)."""


PAGING = {"active": False}
"""Set once a pager was started for this process's stdout: a closed pipe then means
the reader quit early (``q`` in less), which is not an error (exit 0)."""


def color_setting(choice: str) -> bool | None:
    """Return click's colour setting for ``--color`` CHOICE.

    Returns:
        True (keep escape codes), False (drop them), or None (click decides from
        whether stdout is a terminal).
    """
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return None


def pager_command() -> str | None:
    """Return the pager command line, or None when paging is off by configuration."""
    for name in ("GITSTORE_PAGER", "PAGER"):
        if name in os.environ:
            command = os.environ[name].strip()
            return None if command in ("", "cat") else command
    return "less"


def start_pager(enabled: bool = True) -> bool:
    """Send the rest of this command's stdout through the pager, when stdout is a terminal.

    The pager is started at once (output streams into it, as git's does) and waited
    for when the command's context closes. Errors still go to stderr, unpaged.

    Args:
        enabled: False with ``--no-pager``.

    Returns:
        True when a pager was started.
    """
    if not enabled or not _isatty(sys.stdout):
        return False
    command = pager_command()
    if command is None:
        return False
    import subprocess  # only when a pager starts: every command imports this module

    env = dict(os.environ)
    for key, value in PAGER_ENV.items():
        env.setdefault(key, value)
    try:
        proc = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, env=env)
    except OSError:
        return False
    ctx = click.get_current_context()
    root = ctx.find_root()
    if root.color is None:
        root.color = True  # the terminal is behind the pager: keep colours
    terminal = sys.stdout
    PAGING["active"] = True
    sys.stdout = io.TextIOWrapper(proc.stdin, encoding=terminal.encoding or "utf-8", errors="replace", line_buffering=True)

    def finish() -> None:
        try:
            sys.stdout.close()
        except OSError:  # the reader quit early (q in less): not an error
            pass
        sys.stdout = terminal
        proc.wait()

    ctx.call_on_close(finish)
    return True


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
