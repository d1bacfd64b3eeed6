"""Encrypted internal content and plain git (docs/encryption.md): the pre-commit hook,
``gitstore commit``, a hub's pre-receive over a real ``git push``, git's textconv in
``git log -p``/``git blame``, merges between sites, ``gitstore verify`` and clones."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import git, requires_git

from gitstore import Store, TicketFiles
from gitstore.crypt import generate_identity, identities_for, is_sealed, open_ticket
from gitstore.tickets import layout
from gitstore.verify import verify_store
from gitstore_cli.main import cli

pytestmark = requires_git


class Sites:
    """A hub (``gitstore init --bare``), a seed store pushed to it, clones of it."""

    def __init__(self, root: Path):
        self.root = root
        self.runner = CliRunner()
        self.hub = root / "hub.git"
        self.seed = root / "seed"
        self.ok("--no-fsync", "init", "--bare", str(self.hub))
        self.ok("--no-fsync", "init", str(self.seed))
        self.at(self.seed, "ticket", "create", "1001", "--client", "Ana", "--company", "Acme")
        self.at(self.seed, "crypt", "init")
        self.at(self.seed, "push", str(self.hub))

    def ok(self, *args):
        result = self.runner.invoke(cli, list(args))
        assert result.exit_code == 0, result.output
        return result

    def at(self, site: Path, *args, actor: str = "alice", check: bool = True):
        result = self.runner.invoke(cli, ["-C", str(site), "--no-fsync", "--actor", actor, *args])
        if check:
            assert result.exit_code == 0, result.output
        return result

    def note(self, site: Path, text: str, actor: str = "alice"):
        return self.at(site, "message", "add", "1001", "--internal", "--sender", "technical_member", "--sender-id", "tom",
                       text, actor=actor)

    def clone(self, name: str) -> Path:
        path = self.root / name
        self.ok("--no-fsync", "clone", str(self.hub), str(path))
        return path


@pytest.fixture
def key(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "keys" / "alice"
    monkeypatch.setenv("GITSTORE_IDENTITY", str(path))
    return path


@pytest.fixture
def sites(tmp_path, key) -> Sites:
    return Sites(tmp_path)


def i_file(site: Path, t_no: str = "1001") -> Path:
    return site / layout.ticket_path("I", t_no)


def add_clear_item_by_hand(site: Path, text: str, message_id: str = "msg_byhand") -> None:
    data = json.loads(i_file(site).read_text())
    data["messages"].append({"message_id": message_id, "timestamp": "2030-01-01T00:00:00Z", "sender": "cs_agent",
                             "sender_id": "amy", "content": text})
    i_file(site).write_text(json.dumps(data, indent=2) + "\n")


def push(site: Path, hub: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(site), "push", str(hub), "main"], capture_output=True, text=True)


def test_gitstore_commit_and_the_pre_commit_hook_refuse_clear_text_where_ciphertext_is_expected(sites):
    site = sites.clone("a")
    sites.note(site, "sealed already")
    add_clear_item_by_hand(site, "typed in my editor")
    refused = sites.at(site, "commit", "-m", "hand edit", check=False)
    assert refused.exit_code == 1
    assert ("messages 'msg_byhand': content is clear text, but encryption is on and internal content must be sealed "
            "(docs/encryption.md#what-is-sealed)") in refused.output
    assert "typed in my editor" in i_file(site).read_text()  # the edit is left in place
    git(site, "add", layout.ticket_path("I", "1001"))
    head = git(site, "rev-parse", "HEAD")
    proc = subprocess.run(["git", "-C", str(site), "commit", "-q", "-m", "plain git"], capture_output=True, text=True)
    assert proc.returncode != 0
    assert f"{layout.ticket_path('I', '1001')}: messages 'msg_byhand': content is clear text" in proc.stderr + proc.stdout
    assert git(site, "rev-parse", "HEAD") == head


def test_the_hub_refuses_malformed_ciphertext_and_new_clear_items_and_takes_sealed_ones(sites, tmp_path):
    site = sites.clone("a")
    sites.note(site, "a proper secret")
    assert push(site, sites.hub).returncode == 0  # sealed by gitstore: accepted
    head = git(sites.hub, "rev-parse", "main")
    # a clear new item, committed past the local hook
    add_clear_item_by_hand(site, "leaked in clear")
    git(site, "commit", "-q", "--no-verify", "-am", "clear by hand")
    proc = push(site, sites.hub)
    assert proc.returncode != 0
    assert (f"{layout.ticket_path('I', '1001')}: messages 'msg_byhand': content is clear text, but encryption is on"
            in proc.stderr)
    assert "docs/encryption.md#what-is-sealed" in proc.stderr
    git(site, "reset", "-q", "--hard", "HEAD~1")
    # malformed ciphertext
    data = json.loads(i_file(site).read_text())
    data["messages"][0]["content"] = "age:v1:bm90IGFuIGFnZSBmaWxl"
    i_file(site).write_text(json.dumps(data, indent=2) + "\n")
    git(site, "commit", "-q", "--no-verify", "-am", "broken ciphertext")
    proc = push(site, sites.hub)
    assert proc.returncode != 0
    assert layout.ticket_path("I", "1001") in proc.stderr and "sealed text holds no age header" in proc.stderr
    assert "docs/encryption.md#ciphertext-format" in proc.stderr
    assert git(sites.hub, "rev-parse", "main") == head
    # gitstore verify reports it too
    with Store.open(site, fsync=False) as store:
        problems = [p for p in verify_store(store) if "age header" in p.message]
    assert problems and problems[0].file == layout.file_name("I", "1001")


def test_a_push_of_commits_made_before_encryption_was_on_is_accepted(tmp_path, key):
    sites = Sites.__new__(Sites)
    sites.root, sites.runner, sites.hub, sites.seed = tmp_path, CliRunner(), tmp_path / "hub.git", tmp_path / "seed"
    sites.ok("--no-fsync", "init", "--bare", str(sites.hub))
    sites.ok("--no-fsync", "init", str(sites.seed))
    sites.at(sites.seed, "ticket", "create", "1001", "--client", "Ana", "--company", "Acme")
    sites.note(sites.seed, "clear, before encryption")
    sites.at(sites.seed, "crypt", "init")
    sites.note(sites.seed, "sealed, after")
    assert push(sites.seed, sites.hub).returncode == 0  # each commit is checked under its own configuration


def test_git_log_p_and_blame_show_clear_text_to_a_key_holder_only(sites, key, monkeypatch):
    sites.note(sites.seed, "papaya password")
    path = layout.ticket_path("I", "1001")
    assert b"papaya" not in git(sites.seed, "show", f"HEAD:{path}").encode()
    shown = git(sites.seed, "log", "-p", "-1", "--", path)
    assert '+      "content": "papaya password",' in shown
    blamed = git(sites.seed, "blame", "--", path)
    assert '"content": "papaya password"' in blamed
    monkeypatch.setenv("GITSTORE_IDENTITY", str(key.parent / "stranger"))
    generate_identity(key.parent / "stranger")
    assert "papaya" not in git(sites.seed, "log", "-p", "-1", "--", path)  # ciphertext shown as it is


def test_a_merge_keeps_every_ciphertext_byte_for_byte(sites):
    a, b = sites.clone("a"), sites.clone("b")
    sites.note(a, "from site a")
    sites.note(b, "from site b", actor="bob")
    sealed = {}
    for site in (a, b):
        for message in json.loads(i_file(site).read_text())["messages"]:
            sealed[message["message_id"]] = message["content"]
    sites.at(a, "push")
    sites.at(b, "pull")
    merged = json.loads(i_file(b).read_text())["messages"]
    assert {m["message_id"]: m["content"] for m in merged} == sealed
    assert all(is_sealed(text) for text in sealed.values())
    with Store.open(b, fsync=False) as store:
        commit = store.head()
        models = {k: layout.loads(k, store.repo[commit.tree[layout.ticket_path(k, "1001")].id].read_raw()) for k in "EIT"}
        opened = open_ticket(TicketFiles("1001", models["E"], models["I"], models["T"]), identities_for(store.repo))
    assert sorted(m.content for m in opened.files.internal.messages) == ["from site a", "from site b"]
    assert sites.at(b, "push").exit_code == 0  # the hub takes the merge: no item in it is new and clear


def test_a_plain_git_clone_gets_the_textconv_on_first_use(sites, tmp_path):
    clone = tmp_path / "plain"
    git(tmp_path, "clone", "-q", str(sites.hub), str(clone))
    assert subprocess.run(["git", "-C", str(clone), "config", "diff.gitstore-crypt.textconv"],
                          capture_output=True).returncode == 1
    sites.at(clone, "ticket", "list")
    command = git(clone, "config", "diff.gitstore-crypt.textconv").strip()
    assert command.endswith("crypt textconv") and os.path.isabs(command.split()[0].strip("'"))
    assert git(clone, "check-attr", "diff", layout.ticket_path("I", "1001")).strip().endswith("gitstore-crypt")


def test_the_hub_refuses_a_malformed_crypt_section(sites, tmp_path):
    site = sites.clone("a")
    config = site / ".gitstore" / "config.json"
    data = json.loads(config.read_text())
    data["crypt"] = {"recipients": [{"name": "eve", "recipient": "age1bogus"}]}
    config.write_text(json.dumps(data, indent=2) + "\n")
    git(site, "commit", "-q", "--no-verify", "-am", "bad recipient")
    proc = push(site, sites.hub)
    assert proc.returncode != 0
    assert "recipient 'eve': not a valid public key" in proc.stderr and "docs/encryption.md#recipients" in proc.stderr
