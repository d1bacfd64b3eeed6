"""Signed, verifiable history (docs/signing.md), checked with the real git and ssh-keygen.

- every commit gitstore writes (updates, bulk imports, merges, config, rollbacks, hand
  edits, registry changes) carries an SSH signature that ``git verify-commit`` and
  ``git log --show-signature`` accept with the store's ``.gitstore/allowed_signers`` as
  ``gpg.ssh.allowedSignersFile``, and ``gitstore verify --signatures`` agrees;
- a commit altered after signing fails both git's check and gitstore's;
- removed and revoked keys: earlier commits keep verifying, later ones do not;
- a hub in signed mode, served by ``git daemon`` on 127.0.0.1, refuses an unsigned push
  and one signed with another actor's key, and takes a good one;
- ``pull`` reports unverifiable incoming commits, and refuses them in signed mode.

Test keys are made with ``cryptography`` in tmp_path.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pygit2
import pytest
from click.testing import CliRunner
from conftest import TEST_DATA, git, requires_git
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from test_sync_daemon import Daemon

from gitstore import Store
from gitstore.errors import SignatureFormatError, SignerError, SigningKeyError, UnverifiedCommits
from gitstore.history import signatures as sig
from gitstore.history.rollback import rollback
from gitstore.objects.allowedsigners import REGISTRY_PATH, AllowedSigners, match_pattern_list, parse_entry
from gitstore.objects.signingkeys import KeyRing, configured_signing
from gitstore.objects.sshsig import LINE_WIDTH, PublicKey, load_signing_key, parse_signature
from gitstore.signers import add_signer, list_signers, verify_signatures
from gitstore_cli.main import cli
from gitstore_sync.pull import pull

needs_ssh_keygen = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen (openssh-client) is not installed")
pytestmark = [requires_git, needs_ssh_keygen]

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def make_key(folder: Path, name: str) -> tuple[Path, str]:
    """An unencrypted OpenSSH Ed25519 key file ``folder/name`` (mode 600) and its public line."""
    folder.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    path = folder / name
    path.write_bytes(private.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()))
    path.chmod(0o600)
    public = private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode() + f" {name}@test"
    (folder / f"{name}.pub").write_text(public + "\n")
    return path, public


@pytest.fixture
def keys(tmp_path):
    """``name -> (private key path, public key line)`` for alice, bob and an importer."""
    return {name: make_key(tmp_path / "keys", name) for name in ("alice", "bob", "importer", "admin")}


class Clock:
    """The time gitstore's writes see (patched ``utc_now``), moved on by the test."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: int) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock(monkeypatch):
    found = Clock(T0)
    for target in ("gitstore.store.utc_now", "gitstore.writer.utc_now", "gitstore.signers.utc_now"):
        monkeypatch.setattr(target, found)
    return found


def actor_keys(repo_path: Path, **keys: Path) -> None:
    """Give actors their own signing keys in the store's git config."""
    for actor, path in keys.items():
        git(repo_path, "config", f"gitstore.actor.{actor}.signingKey", str(path))


def git_signature_lines(path: Path, allowed: Path, *revs: str) -> list[str]:
    """``%H %G? %GS`` of each commit, as git's own check sees it (%G?: G good, N none, B bad…)."""
    out = git(path, "-c", "gpg.format=ssh", "-c", f"gpg.ssh.allowedSignersFile={allowed}",
              "log", "--format=%H %G? %GS", *(revs or ("HEAD",)))
    return out.splitlines()


def git_verify(path: Path, allowed: Path, rev: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(path), "-c", "gpg.format=ssh", "-c", f"gpg.ssh.allowedSignersFile={allowed}",
                           "verify-commit", rev], capture_output=True, text=True)


def invoke(path: Path, *args: str, actor: str | None = "alice"):
    base = ["-C", str(path), "--no-fsync"] + (["--actor", actor] if actor else [])
    return CliRunner().invoke(cli, base + list(args))


