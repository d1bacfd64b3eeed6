"""The index's record of itself: ``state.json`` in the index folder.

``{"commit": <id or null>, "schema_version": 1, "pending": <id or null>}``: the commit
whose tickets the index reflects, and the schema version it was built with. Before an
index commit ``pending`` is set to the commit being applied and cleared after it: a
process killed in between leaves ``pending`` set, so the next catch-up knows the
index may already hold part of that change and replaces the changed tickets' documents
instead of appending (no duplicates, nothing missed). Written atomically (temporary
file, ``os.replace``).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from gitstore_index.paths import STATE_FILE


class StateUnreadable(Exception):
    """``state.json`` is missing or not what this module writes (internal to ``index``)."""


@dataclass
class IndexState:
    """What the index reflects.

    Attributes:
        commit: the commit id the index reflects (None: an empty store's index).
        schema_version: ``schema.SCHEMA_VERSION`` of the code that built it.
        pending: a commit being applied when the record was written, or None.
    """

    commit: str | None
    schema_version: int
    pending: str | None = None


def read_state(folder: Path) -> IndexState:
    """Read ``state.json`` from the index folder.

    Raises:
        StateUnreadable: missing file, bad JSON, or wrong shape.
    """
    path = Path(folder) / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StateUnreadable(f"{STATE_FILE} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StateUnreadable(f"{STATE_FILE} is unreadable ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("schema_version"), int):
        raise StateUnreadable(f"{STATE_FILE} has no schema_version")
    commit, pending = data.get("commit"), data.get("pending")
    if not (commit is None or isinstance(commit, str)) or not (pending is None or isinstance(pending, str)):
        raise StateUnreadable(f"{STATE_FILE} has a malformed commit id")
    return IndexState(commit, data["schema_version"], pending)


def write_state(folder: Path, state: IndexState) -> None:
    """Write ``state.json`` atomically."""
    path = Path(folder) / STATE_FILE
    tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(state), sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
