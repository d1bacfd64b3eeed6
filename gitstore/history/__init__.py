"""The history layer: what git's commits say about tickets.

``log`` (the per-ticket history log, derived data), ``changes`` (which tickets changed
between two commits), ``diff`` (semantic diff of a ticket), ``blame``, ``audit`` (the
audit log from commit trailers) and ``rollback``. See docs/architecture.md.
"""