# ---------------------------------------------------------------------------- the SSHSIG format
def test_signatures_are_what_ssh_keygen_makes_and_checks(tmp_path, keys):
    path, public = keys["alice"]
    key = load_signing_key(path)
    message = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nhello\n"
    armored = key.sign(message)
    lines = armored.splitlines()
    assert lines[0] == "-----BEGIN SSH SIGNATURE-----" and lines[-1] == "-----END SSH SIGNATURE-----"
    assert all(len(line) <= LINE_WIDTH for line in lines[1:-1]) and len(lines[1]) == LINE_WIDTH
    parsed = parse_signature(armored)
    assert (parsed.namespace, parsed.hash_algorithm) == ("git", "sha512")
    assert parsed.public_key == PublicKey.parse(public)[0]
    assert parsed.verify(message) and not parsed.verify(message + b"x") and not parsed.verify(message, "file")
    # ssh-keygen verifies ours ...
    allowed = tmp_path / "allowed"
    allowed.write_text(f"alice {public}\n")
    (tmp_path / "msg.sig").write_text(armored)
    proc = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", "alice", "-n", "git",
                           "-s", str(tmp_path / "msg.sig")], input=message, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert key.public_key.fingerprint.encode() in proc.stdout
    # ... and we verify ssh-keygen's
    proc = subprocess.run(["ssh-keygen", "-Y", "sign", "-f", str(path), "-n", "git"], input=message, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    theirs = parse_signature(proc.stdout)
    assert theirs.verify(message) and not theirs.verify(b"other")


def test_bad_signature_text_is_a_format_error():
    for text in ("", "-----BEGIN SSH SIGNATURE-----\n!!!\n-----END SSH SIGNATURE-----",
                 "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----", "-----BEGIN PGP SIGNATURE-----\nx\n"):
        with pytest.raises(SignatureFormatError):
            parse_signature(text)


def test_unusable_key_files_are_refused_with_one_line(tmp_path, keys):
    with pytest.raises(SigningKeyError, match="no such file"):
        load_signing_key(tmp_path / "missing")
    with pytest.raises(SigningKeyError, match="public key"):
        load_signing_key(str(keys["alice"][0]) + ".pub")
    rsa_key = tmp_path / "rsa"
    rsa_key.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048)
                        .private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()))
    with pytest.raises(SigningKeyError, match="not an ssh-ed25519 key"):
        load_signing_key(rsa_key)
    locked = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(locked)], check=True)
    with pytest.raises(SigningKeyError, match="passphrase"):
        load_signing_key(locked)
    garbage = tmp_path / "garbage"
    garbage.write_text("hello\n")
    with pytest.raises(SigningKeyError, match="not an OpenSSH private key"):
        load_signing_key(garbage)


