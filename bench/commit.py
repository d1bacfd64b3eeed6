"""Benchmark: cost of one synchronized update (issue: core store, "Speed").

For stores of 1,000 and 100,000 tickets, times N (default 500) synchronized updates —
one external message added + the workflow state touched — through the Python API, and
the naive baseline in the same run: write the two files, ``git add``, ``git commit``
with the git CLI, on a clone of the same store. Measured twice: fsync off on both
sides, and fsync on for both (gitstore's default against git with core.fsync=all).

gitstore writes inside ``Store.batch(flush_interval=1.0)``: every update is its own
commit; the working tree and ``.git/index`` catch up at most once per second, as a
long-running agent process does (docs/architecture-notes.md "Write path").

Prints one JSON line per (store size, fsync mode): p50/p95 ms per update, updates/s,
bytes written to .git/objects per update, and the same for the git CLI with ratios.

With ``--signed``, gitstore also runs signed (an Ed25519 key, docs/signing.md) on a
third clone with the same updates, and the line adds ``gitstore_signed`` and
``signing_p50_ms`` (signed p50 minus unsigned p50, same run; the target is at most 1 ms).

With ``--encrypted``, the updates add one *internal* message instead of an external one,
and gitstore runs them twice on clones of the same store: without encryption, and with
encryption on (one X25519 recipient in the ``crypt`` section, docs/encryption.md); the
line adds ``gitstore_internal``, ``gitstore_encrypted`` and ``encryption_p50_ms``
(encrypted p50 minus plain p50, same run; the target is at most 2 ms).

Usage: python bench/commit.py [--sizes 1000,100000] [--updates 500] [--signed] [--encrypted]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from common import emit, fast_store, git, objects_bytes, percentile

from gitstore import Store
from gitstore.tickets import layout


def signing_key(folder: Path):
    """A KeyRing signing every actor's commits with a new Ed25519 key file in ``folder``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    from gitstore.objects.signingkeys import KeyRing
    from gitstore.objects.sshsig import load_signing_key

    path = folder / "bench_ed25519"
    path.write_bytes(Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()))
    path.chmod(0o600)
    return KeyRing(load_signing_key(path))


def encrypt_for_one_recipient(path: Path) -> None:
    """Turn encryption on in the store at ``path``: one new X25519 recipient."""
    from pyrage import x25519

    with Store.open(path, fsync=False) as store:
        recipient = str(x25519.Identity.generate().to_public())
        store.write_config_section("crypt", {"recipients": [{"name": "bench", "recipient": recipient}]}, actor="bench")


def gitstore_run(path: Path, n_tickets: int, updates: int, fsync: bool, seed: int, signing=None, kind: str = "E") -> dict:
    store = Store.open(path, fsync=fsync, signing=signing)
    rng = random.Random(seed)
    before = objects_bytes(store.git_dir)
    times = []
    start = time.perf_counter()
    with store.batch(flush_interval=1.0):
        for i in range(updates):
            t_no = f"{rng.randrange(n_tickets):06d}"
            data = {
                kind: {"messages": [{"sender": "cs_agent", "sender_id": "bench", "content": f"update {i}: we are on it"}]},
                "T": {"assigned_member": f"agent-{i % 7}", "priority": "HIGH" if i % 2 else "LOW"},
            }
            t0 = time.perf_counter()
            try:
                store.update(t_no, data, actor="bench")
            except Exception:
                data["T"]["assigned_member"] = f"agent-x{i}"
                store.update(t_no, data, actor="bench")
            times.append((time.perf_counter() - t0) * 1000)
    total = time.perf_counter() - start
    written = objects_bytes(store.git_dir) - before
    status = subprocess.run(["git", "-C", str(path), "status", "--porcelain"], capture_output=True, text=True).stdout
    assert status == "", "working tree not clean after the batch"
    return {"p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95), "updates_per_s": updates / total,
            "bytes_per_update": written / updates}


