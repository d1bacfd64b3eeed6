"""Helpers shared by the soak campaigns (bench/soak/): a store with hot tickets, checks, output.

Every campaign is bounded (``--seconds``, ``--rounds``), stops by itself and prints one
JSON line of counts (docs/architecture.md: the write path these campaigns attack).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from gitstore import Store  # noqa: E402
from gitstore.objects.packs import litter  # noqa: E402

HOT = ("A", "B")
"""The tickets every writer of a campaign hits."""


def hot_store(path: Path, *, fsync: bool = False) -> None:
    """Create a store at ``path`` holding the two hot tickets ``HOT``."""
    with Store.init(path, fsync=fsync) as store:
        for t_no in HOT:
            store.create_ticket(t_no, client_name=f"client {t_no}", company_name="soak", actor="soak")


def message_ids(store: Store, tickets: tuple[str, ...] = HOT) -> list[str]:
    """Every message id of ``tickets`` (E and I), in file order; duplicates kept."""
    found: list[str] = []
    for t_no in tickets:
        files = store.read(t_no)
        found += [m.message_id for m in files.external.messages] + [m.message_id for m in files.internal.messages]
    return found


def fsck_strict(path: Path) -> bool:
    """True if ``git fsck --strict`` finds nothing wrong."""
    return subprocess.run(["git", "-C", str(path), "fsck", "--strict", "--no-progress"], capture_output=True).returncode == 0


def leftovers(path: Path) -> list[str]:
    """Git lock files and pack litter still there (what the next open should have cleared)."""
    git_dir = path / ".git"
    state = git_dir / "gitstore"  # gitstore's own lock files (writer, search index) live there and stay
    locks = [str(p) for p in git_dir.glob("**/*.lock") if state not in p.parents]
    return locks + [str(p) for p in litter(git_dir / "objects" / "pack", 0.0)]


def emit(campaign: str, started: float, **counts: Any) -> None:
    """Print the campaign's one JSON line (``seconds``: wall time)."""
    print(json.dumps({"campaign": campaign, **counts, "seconds": round(time.monotonic() - started, 1)}), flush=True)
