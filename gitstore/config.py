"""Store configuration committed in the repository: ``.gitstore/config.json``.

Configuration that every site must share (workflow stages, actor roles, agents, the
default search role…) lives in the tree, so it is versioned, replicated by push/pull and
audited like tickets. It is one JSON object of sections; each feature owns a section and
supplies its own defaults when reading. Written deterministically (sorted keys, indent
2, trailing newline), one commit per change, by ``Store.write_config_section``.
See docs/data-model.md#configuration.

This module reads trees; it knows nothing of the store.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pygit2

from gitstore.errors import ValidationError

CONFIG_PATH = ".gitstore/config.json"


def config_blob(tree: pygit2.Tree) -> pygit2.Oid | None:
    """Return the id of the configuration blob in ``tree``, or None when there is none."""
    try:
        return tree[CONFIG_PATH].id
    except KeyError:
        return None


def parse_config(data: bytes) -> dict[str, Any]:
    """Parse the bytes of ``.gitstore/config.json``.

    Raises:
        ValidationError: not UTF-8 JSON, or not a JSON object.
    """
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"{CONFIG_PATH}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValidationError(f"{CONFIG_PATH}: must be a JSON object")
    return value


def read_tree_config(repo: pygit2.Repository, tree: pygit2.Tree) -> dict[str, Any]:
    """Return the whole configuration in ``tree``; ``{}`` if there is none.

    Raises:
        ValidationError: the committed file is not a JSON object.
    """
    blob = config_blob(tree)
    if blob is None:
        return {}
    return parse_config(repo[blob].read_raw())


def section_of(config: dict[str, Any], name: str, defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return one section of a parsed configuration, on top of ``defaults`` (shallow merge).

    Raises:
        ValidationError: the section is not a JSON object.
    """
    merged = copy.deepcopy(defaults or {})
    value = config.get(name, {})
    if not isinstance(value, dict):
        raise ValidationError(f"{CONFIG_PATH}: section {name!r} must be a JSON object")
    merged.update(value)
    return merged


def dumps_config(data: dict[str, Any]) -> bytes:
    """Serialise configuration deterministically (sorted keys, indent 2, UTF-8, newline).

    Raises:
        ValidationError: ``data`` holds a value JSON cannot represent.
    """
    try:
        return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"configuration: {exc}") from None
