"""Sync between sites: remotes, fetch/push, the semantic three-way merge of ticket files.

Sites replicate through git remotes (docs/architecture-notes.md "Sync"):

- ``remotes``: ``add_remote``, ``list_remotes``, ``remove_remote`` (URLs: paths,
  ``file://``, ``git://``, ``ssh://``, ``https://``);
- ``pull.pull``: fetch + fast-forward or semantic merge (one merge commit);
- ``push.push``: push ``main`` and check every ref's server answer;
- ``exchange.sync``: pull then push, retried when the remote moved;
- ``filemerge.merge_ticket_file``: the pure merge of one ticket file;
- ``treemerge.merge_commits``: the merge of two commits;
- ``driver``: the same merge as a git merge driver; ``hookchecks``: what the git hooks
  validate; ``setup``: merge driver registration and hook installation; ``clone``.

Imports only ``gitstore`` (and pygit2). Import the submodules directly:
``from sync.pull import pull``.
"""
