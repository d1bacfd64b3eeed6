"""Dotted keys into the committed configuration: ``gitstore config get/set/unset``.

``.gitstore/config.json`` is one JSON object of sections (docs/data-model.md#configuration);
a key names a section (``search``) or a value inside one (``search.default_role``,
``workflow.routing_loop_threshold``). Writes replace the whole section through
``Store.write_config_section``, so the sections the store enforces (``roles``,
``agents``, ``workflow``) are validated first and each change is one commit.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from gitstore.config import read_tree_config
from gitstore.errors import ConfigKeyNotFound, InvalidOption, ValidationError
from gitstore.store import Store

_PART = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def split_key(key: str) -> list[str]:
    """Split ``section.key.sub`` into its parts.

    Raises:
        InvalidOption: an empty part or a character outside ``A-Za-z0-9_-``.
    """
    parts = key.split(".")
    if not all(_PART.match(part) for part in parts):
        raise InvalidOption(f"invalid configuration key {key!r}: dot-separated names of letters, digits, '_' or '-'")
    return parts


def parse_value(text: str) -> Any:
    """Read a value given on the command line: JSON when it parses as JSON (``4``,
    ``true``, ``null``, ``["a"]``, ``{"k": 1}``, ``"quoted"``), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def read_all(store: Store, at: str | None = None) -> dict[str, Any]:
    """Return the whole committed configuration at HEAD (or ``at``); ``{}`` if none."""
    return read_tree_config(store.repo, store.resolve(at).tree)


def get_value(config: dict[str, Any], key: str) -> Any:
    """Return the value at ``key`` in a parsed configuration.

    Raises:
        ConfigKeyNotFound: nothing is set there.
        InvalidOption: a malformed key.
    """
    value: Any = config
    for part in split_key(key):
        if not isinstance(value, dict) or part not in value:
            raise ConfigKeyNotFound(f"no configuration key {key!r} (see 'gitstore config get' for what is set)")
        value = value[part]
    return value


def flatten(config: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Return ``(dotted key, value)`` for every leaf (a non-object value), sorted by key."""
    found: list[tuple[str, Any]] = []
    for name in sorted(config):
        key = f"{prefix}{name}"
        value = config[name]
        if isinstance(value, dict) and value:
            found += flatten(value, key + ".")
        else:
            found.append((key, value))
    return found


def _changed_section(store: Store, key: str, change) -> tuple[str, dict[str, Any], dict[str, Any]]:
    parts = split_key(key)
    section = parts[0]
    config = read_all(store)
    current = config.get(section, {})
    if not isinstance(current, dict):
        raise ValidationError(f"configuration section {section!r} is not a JSON object")
    new = copy.deepcopy(current)
    change(new, parts[1:])
    return section, current, new


def set_value(store: Store, key: str, value: Any, *, actor: str) -> str | None:
    """Set ``key`` to ``value`` as one commit; returns the commit id, or None when the
    value was already set.

    Raises:
        InvalidOption: a malformed key.
        ValidationError: a section key given a value that is not an object, or a
            section the store enforces that would become invalid (nothing written).
    """
    def change(section: dict[str, Any], rest: list[str]) -> None:
        if not rest:
            if not isinstance(value, dict):
                raise ValidationError(f"{key!r} is a section: its value must be a JSON object")
            section.clear()
            section.update(value)
            return
        target = section
        for part in rest[:-1]:
            if not isinstance(target.get(part), dict):
                target[part] = {}
            target = target[part]
        target[rest[-1]] = value

    section, current, new = _changed_section(store, key, change)
    if new == current:
        return None
    return store.write_config_section(section, new, actor=actor, summary=f"Set configuration {key}")


def unset_value(store: Store, key: str, *, actor: str) -> str:
    """Remove ``key`` (a value, or a whole section's content) as one commit.

    Raises:
        ConfigKeyNotFound: nothing is set there.
        ValidationError: a section the store enforces would become invalid.
    """
    get_value(read_all(store), key)

    def change(section: dict[str, Any], rest: list[str]) -> None:
        if not rest:
            section.clear()
            return
        target = section
        for part in rest[:-1]:
            target = target[part]
        del target[rest[-1]]

    section, _current, new = _changed_section(store, key, change)
    return store.write_config_section(section, new, actor=actor, summary=f"Unset configuration {key}")
