"""Hostile content: what a hub refuses, and what every site reports without crashing.

The hub's ``pre-receive`` (``hookchecks.check_receive``) must validate everything a
site reads (configuration, attributes, tree shapes, every ref it accepts); a site that
holds such content anyway (a plain ``git commit``) reports it in ``gitstore verify`` and
``ticket show`` as one line, never a traceback. Hostile JSON (huge integers, deep
nesting) is one line everywhere.
"""

from __future__ import annotations

import json
import os
import subprocess

import pygit2
import pytest
from conftest import git, requires_git

from gitstore import Store
from gitstore.tickets import layout
from gitstore_sync.hookchecks import ZERO, check_receive

pytestmark = requires_git

DEEP = '{"x": ' + "[" * 100_000 + "]" * 100_000 + "}"
HUGE = '{"x": ' + "9" * 5000 + "}"


def make_store(path):
    store = Store.init(path, fsync=False)
    store.create_ticket("1001", client_name="Ana", company_name="Acme", actor="amy")
    store.create_ticket("1002", client_name="Bo", company_name="Acme", actor="amy")
    store.close()
    return path


def commit_raw(path, message: str) -> str:
    git(path, "add", "-A")
    git(path, "commit", "-q", "--no-verify", "-m", message)
    return git(path, "rev-parse", "HEAD").strip()


def commit_tree(repo: pygit2.Repository, edit) -> str:
    """Commit (without moving any branch) HEAD's tree changed by ``edit(builder_of_root)``."""
    head = repo.head.peel(pygit2.Commit)
    root = repo.TreeBuilder(head.tree)
    edit(repo, root)
    sig = pygit2.Signature("amy", "amy@example.invalid")
    return str(repo.create_commit(None, sig, sig, "hostile\n", root.write(), [head.id]))


def receive(path, new: str, ref: str = "refs/heads/main") -> list[str]:
    repo = pygit2.Repository(str(path))
    old = str(repo[new].peel(pygit2.Commit).parent_ids[0])  # the hub is at the parent
    return check_receive(repo, [(old, new, ref)])


def gs_cli(runner, path, *args):
    from gitstore_cli.main import cli

    return runner.invoke(cli, ["-C", str(path), "--no-fsync", "--actor", "amy", *args])


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.output.strip().startswith("Error: ") and len(result.output.strip().splitlines()) == 1, result.output
    return result.output.strip().splitlines()[-1]


# ---------------------------------------------------------------- the hub refuses


@pytest.mark.parametrize(
    "config, says",
    [
        ({"roles": {"default": "superuser"}}, "superuser"),
        ({"roles": {"actors": {"amy": "root"}}}, "root"),
        ({"workflow": {"stages": ["a"], "initial": "nowhere", "transitions": {}}}, "nowhere"),
        ({"search": {"default_role": "everyone"}}, "everyone"),
    ],
)
def test_pre_receive_refuses_config_naming_unknown_role_default_or_stage(tmp_path, config, says):
    path = make_store(tmp_path / "s")
    (path / ".gitstore").mkdir(exist_ok=True)
    (path / ".gitstore" / "config.json").write_text(json.dumps(config))
    new = commit_raw(path, "bad config")
    problems = receive(path, new)
    assert any(".gitstore/config.json" in line and says in line for line in problems), problems


@pytest.mark.parametrize("attributes", ["* -merge\n", "Tickets/**/*.json text eol=lf merge=union\n", "Tickets/** binary\n"])
def test_pre_receive_refuses_switching_the_merge_driver_off(tmp_path, attributes):
    path = make_store(tmp_path / "s")
    with (path / ".gitattributes").open("a") as fh:
        fh.write(attributes)
    new = commit_raw(path, "no merge driver")
    problems = receive(path, new)
    assert any(line.startswith("refs/heads/main: .gitattributes:") and "merge driver" in line for line in problems), problems


def test_pre_receive_refuses_removing_the_merge_driver_line(tmp_path):
    path = make_store(tmp_path / "s")
    (path / ".gitattributes").write_text("# nothing\n")
    problems = receive(path, commit_raw(path, "driver line gone"))
    assert any("merge-driver line" in line and "missing" in line for line in problems), problems


