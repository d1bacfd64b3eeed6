"""Internal content encrypted at rest (docs/encryption.md): format, keys, the write
path, reads with and without a key, rotation, recipients, the API and the CLI.

Plain git (hooks, pushes to a hub, textconv, merges) is in tests/test_crypt_git.py.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from gitstore import Store, TicketFiles
from gitstore.crypt import (
    OpenedTicket,
    check_sealed,
    generate_identity,
    identities_for,
    is_sealed,
    open_all,
    open_ticket,
    parse_recipient,
    seal,
    unseal,
)
from gitstore.crypt.format import MAX_SEALED_BYTES, PREFIX
from gitstore.cryptstore import add_recipient, crypt_status, init_crypt, remove_recipient, rotate
from gitstore.errors import CiphertextError, DecryptionError, KeyFileError, RecipientError, ValidationError
from gitstore.tickets import layout
from gitstore.tickets.models import MAX_CONTENT_BYTES


def blob(store: Store, kind: str, t_no: str, rev: str = "HEAD") -> bytes:
    commit = store.resolve(rev)
    return store.repo[commit.tree[layout.ticket_path(kind, t_no)].id].read_raw()


def stored(store: Store, t_no: str = "1001", rev: str = "HEAD") -> TicketFiles:
    """The ticket as committed (sealed fields as ciphertext), read from its blobs."""
    models = {k: layout.loads(k, blob(store, k, t_no, rev), layout.file_name(k, t_no)) for k in "EIT"}
    return TicketFiles(t_no, models["E"], models["I"], models["T"])


def note(store: Store, text: str, t_no: str = "1001", actor: str = "alice"):
    return store.add_message(t_no, "I", sender="technical_member", sender_id="tom", content=text, actor=actor)


def keypair(path: Path) -> tuple[list, str]:
    """A new X25519 identity file at ``path``: (its identities, its public recipient)."""
    public = generate_identity(path)
    return identities_for_path(path), public


def identities_for_path(path: Path) -> list:
    old = os.environ.get("GITSTORE_IDENTITY")
    os.environ["GITSTORE_IDENTITY"] = str(path)
    try:
        return identities_for(None)
    finally:
        if old is None:
            del os.environ["GITSTORE_IDENTITY"]
        else:
            os.environ["GITSTORE_IDENTITY"] = old


@pytest.fixture
def alice_key(tmp_path, monkeypatch) -> Path:
    """This site's identity file (GITSTORE_IDENTITY), not created yet."""
    path = tmp_path / "keys" / "alice"
    monkeypatch.setenv("GITSTORE_IDENTITY", str(path))
    return path


@pytest.fixture
def sealed_store(store, alice_key) -> Store:
    """A store with ticket 1001, encryption on for alice (whose key this site holds)."""
    store.create_ticket("1001", client_name="Ana", company_name="Acme", actor="alice")
    init_crypt(store, actor="alice")
    return store


# ---------------------------------------------------------------- format, seal, keys


def test_the_sealed_size_limit_is_derived_from_the_clear_limit():
    from gitstore.crypt.format import MAX_CLEAR_BYTES

    assert MAX_CLEAR_BYTES == MAX_CONTENT_BYTES


def test_seal_unseal_round_trip_with_x25519_and_ssh_ed25519(tmp_path):
    x_ids, x_public = keypair(tmp_path / "x")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bob@laptop", "-f", str(tmp_path / "ssh")],
                   check=True)
    ssh_public = (tmp_path / "ssh.pub").read_text().strip()
    ssh_ids = identities_for_path(tmp_path / "ssh")
    recipients = [parse_recipient(x_public, "alice"), parse_recipient(ssh_public, "bob")]
    assert [r.kind for r in recipients] == ["x25519", "ssh-ed25519"]
    text = "Kundennummer 4711 – the VPN password is in the vault 🔑"
    sealed = seal(text, recipients)
    assert is_sealed(sealed) and sealed.startswith(PREFIX) and "\n" not in sealed
    assert check_sealed(sealed, "here") == sealed
    assert unseal(sealed, x_ids) == text
    assert unseal(sealed, ssh_ids) == text
    assert seal(text, recipients) != sealed  # a fresh file key each time
    other_ids, _ = keypair(tmp_path / "other")
    with pytest.raises(DecryptionError, match="none of this site's identities"):
        unseal(sealed, other_ids)
    with pytest.raises(DecryptionError, match="no identity is configured"):
        unseal(sealed, [])


