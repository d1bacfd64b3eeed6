"""API results as JSON values: what ``--json`` prints and what the HTTP API sends.

One conversion for both, so a command's ``--json`` and the matching endpoint's body are
the same document: pydantic models by ``model_dump(mode="json")``, dataclasses field by
field, datetimes as UTC ISO 8601 (``timeutil.format_utc``), dicts with string keys,
tuples as lists.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any

from gitstore.timeutil import format_utc


def to_jsonable(value: Any) -> Any:
    """``value`` (dataclasses, pydantic models, datetimes, containers of them) as plain
    JSON values (dict, list, str, int, float, bool, None)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return {k: to_jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return format_utc(value)
    return value