def test_a_broken_key_configuration_stops_the_command_before_anything_is_written(tmp_path, monkeypatch, gs):
    assert gs("ticket", "create", "1001", "--client", "Ana", "--company", "Acme").exit_code == 0
    before = git(gs.path, "rev-parse", "HEAD")
    monkeypatch.setenv("GITSTORE_SIGNING_KEY", str(tmp_path / "nope"))
    result = gs("message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "Hello")
    assert result.exit_code == 1
    assert "no such file" in result.output and "GITSTORE_SIGNING_KEY" in result.output
    assert git(gs.path, "rev-parse", "HEAD") == before


def test_key_configuration_order(tmp_path, keys, monkeypatch):
    store = Store.init(tmp_path / "s", fsync=False)
    assert configured_signing(store.repo, environ={}) is None
    git(store.path, "config", "gitstore.signingKey", str(keys["admin"][0]))
    actor_keys(store.path, **{"bot 7": keys["bob"][0]})
    ring = configured_signing(store.repo, environ={})
    assert ring is not None
    fingerprint = {name: load_signing_key(path).public_key.fingerprint for name, (path, _pub) in keys.items()}
    assert ring.key_for("bot 7").public_key.fingerprint == fingerprint["bob"]
    assert ring.key_for("anyone").public_key.fingerprint == fingerprint["admin"]
    monkeypatch.chdir(keys["alice"][0].parent)
    ring = configured_signing(store.repo, environ={"GITSTORE_SIGNING_KEY": "alice"})  # relative to the current folder
    assert ring.key_for("anyone").public_key.fingerprint == fingerprint["alice"]
    assert ring.key_for("bot 7").public_key.fingerprint == fingerprint["bob"]


# ---------------------------------------------------------------------------- the registry format
def test_registry_lines_mean_what_they_mean_to_ssh_keygen(keys):
    public = keys["alice"][1]
    entry = parse_entry(f'"Ana Pérez,ops-*" valid-after="20260101Z",valid-before="202602011200Z" {public}', 3)
    assert entry is not None and entry.principals == "Ana Pérez,ops-*" and entry.comment == "alice@test"
    assert entry.matches("Ana Pérez") and entry.matches("ops-7") and not entry.matches("ana")
    start = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp())
    end = int(datetime(2026, 2, 1, 12, tzinfo=timezone.utc).timestamp())
    assert entry.valid_at(start) and entry.valid_at(end) and not entry.valid_at(start - 1) and not entry.valid_at(end + 1)
    assert parse_entry("# a comment") is None and parse_entry("   ") is None
    assert match_pattern_list("ops-7", "ops-*,!ops-7") is False
    registry = AllowedSigners.parse(
        f"alice {public}\nbob frobnicate {public}\nbob valid-before=\"20250101\",valid-after=\"20260101\" {public}\n"
        f"\"unclosed {public}\ncarol ssh-ed25519 !!!\n\"Ana Pérez\",ops {public}\n"
    )
    assert [e.principals for e in registry.entries] == ["alice"]
    assert [b.line_no for b in registry.bad] == [2, 3, 4, 5, 6]  # a quote ends the principals (ssh-keygen's strdelimw)
    assert registry.render().decode().count("\n") == 6  # bad lines are kept as written


