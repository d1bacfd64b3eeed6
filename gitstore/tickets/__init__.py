"""The ticket layer: the three files of a ticket and the rules they obey.

``models`` (the file schemas), ``layout`` (paths and canonical JSON), ``files`` (one
ticket's three files), ``rules`` (cross-file rules), ``policy`` (roles and workflow
stages), ``update`` (applying an update), ``archive`` (read-only archived tickets) and
``complete`` (a ticket's complete context). See docs/data-model.md.
"""
