"""Two sites through one hub over ``git daemon``: an internal site with a key and a
customer-facing site without one (docs/encryption.md, docs/data-model.md#roles).

Both write and both sync, so the hub and the sites merge. The internal site then sees
everything, merged, in clear; no object of the customer-facing site or of the hub holds
an internal word (every object read with ``git cat-file --batch-all-objects``), nor does
any file of the customer-facing site (its search index and ticket list included).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import git, requires_git
from gitstore_cli.main import cli
from test_sync_daemon import clone_site, hub  # noqa: F401 - the hub fixture

pytestmark = requires_git

SECRETS = ("quokkaviolet", "marmotindigo", "ocelotsaffron")
"""Words only internal notes hold: written at the internal site, the customer site, the internal site."""


def run(site: Path, actor: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["-C", str(site), "--no-fsync", "--actor", actor, *args])
    assert result.exit_code == 0, (args, result.output)
    return result.output


def all_objects(repo: Path) -> bytes:
    return subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--batch"], capture_output=True, check=True
    ).stdout


def files_holding(root: Path, words: tuple[str, ...]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes().lower()
            found += [f"{path.relative_to(root)}: {w}" for w in words if w.encode() in data]
    return found


def test_internal_and_customer_facing_sites_through_one_hub(hub, tmp_path):  # noqa: F811 - fixture
    pyrage = pytest.importorskip("pyrage")
    daemon, hub_path = hub
    internal = clone_site(daemon, tmp_path / "internal")
    customer = clone_site(daemon, tmp_path / "customer")
    identity = pyrage.x25519.Identity.generate()
    key_file = tmp_path / "keys" / "ivan.key"
    key_file.parent.mkdir()
    key_file.write_text(f"{identity}\n")
    key_file.chmod(0o600)
    git(internal, "config", "gitstore.identityFile", str(key_file))

    # the internal site sets roles and encryption, opens a ticket with an internal note
    run(internal, "lead", "role", "set", "carol", "customer_facing")
    run(internal, "lead", "crypt", "init", "--recipient", str(identity.to_public()), "--name", "ivan")
    run(internal, "lead", "ticket", "create", "1001", "--client", "Ana", "--company", "Acme")
    run(internal, "lead", "message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "printer down")
    run(internal, "ivan", "message", "add", "1001", "--internal", "--sender", "technical_member", "--sender-id", "dev1",
        f"firmware {SECRETS[0]} bug")
    run(internal, "lead", "sync", "--json")

    # the customer-facing site (no key) gets it, and writes: a public reply, and an
    # internal note by an admin there (sealed for the store's recipients, unreadable here)
    run(customer, "carol", "sync", "--json")
    shown = json.loads(run(customer, "carol", "ticket", "show", "1001", "--json"))
    assert "internal_conversation" not in shown
    run(customer, "carol", "message", "add", "1001", "--external", "--sender", "cs_agent", "--sender-id", "carol",
        "we are looking into it")
    run(customer, "lead", "message", "add", "1001", "--internal", "--sender", "cs_agent", "--sender-id", "lead",
        f"customer says {SECRETS[1]}")
    # meanwhile the internal site writes too: the next syncs merge
    run(internal, "ivan", "message", "add", "1001", "--internal", "--sender", "technical_member", "--sender-id", "dev1",
        f"patch {SECRETS[2]} ready")
    run(customer, "carol", "sync", "--json")
    run(internal, "ivan", "sync", "--json")
    run(customer, "carol", "sync", "--json")

    # the internal site sees everything, merged, in clear
    full = json.loads(run(internal, "ivan", "ticket", "show", "1001", "--json"))
    notes = sorted(m["content"] for m in full["internal_conversation"]["messages"])
    assert notes == sorted([f"firmware {SECRETS[0]} bug", f"customer says {SECRETS[1]}", f"patch {SECRETS[2]} ready"])
    assert len(full["external_conversation"]["messages"]) == 2
    assert json.loads(run(internal, "ivan", "search", SECRETS[1], "--json"))["total"] == 1
    assert SECRETS[2] in git(internal, "log", "-p", "--", "Tickets")  # textconv: clear text to a key holder

    # the customer-facing site replicated all of it, and can read none of the internal part
    assert git(customer, "rev-parse", "HEAD") == git(internal, "rev-parse", "HEAD")
    keyless = json.loads(run(customer, "lead", "ticket", "show", "1001", "--json"))
    assert keyless.get("unreadable_internal_items") == 3
    assert "3 internal item(s) are encrypted" in run(customer, "lead", "ticket", "show", "1001")
    assert json.loads(run(customer, "lead", "search", SECRETS[0], "--json"))["total"] == 0
    run(customer, "carol", "ticket", "list", "--json")  # builds the listing cache, checked below
    for repo in (customer, hub_path, internal):  # sealed in every object, even the internal site's
        data = all_objects(repo).lower()
        assert [w for w in SECRETS if w.encode() in data] == [], repo
    assert files_holding(customer, SECRETS) == []

    for repo in (internal, customer, hub_path):
        git(repo, "fsck", "--strict")
    for site in (internal, customer, hub_path):
        assert "ok" in run(site, "lead", "verify")
