"""Import Whoosh quietly.

whoosh-reloaded 2.7.5 carries source that newer Pythons warn about (invalid escape
sequences: SyntaxWarning when a module is first compiled; deprecated calls at run time).
Users of ``gitstore`` must not see that noise, so Whoosh is imported here, once, with
those two warning classes silenced for Whoosh's own modules only.
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
    import whoosh.sorting  # noqa: F401
    import whoosh.writing  # noqa: F401

__all__ = ["whoosh"]
