"""gitstore serve: the HTTP API, the change feed, webhooks and the web view.

The layer above the store, its search index and sync (``cli → serve → sync, index →
gitstore``): one process keeps one store open and answers HTTP for many viewers, each
request for the viewer its API token names (docs/http.md).
"""