def test_malformed_ciphertext_is_a_typed_error_naming_the_place_and_the_rule():
    with pytest.raises(CiphertextError, match=r"^I_1\.json messages m1 content: sealed text is not one line of base64"):
        check_sealed("age:v1:not base64!", "I_1.json messages m1 content")
    with pytest.raises(CiphertextError, match=r"no age header .*docs/encryption.md#ciphertext-format"):
        check_sealed("age:v1:aGVsbG8gd29ybGQ=", "there")
    with pytest.raises(CiphertextError, match="no 'age:v1:' prefix"):
        check_sealed("hello", "there")
    assert isinstance(CiphertextError("x"), ValidationError) and isinstance(CiphertextError("x"), ValueError)


def test_recipients_are_checked(tmp_path):
    with pytest.raises(RecipientError, match="neither an age X25519 key"):
        parse_recipient("ssh-rsa AAAAB3Nza", "carl")
    with pytest.raises(RecipientError, match="not a valid public key"):
        parse_recipient("age1notakey", "carl")
    with pytest.raises(RecipientError, match="invalid recipient name"):
        parse_recipient(generate_identity(tmp_path / "k"), "bad name")


def test_identity_file_lookup_env_git_config_default_and_bad_files(tmp_path, monkeypatch, store):
    monkeypatch.delenv("GITSTORE_IDENTITY", raising=False)
    assert identities_for(store.repo) == []  # nothing configured, no default file
    default = Path(os.environ["XDG_CONFIG_HOME"]) / "gitstore" / "identity"
    public = generate_identity(default)
    assert oct(default.stat().st_mode & 0o777) == "0o600"
    found = identities_for(store.repo)
    assert [str(i.to_public()) for i in found] == [public]
    other = tmp_path / "configured"
    other_public = generate_identity(other)
    store.repo.config["gitstore.identityFile"] = str(other)
    assert [str(i.to_public()) for i in identities_for(store.repo)] == [other_public]
    monkeypatch.setenv("GITSTORE_IDENTITY", str(tmp_path / "missing"))
    with pytest.raises(KeyFileError, match="missing: identity file not found"):
        identities_for(store.repo)
    bad = tmp_path / "bad"
    bad.write_text("# mine\nAGE-SECRET-KEY-1NOTAKEY\n")
    monkeypatch.setenv("GITSTORE_IDENTITY", str(bad))
    with pytest.raises(KeyFileError, match="line 2 is a malformed age identity"):
        identities_for(store.repo)
    bad.write_text("hello\n")
    with pytest.raises(KeyFileError, match="line 1 is not an age identity"):
        identities_for(store.repo)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(tmp_path / "locked")], check=True)
    monkeypatch.setenv("GITSTORE_IDENTITY", str(tmp_path / "locked"))
    with pytest.raises(KeyFileError, match="unusable OpenSSH private key"):
        identities_for(store.repo)


# ---------------------------------------------------------------- the write path


def test_internal_content_is_sealed_in_the_blob_and_opened_for_a_key_holder(sealed_store, alice_key):
    store = sealed_store
    note(store, "the banana server is down")
    store.add_message("1001", "E", sender="customer", sender_id="ana", content="my printer is broken", actor="alice")
    store.update("1001", {"I": {"progress_updates": [{"updater": "tom", "status": "blocked", "notes": "waiting for papaya"},
                                                     {"updater": "tom", "status": "in_progress"}]}}, actor="alice")
    internal = blob(store, "I", "1001")
    assert b"banana" not in internal and b"papaya" not in internal
    assert b"my printer is broken" in blob(store, "E", "1001")  # E stays clear
    committed = stored(store).internal
    assert is_sealed(committed.messages[0].content) and is_sealed(committed.progress_updates[0].notes)
    assert committed.progress_updates[1].notes == ""  # empty notes stay empty
    assert committed.messages[0].sender_id == "tom" and committed.messages[0].message_type == "update"  # clear metadata
    opened = open_ticket(stored(store), identities_for(store.repo))
    assert isinstance(opened, OpenedTicket) and opened.unreadable == 0
    assert opened.files.internal.messages[0].content == "the banana server is down"
    assert opened.files.internal.progress_updates[0].notes == "waiting for papaya"
    assert open_all(stored(store), identities_for(store.repo)).internal.messages[0].content.startswith("the banana")


