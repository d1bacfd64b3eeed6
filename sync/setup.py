"""Make a repository a syncing store: the merge driver in ``.git/config`` and git hooks.

- ``register_merge_driver``: ``merge.gitstore.driver = <gitstore> merge-driver %O %A %B %P``
  so a person's plain ``git merge``/``git pull`` merges ticket files exactly as
  ``gitstore pull`` does (``.gitattributes``, committed by ``Store.init``, routes
  ``Tickets/**/*.json`` to the driver named ``gitstore``).
- ``register_textconv``: ``diff.gitstore-crypt.textconv = <gitstore> crypt textconv`` so
  ``git diff``/``log -p``/``blame`` show I files' sealed fields decrypted to a key holder
  (docs/encryption.md#git);
- ``install_hooks``: copies the scripts of ``hooks/`` into the repository's hooks folder
  (``core.hooksPath`` if set, else ``.git/hooks``).

Which ``gitstore`` runs: git runs the driver and hooks through ``sh`` with whatever
``PATH`` the person's shell (or a git daemon) has, where a virtualenv's ``gitstore`` is
often absent. So the command is recorded at install time as the absolute path of the
``gitstore`` script next to the running interpreter (``<python> -m gitstore_cli.main`` if there
is none); hooks fall back to ``gitstore`` on ``PATH`` when that path has gone. Run
``gitstore hooks install --force`` again after moving the virtualenv.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from gitstore.crypt.textconv import DIFF_DRIVER, TEXTCONV_KEY, set_textconv
from gitstore.errors import HookExistsError, NotAStoreError

DRIVER = "gitstore"
DRIVER_NAME = "gitstore semantic merge of ticket files (union of messages by id)"
HOOKS_DIR = Path(__file__).resolve().parents[1] / "hooks"
"""The hook scripts shipped with gitstore (the repository's ``hooks/`` folder)."""
WORKTREE_HOOKS = ("pre-commit", "post-merge", "post-checkout")
BARE_HOOKS = ("pre-receive",)
MARKER = "# gitstore-command"


@dataclass
class SetupReport:
    """What ``configure_store``/``install_hooks`` did.

    Attributes:
        driver: the merge driver command registered (None for a bare store).
        hooks: paths of the hook scripts written.
        notes: lines worth telling the person (for example that the remote cloned
            was an empty hub), in order.
    """

    driver: str | None = None
    hooks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def gitstore_command() -> list[str]:
    """Return the argv prefix that runs this gitstore (absolute paths)."""
    script = Path(sys.executable).parent / "gitstore"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "gitstore_cli.main"]


def register_merge_driver(repo: pygit2.Repository) -> str:
    """Register the ``gitstore`` merge driver in the repository's config; returns it."""
    command = " ".join(shlex.quote(part) for part in gitstore_command()) + " merge-driver %O %A %B %P"
    repo.config[f"merge.{DRIVER}.name"] = DRIVER_NAME
    repo.config[f"merge.{DRIVER}.driver"] = command
    return command


def textconv_command() -> str:
    """The command git runs to show I files decrypted (``gitstore crypt textconv``)."""
    return " ".join(shlex.quote(part) for part in gitstore_command()) + " crypt textconv"


def register_textconv(repo: pygit2.Repository) -> str:
    """Register ``textconv_command`` for the ``gitstore-crypt`` diff driver that
    ``.gitattributes`` names for I files (docs/encryption.md#git); returns it."""
    command = textconv_command()
    set_textconv(repo, command)
    return command


def hooks_folder(repo: pygit2.Repository) -> Path:
    """Return where git looks for this repository's hooks."""
    try:
        configured = str(repo.config["core.hooksPath"])
    except KeyError:
        return Path(repo.path) / "hooks"
    path = Path(os.path.expanduser(configured))
    if not path.is_absolute():
        path = Path(repo.workdir or repo.path) / path
    return path


def render_hook(name: str) -> str:
    """Return the text of a shipped hook with the gitstore command recorded.

    Raises:
        NotAStoreError: the shipped hook script is missing (a broken installation).
    """
    source = HOOKS_DIR / name
    try:
        text = source.read_text()
    except FileNotFoundError:
        raise NotAStoreError(f"gitstore's hook script {source} is missing (reinstall gitstore)") from None
    command = gitstore_command()
    quoted = " ".join(shlex.quote(part) for part in command)
    line = (
        f'gitstore_cmd() {{ if [ -x {shlex.quote(command[0])} ]; then {quoted} "$@"; '
        f'else gitstore "$@"; fi; }}  {MARKER} (recorded by gitstore hooks install)'
    )
    out = [line if MARKER in current else current for current in text.splitlines()]
    return "\n".join(out) + "\n"


