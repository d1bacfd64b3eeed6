"""Printing helpers shared by commands: JSON output and plain text."""

from __future__ import annotations

import json
from typing import Any

import click

from gitstore.jsonable import to_jsonable

__all__ = ["to_jsonable", "print_json", "print_commit"]


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
