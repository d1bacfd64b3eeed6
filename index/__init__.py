"""Full-text search over every conversation: a Whoosh index derived from commits.

The index lives in ``.git/gitstore/index/`` (never committed), holds one document per
message of the E and I files and one per ticket's workflow state (T file), and records
the commit it reflects and its schema version (docs/architecture-notes.md "Search"). Opening it
catches up from that commit to HEAD by a tree diff; writes through the gitstore API
update it in the same process (``subscribe``); ``watch`` keeps it fresh while people
and other programs use plain git.

Importing this package is cheap: Whoosh is imported by the modules that use it.

Example:
    >>> from gitstore import Store
    >>> from index import SearchIndex, search_store
    >>> store = Store.open("demo")                                          # doctest: +SKIP
    >>> search_store(store, "printer AND broken", role="customer_facing")   # one-shot  # doctest: +SKIP
    >>> with SearchIndex.open(store) as ix:                           # long-running  # doctest: +SKIP
    ...     results = ix.search("printer refund", limit=5, count=False)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "SearchIndex": "gitstore_index.store_index",
    "IndexStatus": "gitstore_index.store_index",
    "IndexChange": "gitstore_index.documents",
    "search_store": "gitstore_index.search:search",  # not "search": that is the submodule's name
    "SearchResults": "gitstore_index.search",
    "Hit": "gitstore_index.search",
    "find_tickets": "gitstore_index.tickets",
    "subscribe_index": "gitstore_index.subscriber",
    "IndexSubscriber": "gitstore_index.subscriber",
    "Watcher": "gitstore_index.watcher",
    "ROLES": "gitstore_index.roles",
    "index_exists": "gitstore_index.paths",
}


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'gitstore_index' has no attribute {name!r}")
    module, _, attribute = target.partition(":")
    return getattr(import_module(module), attribute or name)


__all__ = sorted(_EXPORTS)