def _gitlink_at_ticket_file(repo, root):
    e_path = layout.ticket_path("E", "1001")
    folder, name = e_path.rsplit("/", 1)
    sub = repo.TreeBuilder(repo.head.peel(pygit2.Commit).tree[folder])
    sub.insert(name, repo.head.target, pygit2.GIT_FILEMODE_COMMIT)
    parent = repo.head.peel(pygit2.Commit).tree
    # rebuild the path from the leaf up
    parts = folder.split("/")
    tree_id = sub.write()
    for depth in range(len(parts) - 1, 0, -1):
        above = repo.TreeBuilder(parent["/".join(parts[:depth])])
        above.insert(parts[depth], tree_id, pygit2.GIT_FILEMODE_TREE)
        tree_id = above.write()
    root.insert(parts[0], tree_id, pygit2.GIT_FILEMODE_TREE)


def _tickets_is_a_file(repo, root):
    root.insert(layout.ROOT, repo.create_blob(b"not a folder\n"), pygit2.GIT_FILEMODE_BLOB)


@pytest.mark.parametrize("edit, says", [(_gitlink_at_ticket_file, "submodule"), (_tickets_is_a_file, "must be a folder")])
def test_pre_receive_refuses_gitlinks_and_files_where_folders_belong(tmp_path, edit, says):
    path = make_store(tmp_path / "s")
    repo = pygit2.Repository(str(path))
    problems = receive(path, commit_tree(repo, edit))
    assert any(says in line for line in problems), problems


def test_pre_receive_refuses_deleting_every_ticket_unless_the_hub_allows_it(tmp_path):
    path = make_store(tmp_path / "s")
    git(path, "rm", "-q", "-r", layout.ROOT)
    new = commit_raw(path, "delete everything")
    problems = receive(path, new)
    assert any("deletes every ticket" in line for line in problems), problems
    git(path, "config", "gitstore.allowDeleteAllTickets", "true")
    assert receive(path, new) == []


@pytest.mark.parametrize("ref", ["refs/tags/v1", "refs/notes/commits", "refs/pull/1/head"])
def test_pre_receive_refuses_refs_the_hub_does_not_serve(tmp_path, ref):
    path = make_store(tmp_path / "s")
    repo = pygit2.Repository(str(path))
    blob = str(repo.create_blob(b"note with anything\n"))
    problems = check_receive(repo, [(ZERO, blob, ref)])
    assert len(problems) == 1 and problems[0].startswith(f"{ref}: a hub serves branches only")


@pytest.mark.parametrize("stdin", ["garbage\n", "a b c\n", f"{ZERO} {'f' * 40} refs/heads/main\n", "1 2\n"])
def test_malformed_pre_receive_input_is_a_one_line_refusal(tmp_path, runner, stdin):
    from gitstore_cli.main import cli

    path = make_store(tmp_path / "s")
    result = runner.invoke(cli, ["hooks", "pre-receive"], input=stdin, env={"GIT_DIR": str(path / ".git")})
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "gitstore: push refused" in result.output


@pytest.mark.parametrize("text", [DEEP, HUGE])
def test_pre_receive_names_file_and_rule_of_hostile_json(tmp_path, text):
    path = make_store(tmp_path / "s")
    (path / layout.ticket_path("E", "1001")).write_text(text)
    problems = receive(path, commit_raw(path, "hostile json"))
    assert any(layout.ticket_path("E", "1001") in line and "docs/data-model.md#e-file" in line for line in problems), problems


def test_pre_receive_still_accepts_a_good_push(tmp_path):
    path = make_store(tmp_path / "s")
    before = str(pygit2.Repository(str(path)).references["refs/heads/main"].target)
    with Store.open(path, fsync=False) as store:
        store.add_message("1001", "E", sender="customer", sender_id="ana", content="hi", actor="amy")
    repo = pygit2.Repository(str(path))
    assert check_receive(repo, [(before, str(repo.references["refs/heads/main"].target), "refs/heads/main")]) == []


