"""Printing helpers shared by commands: JSON output and plain text."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any

import click


def to_jsonable(value: Any) -> Any:
    """Convert API results (dataclasses, pydantic models, datetimes) to JSON values."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return {k: to_jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        from gitstore.timeutil import format_utc

        return format_utc(value)
    return value


def print_json(value: Any) -> None:
    """Print a value as indented JSON on stdout."""
    click.echo(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False))


def print_commit(result: Any, as_json: bool) -> None:
    """Print the outcome of one synchronized update."""
    if as_json:
        print_json(result)
        return
    files = ", ".join(result.files)
    click.echo(f"[{result.commit[:12]}] ticket {result.t_no}: {files}")
    for path in result.kept_local_edits:
        click.echo(f"kept your uncommitted edit of {path} (HEAD has the new version)", err=True)