def install_hooks(repo: pygit2.Repository, names: tuple[str, ...] | None = None, *, force: bool = False) -> list[str]:
    """Install gitstore's hook scripts (default: ``pre-receive`` for a bare store,
    ``pre-commit``, ``post-merge``, ``post-checkout`` otherwise).

    A hook file gitstore wrote before is replaced; another one is kept unless ``force``.

    Returns:
        The paths written.

    Raises:
        HookExistsError: a hook not written by gitstore is in the way (nothing written).
    """
    if names is None:
        names = BARE_HOOKS if repo.is_bare else WORKTREE_HOOKS
    folder = hooks_folder(repo)
    texts = {name: render_hook(name) for name in names}
    if not force:
        for name in names:
            target = folder / name
            if target.exists() and MARKER not in target.read_text(errors="replace"):
                raise HookExistsError(f"{target} exists and was not written by gitstore (use --force to replace it)")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in texts.items():
        target = folder / name
        tmp = target.with_name(f".{name}.gitstore-tmp")
        tmp.write_text(text)
        tmp.chmod(0o755)
        os.replace(tmp, target)
        written.append(str(target))
    return written


def configure_store(repo: pygit2.Repository, *, hooks: bool, force: bool = False) -> SetupReport:
    """Set a repository up for sync.

    A bare store (a hub) gets the ``pre-receive`` hook and refuses non-fast-forward
    pushes and deletions of branches (``receive.denyNonFastForwards``,
    ``receive.denyDeletes``). A store with a working tree gets the merge driver and,
    when ``hooks`` is True, the ``pre-commit``, ``post-merge`` and ``post-checkout`` hooks.

    Raises:
        HookExistsError: a foreign hook is in the way.
    """
    report = SetupReport()
    if repo.is_bare:
        repo.config["receive.denyNonFastForwards"] = True
        repo.config["receive.denyDeletes"] = True
        report.hooks = install_hooks(repo, force=force)
        return report
    report.driver = register_merge_driver(repo)
    register_textconv(repo)
    local = Path(repo.path) / "config"
    if "pull.rebase" not in pygit2.Config(str(local)):
        # a plain ``git pull`` merges, as ``gitstore pull`` does: a rebase would give
        # every local update a new commit id, and commit ids are ticket versions
        repo.config["pull.rebase"] = False
    if hooks:
        report.hooks = install_hooks(repo, force=force)
    return report


def needs_setup(repo: pygit2.Repository) -> bool:
    """True for a store that syncs (it has a remote) but has no gitstore merge driver
    registered: a plain ``git clone``, since git copies neither ``.git/config`` nor hooks.
    A bare store, or one without remotes, needs nothing."""
    if repo.is_bare or f"merge.{DRIVER}.driver" in repo.config:
        return False
    return any(True for _ in repo.remotes.names())


def ensure_configured(repo: pygit2.Repository) -> SetupReport | None:
    """Set up a store that was cloned with plain ``git clone`` (``needs_setup``):
    register the merge driver and install the hooks.

    A hook that gitstore did not write is kept (``gitstore hooks install --force``
    replaces it) and said in the report's notes.

    Returns:
        What was set up, or None when the store already was.
    """
    if not needs_setup(repo):
        if not repo.is_bare and TEXTCONV_KEY not in repo.config and _attributes_name_textconv(repo):
            register_textconv(repo)  # set up before encryption was turned on
        return None
    try:
        return configure_store(repo, hooks=True)
    except HookExistsError as exc:
        report = configure_store(repo, hooks=False)
        report.notes.append(f"hooks not installed: {exc}")
        return report


def _attributes_name_textconv(repo: pygit2.Repository) -> bool:
    """True when HEAD's ``.gitattributes`` routes files to the ``gitstore-crypt`` diff driver."""
    try:
        tree = repo.head.peel(pygit2.Commit).tree
        return f"diff={DIFF_DRIVER}".encode() in repo[tree[".gitattributes"].id].read_raw()
    except (KeyError, pygit2.GitError):
        return False
