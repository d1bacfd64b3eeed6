"""Smoke tests of the scale benchmark (bench/scale.py, bench/scale_corpus.py) at a tiny size.

The script runs as a user runs it (a subprocess) and must print every figure with
sane values; a generation killed half way must resume to the same corpus as an
uninterrupted one. Nothing here times anything: shapes and presence only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"

GENERATE = """
import json, sys
from pathlib import Path
from scale_corpus import Generator, generate
progress = generate(Path(sys.argv[1]), Generator(30, 150, 4), chunk=int(sys.argv[2]))
print(json.dumps(progress))
"""

KILLED = """
import os, signal, sys
from pathlib import Path
import scale_corpus
from scale_corpus import Generator, generate
scale_corpus.CHECKPOINT = 4  # the branch moves after tickets 3, 7, 13 (chunks of 10: 0-9, then 10-13)
generator = Generator(30, 150, 4)
make = generator.ticket
def ticket(n):
    if n == 17:  # killed inside the second chunk, after its first checkpoint
        os.kill(os.getpid(), signal.SIGKILL)
    return make(n)
generator.ticket = ticket
generate(Path(sys.argv[1]), generator, chunk=10)
"""


def python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=BENCH, capture_output=True, text=True)


def git(store: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(store), *args], capture_output=True, text=True, check=True).stdout.strip()


def test_generation_killed_half_way_resumes_to_the_same_corpus(tmp_path):
    whole = python(GENERATE, str(tmp_path / "whole"), "7")
    assert whole.returncode == 0, whole.stderr
    assert json.loads(whole.stdout)["messages_done"] == 150

    killed = python(KILLED, str(tmp_path / "resumed"))
    assert killed.returncode == -9, killed.stderr
    progress = json.loads((tmp_path / "resumed" / "progress.json").read_text())
    assert (progress["done"], progress["complete"]) == (10, False)
    store = tmp_path / "resumed" / "store"
    assert git(store, "rev-list", "--count", "main") == str(1 + 14)  # tickets 10-13 committed after the progress write

    resumed = python(GENERATE, str(tmp_path / "resumed"), "10")
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads(resumed.stdout)
    assert (final["done"], final["messages_done"], final["complete"]) == (30, 150, True)
    assert final["head"] == git(store, "rev-parse", "main")
    assert git(store, "rev-list", "--count", "main") == str(1 + 30)  # one commit per ticket, none twice
    assert git(store, "rev-parse", "main^{tree}") == git(tmp_path / "whole" / "store", "rev-parse", "main^{tree}")
    check = subprocess.run([sys.executable, "-m", "gitstore_cli.main", "-C", str(store), "verify"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr  # working tree caught up, every ticket valid


def test_a_folder_holding_another_corpus_is_refused(tmp_path):
    folder = tmp_path / "w" / "corpus-60-300-4"
    folder.mkdir(parents=True)
    (folder / "progress.json").write_text(json.dumps({"tickets": 60, "messages": 300, "seed": 5, "done": 0}))
    proc = subprocess.run([sys.executable, str(BENCH / "scale.py"), "--tickets", "60", "--messages", "300",
                           "--workdir", str(tmp_path / "w")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "holds another corpus" in proc.stderr
    assert proc.stdout == ""


CLI_COMMANDS = {
    "ticket show", "ticket list --priority high", "search (frequent word)", "search (rare word)",
    "search (two-word phrase)", "search (frequent word, customer_facing)", "history", "log --since (last 100 tickets)",
}


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("time", path="/usr/bin:/bin") is None, reason="needs GNU time (/usr/bin/time)")
def test_scale_script_prints_every_figure(tmp_path):
    work = tmp_path / "w"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "scale.py"), "--tickets", "60", "--messages", "300", "--base-tickets", "20",
         "--repeat", "1", "--updates", "20", "--catch-up-commits", "50", "--workdir", str(work)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "messages/s" in proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    by_measure: dict[str, list[dict]] = {}
    for line in lines:
        assert line["bench"] == "scale"
        assert (line["tickets"], line["messages"]) == (60, 300)
        assert (line["baseline"]["tickets"], line["baseline"]["messages"]) == (20, 100)
        assert len(line["loadavg"]) == 3
        by_measure.setdefault(line["measure"], []).append(line)
    assert {m: len(v) for m, v in by_measure.items()} == {
        "generate": 1, "index_rebuild": 1, "fts5_build": 1, "search_in_process_ms": 4, "cli": len(CLI_COMMANDS),
        "update_cli_ms": 1, "catch_up": 1, "update_in_process_ms": 2, "gc": 1, "verify": 1, "sizes": 1,
    }

    def both(line: dict) -> list[dict]:
        return [line, line["baseline"]]

    for got in both(by_measure["generate"][0]):
        assert got["seconds"] > 0 and got["messages_per_s"] > 0 and got["reused"] is False
    for got in both(by_measure["index_rebuild"][0]):
        assert got["wall_s"] > 0 and got["peak_rss_mb"] > 0 and got["index_bytes"] > 0
        assert got["documents"] >= got["messages"]  # a document per message, and per ticket's T file
    for got in both(by_measure["fts5_build"][0]):
        assert got["fts5_bytes"] > 0 and got["gitstore_index_bytes"] > 0
    kinds = {line["kind"]: line for line in by_measure["search_in_process_ms"]}
    assert set(kinds) == {"frequent", "rare", "phrase", "mixed"}
    assert kinds["frequent"]["hits_per_query"] == 10  # the most frequent word is in more than ten of 300 messages
    assert kinds["mixed"]["queries"] == 200
    for line in kinds.values():
        for got in both(line):
            assert 0 < got["oneshot_p50_ms"] <= got["oneshot_p95_ms"]
            assert 0 < got["warm_p50_ms"] <= got["warm_p95_ms"]
            assert 0 < got["fts5_p50_ms"] <= got["fts5_p95_ms"]
    assert {line["command"] for line in by_measure["cli"]} == CLI_COMMANDS
    for line in by_measure["cli"]:
        for got in both(line):
            assert got["wall_ms"] > 0 and got["first_ms"] > 0 and got["peak_rss_mb"] > 0
    for got in both(by_measure["update_cli_ms"][0]):
        assert got["runs"] == 5 and 0 < got["p50_ms"] <= got["p95_ms"] and got["peak_rss_mb"] > 0
    for got in both(by_measure["catch_up"][0]):
        assert got["commits"] == 50 and got["wall_ms"] > 0 and got["fresh_index_wall_ms"] > 0
    assert {line["fsync"] for line in by_measure["update_in_process_ms"]} == {True, False}
    for line in by_measure["update_in_process_ms"]:
        for got in both(line):
            assert got["updates"] == 20 and 0 < got["p50_ms"] <= got["p95_ms"]
    for got in both(by_measure["gc"][0]):
        assert got["wall_s"] > 0 and got["objects_bytes_before"] > 0 and got["objects_bytes_after"] > 0
    for got in both(by_measure["verify"][0]):
        assert got["wall_s"] > 0 and got["peak_rss_mb"] > 0
    for got in both(by_measure["sizes"][0]):
        assert got["objects_bytes"] > 0 and got["index_bytes"] > 0

    # the kept corpora are as generated (the run measured copies, then removed them)
    assert not (work / "measure").exists()
    for name in ("corpus-60-300-4", "corpus-20-100-4"):
        progress = json.loads((work / name / "progress.json").read_text())
        assert progress["complete"] is True
        assert git(work / name / "store", "rev-parse", "main") == progress["head"]
