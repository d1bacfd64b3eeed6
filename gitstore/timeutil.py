"""UTC time helpers: every time gitstore stores is timezone-aware UTC, ISO 8601."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime, truncated to milliseconds."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=(now.microsecond // 1000) * 1000)


def to_utc(value: datetime) -> datetime:
    """Convert an aware datetime to UTC.

    Raises:
        ValueError: if ``value`` is naive (no time zone): gitstore never guesses one.
    """
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"time {value.isoformat()} has no time zone")
    return value.astimezone(timezone.utc)


def format_utc(value: datetime) -> str:
    """Format an aware datetime as ISO 8601 UTC with a ``Z`` suffix.

    Example: ``2020-03-29T03:44:52Z`` or ``2020-03-29T03:44:52.120000Z``.
    """
    text = to_utc(value).replace(tzinfo=None).isoformat()
    return text + "Z"


def from_epoch(seconds: int | float) -> datetime:
    """The aware UTC time of a Unix time (seconds since 1970-01-01T00:00:00Z)."""
    return datetime.fromtimestamp(seconds, timezone.utc)


def parse_utc(text: str) -> datetime:
    """Parse an ISO 8601 time with a zone (``Z`` or ``±HH:MM``) into aware UTC.

    Raises:
        ValueError: malformed text, or no time zone.
    """
    return to_utc(datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")))
