"""Where ticket files live in the tree, and how they are written (docs/data-model.md#layout).

Paths: ``Tickets/T_ext/<a>/<b>/<c>/E_<T_NO>.json`` (likewise ``T_int/…/I_``,
``tickets/…/T_``) — one folder per file kind with a three-level fan-out ``<a>/<b>/<c>``
made of the first three hex digits of SHA-1(T_NO): 16 entries per level, 4,096 leaf
folders. A commit rewrites only the trees on the changed paths (``treewrite``), and each
of those stays small: at 100,000 tickets a leaf holds ~24 entries, so a commit writes
~10 KB of objects against ~7 KB at 1,000 tickets (docs/architecture-notes.md "Write path").
``gitstore ticket path T_NO`` prints where a ticket's files are.

JSON is deterministic: model field order (open objects sorted), indent 2, UTF-8 (not
ASCII-escaped), trailing newline, so ``git diff`` and ``git blame`` are line-precise
(docs/data-model.md#canonical-json).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
from typing import TYPE_CHECKING, Any

from gitstore.errors import InvalidTicketNumber, ValidationError
from gitstore.tickets.jsontext import parse_json

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

# The models (pydantic) load on the first ``loads``/``validate_data``, not with the
# paths: a command that only needs where files live (``ticket list`` reads its derived
# rows, ``ticket path``, the history log) never pays for pydantic (~60 ms of start-up).

ROOT = "Tickets"
FOLDERS = {"E": "T_ext", "I": "T_int", "T": "tickets"}
"""File kind → folder under ``Tickets/`` (docs/data-model.md#layout)."""
KINDS = ("E", "I", "T")
MAX_T_NO_LENGTH = 64
_T_NO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_FILE_RE = re.compile(r"^([EIT])_(.+)\.json$")

MERGE_DRIVER_LINE = f"{ROOT}/**/*.json text eol=lf merge=gitstore"
"""The ``.gitattributes`` line that routes ticket files to gitstore's merge driver
(a new store writes it; a hub refuses a push that drops or overrides it)."""


def validate_t_no(t_no: object) -> str:
    """Check that ``t_no`` can name a ticket and be joined into a path.

    Allowed: 1–64 characters of ``A–Z a–z 0–9 _ . -``, starting with a letter or digit,
    and no ``..``. That excludes ``/``, ``\\``, control characters and path traversal.

    Returns:
        The ticket number unchanged.

    Raises:
        InvalidTicketNumber: with a one-line reason.
    """
    if not isinstance(t_no, str) or not t_no:
        raise InvalidTicketNumber("invalid ticket number: empty")
    shown = t_no.encode("unicode_escape").decode("ascii")[:80]
    if len(t_no) > MAX_T_NO_LENGTH:
        raise InvalidTicketNumber(
            f"invalid ticket number {shown!r}: longer than {MAX_T_NO_LENGTH} characters"
        )
    if any(unicodedata.category(c) == "Cc" for c in t_no):
        raise InvalidTicketNumber(f"invalid ticket number {shown!r}: control character")
    if "/" in t_no or "\\" in t_no or ".." in t_no:
        raise InvalidTicketNumber(f"invalid ticket number {shown!r}: path separator or '..'")
    if not _T_NO_RE.match(t_no):
        raise InvalidTicketNumber(
            f"invalid ticket number {shown!r}: use letters, digits, '_', '.', '-' "
            "and start with a letter or digit"
        )
    return t_no


def fanout(t_no: str) -> str:
    """Return the fan-out folders of a ticket, e.g. ``"a/3/f"``."""
    digest = hashlib.sha1(t_no.encode("utf-8")).hexdigest()
    return f"{digest[0]}/{digest[1]}/{digest[2]}"


def file_name(kind: str, t_no: str) -> str:
    """Return the file name of one of a ticket's files, e.g. ``E_1001.json``."""
    return f"{kind}_{t_no}.json"


@functools.lru_cache(maxsize=65536)
def ticket_path(kind: str, t_no: str) -> str:
    """Return the repository path of a ticket file (``kind`` is ``E``, ``I`` or ``T``).

    Paths are cached (the write path asks for them several times per update).

    Raises:
        InvalidTicketNumber: if ``t_no`` is not valid.
    """
    validate_t_no(t_no)
    return f"{ROOT}/{FOLDERS[kind]}/{fanout(t_no)}/{file_name(kind, t_no)}"


def ticket_paths(t_no: str) -> dict[str, str]:
    """Return ``{"E": path, "I": path, "T": path}`` for a ticket (a new dict each call)."""
    return {kind: ticket_path(kind, t_no) for kind in KINDS}


def parse_path(path: str) -> tuple[str, str] | None:
    """Map a repository path to ``(kind, T_NO)`` if it names a ticket file, else None.

    Only the file name is read; ``expected_path`` tells whether the folder is right.
    """
    if not path.startswith(ROOT + "/"):
        return None
    match = _FILE_RE.match(path.rsplit("/", 1)[-1])
    if not match:
        return None
    return match.group(1), match.group(2)


_FLOAT_RE = re.compile(rb"[.eE][-+]?[0-9]+,?(?:\n|$)")
"""A number token with a fraction or an exponent at the end of a line of indented JSON.

In indent-2 output a string never ends a line on a digit (it ends on ``"``) and
never holds a raw newline, so a match can only be a float."""


def encode_json(data: Any) -> bytes:
    """Return ``json.dumps(data, indent=2, ensure_ascii=False)`` as UTF-8 bytes, fast.

    The bytes are produced by ``orjson`` (C), which writes strings, integers, booleans,
    null and the indent-2 layout exactly as the standard library does (checked on every
    code point and on random documents in ``tests/test_layout_models.py``), but floats
    differently (``1e-05`` vs ``0.00001``); so a document holding a float (or an
    integer beyond 64 bits) is written by the standard library instead. The canonical
    form of ticket files stays the standard library's, byte for byte.

    Args:
        data: JSON-compatible value (dicts with ``str`` keys, lists, str, int,
            finite float, bool, None).

    Raises:
        ValueError: NaN or infinity (not JSON).
    """
    import orjson  # loaded by the first write (with uuid and platform: ~2 ms), not by reads

    try:
        out = orjson.dumps(data, option=orjson.OPT_INDENT_2)
    except (orjson.JSONEncodeError, TypeError):
        out = None
    if out is None or _FLOAT_RE.search(out):
        return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False).encode("utf-8")
    return out


