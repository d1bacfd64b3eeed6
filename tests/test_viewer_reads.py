"""The acting identity's role decides every read and every write (docs/data-model.md#roles).

The tests loop over every command of the CLI: each one is listed here as a read (run
as a customer-facing actor, its output must hold no internal word, id or count), a
write (run as that actor, the I file must not change), or exempt with the reason. A new
command that is in none of the tables fails ``test_every_command_is_classified``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from conftest import git

SECRET = "zebraquartz"
"""A word that only internal content holds."""
INTERNAL_IDS = ("int-msg-secret-1", "int-msg-secret-2", "pu-secret-1")
"""Ids of the internal items (messages, progress update)."""


def _commands(cmd: click.Command, path: tuple[str, ...] = ()):
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            yield from _commands(sub, path + (name,))
    else:
        yield " ".join(path)


@pytest.fixture
def desk(gs, tmp_path):
    """A store with roles: bob is customer_facing, ivan internal, lead unrestricted.

    Ticket 1001 has one external message and internal content that holds ``SECRET``:
    two internal messages, a progress update and an internal-only commit whose summary
    names the word. Returns ``(gs, store path, {name: value})``.
    """
    from gitstore import Store

    assert gs("role", "set", "bob", "customer_facing", actor="lead").exit_code == 0
    assert gs("role", "set", "ivan", "internal", actor="lead").exit_code == 0
    with Store.open(gs.path, fsync=False) as store:
        store.create_ticket("1001", client_name="Ana", company_name="Acme", actor="lead")
        store.add_message("1001", "E", sender="customer", sender_id="ana", content="printer broken again", actor="lead")
        first = store.head().id
        store.update(
            "1001",
            {"I": {"messages": [{"message_id": INTERNAL_IDS[0], "sender": "technical_member", "sender_id": "dev1",
                                 "content": f"root cause {SECRET} driver"}]}},
            actor="ivan",
            summary=f"note on {SECRET}",
        )
        store.update(
            "1001",
            {"I": {"messages": [{"message_id": INTERNAL_IDS[1], "sender": "cs_agent", "sender_id": "ivan",
                                 "content": f"customer is upset, {SECRET} again"}],
                   "progress_updates": [{"update_id": INTERNAL_IDS[2], "updater": "dev1", "status": "in_progress",
                                         "notes": f"patching {SECRET}"}]}},
            actor="ivan",
        )
        store.add_message("1001", "E", sender="cs_agent", sender_id="ivan", content="we are on it", actor="lead")
    assert gs("index", "rebuild", actor="lead").exit_code == 0
    from gitstore.tickets import layout

    return gs, gs.path, {"first": str(first), "i_file": str(gs.path / layout.ticket_path("I", "1001"))}


# command → invocations (argument lists) a customer-facing actor runs as reads
READS = {
    "ticket show": [["ticket", "show", "1001"], ["ticket", "show", "1001", "--json"]],
    "ticket list": [["ticket", "list", "--all"], ["ticket", "list", "--json"], ["ticket", "list", "--since", "2000-01-01", "--json"]],
    "ticket path": [["ticket", "path", "1001", "--json"]],
    "search": [["search", "driver", "--json"], ["search", "again"], ["search", "again", "--json"], ["search", "driver OR printer"]],
    "context": [["context", "1001", "--agent", "classifier", "--json"], ["context", "1001", "--agent", "classifier"]],
    "diff": [["diff", "1001"], ["diff", "1001", "{first}", "HEAD", "--json"]],
    "blame": [["blame", "1001", "--internal"], ["blame", "1001", "--external", "--json"], ["blame", "1001", "--workflow", "--json"]],
    "history": [["history", "1001"], ["history", "1001", "--json"]],
    "log": [["log"], ["log", "--json"], ["log", "--json-lines"]],
    "index status": [["index", "status"], ["index", "status", "--json"]],
    "watch": [["watch", "--json", "--duration", "0.2"]],
    "stage show": [["stage", "show", "1001", "--json"]],
    "turn show": [["turn", "show", "1001", "--json"]],
    "role show": [["role", "show", "--json"]],
    "config get": [["config", "get", "roles", "--json"]],
    "verify": [["verify", "--json"], ["verify", "1001"]],
    "remote list": [["remote", "list", "--json"]],
    "signer list": [["signer", "list", "--json"]],
    "webhook list": [["webhook", "list"], ["webhook", "list", "--json"]],
    "webhook deliveries": [["webhook", "deliveries"], ["webhook", "deliveries", "--json"]],
    "crypt status": [["crypt", "status"], ["crypt", "status", "--json"]],
}

# command → invocations a customer-facing actor runs that would change I if allowed
WRITES = {
    "message add": [["message", "add", "1001", "--internal", "--sender", "cs_agent", "--sender-id", "bob", "new note"]],
    "update": [["update", "1001", "--file", "{update_file}"]],
    "commit": [["commit", "-m", "hand edit"]],
    "rollback": [["rollback", "1001", "--to", "{first}"]],
    "decision record": [["decision", "record", "1001", "--agent", "classifier", "--decision", '{{"route": "x"}}',
                         "--confidence", "0.5", "--reply-internal", "internal reply"]],
    "import slack": [["import", "slack", "{slack}", "--channel-map", "*=1001"]],
    "role set": [["role", "set", "bob", "admin"]],
    "config set": [["config", "set", "roles.default", "admin"]],
    "config unset": [["config", "unset", "roles"]],
    "crypt init": [["crypt", "init", "--recipient", "{recipient}", "--name", "bob"]],
    "crypt add-recipient": [["crypt", "add-recipient", "{recipient}", "--name", "bob"]],
}

# commands that neither show ticket content nor change I: the reason why
EXEMPT = {
    "archive": "sets T.archived only", "unarchive": "sets T.archived only",
    "clone": "copies a store; reads through it are the commands above",
    "init": "creates an empty store", "gc": "packs objects; prints object counts of the whole repository",
    "hooks install": "installs git hooks", "hooks pre-commit": "git hook: checks staged files",
    "hooks pre-receive": "git hook on a hub: checks pushed commits", "hooks refresh-index": "git hook: refreshes the index",
    "import abcd": "imports external conversations only", "import email": "imports external conversations only",
    "import mattermost": "same write path as import slack (tested)", "import sgd": "imports external conversations only",
    "import trello": "imports external conversations only", "import twitter-care": "imports external conversations only",
    "index rebuild": "rebuilds derived data; prints its document count: see index status",
    "merge-driver": "git merge driver: merges files git hands it",
    "pull": "replicates commits others made", "push": "replicates commits", "sync": "pull and push",
    "remote add": "configuration of .git", "remote remove": "configuration of .git",
    "repair": "repairs the working tree", "signer add": "signer registry", "signer remove": "signer registry",
    "stage configure": "workflow configuration", "stage set": "writes T only", "state set": "writes T only",
    "ticket create": "creates a ticket (empty I)", "turn complete": "writes T only", "turn start": "writes T only",
    "decision confirm": "writes T only",
    "serve": "HTTP server: its reads are looped over in tests/test_serve_api.py",
    "token create": "API token registry (.git/gitstore/tokens.json)", "token list": "API token registry: ids and actors",
    "token revoke": "API token registry",
    "webhook add": "registry in .git; never for an actor who reads more than the registrant (tests/test_webhooks.py)",
    "webhook remove": "registry in .git", "webhook rotate-secret": "registry in .git", "webhook enable": "registry in .git",
    "webhook deliver": "sends each endpoint what its actor may see; prints counts (tests/test_webhooks.py)",
    "crypt remove-recipient": "an access section: refused to non-admins like crypt add-recipient",
    "crypt textconv": "git plumbing: prints a file git hands it (bytes the caller holds), decrypting with this site's key only",
    "crypt rotate": "re-seals the current I files for their recipients; needs a key",
}


def test_every_command_is_classified():
    from gitstore_cli.main import cli

    known = set(READS) | set(WRITES) | set(EXEMPT)
    missing = [name for name in _commands(cli) if name not in known]
    assert missing == [], f"classify these commands in tests/test_viewer_reads.py: {missing}"


def _fill(args: list[str], values: dict) -> list[str]:
    return [a.format(**values) for a in args]


def _leaks(text: str) -> list[str]:
    low = text.lower()
    return [w for w in (SECRET, *INTERNAL_IDS) if w.lower() in low]


@pytest.mark.parametrize("command", sorted(READS))
def test_a_customer_facing_actor_never_reads_internal_content(desk, command):
    gs, _path, values = desk
    for args in READS[command]:
        result = gs(*_fill(args, values), actor="bob")
        output = result.output + (result.stderr if result.stderr_bytes else "")
        assert _leaks(output) == [], (args, output[:2000])
        assert "Traceback" not in output, output
        if args[:2] == ["blame", "1001"] and "--internal" in args:
            assert result.exit_code == 1 and output.startswith("Error: "), output
        else:
            assert result.exit_code == 0, (args, output)


@pytest.mark.parametrize("command", ["ticket show", "search", "blame", "history", "context", "diff"])
def test_an_internal_actor_reads_what_bob_cannot(desk, command):
    gs, _path, values = desk
    found = []
    for args in READS[command]:
        result = gs(*_fill(args, values), actor="ivan")
        assert result.exit_code == 0, (args, result.output)
        found += _leaks(result.output)
    assert found, f"{command}: an internal actor should see internal content"


def test_ticket_show_json_has_no_internal_conversation_for_a_customer_facing_actor(desk):
    gs, _path, _values = desk
    shown = json.loads(gs("ticket", "show", "1001", "--json", actor="bob").output)
    assert "internal_conversation" not in shown
    assert [m["kind"] for m in shown["unified_timeline"]] == ["external", "external"]
    full = json.loads(gs("ticket", "show", "1001", "--json", actor="ivan").output)
    assert len(full["internal_conversation"]["messages"]) == 2


def test_search_for_an_internal_word_finds_nothing_for_a_customer_facing_actor(desk):
    gs, _path, _values = desk
    found = json.loads(gs("search", SECRET, "--json", actor="bob").output)
    assert (found["total"], found["hits"], found["facets"]["kind"]) == (0, [], {})
    assert json.loads(gs("search", SECRET, "--json", actor="ivan").output)["total"] == 2  # the two internal messages


def test_history_and_log_say_internal_update_for_internal_only_commits(desk):
    gs, _path, _values = desk
    entries = json.loads(gs("history", "1001", "--json", actor="bob").output)
    summaries = [e["summary"] for e in entries]
    assert summaries.count("internal update") == 2
    log = json.loads(gs("log", "--ticket", "1001", "--json", actor="bob").output)
    assert [e["summary"] for e in log].count("internal update") == 2


def test_role_may_narrow_a_viewer_but_never_widen_it(desk):
    gs, _path, _values = desk
    widened = gs("--role", "admin", "ticket", "show", "1001", actor="bob")
    assert widened.exit_code == 1
    assert widened.output.startswith("Error: --role admin would widen") and widened.output.count("\n") == 1
    searched = gs("search", SECRET, "--role", "internal", actor="bob")
    assert searched.exit_code == 1 and searched.output.startswith("Error: "), searched.output
    narrowed = gs("--role", "customer_facing", "ticket", "show", "1001", "--json", actor="ivan")
    assert narrowed.exit_code == 0 and _leaks(narrowed.output) == []


def test_unknown_identities_get_the_configured_default_role(desk):
    gs, _path, _values = desk
    assert gs("config", "set", "roles.default", "customer_facing", actor="lead").exit_code == 0
    stranger = gs("ticket", "show", "1001", "--json", actor="stranger")
    assert stranger.exit_code == 0 and _leaks(stranger.output) == []
    assert _leaks(gs("ticket", "show", "1001", "--json", actor="ivan").output)


def _i_blob(path: Path) -> str:
    from gitstore.tickets import layout

    return git(path, "rev-parse", f"HEAD:{layout.ticket_path('I', '1001')}").strip()


@pytest.mark.parametrize("command", sorted(WRITES))
def test_a_customer_facing_actor_cannot_change_internal_content(desk, tmp_path, command):
    gs, path, values = desk
    update_file = tmp_path / "update.json"
    update_file.write_text(json.dumps({"I": {"messages": [{"sender": "cs_agent", "sender_id": "bob", "content": "x"}]}}))
    from pyrage import x25519

    values = {**values, "update_file": str(update_file), "slack": str(Path(__file__).parent / "data" / "slack_sample"),
              "recipient": str(x25519.Identity.generate().to_public())}
    if command == "commit":  # a hand edit of the I file in the working tree
        from gitstore.tickets import layout

        i_path = path / layout.ticket_path("I", "1001")
        data = json.loads(i_path.read_text())
        data["messages"].append({**data["messages"][0], "message_id": "hand-added", "content": "by hand"})
        i_path.write_text(json.dumps(data, indent=2))
    before = _i_blob(path)
    config_before = git(path, "rev-parse", "HEAD:.gitstore/config.json").strip()
    for args in WRITES[command]:
        result = gs(*_fill(args, values), actor="bob")
        assert "Traceback" not in result.output, result.output
        if command == "import slack":  # records of internal channels are skipped with their reason
            assert "may not write internal" in result.output, result.output
        else:
            assert result.exit_code != 0, (args, result.output)
            assert "Error: " in result.output or "refused" in result.output, result.output
    assert _i_blob(path) == before
    assert git(path, "rev-parse", "HEAD:.gitstore/config.json").strip() == config_before


def test_python_api_reads_follow_the_viewer(desk):
    from gitstore import Store
    from gitstore.errors import AccessDenied
    from gitstore.history.audit import audit_log
    from gitstore.history.blame import blame
    from gitstore.history.diff import ticket_diff
    from gitstore.history.log import ticket_history
    from gitstore.listing import list_ticket_rows

    _gs, path, values = desk
    with Store.open(path, viewer="bob") as bob:
        shown = [
            bob.read("1001"), bob.context("1001").to_json(), bob.present("1001"),
            ticket_diff(bob, "1001", values["first"], "HEAD"), ticket_history(bob, "1001"),
            list(audit_log(bob)), blame(bob, "1001", "E"), list_ticket_rows(bob).rows,
        ]
        assert _leaks(repr(shown)) == []
        assert bob.read("1001").internal.messages == []
        with pytest.raises(AccessDenied):
            blame(bob, "1001", "I")
    with Store.open(path) as owner:  # the owner (no viewer) reads everything
        assert len(owner.read("1001").internal.messages) == 2
    with Store.open(path, viewer="bob", role="admin") as widened:
        with pytest.raises(AccessDenied):
            widened.read("1001")


def test_a_view_of_an_open_store_reads_for_its_viewer_and_shares_the_writer(desk):
    from gitstore import Store

    _gs, path, _values = desk
    with Store.open(path) as owner:
        bob = owner.as_viewer("bob")
        assert bob.read("1001").internal.messages == [] and len(owner.read("1001").internal.messages) == 2
        assert bob.writer is owner.writer
        bob.add_message("1001", "E", sender="cs_agent", sender_id="bob", content="seen", actor="bob")
        assert owner.read("1001").external.messages[-1].content == "seen"


def test_plain_git_commit_of_an_internal_edit_by_a_customer_facing_actor_is_refused_by_the_hook(desk):
    import subprocess

    from gitstore.tickets import layout

    gs, path, _values = desk
    assert gs("hooks", "install", actor="lead").exit_code == 0
    i_path = path / layout.ticket_path("I", "1001")
    e_path = path / layout.ticket_path("E", "1001")
    data = json.loads(i_path.read_text())
    data["participants"]["technical_team"] = ["mallory"]
    i_path.write_text(json.dumps(data, indent=2) + "\n")
    git(path, "add", layout.ticket_path("I", "1001"))
    head = git(path, "rev-parse", "HEAD")
    env = {**__import__("os").environ, "GIT_AUTHOR_NAME": "bob"}
    proc = subprocess.run(["git", "-C", str(path), "commit", "-q", "-m", "by hand"], capture_output=True, text=True, env=env)
    assert proc.returncode != 0
    assert f"{layout.ticket_path('I', '1001')}: actor 'bob' has role customer_facing and may not write" in proc.stderr
    assert git(path, "rev-parse", "HEAD") == head
    env["GIT_AUTHOR_NAME"] = "ivan"  # an internal actor may
    assert subprocess.run(["git", "-C", str(path), "commit", "-q", "-m", "by hand"], env=env).returncode == 0
    data = json.loads(e_path.read_text())  # and bob may edit E
    data["conversation_status"] = "resolved"
    e_path.write_text(json.dumps(data, indent=2) + "\n")
    git(path, "add", layout.ticket_path("E", "1001"))
    env["GIT_AUTHOR_NAME"] = "bob"
    proc = subprocess.run(["git", "-C", str(path), "commit", "-q", "-m", "E by hand"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