def test_ciphertext_never_changes_after_later_updates(sealed_store):
    store = sealed_store
    first = note(store, "first secret").added["I"][0]
    before = stored(store).internal.messages[0].content
    note(store, "second secret")
    store.update("1001", {"T": {"priority": "HIGH"}}, actor="alice")
    store.update("1001", {"I": {"participants": {"technical_team": ["tom"]}}}, actor="alice")
    after = stored(store).internal
    assert after.messages[0].message_id == first and after.messages[0].content == before


def test_no_key_or_a_wrong_key_gives_an_unreadable_count_never_an_error(sealed_store, tmp_path):
    store = sealed_store
    note(store, "one")
    note(store, "two")
    store.update("1001", {"I": {"progress_updates": [{"updater": "tom", "status": "resolved", "notes": "three"}]}},
                 actor="alice")
    files = stored(store)
    for identities in ([], keypair(tmp_path / "mallory")[0]):
        opened = open_ticket(files, identities)
        assert opened.unreadable == 3
        assert opened.files.internal.messages == [] and opened.files.internal.progress_updates == []
        with pytest.raises(DecryptionError, match=r"I_1001\.json: messages 'msg_[0-9a-f]+': cannot decrypt content"):
            open_all(files, identities)


def test_clear_items_written_before_encryption_stay_clear_and_are_counted(store, alice_key):
    store.create_ticket("1001", client_name="Ana", company_name="Acme", actor="alice")
    note(store, "written in clear")
    init_crypt(store, actor="alice")
    note(store, "written sealed")
    status = crypt_status(store)
    assert (status.enabled, status.has_key, status.sealed, status.clear, status.unreadable) == (True, True, 1, 1, 0)
    opened = open_ticket(stored(store), identities_for(store.repo))
    assert [m.content for m in opened.files.internal.messages] == ["written in clear", "written sealed"]


def test_largest_content_seals_and_loads_beyond_the_clear_limit(sealed_store):
    store = sealed_store
    text = "x" * MAX_CONTENT_BYTES
    note(store, text)
    sealed = stored(store).internal.messages[0].content
    assert MAX_CONTENT_BYTES < len(sealed) <= MAX_SEALED_BYTES
    assert unseal(sealed, identities_for(store.repo)) == text
    with pytest.raises(ValidationError, match="over the limit"):
        note(store, text + "y")  # the clear text is checked before it is sealed


def test_an_update_carrying_malformed_ciphertext_is_refused_and_a_well_formed_one_kept(sealed_store, tmp_path):
    store = sealed_store
    before = store.head().id
    with pytest.raises(ValidationError, match="sealed text is not one line of base64"):
        note(store, "age:v1:this is not base64")
    assert store.head().id == before
    ids, public = keypair(tmp_path / "client")
    presealed = seal("sealed by the client", [parse_recipient(public, "client")])
    note(store, presealed)
    assert stored(store).internal.messages[0].content == presealed  # not sealed twice


def test_a_whole_file_write_of_a_new_clear_internal_item_is_refused(sealed_store):
    store = sealed_store
    note(store, "sealed one")
    files = stored(store)
    clear = files.internal.messages[0].model_copy(update={"message_id": "msg_handmade", "content": "typed by hand"})
    edited = files.with_file("I", files.internal.model_copy(update={"messages": [*files.internal.messages, clear]}))
    before = store.head().id
    with pytest.raises(ValidationError) as caught:
        store.replace_files("1001", edited, actor="alice", summary="hand edit")
    assert str(caught.value) == ("I_1001.json: messages 'msg_handmade': content is clear text, but encryption is on and "
                                 "internal content must be sealed (docs/encryption.md#what-is-sealed)")
    assert store.head().id == before
    # changing T only (confirming a decision, say) is fine with sealed items in I
    store.replace_files("1001", files.with_file("T", files.workflow.model_copy(update={"priority": "HIGH"})),
                        actor="alice", summary="priority")


def test_rollback_seals_items_it_restores_in_clear_text(store, alice_key):
    store.create_ticket("1001", client_name="Ana", company_name="Acme", actor="alice")
    old = note(store, "pre-encryption note").commit
    init_crypt(store, actor="alice")
    rotate(store, actor="alice")  # the clear note is sealed now
    assert b"pre-encryption" not in blob(store, "I", "1001")
    from gitstore import rollback

    rollback(store, "1001", old, actor="alice")
    assert b"pre-encryption" not in blob(store, "I", "1001")
    opened = open_ticket(stored(store), identities_for(store.repo))
    assert [m.content for m in opened.files.internal.messages] == ["pre-encryption note"]


