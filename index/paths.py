"""Where the search index lives: ``.git/gitstore/index/`` (derived data, never committed).

Kept free of Whoosh imports so the CLI can ask "is there an index?" cheaply.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitstore.store import Store

INDEX_DIR = "index"
"""Folder of the Whoosh index under the store's state folder ``.git/gitstore/``."""
LOCK_FILE = "index.lock"
"""The index writer lock (``filelock``), next to the index folder so a rebuild can
replace the folder while holding it."""
STATE_FILE = "state.json"
"""Inside the index folder: the commit the index reflects and its schema version."""


def index_dir(store: Store) -> Path:
    """Return ``<git dir>/gitstore/index`` of an open store."""
    return Path(store.state_dir) / INDEX_DIR


def lock_path(store: Store) -> Path:
    """Return the path of the index writer lock file."""
    return Path(store.state_dir) / LOCK_FILE


def index_exists(store: Store) -> bool:
    """Return True if the store has a search index folder (healthy or not)."""
    return index_dir(store).is_dir()
