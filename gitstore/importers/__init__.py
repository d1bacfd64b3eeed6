"""Importers: turn a platform's export into synchronized updates (issue 6).

Every importer is a module exposing an ``Importer`` (see ``base``); ``IMPORTERS`` maps
the ``gitstore import KIND`` name to the module that defines it, imported lazily.
"""

IMPORTERS = {
    "twitter-care": "gitstore.importers.twitter_care",
}
