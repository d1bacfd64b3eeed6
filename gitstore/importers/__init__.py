"""Importers: turn a platform's export into synchronized updates.

Every importer is a module exposing an ``Importer`` (see ``base``) as ``IMPORTER`` and,
when it takes options, a ``make_importer(**options)`` factory; ``IMPORTERS`` maps the
``gitstore import KIND`` name to the module that defines it, imported lazily.
"""

IMPORTERS = {
    "twitter-care": "gitstore.importers.twitter_care",
    "email": "gitstore.importers.email",
    "slack": "gitstore.importers.slack",
    "mattermost": "gitstore.importers.mattermost",
    "trello": "gitstore.importers.trello",
    "sgd": "gitstore.importers.sgd",
    "abcd": "gitstore.importers.abcd",
}