# ---------------------------------------------------------------------------- signing every commit
def test_every_kind_of_commit_is_signed_and_git_accepts_it(tmp_path, keys, gs):
    alice_key, alice_pub = keys["alice"]
    assert gs("signer", "list").exit_code == 0  # the gs fixture makes the store on first use
    site = gs.path
    git(site, "config", "gitstore.signingKey", str(alice_key))
    (tmp_path / "alice.pub").write_text(alice_pub)
    steps = [
        ("signer", "add", "alice", str(tmp_path / "alice.pub")),
        ("ticket", "create", "1001", "--client", "Ana", "--company", "Acme"),
        ("message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "Printer is down"),
        ("state", "set", "1001", "priority=HIGH"),
        ("config", "set", "search.default_role", "internal"),
    ]
    for step in steps:
        result = gs(*step, actor="alice")
        assert result.exit_code == 0, (step, result.output)
    before_priority = git(site, "rev-parse", "HEAD~2").strip()
    with Store.open(site, fsync=False) as store:
        rollback(store, "1001", before_priority, actor="alice", reason="undo the priority")
    t_file = next(site.glob("Tickets/tickets/**/T_1001.json"))
    data = json.loads(t_file.read_text())
    data["company_name"] = "Acme Ltd"
    t_file.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    assert gs("commit", "-m", "Fix company name", actor="alice").exit_code == 0
    other = tmp_path / "other"  # a second site: a merge commit comes from a pull
    git(tmp_path, "clone", "-q", str(site), str(other))
    git(other, "config", "gitstore.signingKey", str(alice_key))  # a clone does not copy .git/config
    assert invoke(other, "message", "add", "1001", "--internal", "--sender", "technical_member", "--sender-id", "t1", "On it",
                  actor="alice").exit_code == 0
    assert gs("message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "Any news?",
              actor="alice").exit_code == 0
    result = gs("pull", str(other), "--json", actor="alice")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outcome"] == "merge"
    allowed = site / REGISTRY_PATH
    lines = git_signature_lines(site, allowed)
    trailers = git(site, "log", "--format=%(trailers:only,unfold)").split()
    for kind in ("Merged-From:", "Rollback-To:", "Config:", "Signer:", "Ticket:"):
        assert kind in trailers, kind  # a merge, a rollback, a config and a registry commit
    assert "Fix company name" in git(site, "log", "--format=%s")  # and a hand edit
    root = git(site, "rev-list", "--max-parents=0", "HEAD").strip()
    for line in lines:
        commit, status, signer = (line.split(" ", 2) + [""])[:3]
        if commit == root:
            assert status == "N"  # the store's initial commit: written before any signer exists
            continue
        assert (status, signer) == ("G", "alice"), line
        assert git_verify(site, allowed, commit).returncode == 0
    shown = git(site, "-c", "gpg.format=ssh", "-c", f"gpg.ssh.allowedSignersFile={allowed}", "log", "--show-signature")
    assert shown.count('Good "git" signature for alice with ED25519 key') == len(lines) - 1
    result = gs("verify", "--signatures", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["verified"] == len(lines) - 1 and report["skipped"] == [root]


def test_an_altered_commit_fails_gits_check_and_gitstores(tmp_path, keys):
    store = Store.init(tmp_path / "s", fsync=False, signing=KeyRing(load_signing_key(keys["alice"][0])))
    add_signer(store, "alice", keys["alice"][1], actor="alice")
    store.create_ticket("1001", client_name="Ana", company_name="Acme", actor="alice")
    head = store.head()
    raw = git(store.path, "cat-file", "commit", "HEAD")
    other_tree = str(head.parents[0].tree_id)
    altered = {
        "message": raw.replace("Create ticket 1001", "Create ticket 1002"),
        "content": raw.replace(f"tree {head.tree_id}", f"tree {other_tree}"),
        "author": raw.replace("author alice", "author bob"),
    }
    allowed = store.path / REGISTRY_PATH
    assert git_verify(store.path, allowed, "HEAD").returncode == 0
    checker = sig.SignatureChecker(store.repo, AllowedSigners.parse(allowed.read_bytes()))
    for what, text in altered.items():
        assert text != raw, what
        oid = subprocess.run(["git", "-C", str(store.path), "hash-object", "-t", "commit", "-w", "--stdin"],
                             input=text, capture_output=True, text=True, check=True).stdout.strip()
        proc = git_verify(store.path, allowed, oid)
        assert proc.returncode != 0 and "incorrect signature" in proc.stderr, (what, proc.stderr)
        assert git_signature_lines(store.path, allowed, "-1", oid)[0].split()[1] == "B"
        result = checker.check(store.repo[oid].peel(pygit2.Commit))
        assert not result.ok and result.rule == sig.BAD_SIGNATURE, what
        assert "changed after it was signed" in result.reason


def test_plain_git_commits_signed_by_git_verify_too(tmp_path, keys):
    """A person's own ``git commit -S`` (ssh-keygen signs) verifies with gitstore's check."""
    store = Store.init(tmp_path / "s", fsync=False, signing=KeyRing(load_signing_key(keys["alice"][0])))
    add_signer(store, "alice", keys["alice"][1], actor="alice")
    (store.path / "notes.txt").write_text("a person's note\n")
    git(store.path, "add", "notes.txt")
    env = ["-c", "gpg.format=ssh", "-c", f"user.signingKey={keys['alice'][0]}", "-c", "user.name=alice",
           "-c", "user.email=alice@example.invalid"]
    proc = subprocess.run(["git", "-C", str(store.path), *env, "commit", "-q", "-S", "-m", "note"], capture_output=True, text=True,
                          env={**_env_without_git_identity(), "GIT_CONFIG_NOSYSTEM": "1"})
    assert proc.returncode == 0, proc.stderr
    report = verify_signatures(store)
    assert report.ok and report.verified == 2, report.failures


def _env_without_git_identity() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("GIT_AUTHOR", "GIT_COMMITTER"))}


