"""Which key signs an actor's commits: the signing configuration (docs/signing.md).

For each actor the first of these that is set names its key file (an unencrypted
OpenSSH ``ssh-ed25519`` private key, ``ssh-keygen -t ed25519``):

1. ``gitstore.actor.<actor>.signingKey`` in git's configuration: that actor's own key
   (for example each agent of a bare store used as an agents' back end);
2. the environment variable ``GITSTORE_SIGNING_KEY``: the key of whoever runs the
   process, for every actor it writes as;
3. ``gitstore.signingKey`` in git's configuration: the key of every actor writing in
   this store (``git config`` in the store), or of the user in every store
   (``git config --global``).

An actor with no key writes unsigned commits. A relative path in the store's
configuration is taken from the store's folder (the working tree, or a bare store's
folder), one in the environment from the current folder; ``~`` is expanded. Every
configured key is read when the store opens, so a key that cannot sign stops the
command before anything is written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

import pygit2

from gitstore.errors import SigningKeyError

if TYPE_CHECKING:
    from gitstore.objects.sshsig import SigningKey

ENV_KEY = "GITSTORE_SIGNING_KEY"
"""The environment variable naming the process's signing key file."""
STORE_KEY = "gitstore.signingKey"
"""git configuration: the key of every actor of the store (or of the user)."""
ACTOR_PREFIX = "gitstore.actor."
ACTOR_SUFFIX = ".signingkey"
"""git configuration ``gitstore.actor.<actor>.signingKey``: one actor's key."""


class KeyRing:
    """The configured keys, as the write path's ``Signing`` (actor → sign function).

    Args:
        default: the key of actors without their own (None: they sign nothing).
        actors: actor id → that actor's key.
    """

    def __init__(self, default: "SigningKey | None" = None, actors: "Mapping[str, SigningKey] | None" = None):
        self.default = default
        self.actors = dict(actors or {})

    def key_for(self, actor: str) -> SigningKey | None:
        """The key that signs ``actor``'s commits, or None."""
        return self.actors.get(actor, self.default)

    def __call__(self, actor: str) -> Callable[[bytes], str] | None:
        key = self.key_for(actor)
        return key.sign_commit if key is not None else None


def _resolve(path: str, base: Path) -> Path:
    expanded = Path(os.path.expanduser(path))
    return expanded if expanded.is_absolute() else base / expanded


def configured_signing(repo: pygit2.Repository, environ: Mapping[str, str] | None = None) -> KeyRing | None:
    """Read the signing configuration of a store (see the module doc).

    Args:
        repo: the store's repository (its configuration includes the user's).
        environ: the environment (``os.environ`` when None).

    Returns:
        A ``KeyRing``, or None when no key is configured at all.

    Raises:
        SigningKeyError: a configured key file is missing, unreadable, passphrase
            protected or not an Ed25519 OpenSSH private key (the message names it and
            where it was configured).
    """
    env = os.environ if environ is None else environ
    config = repo.config
    base = Path(repo.workdir or repo.path)
    loaded: dict[Path, SigningKey] = {}

    def load(path: Path, source: str) -> SigningKey:
        # lazy: the cryptography package costs ~18 ms to import, paid only by stores that sign
        from gitstore.objects.sshsig import load_signing_key

        if path not in loaded:
            try:
                loaded[path] = load_signing_key(path)
            except SigningKeyError as exc:
                raise SigningKeyError(f"{exc} (configured by {source})") from None
        return loaded[path]

    actors: dict[str, SigningKey] = {}
    names = {entry.name for entry in config if entry.name.lower().startswith(ACTOR_PREFIX)
             and entry.name.lower().endswith(ACTOR_SUFFIX)}
    for name in sorted(names):
        actor = name[len(ACTOR_PREFIX):-len(ACTOR_SUFFIX)]
        if actor:
            actors[actor] = load(_resolve(str(config[name]), base), f"git config {name}")
    default = None
    if env.get(ENV_KEY):
        default = load(_resolve(env[ENV_KEY], Path.cwd()), ENV_KEY)
    elif STORE_KEY in config:
        default = load(_resolve(str(config[STORE_KEY]), base), f"git config {STORE_KEY}")
    if default is None and not actors:
        return None
    return KeyRing(default, actors)


def unsigned(actor: str) -> None:
    """A ``Signing`` under which every actor signs nothing (``Store(signing=unsigned)``)."""
    return None


__all__ = ["ACTOR_PREFIX", "ENV_KEY", "STORE_KEY", "KeyRing", "configured_signing", "unsigned"]
