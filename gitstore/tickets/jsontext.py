"""Parse JSON from outside (a user's file, a pushed blob) with one-line errors.

The standard library's ``json.loads`` raises more than ``JSONDecodeError`` on hostile
input: ``ValueError`` for an integer of more than 4,300 digits (Python's int/str
conversion limit, ``sys.get_int_max_str_digits``) and ``RecursionError`` for arrays
or objects nested deeper than the interpreter's recursion limit. ``parse_json`` turns
each into a ``ValidationError`` naming the input, so no command shows a traceback
(docs/data-model.md#verification: a problem is one line naming the file).
"""

from __future__ import annotations

import json
from typing import Any

from gitstore.errors import ValidationError


def parse_json(data: bytes | str, label: str) -> Any:
    """Decode UTF-8 JSON text, refusing what the decoder cannot hold.

    Args:
        data: the JSON text (bytes are decoded as UTF-8).
        label: names the input in the error (a file name, an option).

    Returns:
        The decoded value.

    Raises:
        ValidationError: invalid UTF-8, malformed JSON, an integer beyond 4,300 digits,
            or nesting deeper than the interpreter can decode; one line naming ``label``.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{label}: invalid UTF-8 at byte {exc.start}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{label}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise ValidationError(f"{label}: unreadable JSON (nested too deeply to decode)") from None
    except ValueError as exc:  # the int/str digit limit
        raise ValidationError(f"{label}: unreadable JSON ({str(exc).split(':', 1)[0]})") from None
