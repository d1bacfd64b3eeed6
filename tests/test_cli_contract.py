"""The error contract, driven through the installed command as a person meets it.

README "Errors and exit codes": an error is one line ``Error: …`` on stderr (exit 1, or 2
for a usage error), nothing is written; an I/O error on stdout or stderr (a full disk,
a closed pipe) never prints a Python traceback. Empty input is refused, not committed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git, requires_git

pytestmark = requires_git

GITSTORE = str(Path(sys.executable).parent / "gitstore")


@pytest.fixture
def store(tmp_path):
    """A store with ticket 1001 and one message, made through the command line."""
    path = tmp_path / "support"
    for args in (
        ["init", str(path)],
        ["-C", str(path), "ticket", "create", "1001", "--client", "Ana", "--company", "Acme"],
        ["-C", str(path), "message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "Printer down"],
    ):
        proc = run(*args)
        assert proc.returncode == 0, proc.stderr
    return path


def run(*args, stdout=subprocess.PIPE, input=None, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, GITSTORE_ACTOR="alice")
    return subprocess.run([GITSTORE, "--no-fsync", *args], stdout=stdout, stderr=subprocess.PIPE, text=True,
                          input=input, env=env, cwd=cwd)


def one_error_line(proc) -> str:
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    "args, says",
    [
        (["update", "1001", "--file", "nope.json"], "'nope.json': No such file or directory; see 'gitstore update -h'"),
        (["state", "set", "1001", "resolved=maybe"], "resolved must be true or false, not 'maybe'; see 'gitstore state set -h'"),
        (["blame", "1001"], "choose --external, --internal or --workflow; see 'gitstore blame -h'"),
        (["frobnicate"], "No such command 'frobnicate'; see 'gitstore -h'"),
        (["ticket", "show"], "Missing argument 'T_NO'"),
        (["ticket", "list", "--bogus"], "--bogus"),
        (["ticket", "list", "--limit", "0"], "--limit"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(store, args, says):
    before = git(store, "rev-parse", "HEAD")
    proc = run("-C", str(store), *args)
    assert proc.returncode == 2
    assert says in one_error_line(proc)
    assert proc.stdout == ""
    assert git(store, "rev-parse", "HEAD") == before


@pytest.mark.parametrize(
    "args, says",
    [
        (["ticket", "show", "9999"], "ticket 9999 not found"),
        (["state", "set", "1001", "priority=URGENT"], "priority"),
        (["history", "1001", "--limit", "0"], "limit"),
        (["log", "--since", "not a date at all"], "not a date at all"),
    ],
)
def test_gitstore_errors_are_one_line_with_exit_code_1(store, args, says):
    before = git(store, "rev-parse", "HEAD")
    proc = run("-C", str(store), *args)
    assert proc.returncode == 1
    assert says in one_error_line(proc)
    assert git(store, "rev-parse", "HEAD") == before


def test_a_folder_that_is_not_a_store(tmp_path):
    proc = run("-C", str(tmp_path), "ticket", "list")
    assert proc.returncode == 1 and "not a gitstore store" in one_error_line(proc)


READ_COMMANDS = [
    ["ticket", "list"],
    ["ticket", "list", "--json"],
    ["ticket", "show", "1001"],
    ["history", "1001"],
    ["log"],
    ["log", "--json"],
    ["blame", "1001", "--external"],
    ["verify"],
]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_a_full_disk_on_stdout_is_one_line_not_a_traceback(store, args):
    with open("/dev/full", "w") as full:
        proc = run("-C", str(store), *args, stdout=full)
    assert proc.returncode == 1
    assert one_error_line(proc) == "Error: cannot write the output: No space left on device"


@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_a_closed_pipe_ends_quietly_with_141(store, args):
    env = dict(os.environ, GITSTORE_ACTOR="alice")
    proc = subprocess.Popen([GITSTORE, "-C", str(store), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader is gone before the first line is written (like `| head -0`)
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141
    assert stderr == ""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_an_error_with_a_full_stderr_still_exits_1_without_hanging(store):
    with open("/dev/full", "w") as full:
        proc = subprocess.run([GITSTORE, "-C", str(store), "ticket", "show", "9999"], stdout=subprocess.PIPE,
                              stderr=full, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout == ""


@pytest.mark.parametrize(
    "args, stdin, says",
    [
        (["--external", "--sender", "customer", "--sender-id", "ana", ""], None, "the message text is empty"),
        (["--external", "--sender", "customer", "--sender-id", "ana", " \t\n "], None, "the message text is only white space"),
        (["--internal", "--sender", "cs_agent", "--sender-id", "bob", "-"], "", "standard input is empty"),
        (["--internal", "--sender", "cs_agent", "--sender-id", "bob", "-"], "\n  \n", "standard input is only white space"),
        (["--external", "--internal", "--sender", "customer", "--sender-id", "ana", "hi"], None, "choose one of --external or --internal, not both"),
        (["--sender", "customer", "--sender-id", "ana", "hi"], None, "choose one of --external or --internal"),
    ],
)
def test_empty_messages_and_both_conversations_are_refused(store, args, stdin, says):
    before = git(store, "rev-parse", "HEAD")
    proc = run("-C", str(store), "message", "add", "1001", *args, input=stdin)
    assert proc.returncode == 2
    assert says in one_error_line(proc)
    assert git(store, "rev-parse", "HEAD") == before
    texts = [m["content"] for m in json.loads(run("-C", str(store), "ticket", "show", "1001", "--json").stdout)["unified_timeline"]]
    assert texts == ["Printer down"]
