"""Deflating a file that grows at one place, in time proportional to what changed.

A ticket file with thousands of messages is rewritten whole by every update (git stores
whole blobs), but its bytes up to the end of its message list do not change when a
message is appended. ``PrefixDeflater`` keeps the zlib compressor's state after that
stable prefix: the next version's stream is the saved output plus the compression of
what follows the prefix (``zlib.Compress.copy``), the same stream format git reads
(one zlib stream, its Adler-32 over all the bytes). A version that does not start with
the saved prefix is deflated whole and becomes the new base.
"""

from __future__ import annotations

import zlib
from typing import Any

LEVEL = 1
"""zlib level of blob streams (the object writer's level for blobs)."""

MIN_BYTES = 64 * 1024
"""Files smaller than this are deflated whole: the saved state would not pay off."""


class PrefixDeflater:
    """Deflates successive versions of one file, reusing the work on their common prefix.

    Memory: the saved prefix (bytes) and its compressed output.
    """

    def __init__(self) -> None:
        self._prefix = b""
        self._state: Any = None  # a zlib compress object (the type has no public name)
        self._out = b""

    def deflate(self, data: bytes, stable: int) -> bytes:
        """Return the zlib stream of ``data`` (level ``LEVEL``).

        Args:
            data: the file's new bytes.
            stable: the length of the prefix of ``data`` expected to start the next
                version too (saved for the next call); 0 keeps nothing.
        """
        prefix = self._prefix
        if self._state is not None and len(prefix) <= len(data) and data.startswith(prefix):
            state, out = self._state, self._out
        else:
            state, out, prefix = zlib.compressobj(LEVEL), b"", b""
        if stable < len(prefix) or stable > len(data):
            stable = len(prefix)
        advanced = state.copy()
        saved_out = out + advanced.compress(data[len(prefix) : stable])
        final = advanced.copy()
        stream = saved_out + final.compress(data[stable:]) + final.flush()
        self._prefix, self._state, self._out = data[:stable], advanced, saved_out
        return stream
