"""The object layer: git objects, refs and files, knowing nothing of tickets.

``packs`` (one small pack per commit, geometric merges), ``trees`` (blob ids, trees
along changed paths, tree diffs), ``lock`` (the writer lock), ``worktree`` (bringing the
working tree and ``.git/index`` up to a commit) and ``revisions`` (revision syntax).
See docs/architecture.md.
"""