def test_a_bulk_import_of_real_data_is_signed_by_its_runner_and_verifies(tmp_path, keys, monkeypatch, gs):
    key, public = keys["importer"]
    monkeypatch.setenv("GITSTORE_SIGNING_KEY", str(key))  # the person running the import
    (tmp_path / "importer.pub").write_text(public)
    assert gs("signer", "add", "importer", str(tmp_path / "importer.pub"), actor="importer").exit_code == 0
    result = gs("import", "twitter-care", str(TEST_DATA / "twitter_care_sample.json"), "--json", actor="importer")
    assert result.exit_code == 0, result.output
    commits = json.loads(result.stdout)["commits"]
    assert commits > 20
    allowed = gs.path / REGISTRY_PATH
    lines = git_signature_lines(gs.path, allowed, "-n", str(commits))
    assert len(lines) == commits and all(line.split()[1:] == ["G", "importer"] for line in lines), lines[:3]
    people = git(gs.path, "log", f"-{commits}", "--format=%an|%cn").splitlines()
    assert {cn for _an, cn in (p.split("|") for p in people)} == {"importer"}  # the runner commits and signs
    assert len({an for an, _cn in (p.split("|") for p in people)}) > 2  # on behalf of the source's authors
    with Store.open(gs.path, fsync=False) as store:
        report = verify_signatures(store)
    assert report.ok and report.verified == commits + 1, report.failures[:3]
    result = gs("verify", "--signatures")
    assert result.exit_code == 0 and f"ok: {commits + 1} commits verified" in result.output


# ---------------------------------------------------------------------------- who may sign, and when
def test_signer_commands_and_a_removed_signers_history(tmp_path, keys, clock):
    site = tmp_path / "s"
    Store.init(site, fsync=False).close()
    actor_keys(site, alice=keys["alice"][0], admin=keys["admin"][0])
    (tmp_path / "admin.pub").write_text(keys["admin"][1])
    assert invoke(site, "signer", "add", "admin", str(tmp_path / "admin.pub"), actor="admin").exit_code == 0
    clock.advance(5)
    result = invoke(site, "signer", "add", "alice", str(keys["alice"][0]) + ".pub", "--json", actor="admin")
    assert result.exit_code == 0, result.output
    added = json.loads(result.stdout)
    assert added["action"] == "add" and added["at"] == "2026-03-01T12:00:05Z"
    clock.advance(10)
    with Store.open(site, fsync=False) as store:
        before = store.create_ticket("1001", client_name="Ana", company_name="Acme", actor="alice").commit
    clock.advance(10)
    result = invoke(site, "signer", "remove", "alice", actor="admin")
    assert result.exit_code == 0, result.output
    clock.advance(10)
    with Store.open(site, fsync=False) as store:
        after = store.add_message("1001", "E", sender="customer", sender_id="ana", content="still there?", actor="alice").commit
        listed = {info.actor: info for info in list_signers(store)}
        assert listed["alice"].status == "removed" and listed["admin"].status == "active"
        assert listed["alice"].valid_before == T0 + timedelta(seconds=25)
        report = verify_signatures(store)
    assert [(f.commit, f.rule) for f in report.failures] == [(after, sig.KEY_NOT_VALID)]
    assert "valid from 2026-03-01T12:00:05Z until 2026-03-01T12:00:25Z" in report.failures[0].reason
    allowed = site / REGISTRY_PATH
    assert git_verify(site, allowed, before).returncode == 0  # git agrees: valid then
    assert git_verify(site, allowed, after).returncode != 0
    text = invoke(site, "verify", "--signatures")
    assert text.exit_code == 1 and after[:12] in text.output and "[key-not-valid]" in text.output
    listed_text = invoke(site, "signer", "list")
    assert listed_text.exit_code == 0 and "alice\t" in listed_text.output and "removed" in listed_text.output
    raw = invoke(site, "signer", "list", "--allowed-signers")
    assert raw.output == allowed.read_text()
    assert invoke(site, "verify", "--signatures", "--since", before, "--json").exit_code == 1


