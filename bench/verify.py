"""Benchmark: verifying the signatures of a store's history (docs/signing.md).

Builds a store whose every commit is signed (an Ed25519 key, one registered signer):
``--tickets`` tickets, then ``--commits`` signed updates through the bulk write path
(one external message each, round robin over the tickets). Then times:

- ``gitstore.signers.verify_signatures`` in-process (every commit: SSHSIG parse,
  Ed25519 check, registry lookup, signer = actor, registry changes), the target being
  under 10 s for 10,000 commits;
- ``gitstore verify --signatures`` as a command (interpreter start-up included);
- ``git log --format=%G?`` over the newest ``--git-sample`` commits with the registry
  as ``gpg.ssh.allowedSignersFile`` (git runs ``ssh-keygen`` per commit), extrapolated
  to the whole history, for comparison; skipped without ``ssh-keygen``.

Prints one JSON line: commits, seconds and commits/s for each, build seconds.

Usage: python bench/verify.py [--commits 10000] [--tickets 100] [--git-sample 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import emit

from gitstore import Store
from gitstore.objects.allowedsigners import REGISTRY_PATH
from gitstore.objects.signingkeys import KeyRing
from gitstore.objects.sshsig import load_signing_key
from gitstore.signers import add_signer, verify_signatures

ACTOR = "bench"


def make_key(folder: Path) -> tuple[Path, str]:
    """A new unencrypted Ed25519 OpenSSH key file and its public key line."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

    private = Ed25519PrivateKey.generate()
    path = folder / "bench_ed25519"
    path.write_bytes(private.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()))
    path.chmod(0o600)
    return path, private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()


def build(path: Path, key: Path, public: str, tickets: int, commits: int) -> Store:
    """A store of ``tickets`` tickets and ``commits`` signed commits in all (written in bulk)."""
    store = Store.init(path, fsync=False, signing=KeyRing(load_signing_key(key)))
    add_signer(store, ACTOR, public, actor=ACTOR)
    written = 1
    with store.bulk():
        for n in range(min(tickets, commits - written)):
            store.create_ticket(f"{n:06d}", client_name=f"client {n}", company_name="Acme", actor=ACTOR)
            written += 1
        n = 0
        while written < commits:
            t_no = f"{n % tickets:06d}"
            store.add_message(t_no, "E", sender="customer", sender_id=f"c{n}", content=f"message {n}", actor=ACTOR)
            written += 1
            n += 1
    store.close()
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=10000, help="signed commits in the store (the initial one aside)")
    parser.add_argument("--tickets", type=int, default=100)
    parser.add_argument("--git-sample", type=int, default=200, help="commits git checks (0: skip git)")
    parser.add_argument("--workdir", default=None, help="where to build the store (default: a temp folder)")
    args = parser.parse_args()
    root = Path(args.workdir or tempfile.mkdtemp(prefix="gitstore-bench-verify-"))
    try:
        key, public = make_key(root)
        t0 = time.perf_counter()
        store = build(root / "store", key, public, args.tickets, args.commits)
        build_s = time.perf_counter() - t0
        with Store.open(store.path, fsync=False) as fresh:
            t0 = time.perf_counter()
            report = verify_signatures(fresh)
            api_s = time.perf_counter() - t0
        assert report.ok and report.checked == args.commits, (report.checked, report.failures[:3])
        command = [str(Path(sys.executable).parent / "gitstore"), "-C", str(store.path), "verify", "--signatures"]
        t0 = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True)
        cli_s = time.perf_counter() - t0
        assert proc.returncode == 0, proc.stdout + proc.stderr
        record = {
            "bench": "verify", "commits": report.checked, "tickets": args.tickets, "build_s": round(build_s, 1),
            "api": {"seconds": round(api_s, 3), "commits_per_s": round(report.checked / api_s)},
            "cli": {"seconds": round(cli_s, 3)},
            "under_10s": api_s < 10,
        }
        if args.git_sample and shutil.which("ssh-keygen"):
            allowed = store.path / REGISTRY_PATH
            env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1")
            t0 = time.perf_counter()
            out = subprocess.run(["git", "-C", str(store.path), "-c", "gpg.format=ssh", "-c", f"gpg.ssh.allowedSignersFile={allowed}",
                                  "log", f"-{args.git_sample}", "--format=%G?"], capture_output=True, text=True, env=env, check=True)
            git_s = time.perf_counter() - t0
            good = out.stdout.split().count("G")
            record["git_log_sample"] = {"commits": args.git_sample, "good": good, "seconds": round(git_s, 3),
                                        "extrapolated_s": round(git_s / args.git_sample * report.checked, 1)}
        emit(record)
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