def test_a_malformed_crypt_section_makes_internal_writes_fail_in_one_line(store):
    store.create_ticket("1001", client_name="Ana", company_name="Acme", actor="alice")
    section = {"recipients": [{"name": "x", "recipient": "age1bogus"}]}
    with pytest.raises(RecipientError, match="recipient 'x': not a valid public key"):
        store.write_config_section("crypt", section, actor="alice")  # refused where it is written
    # one that arrived anyway (a plain git commit, a hub without gitstore's hook)
    from datetime import datetime, timezone

    from gitstore.config import CONFIG_PATH
    from gitstore.writer import commit_message, signature

    blob = store.repo.create_blob(json.dumps({"crypt": section}).encode())
    store.commit_tree_changes(store.head(), {CONFIG_PATH: blob}, message=commit_message("plain", {"Actor": "alice"}),
                              author=signature("alice", datetime.now(timezone.utc)))
    with pytest.raises(RecipientError, match="recipient 'x': not a valid public key"):
        note(store, "hello")


# ---------------------------------------------------------------- recipients, rotation


def test_remove_recipient_new_items_are_not_readable_by_the_removed_key_old_ones_stay(sealed_store, tmp_path):
    store = sealed_store
    bob_ids, bob_public = keypair(tmp_path / "bob")
    add_recipient(store, bob_public, name="bob", actor="alice")
    note(store, "both may read this")
    remove_recipient(store, "bob", actor="alice")
    note(store, "only alice may read this")
    files = stored(store)
    as_bob = open_ticket(files, bob_ids)
    assert [m.content for m in as_bob.files.internal.messages] == ["both may read this"] and as_bob.unreadable == 1
    as_alice = open_ticket(files, identities_for(store.repo))
    assert [m.content for m in as_alice.files.internal.messages] == ["both may read this", "only alice may read this"]
    with pytest.raises(RecipientError, match="no recipient named 'bob'"):
        remove_recipient(store, "bob", actor="alice")


def test_rotate_reseals_the_current_files_for_the_current_recipients(sealed_store, tmp_path):
    store = sealed_store
    bob_ids, bob_public = keypair(tmp_path / "bob")
    add_recipient(store, bob_public, name="bob", actor="alice")
    note(store, "shared before bob left")
    before_rotate = store.head().id
    remove_recipient(store, "bob", actor="alice")
    result = rotate(store, actor="alice")
    assert (result.files, result.items, result.recipients, result.tickets) == (1, 1, ["alice"], ["1001"])
    commit = store.head()
    assert commit.message.splitlines()[-1] == "Actor: alice" and "Crypt: rotate 1 files 1 items for alice" in commit.message
    assert open_ticket(stored(store), bob_ids).unreadable == 1  # the current file: not any more
    assert open_ticket(stored(store, "1001", str(before_rotate)), bob_ids).unreadable == 0  # history: still
    assert open_ticket(stored(store), identities_for(store.repo)).unreadable == 0


def test_rotate_needs_a_key_for_every_sealed_item_and_writes_nothing_otherwise(sealed_store, tmp_path, monkeypatch):
    store = sealed_store
    note(store, "secret")
    before = store.head().id
    monkeypatch.setenv("GITSTORE_IDENTITY", str(tmp_path / "keys" / "nobody"))
    generate_identity(tmp_path / "keys" / "nobody")
    with pytest.raises(DecryptionError, match="cannot decrypt content"):
        rotate(store, actor="alice")
    assert store.head().id == before


def test_status_reports_recipients_keys_and_counts(sealed_store, tmp_path, monkeypatch):
    store = sealed_store
    note(store, "a")
    status = crypt_status(store)
    assert status.enabled and status.has_key and [r["local"] for r in status.recipients] == [True]
    monkeypatch.setenv("GITSTORE_IDENTITY", str(tmp_path / "keys" / "stranger"))
    generate_identity(tmp_path / "keys" / "stranger")
    status = crypt_status(store)
    assert not status.has_key and (status.sealed, status.unreadable) == (1, 1)