def test_a_leaked_key_is_revoked_from_the_time_of_the_leak(tmp_path, keys, clock):
    site = tmp_path / "s"
    Store.init(site, fsync=False).close()
    actor_keys(site, alice=keys["alice"][0], admin=keys["admin"][0])
    with Store.open(site, fsync=False) as store:
        add_signer(store, "admin", keys["admin"][1], actor="admin")
        add_signer(store, "alice", keys["alice"][1], actor="admin")
        clock.advance(10)
        good = store.create_ticket("1001", client_name="Ana", company_name="Acme", actor="alice").commit
        clock.advance(10)
        forged = store.add_message("1001", "E", sender="customer", sender_id="ana", content="pay here", actor="alice").commit
        clock.advance(10)
    leak = T0 + timedelta(seconds=15)
    result = invoke(site, "signer", "remove", "alice", "--since", "2026-03-01T12:00:15Z", actor="admin")
    assert result.exit_code == 0, result.output
    actor_keys(site, alice=keys["bob"][0])  # alice's new key
    with Store.open(site, fsync=False) as store:
        add_signer(store, "alice", keys["bob"][1], actor="admin")
        clock.advance(10)
        fresh = store.add_message("1001", "E", sender="customer", sender_id="ana", content="real reply", actor="alice").commit
        report = verify_signatures(store)
        entries = [info for info in list_signers(store) if info.actor == "alice"]
    assert [f.commit for f in report.failures] == [forged]  # only what was signed after the leak
    assert report.failures[0].rule == sig.KEY_NOT_VALID
    assert [e.valid_before for e in entries] == [leak, None]
    assert good and fresh and report.verified == report.checked - 1


def test_registry_changes_need_an_allowed_signer(tmp_path, keys, clock):
    store = Store.init(tmp_path / "s", fsync=False)
    actor_keys(store.path, alice=keys["alice"][0], bob=keys["bob"][0])
    store = Store.open(store.path, fsync=False)
    add_signer(store, "alice", keys["alice"][1], actor="alice")  # the first registry: taken on trust
    clock.advance(5)
    add_signer(store, "bob", keys["bob"][1], actor="bob")  # bob adds himself
    report = verify_signatures(store)
    assert [f.rule for f in report.failures] == [sig.REGISTRY_CHANGE]
    assert "'bob' was not an allowed signer before this commit" in report.failures[0].reason


def test_registry_errors_are_one_line_and_write_nothing(tmp_path, keys):
    site = tmp_path / "s"
    Store.init(site, fsync=False).close()
    before = git(site, "rev-parse", "HEAD")
    rsa_pub = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    for args, says in [
        (("signer", "add", "alice", "ssh-ed25519 not-base64!"), "not valid base64"),
        (("signer", "add", "alice", rsa_pub), "ssh-rsa key cannot sign here"),
        (("signer", "add", "al,ice", keys["alice"][1]), "cannot be a signer"),
        (("signer", "add", "alice", str(tmp_path / "none.pub")), "no such file"),
        (("signer", "remove", "alice"), "no signer 'alice'"),
        (("signer", "add", "alice", keys["alice"][1], "--valid-after", "not a date at all"), "not a date"),
        (("verify", "--since", "HEAD"), "--since goes with --signatures"),
    ]:
        result = invoke(site, *args)
        assert result.exit_code in (1, 2) and says in result.output, (args, result.output)
    assert git(site, "rev-parse", "HEAD") == before
    with Store.open(site, fsync=False) as store:
        add_signer(store, "alice", keys["alice"][1], actor="alice")
        with pytest.raises(SignerError, match="already registered for alice"):
            add_signer(store, "bob", keys["alice"][1], actor="alice")


# ---------------------------------------------------------------------------- hubs and pulls
@pytest.fixture
def signed_hub(tmp_path, keys):
    """``(daemon, hub path, seed)``: a signed-mode hub served by git daemon, filled by the
    first push of a store whose alice and bob sign their commits."""
    base = tmp_path / "served"
    base.mkdir()
    result = CliRunner().invoke(cli, ["--no-fsync", "init", "--bare", "--require-signed", str(base / "hub.git")])
    assert result.exit_code == 0, result.output
    assert git(base / "hub.git", "config", "gitstore.requireSigned").strip() == "true"
    seed = tmp_path / "seed"
    Store.init(seed, fsync=False).close()
    actor_keys(seed, alice=keys["alice"][0], bob=keys["bob"][0])
    for who in ("alice", "bob"):
        assert invoke(seed, "signer", "add", who, keys[who][1], actor="alice").exit_code == 0
    assert invoke(seed, "ticket", "create", "1001", "--client", "Ana", "--company", "Acme").exit_code == 0
    daemon = Daemon(base)
    daemon.start()
    pushed = invoke(seed, "push", daemon.url("hub.git"))
    assert pushed.exit_code == 0, pushed.output
    yield daemon, base / "hub.git", seed
    daemon.stop()


