"""Shell completion of ticket numbers (click's completion: bash, zsh, fish).

Enable it once in the shell's start-up file (click generates the script):

- bash: ``eval "$(_GITSTORE_COMPLETE=bash_source gitstore)"``
- zsh: ``eval "$(_GITSTORE_COMPLETE=zsh_source gitstore)"``
- fish: ``_GITSTORE_COMPLETE=fish_source gitstore | source``

Commands, options and choices complete by click itself; a ticket number (``T_NO``)
completes from the tickets of the store that ``-C`` (or the current folder) names.
"""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem

MAX_CANDIDATES = 200
"""At most this many ticket numbers are offered (a prefix narrows them)."""


def complete_ticket(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Return the ticket numbers starting with ``incomplete`` (none outside a store)."""
    from gitstore import Store
    from gitstore.errors import GitStoreError

    directory = ctx.find_root().params.get("directory") or "."
    try:
        with Store.open(directory, fsync=False) as store:
            numbers = store.list_tickets(archived=None)
    except (GitStoreError, OSError, KeyError, ValueError):
        return []
    return [CompletionItem(t_no) for t_no in numbers if t_no.startswith(incomplete)][:MAX_CANDIDATES]
