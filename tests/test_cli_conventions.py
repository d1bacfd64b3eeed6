"""What a person expects from a command line, driven through the installed command:
claims that hold, honest labels, git-like paging and colour, completion, config,
and Ctrl-C.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import git, requires_git

pytestmark = requires_git

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "twitter_care_sample.json"
GITSTORE = str(Path(sys.executable).parent / "gitstore")


def env(**extra) -> dict:
    values = dict(os.environ, GITSTORE_ACTOR="alice")
    values.pop("PAGER", None)
    values.pop("NO_COLOR", None)
    values.update(extra)
    return values


def run(store: Path, *args, check: bool = True, **extra) -> subprocess.CompletedProcess:
    proc = subprocess.run([GITSTORE, "--no-fsync", "-C", str(store), *args], capture_output=True, text=True, env=env(**extra))
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def on_terminal(store: Path, *args, **extra) -> str:
    """Run with stdout on a pseudo-terminal; return what the terminal received."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([GITSTORE, "--no-fsync", "-C", str(store), *args], stdout=slave, stderr=subprocess.DEVNULL,
                            env=env(COLUMNS="200", LINES="40", TERM="xterm", **extra))
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=30) == 0
    return b"".join(chunks).decode()


@pytest.fixture(scope="module")
def sample_template(tmp_path_factory):
    """The example sample imported and indexed once per module."""
    store = tmp_path_factory.mktemp("sample") / "store"
    subprocess.run([GITSTORE, "--no-fsync", "init", str(store)], check=True, capture_output=True, env=env())
    run(store, "import", "twitter-care", str(SAMPLE))
    run(store, "index", "rebuild")
    return store


