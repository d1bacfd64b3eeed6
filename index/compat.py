"""Import Whoosh quietly.

whoosh-reloaded 2.7.5 carries source that newer Pythons warn about (invalid escape
sequences: SyntaxWarning when a module is first compiled; deprecated calls at run time).
Users of ``gitstore`` must not see that noise, so Whoosh is imported here, once, with
those two warning classes silenced for Whoosh's own modules only.

It also says which Whoosh releases the private internals read by ``fastpath`` were
verified against (``WHOOSH_VERIFIED``): outside that range the plain-word path uses
Whoosh's public reader and matcher interface only.
"""

from __future__ import annotations

import warnings

_WHOOSH_MODULES = r"whoosh(\..*)?$"

warnings.filterwarnings("ignore", category=SyntaxWarning, module=_WHOOSH_MODULES)
warnings.filterwarnings("ignore", category=DeprecationWarning, module=_WHOOSH_MODULES)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", SyntaxWarning)
    warnings.simplefilter("ignore", DeprecationWarning)
    import whoosh  # noqa: F401
    import whoosh.analysis  # noqa: F401
    import whoosh.fields  # noqa: F401
    import whoosh.highlight  # noqa: F401
    import whoosh.index  # noqa: F401
    import whoosh.qparser  # noqa: F401
    import whoosh.query  # noqa: F401
    import whoosh.scoring  # noqa: F401
    import whoosh.sorting  # noqa: F401
    import whoosh.writing  # noqa: F401

WHOOSH_VERIFIED = ((2, 7, 5), (2, 8))
"""whoosh-reloaded versions ``[low, high)`` whose private internals ``fastpath`` reads
(the W3 codec's posting blocks, length column and per-document reader): verified
against 2.7.5, the release pyproject.toml pins (``>=2.7.5,<2.8``)."""


def whoosh_verified(version: tuple | None = None) -> bool:
    """True when a Whoosh version lies in ``WHOOSH_VERIFIED``.

    Args:
        version: a version tuple such as ``(2, 7, 5)``; the installed Whoosh's
            (``whoosh.__version__``) when None.
    """
    found = tuple(whoosh.__version__ if version is None else version)
    low, high = WHOOSH_VERIFIED
    try:
        return low <= found < high
    except TypeError:  # a version with non-numeric parts: not one we checked
        return False


__all__ = ["WHOOSH_VERIFIED", "whoosh", "whoosh_verified"]
