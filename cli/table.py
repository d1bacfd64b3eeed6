"""Tables for a terminal, tab-separated values for a pipe (as ``gh issue list`` does).

On a terminal a table has a header, aligned columns, relative times ("3 days ago") and
its last column cut to the terminal's width. In a pipe every row is one line of
tab-separated fields with full ISO 8601 times and no header, for ``cut``/``awk``.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timezone

import click

from gitstore.timeutil import parse_utc

ELLIPSIS = "…"


def relative_time(text: str | None, now: datetime | None = None) -> str:
    """Return an ISO 8601 UTC time as "just now", "5 minutes ago", "3 days ago"…

    Times in the future (clock skew) read "just now"; unparsable text is returned as is.
    """
    if not text:
        return "-"
    try:
        when = parse_utc(text)
    except ValueError:
        return text
    seconds = ((now or datetime.now(timezone.utc)) - when).total_seconds()
    for unit, size in (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{'about ' if unit in ('year', 'month') else ''}{count} {unit}{'s' if count > 1 else ''} ago"
    return "just now"


def cut(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` characters, ending with an ellipsis when cut."""
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: max(0, width - 1)] + ELLIPSIS


def render(
    header: list[str],
    rows: list[list[str]],
    *,
    tty: bool,
    width: int | None = None,
    caps: dict[int, int] | None = None,
    styles: dict[int, dict] | None = None,
) -> list[str]:
    """Lay a table out as lines.

    Args:
        header: column titles (terminal only).
        rows: cells, already as text.
        tty: a terminal (aligned table) or a pipe (tab-separated, no header).
        width: the terminal's width in characters (default: ``shutil.get_terminal_size``).
        caps: column index → widest it may be (cut with an ellipsis); the last
            column always takes what is left of ``width``.
        styles: column index → ``click.style`` keywords for its cells (terminal only;
            dropped when colour is off).

    Returns:
        The lines, without line ends.
    """
    if not tty:
        return ["\t".join(" ".join(cell.split()) for cell in row) for row in rows]
    width = width or shutil.get_terminal_size((100, 24)).columns
    caps = caps or {}
    count = len(header)
    widths = [len(h) for h in header]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    for index, cap in caps.items():
        widths[index] = min(widths[index], max(cap, len(header[index])))
    used = sum(widths[:-1]) + 2 * (count - 1)
    widths[-1] = max(len(header[-1]), min(widths[-1], width - used))
    lines = []
    for number, row in enumerate([header, *rows]):
        cells = []
        for index, cell in enumerate(row):
            text = cut(cell, widths[index])
            padded = text if index == count - 1 else text.ljust(widths[index])
            if number == 0:
                padded = click.style(padded, bold=True)
            elif styles and index in styles:
                padded = click.style(padded, **styles[index])
            cells.append(padded)
        lines.append("  ".join(cells).rstrip())
    return lines