@pytest.fixture
def sample(sample_template, tmp_path):
    path = tmp_path / "store"
    shutil.copytree(sample_template, path, symlinks=True)
    return path


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "support"
    subprocess.run([GITSTORE, "--no-fsync", "init", str(path)], check=True, capture_output=True, env=env())
    run(path, "ticket", "create", "1001", "--client", "Ana", "--company", "Acme", "--platform", "email")
    run(path, "message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "The printer is down")
    return path


# ---------------------------------------------------------------------------- item 8


def test_the_demo_and_the_examples_claim_the_number_of_conversations_the_sample_holds(sample):
    tickets = json.loads(run(sample, "ticket", "list", "--all", "--json").stdout)
    claims = []
    for path in (ROOT / "examples" / "README.md", ROOT / "examples" / "demo.sh", ROOT / "README.md"):
        claims += [int(n) for n in re.findall(r"(\d+) real (?:Twitter )?customer-care conversations", path.read_text())]
        claims += [int(n) for n in re.findall(r"# (\d+) real conversations", path.read_text())]
    assert claims and set(claims) == {len(tickets)}


def test_ticket_show_names_the_customer_platform_and_the_internal_channel(store):
    text = run(store, "ticket", "show", "1001").stdout
    assert "customer platform (E): email" in text and "internal channel (I): MATTERMOST" in text
    assert not re.search(r"(?<!internal )channel: MATTERMOST", text)


def test_the_readme_fuzzy_example_finds_what_it_promises(sample):
    readme = (ROOT / "README.md").read_text()
    query = re.search(r'search "(refnud~\d?)"\s+# fuzzy', readme).group(1)
    hits = json.loads(run(sample, "search", query, "--json").stdout)
    assert hits["total"] >= 1
    assert any("refund" in hit["snippet"].lower() for hit in hits["hits"])


def test_log_has_a_limit_and_json_is_one_document(store):
    assert len(run(store, "log", "-n", "1").stdout.splitlines()) == 1
    assert len(run(store, "log", "--limit", "2").stdout.splitlines()) == 2
    document = json.loads(run(store, "log", "--json").stdout)
    assert isinstance(document, list) and len(document) == 3
    assert json.loads(run(store, "log", "--json", "-n", "1").stdout)[0]["commit"] == document[0]["commit"]
    lines = run(store, "log", "--json-lines").stdout.splitlines()
    assert [json.loads(line)["commit"] for line in lines] == [entry["commit"] for entry in document]
    assert json.loads(run(store, "log", "--json", "--since", "2999-01-01").stdout) == []


def test_search_emphasis_is_bold_on_a_colour_terminal_and_plain_elsewhere(sample):
    piped = run(sample, "search", "refund").stdout
    assert "refund" in piped.lower() and "**" not in piped and "\x1b[" not in piped
    forced = run(sample, "--color", "always", "search", "refund").stdout
    assert "\x1b[1m" in forced and "**" not in forced
    terminal = on_terminal(sample, "search", "refund", PAGER="cat")
    assert "\x1b[1m" in terminal and "**" not in terminal
    no_color = on_terminal(sample, "search", "refund", PAGER="cat", NO_COLOR="1")
    assert "\x1b[" not in no_color and "**" not in no_color and "refund" in no_color.lower()
    assert "**" in json.loads(run(sample, "search", "refund", "--json").stdout)["hits"][0]["snippet"]


# ---------------------------------------------------------------------------- item 9


def test_shell_completion_completes_commands_and_ticket_numbers(store):
    run(store, "ticket", "create", "1002", "--client", "Bo", "--company", "B")
    run(store, "ticket", "create", "2001", "--client", "Cy", "--company", "C")
    words = f"gitstore -C {store} ticket show 10"
    proc = subprocess.run([GITSTORE], capture_output=True, text=True,
                          env=env(_GITSTORE_COMPLETE="bash_complete", COMP_WORDS=words, COMP_CWORD="5"))
    assert proc.stdout.split() == ["plain,1001", "plain,1002"]
    proc = subprocess.run([GITSTORE], capture_output=True, text=True,
                          env=env(_GITSTORE_COMPLETE="bash_complete", COMP_WORDS="gitstore tick", COMP_CWORD="1"))
    assert "plain,ticket" in proc.stdout.split()
    script = subprocess.run([GITSTORE], capture_output=True, text=True, env=env(_GITSTORE_COMPLETE="bash_source")).stdout
    assert "complete " in script and "_GITSTORE_COMPLETE" in script
    assert '_GITSTORE_COMPLETE=bash_source gitstore' in (ROOT / "README.md").read_text()


def test_config_get_set_unset_commit_and_validate(store):
    assert run(store, "config", "get").stdout == ""
    run(store, "config", "set", "search.default_role", "internal")
    assert run(store, "config", "get", "search.default_role").stdout == "internal\n"
    assert "Config: search" in git(store, "log", "-1", "--format=%(trailers)")
    refused = run(store, "config", "set", "workflow.routing_loop_threshold", "4", check=False)  # a workflow needs stages
    assert refused.returncode == 1 and "workflow.stages" in refused.stderr
    run(store, "config", "set", "workflow", '{"stages": ["open", "done"], "routing_loop_threshold": 4}')
    run(store, "config", "set", "workflow.transitions", '{"open": ["done"]}')
    assert json.loads(run(store, "config", "get", "workflow", "--json").stdout) == {
        "stages": ["open", "done"], "routing_loop_threshold": 4, "transitions": {"open": ["done"]}}
    assert run(store, "config", "get").stdout.splitlines() == [
        "search.default_role=internal", "workflow.routing_loop_threshold=4", 'workflow.stages=["open", "done"]',
        'workflow.transitions.open=["done"]']
    assert "'open' is not" not in run(store, "ticket", "list", "--stage", "open").stderr
    before = git(store, "rev-parse", "HEAD")
    bad = run(store, "config", "set", "workflow.routing_loop_threshold", "1", check=False)
    assert bad.returncode == 1 and bad.stderr.startswith("Error: ") and "routing_loop_threshold" in bad.stderr
    missing = run(store, "config", "get", "search.nothing", check=False)
    assert missing.returncode == 1 and "no configuration key 'search.nothing'" in missing.stderr
    assert "already has that value" in run(store, "config", "set", "search.default_role", "internal").stdout
    assert git(store, "rev-parse", "HEAD") == before
    run(store, "config", "unset", "search.default_role")
    assert run(store, "config", "get", "search.default_role", check=False).returncode == 1


def test_long_output_goes_through_the_pager_on_a_terminal_only(store, tmp_path):
    paged = tmp_path / "paged.txt"
    pager = f"cat > {paged}"
    terminal = on_terminal(store, "ticket", "show", "1001", GITSTORE_PAGER=pager)
    assert "The printer is down" in paged.read_text() and "The printer is down" not in terminal
    paged.unlink()
    direct = on_terminal(store, "--no-pager", "ticket", "show", "1001", GITSTORE_PAGER=pager)
    assert "The printer is down" in direct and not paged.exists()
    piped = run(store, "ticket", "show", "1001", GITSTORE_PAGER=pager).stdout
    assert "The printer is down" in piped and not paged.exists()
    less_env = on_terminal(store, "log", GITSTORE_PAGER=f"echo $LESS > {paged}")
    assert paged.read_text().strip() == "FRX" and less_env.strip() == ""


def test_ctrl_c_ends_watch_with_exit_code_130(store):
    proc = subprocess.Popen([GITSTORE, "--no-fsync", "-C", str(store), "watch"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env())
    deadline = time.monotonic() + 60
    seen = ""
    while time.monotonic() < deadline and "watching" not in seen:
        seen += proc.stderr.readline()
    assert "watching" in seen
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    proc.stderr.close()