# ---------------------------------------------------------------- every site reports, never crashes


@pytest.mark.parametrize("text", [DEEP, HUGE])
def test_verify_and_ticket_show_report_hostile_committed_json_in_one_line(tmp_path, runner, text):
    path = make_store(tmp_path / "s")
    (path / layout.ticket_path("E", "1001")).write_text(text)
    commit_raw(path, "hostile json")
    out = gs_cli(runner, path, "verify")
    assert out.exit_code == 1 and "E_1001.json: unreadable JSON" in out.output, out.output
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    shown = one_line_error(gs_cli(runner, path, "ticket", "show", "1001"))
    assert shown.startswith("Error: E_1001.json") and "unreadable JSON" in shown


def test_verify_and_ticket_show_report_a_gitlink_ticket_file(tmp_path, runner):
    path = make_store(tmp_path / "s")
    repo = pygit2.Repository(str(path))
    new = commit_tree(repo, _gitlink_at_ticket_file)
    repo.references["refs/heads/main"].set_target(new)
    out = gs_cli(runner, path, "verify")
    assert out.exit_code == 1 and "submodule" in out.output, out.output
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    shown = one_line_error(gs_cli(runner, path, "ticket", "show", "1001"))
    assert "not a file" in shown


def test_verify_reports_tickets_replaced_by_a_file_and_bad_config(tmp_path, runner):
    path = make_store(tmp_path / "s")
    repo = pygit2.Repository(str(path))
    repo.references["refs/heads/main"].set_target(commit_tree(repo, _tickets_is_a_file))
    out = gs_cli(runner, path, "verify")
    assert out.exit_code == 1 and "Tickets: must be a folder" in out.output, out.output
    path2 = make_store(tmp_path / "s2")
    (path2 / ".gitstore").mkdir(exist_ok=True)
    (path2 / ".gitstore" / "config.json").write_text(json.dumps({"roles": {"default": "superuser"}}))
    with (path2 / ".gitattributes").open("a") as fh:
        fh.write("* -merge\n")
    commit_raw(path2, "bad config")
    out = gs_cli(runner, path2, "verify")
    assert out.exit_code == 1 and "superuser" in out.output and "-merge" in out.output, out.output


# ---------------------------------------------------------------- hostile JSON from the user


@pytest.mark.parametrize("text", [DEEP, HUGE])
def test_update_file_decision_and_stage_configure_refuse_hostile_json_in_one_line(tmp_path, runner, text):
    path = make_store(tmp_path / "s")
    head = git(path, "rev-parse", "HEAD").strip()
    doc = tmp_path / "doc.json"
    doc.write_text(text)
    assert "doc.json" in one_line_error(gs_cli(runner, path, "update", "1001", "--file", str(doc)))
    assert "doc.json" in one_line_error(gs_cli(runner, path, "stage", "configure", "--file", str(doc)))
    line = one_line_error(gs_cli(runner, path, "decision", "record", "1001", "--agent", "classifier", "--seen", head,
                                 "--confidence", "0.5", "--decision", text))
    assert "--decision" in line
    assert git(path, "rev-parse", "HEAD").strip() == head