def test_init_is_one_commit_of_config_and_gitattributes_and_keeps_the_merge_line(store, alice_key):
    change = init_crypt(store, actor="alice", textconv_command="gitstore crypt textconv")
    assert oct(alice_key.stat().st_mode & 0o777) == "0o600" and change.identity_file == str(alice_key)
    head = store.head()
    assert head.parents[0].id == store.resolve("HEAD~1").id
    assert "Config: crypt" in head.message
    attributes = blob_path(store, ".gitattributes").decode()
    assert layout.MERGE_DRIVER_LINE in attributes and "Tickets/T_int/**/I_*.json diff=gitstore-crypt" in attributes
    config = json.loads(blob_path(store, ".gitstore/config.json"))
    assert config["crypt"] == {"recipients": [{"name": "alice", "recipient": change.recipient}]}
    assert store.repo.config["diff.gitstore-crypt.textconv"] == "gitstore crypt textconv"
    assert init_crypt(store, actor="alice").commit is None  # already on for this key: nothing to commit
    from gitstore.storeshape import attributes_problems

    assert attributes_problems(blob_path(store, ".gitattributes")) == []


def blob_path(store: Store, path: str) -> bytes:
    return store.repo[store.head().tree[path].id].read_raw()


# ---------------------------------------------------------------- CLI


def test_cli_init_status_add_remove_rotate_and_errors(gs, alice_key, tmp_path, monkeypatch):
    assert gs("ticket", "create", "1001", "--client", "Ana", "--company", "Acme").exit_code == 0
    result = gs("crypt", "init")
    assert result.exit_code == 0, result.output
    assert f"generated an identity at {alice_key}" in result.output
    public = next(line.split(": ", 1)[1] for line in result.output.splitlines() if line.startswith("["))
    assert public.startswith("age1") and stat.S_IMODE(alice_key.stat().st_mode) == 0o600
    assert gs("message", "add", "1001", "--internal", "--sender", "technical_member", "--sender-id", "tom",
              "kiwi secret").exit_code == 0
    status = json.loads(gs("crypt", "status", "--json").output)
    assert status["enabled"] and status["has_key"] and (status["sealed"], status["clear"], status["unreadable"]) == (1, 0, 0)
    assert status["recipients"][0]["recipient"] == public
    _bob_ids, bob_public = keypair(tmp_path / "bob")
    added = gs("crypt", "add-recipient", bob_public, "--name", "bob")
    assert added.exit_code == 0 and "recipients: tester, bob" in added.output
    assert gs("crypt", "remove-recipient", "bob").exit_code == 0
    rotated = gs("crypt", "rotate")
    assert rotated.exit_code == 0 and "re-encrypted 1 items in 1 I files for tester" in rotated.output
    plain = gs("crypt", "status")
    assert "encryption: on" in plain.output and "1 sealed, 0 clear, 0 unreadable" in plain.output
    for args, message in [
        (("crypt", "add-recipient", "ssh-rsa AAAA", "--name", "carl"), "is neither an age X25519 key"),
        (("crypt", "add-recipient", public, "--name", "again"), "already listed as recipient 'tester'"),
        (("crypt", "remove-recipient", "nobody"), "no recipient named 'nobody'"),
    ]:
        bad = gs(*args)
        assert bad.exit_code == 1 and bad.output.startswith("Error: ") and bad.output.count("\n") == 1, bad.output
        assert message in bad.output
    monkeypatch.setenv("GITSTORE_IDENTITY", str(tmp_path / "keys" / "gone"))
    bad = gs("crypt", "rotate")
    assert bad.exit_code == 1 and bad.output.count("\n") == 1 and "identity file not found" in bad.output


def test_cli_textconv_prints_the_file_decrypted(gs, alice_key, tmp_path):
    assert gs("ticket", "create", "1001", "--client", "Ana", "--company", "Acme").exit_code == 0
    assert gs("crypt", "init").exit_code == 0
    assert gs("message", "add", "1001", "--internal", "--sender", "technical_member", "--sender-id", "tom",
              "mango secret").exit_code == 0
    path = gs.path / layout.ticket_path("I", "1001")
    assert b"mango" not in path.read_bytes()
    shown = gs("crypt", "textconv", str(path))
    assert shown.exit_code == 0 and '"content": "mango secret"' in shown.output
    assert shown.output.count("\n") == path.read_bytes().count(b"\n")  # line for line