def test_a_signed_hub_refuses_unsigned_and_wrong_actor_pushes_and_takes_good_ones(tmp_path, keys, signed_hub):
    daemon, hub, _seed = signed_hub
    hub_before = git(hub, "rev-parse", "main").strip()
    cases = {"unsigned": {}, "wrong": {"alice": keys["bob"][0]}, "good": {"alice": keys["alice"][0]}}
    sites = {}
    for name, config in cases.items():
        site = tmp_path / name
        cloned = CliRunner().invoke(cli, ["--no-fsync", "clone", "--no-index", daemon.url("hub.git"), str(site)])
        assert cloned.exit_code == 0, cloned.output
        actor_keys(site, **config)
        result = invoke(site, "message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", f"from {name}")
        assert result.exit_code == 0, result.output
        sites[name] = (site, git(site, "rev-parse", "HEAD").strip())
    for name, rule in (("unsigned", "unsigned"), ("wrong", "wrong-signer")):
        site, head = sites[name]
        result = invoke(site, "push")
        assert result.exit_code == 1, result.output
        assert head[:12] in result.output and f"[signed mode: {rule}]" in result.output, result.output
        assert git(site, "rev-parse", "HEAD").strip() == head  # the pushing store is unchanged
        assert git(hub, "rev-parse", "main").strip() == hub_before  # and the hub took nothing
    site, head = sites["good"]
    result = invoke(site, "push")
    assert result.exit_code == 0, result.output
    assert git(hub, "rev-parse", "main").strip() == head
    verified = CliRunner().invoke(cli, ["-C", str(hub), "verify", "--signatures", "--json"])
    assert verified.exit_code == 0 and json.loads(verified.stdout)["ok"], verified.output


def test_pull_reports_unverified_commits_and_refuses_them_in_signed_mode(tmp_path, keys):
    hub = tmp_path / "hub.git"
    assert CliRunner().invoke(cli, ["--no-fsync", "init", "--bare", str(hub)]).exit_code == 0
    seed = tmp_path / "seed"
    Store.init(seed, fsync=False).close()
    actor_keys(seed, alice=keys["alice"][0])
    assert invoke(seed, "signer", "add", "alice", keys["alice"][1]).exit_code == 0
    assert invoke(seed, "ticket", "create", "1001", "--client", "Ana", "--company", "Acme").exit_code == 0
    assert invoke(seed, "push", str(hub)).exit_code == 0
    strict, lenient = tmp_path / "strict", tmp_path / "lenient"
    for site in (strict, lenient):
        assert CliRunner().invoke(cli, ["--no-fsync", "clone", "--no-index", str(hub), str(site)]).exit_code == 0
    git(strict, "config", "gitstore.requireSigned", "true")
    assert invoke(seed, "message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "hi",
                  actor="mallory").exit_code == 0  # mallory has no key: unsigned
    unsigned = git(seed, "rev-parse", "HEAD").strip()
    assert invoke(seed, "push", str(hub)).exit_code == 0  # a hub not in signed mode takes it
    before = git(strict, "rev-parse", "HEAD").strip()
    with Store.open(strict, fsync=False) as store:
        with pytest.raises(UnverifiedCommits, match="refused in signed mode") as refused:
            pull(store, "origin", actor="alice")
    assert [f.commit for f in refused.value.failures] == [unsigned]
    assert git(strict, "rev-parse", "HEAD").strip() == before
    result = invoke(strict, "pull")
    assert result.exit_code == 1 and unsigned[:12] in result.output and "[unsigned]" in result.output
    result = invoke(lenient, "pull", "--json")
    assert result.exit_code == 0, result.output
    pulled = json.loads(result.stdout)
    assert pulled["outcome"] == "fast-forward"
    assert [(u["commit"], u["rule"], u["actor"]) for u in pulled["unverified"]] == [(unsigned, "unsigned", "mallory")]