def git_cli_run(path: Path, n_tickets: int, updates: int, fsync: bool, seed: int) -> dict:
    rng = random.Random(seed)
    env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="b@x", GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="b@x")
    fs = ["-c", "core.fsync=all", "-c", "core.fsyncMethod=fsync"] if fsync else ["-c", "core.fsync=none"]
    before = objects_bytes(path / ".git")
    times = []
    start = time.perf_counter()
    for i in range(updates):
        t_no = f"{rng.randrange(n_tickets):06d}"
        t0 = time.perf_counter()
        paths = layout.ticket_paths(t_no)
        e_file, t_file = path / paths["E"], path / paths["T"]
        e = json.loads(e_file.read_text())
        e["messages"].append({"message_id": f"git-{i}", "timestamp": "2026-11-21T00:00:00Z", "sender": "cs_agent",
                              "sender_id": "bench", "content": f"update {i}: we are on it", "attachments": [],
                              "metadata": {"trello_card_id": None, "platform_specific": {}}})
        e_file.write_text(json.dumps(e, indent=2, ensure_ascii=False) + "\n")
        t = json.loads(t_file.read_text())
        t["assigned_member"] = f"agent-{i % 7}"
        t_file.write_text(json.dumps(t, indent=2, ensure_ascii=False) + "\n")
        subprocess.run(["git", "-C", str(path), *fs, "add", paths["E"], paths["T"]], check=True, env=env)
        subprocess.run(["git", "-C", str(path), *fs, "commit", "-q", "-m", f"update {t_no}"], check=True, env=env)
        times.append((time.perf_counter() - t0) * 1000)
    total = time.perf_counter() - start
    written = objects_bytes(path / ".git") - before
    return {"p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95), "updates_per_s": updates / total,
            "bytes_per_update": written / updates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--updates", type=int, default=500)
    parser.add_argument("--workdir", default=None, help="where to build stores (default: a temp folder)")
    parser.add_argument("--fsync", choices=["off", "on", "both"], default="both", help="which fsync modes to measure")
    parser.add_argument("--signed", action="store_true", help="also run gitstore signing every commit (same updates)")
    parser.add_argument("--encrypted", action="store_true", help="also add internal messages, plain and encrypted")
    args = parser.parse_args()
    root = Path(args.workdir or tempfile.mkdtemp(prefix="gitstore-bench-"))
    try:
        for size in [int(s) for s in args.sizes.split(",")]:
            base = root / f"base-{size}"
            t0 = time.perf_counter()
            fast_store(base, size)
            build_s = time.perf_counter() - t0
            modes = {"off": (False,), "on": (True,), "both": (False, True)}[args.fsync]
            for fsync in modes:
                ours = root / f"gs-{size}-{fsync}"
                theirs = root / f"git-{size}-{fsync}"
                git(root, "clone", "-q", "--no-hardlinks", str(base), str(ours))
                git(root, "clone", "-q", "--no-hardlinks", str(base), str(theirs))
                git(theirs, "config", "gc.auto", "0")
                Store.open(ours, fsync=False).close()
                signed = root / f"gs-signed-{size}-{fsync}"
                if args.signed:
                    git(root, "clone", "-q", "--no-hardlinks", str(base), str(signed))
                    Store.open(signed, fsync=False).close()
                plain_i, sealed_i = root / f"gs-plain-i-{size}-{fsync}", root / f"gs-sealed-i-{size}-{fsync}"
                if args.encrypted:
                    for clone in (plain_i, sealed_i):
                        git(root, "clone", "-q", "--no-hardlinks", str(base), str(clone))
                        Store.open(clone, fsync=False).close()
                    encrypt_for_one_recipient(sealed_i)
                os.sync()  # let the clones' checkout writeback finish before timing anything
                time.sleep(2)
                seed = 7 + size
                g = gitstore_run(ours, size, args.updates, fsync, seed)
                s = gitstore_run(signed, size, args.updates, fsync, seed, signing=signing_key(root)) if args.signed else None
                pi = gitstore_run(plain_i, size, args.updates, fsync, seed, kind="I") if args.encrypted else None
                si = gitstore_run(sealed_i, size, args.updates, fsync, seed, kind="I") if args.encrypted else None
                b = git_cli_run(theirs, size, args.updates, fsync, seed)
                record = {
                    "bench": "commit", "tickets": size, "updates": args.updates, "fsync": fsync,
                    "gitstore": {k: round(v, 3) for k, v in g.items()},
                    "git_cli": {k: round(v, 3) for k, v in b.items()},
                    "speedup_p50": round(b["p50_ms"] / g["p50_ms"], 2),
                    "base_build_s": round(build_s, 1),
                }
                if s is not None:
                    record["gitstore_signed"] = {k: round(v, 3) for k, v in s.items()}
                    record["signing_p50_ms"] = round(s["p50_ms"] - g["p50_ms"], 3)
                    shutil.rmtree(signed)
                if pi is not None and si is not None:
                    record["gitstore_internal"] = {k: round(v, 3) for k, v in pi.items()}
                    record["gitstore_encrypted"] = {k: round(v, 3) for k, v in si.items()}
                    record["encryption_p50_ms"] = round(si["p50_ms"] - pi["p50_ms"], 3)
                    shutil.rmtree(plain_i)
                    shutil.rmtree(sealed_i)
                record["loadavg"] = [round(x, 2) for x in os.getloadavg()]
                emit(record)
                shutil.rmtree(ours)
                shutil.rmtree(theirs)
            shutil.rmtree(base)
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