def locate(path: str) -> tuple[str, str]:
    """Return ``(kind, T_NO)`` of a ticket file at its repository path.

    Raises:
        ValidationError: not a ticket file name (``E_<T_NO>.json``, ``I_…``, ``T_…``),
            or the file is not in the folder its T_NO gives (docs/data-model.md#layout).
        InvalidTicketNumber: the T_NO in the name is malformed.
    """
    parsed = parse_path(path)
    if parsed is None:
        raise ValidationError("not a ticket file name (E_<T_NO>.json, I_…, T_…)")
    kind, t_no = parsed
    expected = ticket_path(kind, t_no)
    if expected != path:
        raise ValidationError(f"in the wrong folder, expected {expected}")
    return kind, t_no


def dumps(model: Any) -> bytes:
    """Serialise a ticket model deterministically (indent 2, UTF-8, trailing newline).

    Raises:
        ValidationError: a free-form object holds NaN or infinity (not JSON).
    """
    try:
        return encode_json(model.model_dump(mode="json")) + b"\n"
    except ValueError as exc:  # NaN/Infinity (orjson would silently write null)
        raise ValidationError(f"cannot write {type(model).__name__}: {exc}") from None


def loads(kind: str, data: bytes, name: str = "") -> Any:
    """Parse and validate a ticket file's bytes into its model.

    Args:
        kind: ``E``, ``I`` or ``T``.
        data: the file's bytes (UTF-8 JSON).
        name: the file name, for error messages.

    Raises:
        ValidationError: invalid UTF-8, malformed JSON, or a schema violation; the
            message is one line naming the file and the first problem.
    """
    from pydantic import ValidationError as PydanticValidationError

    from gitstore.tickets.models import MODEL_BY_KIND

    label = name or kind
    try:  # fast path: pydantic-core parses and validates the bytes in one pass
        return MODEL_BY_KIND[kind].model_validate_json(data)
    except (PydanticValidationError, RecursionError, ValueError):
        pass  # redo it the slow way for a precise one-line message
    raw = parse_json(data, label)  # hostile JSON (huge integers, deep nesting) is one line too
    try:
        return validate_data(kind, raw, label)
    except RecursionError:
        raise ValidationError(f"{label}: unreadable JSON (nested too deeply to validate)") from None


def validate_data(kind: str, raw: Any, label: str) -> Any:
    """Validate a decoded JSON value as a ticket file of ``kind``.

    Raises:
        ValidationError: one line per schema problem, the first in the message.
    """
    from pydantic import ValidationError as PydanticValidationError

    from gitstore.tickets.models import MODEL_BY_KIND

    try:
        return MODEL_BY_KIND[kind].model_validate(raw)
    except PydanticValidationError as exc:
        problems = [f"{label}: {describe_error(err)}" for err in exc.errors()]
        raise ValidationError(problems[0], problems) from None


def describe_error(err: ErrorDetails) -> str:
    """Render one pydantic error as ``field.path: message``."""
    where = ".".join(str(p) for p in err.get("loc", ())) or "(file)"
    return f"{where}: {err.get('msg', 'invalid')}"
