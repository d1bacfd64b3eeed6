"""Store configuration committed in the repository: ``.gitstore/config.json``.

Configuration that every site must share (workflow stages, actor roles, the default
search role…) lives in the tree, so it is versioned, replicated by push/pull and
audited like tickets. It is one JSON object of sections; each feature owns a section
and supplies its own defaults when reading (``section(store, name, defaults)``).
Written deterministically (sorted keys, indent 2, trailing newline), one commit per
change, through the store's normal commit primitive.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from gitstore.errors import ValidationError

CONFIG_PATH = ".gitstore/config.json"


def read_config(store, at: str | None = None) -> dict[str, Any]:
    """Return the whole committed configuration at HEAD (or ``at``); ``{}`` if none.

    Raises:
        ValidationError: the committed file is not a JSON object.
    """
    tree = store.resolve(at).tree
    try:
        entry = tree[CONFIG_PATH]
    except KeyError:
        return {}
    try:
        data = json.loads(store.repo[entry.id].data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"{CONFIG_PATH}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValidationError(f"{CONFIG_PATH}: must be a JSON object")
    return data


def section(store, name: str, defaults: dict[str, Any] | None = None, at: str | None = None) -> dict[str, Any]:
    """Return one section of the configuration, on top of ``defaults`` (shallow merge)."""
    merged = copy.deepcopy(defaults or {})
    value = read_config(store, at).get(name, {})
    if not isinstance(value, dict):
        raise ValidationError(f"{CONFIG_PATH}: section {name!r} must be a JSON object")
    merged.update(value)
    return merged


def dumps_config(data: dict[str, Any]) -> bytes:
    """Serialise configuration deterministically."""
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_section(store, name: str, value: dict[str, Any], *, actor: str, summary: str | None = None) -> str:
    """Replace one section of the configuration in one commit; returns the commit id.

    Raises:
        ValidationError: ``value`` is not a JSON-serialisable object.
    """
    from gitstore.store import _signature, commit_message
    from gitstore.timeutil import utc_now

    if not isinstance(value, dict):
        raise ValidationError(f"configuration section {name!r} must be an object")
    with store.lock:
        parent = store.head()
        data = read_config(store, str(parent.id))
        data[name] = value
        try:
            blob = store.repo.create_blob(dumps_config(data))
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"configuration section {name!r}: {exc}") from None
        message = commit_message(summary or f"Configure {name}", {"Config": name, "Actor": actor})
        commit_id, _kept = store.commit_tree_changes(
            parent, {CONFIG_PATH: blob}, message=message, author=_signature(actor, utc_now())
        )
    return str(commit_id)