def test_history_limit_beyond_sqlite_integers_is_every_commit(tmp_path, runner):
    path = make_store(tmp_path / "s")
    result = gs_cli(runner, path, "history", "1001", "--limit", "99999999999999999999", "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)) == 1


def test_plain_git_push_of_a_tag_to_a_hub_is_refused(tmp_path):
    from gitstore_sync.hub import init_hub

    init_hub(tmp_path / "hub.git")
    path = make_store(tmp_path / "s")
    git(path, "push", "-q", str(tmp_path / "hub.git"), "main")
    git(path, "tag", "v1")
    proc = subprocess.run(["git", "-C", str(path), "push", str(tmp_path / "hub.git"), "v1"], capture_output=True, text=True)
    assert proc.returncode != 0 and "a hub serves branches only" in proc.stderr


# ---------------------------------------------------------------- stale git locks


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def leave_dead_writer(path, *locks: str) -> list:
    """What a SIGKILLed gitstore writer leaves: its writer.pid and git lock files."""
    import time

    git_dir = path / ".git"
    (git_dir / "gitstore" / "writer.pid").write_text(f"{dead_pid()} {time.time() - 10:.6f}\n")
    made = []
    for name in locks:
        (git_dir / name).write_text("0" * 40 + "\n")
        made.append(git_dir / name)
    return made


def test_open_clears_main_lock_a_killed_gitstore_writer_left(tmp_path, runner):
    path = make_store(tmp_path / "s")
    (lock,) = leave_dead_writer(path, "refs/heads/main.lock")
    store = Store.open(path, fsync=False)
    assert not lock.exists() and store.lock.recovered == [str(lock)]
    (path / "notes.txt").write_text("a person's note\n")
    git(path, "add", "notes.txt")
    git(path, "commit", "-q", "--no-verify", "-m", "plain git works again")
    assert gs_cli(runner, path, "verify").exit_code == 0


@pytest.mark.parametrize("name", ["logs/refs/heads/main.lock", "objects/info/commit-graph.lock"])
def test_open_clears_the_locks_a_killed_git_gc_left(tmp_path, runner, name):
    # found by bench/soak/kills.py: 'gitstore gc' killed while git gc expired the reflog,
    # or wrote the commit-graph
    path = make_store(tmp_path / "s")
    (lock,) = leave_dead_writer(path, name)
    store = Store.open(path, fsync=False)
    assert not lock.exists() and store.lock.recovered == [str(lock)]
    git(path, "gc", "-q")  # fails while either lock is there
    assert gs_cli(runner, path, "verify").exit_code == 0


def test_a_lock_gitstore_does_not_own_is_kept_and_reported_by_verify(tmp_path, runner):
    path = make_store(tmp_path / "s")
    lock = path / ".git" / "index.lock"
    lock.write_text("")
    os.utime(lock, (1_000_000_000, 1_000_000_000))  # no writer.pid: not gitstore's
    Store.open(path, fsync=False).close()
    assert lock.exists()
    result = gs_cli(runner, path, "verify")
    assert result.exit_code == 1 and "index.lock" in result.output and "stale git lock file" in result.output, result.output
    assert lock.exists()


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="recovery lists processes through /proc")
def test_recovery_keeps_index_lock_while_a_git_command_runs_in_the_repository(tmp_path):
    path = make_store(tmp_path / "s")
    (lock,) = leave_dead_writer(path, "index.lock")
    running = subprocess.Popen(["git", "cat-file", "--batch-check"], cwd=path, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert running.stdin is not None and running.stdout is not None
        running.stdin.write(b"HEAD\n")
        running.stdin.flush()
        assert b" commit " in running.stdout.readline()  # it answered: a git command runs here now
        Store.open(path, fsync=False).close()
        assert lock.exists()  # may be that git command's: kept
    finally:
        running.communicate(b"")
    Store.open(path, fsync=False).close()
    assert not lock.exists()  # no git command runs any more: the dead writer's, cleared


def test_open_removes_the_pack_litter_of_a_killed_writer(tmp_path):
    path = make_store(tmp_path / "s")
    pack_dir = path / ".git" / "objects" / "pack"
    leave_dead_writer(path)
    tmp = pack_dir / "tmp_gitstore_abc123"
    tmp.write_bytes(b"half a pack index")
    orphan = pack_dir / ("pack-" + "1" * 40 + ".pack")
    orphan.write_bytes(b"PACK half written")
    kept = sorted(p.name for p in pack_dir.iterdir() if p.name.endswith((".idx", ".pack")) and p != orphan)
    with Store.open(path, fsync=False) as store:
        assert sorted(store.lock.recovered) == sorted([str(orphan), str(tmp)])
    assert not tmp.exists() and not orphan.exists()
    assert sorted(p.name for p in pack_dir.iterdir() if p.name.endswith((".idx", ".pack"))) == kept
    garbage = [line for line in git(path, "count-objects", "-v").splitlines() if line.startswith("garbage:")]
    assert garbage == ["garbage: 0"]
    assert subprocess.run(["git", "-C", str(path), "fsck", "--strict"], capture_output=True).returncode == 0


# ---------------------------------------------------------------- contention


def test_update_with_retry_does_not_give_up_while_others_keep_winning(tmp_path):
    from gitstore.errors import LockTimeout

    path = make_store(tmp_path / "s")
    mine = Store.open(path, fsync=False)
    racer = Store.open(path, fsync=False, lock_timeout=0.1)
    seen = []

    def make(files):
        try:  # another writer commits between our read and our write, every time it can
            racer.add_message("1001", "E", sender="customer", sender_id="z", content=f"racer {len(seen)}", actor="z")
            seen.append("racer won")
        except LockTimeout:
            seen.append("racer waited")
        return {"E": {"messages": [{"sender": "cs_agent", "sender_id": "bob", "content": "mine"}]}}

    mine.update_with_retry("1001", make, actor="bob", attempts=3, backoff=0.001)
    assert seen == ["racer won", "racer won", "racer waited"]
    contents = [m.content for m in mine.read("1001").external.messages]
    assert contents == ["racer 0", "racer 1", "mine"]
    racer.close()
    mine.close()


def test_log_limit_beyond_any_index_lists_every_commit(tmp_path, runner):
    path = make_store(tmp_path / "s")
    result = gs_cli(runner, path, "log", "-n", "99999999999999999999", "--json")
    assert result.exit_code == 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert len(json.loads(result.output)) == int(git(path, "rev-list", "--count", "HEAD"))


def queued(queue) -> int:
    return len([n for n in os.listdir(queue) if not n.startswith(".")]) if queue.exists() else 0


def test_writers_waiting_for_the_lock_are_served_in_arrival_order(tmp_path):
    import threading

    from gitstore.objects.lock import WriterLock

    path = make_store(tmp_path / "s")
    git_dir = path / ".git"
    holder = WriterLock(git_dir)
    holder.acquire()
    queue = git_dir / "gitstore" / "writer.queue"
    served: list[str] = []
    threads = []
    for name in ("first", "second", "third"):
        lock = WriterLock(git_dir, timeout=60)

        def wait(lock=lock, name=name):
            try:
                with lock:
                    served.append(name)
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                served.append(f"{name}: {exc!r}")

        before = queued(queue)
        thread = threading.Thread(target=wait)
        thread.start()
        threads.append(thread)
        for _ in range(30_000):  # until this waiter is queued (at most ~30 s): the next one arrives after it
            if queued(queue) > before:
                break
            thread.join(0.001)
        assert queued(queue) > before, f"{name} never queued for the lock"
    holder.release()
    for thread in threads:
        thread.join(60)
    assert served == ["first", "second", "third"]
    assert [n for n in os.listdir(queue)] == []  # every waiter left the queue


def test_a_killed_waiter_does_not_block_the_queue(tmp_path):
    from gitstore.objects.lock import WriterLock

    path = make_store(tmp_path / "s")
    queue = path / ".git" / "gitstore" / "writer.queue"
    queue.mkdir(parents=True, exist_ok=True)
    (queue / f"{1:020d}-{dead_pid()}-1").write_text("")  # its waiter died: nobody holds the file
    lock = WriterLock(path / ".git", timeout=5)
    with lock:
        assert lock.held
    assert os.listdir(queue) == []


@pytest.mark.parametrize("text", [DEEP, HUGE])
def test_hand_edit_commit_of_hostile_json_is_refused_in_one_line(tmp_path, runner, text):
    """Found by bench/soak/fuzz.py: `gitstore commit` of a file nested 50,000 deep raised
    RecursionError. The hand edit is refused, nothing is committed, the file is kept."""
    path = make_store(tmp_path / "s")
    head = git(path, "rev-parse", "HEAD").strip()
    target = path / layout.ticket_path("E", "1001")
    target.write_text(text)
    out = gs_cli(runner, path, "commit", "-m", "hostile")
    assert out.exit_code == 1, out.output
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    assert "E_1001.json" in out.output and "unreadable JSON" in out.output and "Traceback" not in out.output
    assert git(path, "rev-parse", "HEAD").strip() == head and target.read_text() == text
