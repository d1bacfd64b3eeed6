"""A read started as a new process loads only what it reads.

Each check runs the real entry point (or a bare import) in a fresh interpreter and
looks at ``sys.modules`` when it ends: heavy modules a command does not use (the write
path, the search index and Whoosh, age and cryptography without encryption, pydantic
for a listing, the progress bar, the file lock) must not be there. Outcomes, not times.
The last tests check the outcome of the read path that avoids catching up the
per-ticket history log: the version it answers, and a log left as it was.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from conftest import git, requires_git

from gitstore.tickets import layout

pytestmark = requires_git

PROBE = """
import atexit, json, os, sys
atexit.register(lambda: open(os.environ["PROBE_OUT"], "w").write(json.dumps(sorted(sys.modules))))
{body}
"""
CLI = "from gitstore_cli.main import main; main()"

NEVER_ON_A_READ = {
    "cryptography", "filelock", "tqdm", "whoosh", "dateparser",
    "gitstore.writer", "gitstore.objects.packs", "gitstore.tickets.update", "gitstore.cryptstore",
    "gitstore_index.store_index", "gitstore_index.search", "gitstore_index.watcher",
}
"""Modules no read below may load (the write path, the search index, signing keys, the
lock, date parsing: none is needed to show or list a ticket)."""


def loaded(tmp_path, body: str, *args: str, code: int = 0) -> tuple[set[str], subprocess.CompletedProcess]:
    """Run ``body`` (with ``args`` as its argv) in a fresh interpreter (in conftest's
    isolated git environment); return the modules loaded when it ended, and the process."""
    out = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(body=body), *args], capture_output=True, text=True,
        env={**os.environ, "PROBE_OUT": str(out)}, timeout=120,
    )
    assert proc.returncode == code, proc.stderr
    return set(json.loads(out.read_text())), proc


def cli(tmp_path, store_path, *args: str, code: int = 0) -> tuple[set[str], subprocess.CompletedProcess]:
    """``gitstore -C STORE --actor ana ARGS…`` in a fresh interpreter (see ``loaded``)."""
    return loaded(tmp_path, CLI, "-C", str(store_path), "--actor", "ana", *args, code=code)


def run(store_path, *args: str) -> None:
    """``gitstore -C STORE --actor ana ARGS…`` as a new process, which must succeed."""
    done = subprocess.run([sys.executable, "-c", CLI, "-C", str(store_path), "--actor", "ana", *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def shop(store):
    """A store with two tickets and a message each (nothing encrypted, no search index)."""
    for t_no, company in (("1001", "Acme"), ("1002", "Initech")):
        store.create_ticket(t_no, client_name="Ana", company_name=company, actor="ana", priority="HIGH")
        store.add_message(t_no, "E", sender="customer", sender_id="ana", content=f"printer {t_no} is down", actor="ana")
    store.close()
    return store


def test_importing_the_store_loads_no_write_path_history_models_or_keys(tmp_path):
    modules, _ = loaded(tmp_path, "import gitstore.store")
    assert "gitstore.store" in modules and "pygit2" in modules
    unexpected = {
        "pydantic", "gitstore.tickets.models", "gitstore.history.log", "sqlite3", "pyrage", "orjson",
    } | NEVER_ON_A_READ
    assert modules & unexpected == set()
    assert not {m for m in modules if m.startswith("gitstore_index")}


def test_ticket_show_opens_no_search_index_and_loads_no_write_path(tmp_path, shop):
    run(shop.path, "index", "rebuild")  # the store has a search index: show must not open it
    modules, shown = cli(tmp_path, shop.path, "ticket", "show", "1001")
    assert "ticket 1001" in shown.stdout and "printer 1001 is down" in shown.stdout
    assert modules & (NEVER_ON_A_READ | {"pyrage", "subprocess"}) == set()
    assert "gitstore.tickets.models" in modules  # the files are validated as they are read
    index_modules = {m for m in modules if m.startswith("gitstore_index.")}
    assert index_modules <= {"gitstore_index.paths", "gitstore_index.subscriber"}  # looked for, never opened


def test_ticket_list_reads_its_rows_without_pydantic(tmp_path, shop):
    modules, listed = cli(tmp_path, shop.path, "ticket", "list", "--priority", "high")
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == ["1002", "1001"]
    assert modules & (NEVER_ON_A_READ | {"pydantic", "gitstore.tickets.models", "pyrage"}) == set()


def test_an_invalid_committed_file_is_still_reported_by_ticket_show(tmp_path, shop):
    path = shop.path / layout.ticket_path("T", "1001")
    data = json.loads(path.read_text())
    data["priority"] = "MEDIUM"
    path.write_text(json.dumps(data, indent=2) + "\n")
    git(shop.path, "commit", "-qam", "hand edit with plain git")
    _, shown = cli(tmp_path, shop.path, "ticket", "show", "1001", code=1)
    assert shown.stderr.startswith("Error: T_1001.json: priority: Input should be 'HIGH' or 'LOW'"), shown.stderr


def test_with_encryption_configured_show_loads_age_and_decrypts(tmp_path, shop, monkeypatch):
    monkeypatch.setenv("GITSTORE_IDENTITY", str(tmp_path / "keys" / "ana"))
    run(shop.path, "crypt", "init")
    run(shop.path, "message", "add", "1001", "--internal", "--sender", "technical_member", "--sender-id", "ops", "vault code 4711")
    assert "vault code 4711" not in (shop.path / layout.ticket_path("I", "1001")).read_text()
    modules, shown = cli(tmp_path, shop.path, "ticket", "show", "1001")
    assert "vault code 4711" in shown.stdout and "pyrage" in modules  # the probe sees what a read does load


def _log_head(store) -> str | None:
    with sqlite3.connect(store.state_dir / "history.sqlite") as conn:
        row = conn.execute("SELECT value FROM meta WHERE key='head'").fetchone()
    return row[0] if row else None


def _git_version(store, t_no: str) -> str:
    return git(store.path, "log", "-1", "--first-parent", "--format=%H", "--", *layout.ticket_paths(t_no).values()).strip()


def test_a_log_behind_the_branch_answers_the_version_without_catching_up(store, monkeypatch):
    import gitstore.store
    from gitstore.history.log import for_store

    store.create_ticket("1001", client_name="Ana", company_name="Acme", actor="ana")
    store.create_ticket("1002", client_name="Li", company_name="Initech", actor="li")
    for_store(store).refresh()
    recorded = _log_head(store)
    for n in range(4):  # the log falls behind: none of these touch 1001
        store.add_message("1002", "E", sender="customer", sender_id="li", content=f"ping {n}", actor="li")
    # 1001 last changed 6 commits back: further than the walk goes, but the walk meets
    # the commit the log reflects after 4, and the log answers there
    monkeypatch.setattr(gitstore.store, "VERSION_WALK", 5)
    assert store.context("1001").version == _git_version(store, "1001")
    assert store.ticket_version("1002") == _git_version(store, "1002")
    assert _log_head(store) == recorded  # answered by a walk to the logged commit and one query there


def test_a_log_too_far_behind_catches_up_and_answers_the_same(store, monkeypatch):
    import gitstore.store
    from gitstore.history.log import for_store

    store.create_ticket("1001", client_name="Ana", company_name="Acme", actor="ana")
    store.create_ticket("1002", client_name="Li", company_name="Initech", actor="li")
    for_store(store).refresh()
    for n in range(4):
        store.add_message("1002", "E", sender="customer", sender_id="li", content=f"ping {n}", actor="li")
    monkeypatch.setattr(gitstore.store, "VERSION_WALK", 2)
    assert store.ticket_version("1001") == _git_version(store, "1001")
    assert _log_head(store) == str(store.head().id)  # beyond the walk, the log caught up
    assert store.ticket_version("1001", at="HEAD~3") == _git_version(store, "1001")  # an older commit it holds
