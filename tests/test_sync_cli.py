"""Sync through the CLI over local paths, plain git with the merge driver, and the hooks."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitstore_cli.main import cli
from gitstore import Store
from gitstore.tickets import layout
from gitstore.verify import verify_store
from conftest import git, requires_git

pytestmark = requires_git


class Sites:
    """A hub made by ``gitstore init --bare`` and clones made by ``gitstore clone``."""

    def __init__(self, root: Path):
        self.root = root
        self.runner = CliRunner()
        self.hub = root / "hub.git"
        self.ok("--no-fsync", "init", "--bare", str(self.hub))
        self.ok("--no-fsync", "init", str(root / "seed-store"))  # a new hub is empty: fill it
        self.ok("-C", str(root / "seed-store"), "--no-fsync", "push", str(self.hub))

    def run(self, *args, input=None):
        return self.runner.invoke(cli, list(args), input=input)

    def ok(self, *args):
        result = self.run(*args)
        assert result.exit_code == 0, result.output
        return result

    def at(self, site: Path, *args, actor: str = "tester"):
        return self.run("-C", str(site), "--no-fsync", "--actor", actor, *args)

    def clone(self, name: str) -> Path:
        path = self.root / name
        self.ok("--no-fsync", "clone", str(self.hub), str(path))
        return path


def open_store(path: Path) -> Store:
    return Store.open(path, fsync=False)


def head_tree(path: Path) -> str:
    return git(path, "rev-parse", "HEAD^{tree}").strip()


def add_message(site: Path, t_no: str, text: str, kind: str = "E", actor: str = "tester"):
    with open_store(site) as store:
        sender = "customer" if kind == "E" else "technical_member"
        return store.add_message(t_no, kind, sender=sender, sender_id="x", content=text, actor=actor)


@pytest.fixture
def sites(tmp_path):
    return Sites(tmp_path)


def test_init_registers_driver_and_bare_init_installs_pre_receive(sites, tmp_path):
    hub_hook = sites.hub / "hooks" / "pre-receive"
    assert hub_hook.is_file() and "gitstore_cmd hooks pre-receive" in hub_hook.read_text()
    assert git(sites.hub, "config", "receive.denyNonFastForwards").strip() == "true"
    sites.ok("--no-fsync", "init", str(tmp_path / "plain"))
    driver = git(tmp_path / "plain", "config", "merge.gitstore.driver").strip()
    assert driver.endswith("merge-driver %O %A %B %P")
    assert "merge=gitstore" in (tmp_path / "plain" / ".gitattributes").read_text()
    assert git(tmp_path / "plain", "check-attr", "merge", "Tickets/T_ext/a/b/c/E_1.json").strip().endswith("gitstore")


def test_remote_add_list_remove(sites):
    site = sites.clone("a")
    result = sites.at(site, "remote", "add", "hub2", str(sites.hub))
    assert result.exit_code == 0 and "added remote hub2" in result.output
    listed = json.loads(sites.at(site, "remote", "list", "--json").output)
    assert [(r["name"], r["transport"]) for r in listed] == [("hub2", "local"), ("origin", "local")]
    assert listed[0]["url"] == str(sites.hub.resolve())
    again = sites.at(site, "remote", "add", "hub2", "git://127.0.0.1/x.git")
    assert again.exit_code == 1 and "already exists" in again.output
    bad = sites.at(site, "remote", "add", "web", "ftp://example.invalid/x")
    assert bad.exit_code == 1 and "unsupported remote URL" in bad.output
    assert sites.at(site, "remote", "remove", "hub2").exit_code == 0
    missing = sites.at(site, "remote", "remove", "hub2")
    assert missing.exit_code == 1 and "no remote named 'hub2'" in missing.output


def test_clone_sets_up_a_working_store(sites):
    seed = sites.clone("seed")
    assert sites.at(seed, "ticket", "create", "1001", "--client", "Ana", "--company", "Acme").exit_code == 0
    assert sites.at(seed, "push").exit_code == 0
    result = sites.run("--no-fsync", "clone", "--json", str(sites.hub), str(sites.root / "b"))
    info = json.loads(result.stdout)
    site = Path(info["path"])
    assert info["driver"].endswith("merge-driver %O %A %B %P")
    assert sorted(Path(h).name for h in info["hooks"]) == ["post-checkout", "post-merge", "pre-commit"]
    assert info["index"] is True and (site / ".git" / "gitstore" / "index").is_dir()
    with open_store(site) as store:
        assert store.list_tickets() == ["1001"]
        assert verify_store(store) == []
    assert git(site, "status", "--porcelain") == ""


def test_pull_merges_concurrent_updates_and_reports_per_ticket(sites):
    a, b = sites.clone("a"), sites.clone("b")
    for t_no in ("1001", "1002"):
        assert sites.at(a, "ticket", "create", t_no, "--client", "Ana", "--company", "Acme").exit_code == 0
    assert sites.at(a, "push").exit_code == 0
    assert "new     1001" in sites.at(b, "pull").output
    add_message(a, "1001", "from A")
    assert sites.at(a, "state", "set", "1001", "assigned_member=amy").exit_code == 0
    add_message(b, "1001", "from B")
    assert sites.at(b, "state", "set", "1001", "assigned_member=bob").exit_code == 0  # newer: wins
    assert sites.at(a, "ticket", "create", "1003", "--client", "Cy", "--company", "C").exit_code == 0
    assert sites.at(a, "push").exit_code == 0
    result = sites.at(b, "pull", "--json")
    assert result.exit_code == 0, result.output
    pulled = json.loads(result.output)
    assert pulled["outcome"] == "merge"
    by_ticket = {t["ticket"]: t for t in pulled["tickets"]}
    assert by_ticket["1003"]["status"] == "new"
    assert by_ticket["1001"]["status"] == "merged" and by_ticket["1001"]["conflicts"] == 1
    assert pulled["lost"] == [
        {"file": "T_1001.json", "field": "assigned_member", "kept": "bob", "lost": "amy", "reason": "newer"}
    ]
    trailers = git(b, "log", "-1", "--format=%(trailers)")
    assert 'Lost-Value: T_1001.json assigned_member lost "amy" kept "bob" (newer)' in trailers
    assert git(b, "rev-list", "--count", "--merges", "HEAD").strip() == "1"
    with open_store(b) as store:
        contents = [m.content for m in store.read("1001").external.messages]
        assert sorted(contents) == ["from A", "from B"]
        assert verify_store(store) == []
    assert git(b, "status", "--porcelain") == ""
    # the other site gets the same bytes by fast-forward after a push
    assert sites.at(b, "push").exit_code == 0
    text = sites.at(a, "pull").output
    assert "Fast-forward" in text and "updated 1001" in text
    assert head_tree(a) == head_tree(b)


def test_sync_pulls_then_pushes_and_retries_when_the_remote_moved(sites, monkeypatch):
    a, b = sites.clone("a"), sites.clone("b")
    assert sites.at(a, "ticket", "create", "1001", "--client", "Ana", "--company", "Acme").exit_code == 0
    assert sites.at(a, "sync").exit_code == 0
    assert sites.at(b, "sync").exit_code == 0
    import gitstore_sync.exchange as exchange

    real_pull = exchange.pull
    calls = []

    def pull_then_remote_moves(store, remote, **kwargs):
        result = real_pull(store, remote, **kwargs)
        if not calls:  # site A pushes between B's pull and B's push
            add_message(a, "1001", f"racing {len(calls)}")
            assert sites.at(a, "push").exit_code == 0
        calls.append(result)
        return result

    monkeypatch.setattr(exchange, "pull", pull_then_remote_moves)
    add_message(b, "1001", "from B")
    result = sites.at(b, "sync", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["attempts"] == 2
    assert git(sites.hub, "rev-parse", "main").strip() == git(b, "rev-parse", "HEAD").strip()


def test_plain_git_pull_uses_the_merge_driver_and_equals_gitstore_pull(sites):
    a, b = sites.clone("a"), sites.clone("b")
    assert sites.at(a, "ticket", "create", "1001", "--client", "Ana", "--company", "Acme").exit_code == 0
    assert sites.at(a, "push").exit_code == 0
    assert sites.at(b, "pull").exit_code == 0
    for i in range(2):
        add_message(a, "1001", f"A says {i}")
        add_message(b, "1001", f"B says {i}")
    add_message(b, "1001", "B internal", kind="I")
    assert sites.at(a, "push").exit_code == 0
    twin = sites.root / "b-twin"
    shutil.copytree(b, twin, symlinks=True)
    proc = subprocess.run(
        ["git", "-C", str(b), "-c", "pull.rebase=false", "pull", "--no-edit", "origin", "main"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    e_file = b / layout.ticket_path("E", "1001")
    assert "<<<<<<<" not in e_file.read_text()
    assert sites.at(twin, "pull").exit_code == 0
    assert head_tree(b) == head_tree(twin)
    with open_store(b) as store:
        texts = sorted(m.content for m in store.read("1001").external.messages)
        assert texts == ["A says 0", "A says 1", "B says 0", "B says 1"]
        assert verify_store(store) == []


def test_merge_driver_reports_a_conflict_it_cannot_settle(sites, tmp_path):
    base, ours, theirs = (tmp_path / n for n in ("o", "a", "b"))
    base.write_bytes(b"")
    ours.write_bytes(b"{not json")
    theirs.write_bytes(b"[]")
    result = sites.run("merge-driver", str(base), str(ours), str(theirs), "Tickets/T_ext/0/1/2/E_1.json")
    assert result.exit_code == 1 and "both sides are invalid" in result.output
    assert ours.read_bytes() == b"{not json"  # left as it was


def test_pull_refuses_uncommitted_hand_edits_and_keeps_them(sites):
    a, b = sites.clone("a"), sites.clone("b")
    assert sites.at(a, "ticket", "create", "1001", "--client", "Ana", "--company", "Acme").exit_code == 0
    assert sites.at(a, "push").exit_code == 0
    assert sites.at(b, "pull").exit_code == 0
    add_message(a, "1001", "newer at A")
    assert sites.at(a, "push").exit_code == 0
    edited = b / layout.ticket_path("T", "1001")
    text = edited.read_text().replace('"Acme"', '"Acme Ltd"')
    edited.write_text(text)
    before = git(b, "rev-parse", "HEAD").strip()
    result = sites.at(b, "pull")
    assert result.exit_code == 1
    assert "uncommitted edits in Tickets/tickets/" in result.output and "nothing was changed" in result.output
    assert edited.read_text() == text
    assert git(b, "rev-parse", "HEAD").strip() == before
    assert sites.at(b, "commit", "-m", "Rename company").exit_code == 0
    assert sites.at(b, "pull").exit_code == 0
    with open_store(b) as store:
        files = store.read("1001")
        assert files.workflow.company_name == "Acme Ltd"
        assert [m.content for m in files.external.messages] == ["newer at A"]


def test_pull_from_missing_or_foreign_remotes_fails_cleanly(sites, tmp_path):
    site = sites.clone("a")
    before = git(site, "rev-parse", "HEAD").strip()
    missing = sites.at(site, "pull", "nosuch")
    assert missing.exit_code == 1 and "no remote named 'nosuch'" in missing.output
    plain = tmp_path / "plain"
    plain.mkdir()
    git(plain, "init", "-q", "-b", "main")
    (plain / "README").write_text("not a store\n")
    git(plain, "add", "README")
    git(plain, "commit", "-q", "-m", "readme")
    foreign = sites.at(site, "pull", str(plain))
    assert foreign.exit_code == 1 and "is not a gitstore store" in foreign.output
    empty = tmp_path / "empty.git"
    git(tmp_path, "init", "-q", "--bare", str(empty))
    result = sites.at(site, "pull", str(empty))  # an empty repository: nothing to pull
    assert result.exit_code == 0 and "is an empty hub: nothing to pull" in result.output
    assert git(site, "rev-parse", "HEAD").strip() == before
    cloned = sites.run("clone", str(plain), str(tmp_path / "nope"))
    assert cloned.exit_code == 1 and "is not a gitstore store" in cloned.output
    assert not (tmp_path / "nope").exists()
    gone = sites.run("clone", str(tmp_path / "missing"), str(tmp_path / "nope2"))
    assert gone.exit_code == 1 and "no such path" in gone.output


def test_pull_refuses_invalid_incoming_tickets_and_changes_nothing(sites):
    a, b = sites.clone("a"), sites.clone("b")
    assert sites.at(a, "ticket", "create", "1001", "--client", "Ana", "--company", "Acme").exit_code == 0
    path = a / layout.ticket_path("T", "1001")
    path.write_text(path.read_text().replace('"priority": "LOW"', '"priority": "URGENT"'))
    git(a, "commit", "-q", "--no-verify", "-am", "broken by hand")
    before = git(b, "rev-parse", "HEAD").strip()
    result = sites.at(b, "pull", str(a))
    assert result.exit_code == 1
    assert "cannot merge" in result.output and "T_1001.json" in result.output and "priority" in result.output
    assert git(b, "rev-parse", "HEAD").strip() == before
    assert git(b, "status", "--porcelain") == ""


def test_pre_commit_hook_refuses_invalid_ticket_files(sites):
    site = sites.clone("a")
    assert sites.at(site, "ticket", "create", "1001", "--client", "Ana", "--company", "Acme").exit_code == 0
    path = site / layout.ticket_path("E", "1001")
    good = path.read_text()
    path.write_text(good.replace('"platform": "email"', '"platform": "fax"'))
    proc = subprocess.run(["git", "-C", str(site), "commit", "-am", "bad"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert f"{layout.ticket_path('E', '1001')}: platform:" in proc.stderr and "(docs/data-model.md#e-file)" in proc.stderr
    t_path = site / layout.ticket_path("T", "1001")
    path.write_text(good)
    t_path.write_text(t_path.read_text().replace('"last_synchronized": "', '"last_synchronized": "1999'))
    git(site, "add", "-A")
    proc = subprocess.run(["git", "-C", str(site), "commit", "-m", "drift"], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert "synchronization drift" in proc.stderr or "last_synchronized" in proc.stderr
    git(site, "reset", "-q", "--hard")
    path.write_text(good.replace('"client_name": "Ana"', '"client_name": "Ana Maria"'))
    proc = subprocess.run(["git", "-C", str(site), "commit", "-qam", "fix name"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_hooks_install_keeps_foreign_hooks_unless_forced(sites):
    site = sites.clone("a")
    hook = site / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 0\n")
    result = sites.at(site, "hooks", "install")
    assert result.exit_code == 1 and "was not written by gitstore" in result.output
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"
    result = sites.at(site, "hooks", "install", "--force", "--json")
    assert result.exit_code == 0
    assert "gitstore_cmd hooks pre-commit" in hook.read_text()
    assert sites.at(site, "hooks", "install").exit_code == 0  # re-installing its own hooks is fine


def test_git_credential_fill_uses_git_credential_helpers(tmp_path, isolated_git_env):
    from gitstore_sync.transport import git_credential_fill

    helper = tmp_path / "helper.sh"
    helper.write_text("#!/bin/sh\n[ \"$1\" = get ] && echo username=agent && echo password=s3cret\nexit 0\n")
    helper.chmod(0o755)
    subprocess.run(["git", "config", "--global", "credential.helper", str(helper)], check=True)
    assert git_credential_fill("https://git.example.invalid/team/store.git") == ("agent", "s3cret")
    subprocess.run(["git", "config", "--global", "--unset", "credential.helper"], check=True)
    assert git_credential_fill("https://git.example.invalid/team/store.git") is None


def test_post_merge_hook_brings_the_search_index_up_to_date(sites):
    from gitstore_index.paths import index_dir
    from gitstore_index.state import read_state
    from gitstore_index.store_index import SearchIndex

    a, b = sites.clone("a"), sites.clone("b")
    assert sites.at(a, "ticket", "create", "1001", "--client", "Ana", "--company", "Acme").exit_code == 0
    assert sites.at(a, "push").exit_code == 0
    assert sites.at(b, "pull").exit_code == 0
    with open_store(b) as store:
        SearchIndex.open(store).close()
        folder = index_dir(store)
    add_message(a, "1001", "the printer is on fire")
    assert sites.at(a, "push").exit_code == 0
    proc = subprocess.run(["git", "-C", str(b), "pull", "-q", "--ff-only", "origin", "main"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert read_state(folder).commit == git(b, "rev-parse", "HEAD").strip()  # the hook caught it up
    # post-checkout: main moved by a fetch while another branch was checked out
    git(b, "checkout", "-q", "-b", "side")
    add_message(a, "1001", "second update")
    assert sites.at(a, "push").exit_code == 0
    git(b, "fetch", "-q", "origin", "main:main")
    assert read_state(folder).commit != git(b, "rev-parse", "main").strip()
    git(b, "checkout", "-q", "main")
    assert read_state(folder).commit == git(b, "rev-parse", "main").strip()


def test_refresh_index_without_an_index_does_nothing(sites):
    site = sites.root / "a"
    sites.ok("--no-fsync", "clone", "--no-index", str(sites.hub), str(site))
    result = sites.at(site, "hooks", "refresh-index")
    assert result.exit_code == 0 and result.output == ""
    assert not (site / ".git" / "gitstore" / "index").exists()


@pytest.mark.parametrize(
    "url, transport",
    [
        ("/srv/hub.git", "local"),
        ("../hub.git", "local"),
        ("file:///srv/hub.git", "file"),
        ("git://127.0.0.1:9418/hub.git", "git"),
        ("ssh://git@hub.example.org:2222/srv/hub.git", "ssh"),
        ("git@hub.example.org:srv/hub.git", "ssh"),
        ("https://hub.example.org/team/hub.git", "https"),
    ],
)
def test_supported_remote_urls(url, transport):
    from gitstore_sync.remotes import transport_of

    assert transport_of(url) == transport


def test_unsupported_remote_urls_are_refused():
    from gitstore.errors import RemoteError
    from gitstore_sync.remotes import transport_of

    for url in ("ftp://hub.example.org/x", "", "bad\nurl"):
        with pytest.raises(RemoteError):
            transport_of(url)
