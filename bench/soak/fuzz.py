"""Fuzz campaign: generated CLI invocations with bad input; no traceback, no change on failure.

Each input is one ``gitstore`` command run in-process (click's ``CliRunner``) on a
store holding valid tickets: hostile ticket ids (separators, ``..``, NUL, 300
characters, unicode confusables), malformed, deeply nested and huge update JSON,
wrong types, invalid dates and limits, unbalanced search queries, bad remote names
and URLs, hand-edited ticket files in broken shapes, and plain ``git push`` of broken
content (ticket files, configuration, attributes, deleting every ticket) to a hub
(``init_hub``, pre-receive installed). For each it records a
traceback (an exception other than ``SystemExit``), an exit code outside the
documented ones (0, 1, 2, 3, 130, 141; README "Errors and exit codes"), and, when the
command failed, any change to HEAD, the refs, the working tree or ``.git/index``.

    python bench/soak/fuzz.py --rounds 10000 --seconds 1800

Prints one JSON line: inputs, hub_pushes, hub_accepted_bad, tracebacks, bad_exit_codes, changed_on_failure,
exit_codes, and one example of each kind of traceback (``examples``).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from soakcommon import emit

DOCUMENTED_EXITS = {0, 1, 2, 3, 130, 141}
BAD_IDS = ["a/b", "..", "../etc", "a\x00b", "x" * 300, "１００１", "1001\u200b", "", "-", "-1", "A B", "T_1001", "a\\b",
           "1001.json", "\u0410001", ".git", "~", "1001\n", "*", "%s", "1001/../1002"]
BAD_JSON = ['{"E": ', "[]", "null", '"x"', '{"E": []}', '{"T": {"priority": 5}}', '{"T": {"priority": "URGENT"}}',
            '{"E": {"messages": "no"}}', '{"E": {"messages": [{}]}}', '{"E": {"messages": [{"sender": 1}]}}',
            '{"T": {"last_synchronized": "yesterday"}}', '{"X": {}}', '{"E": {"messages": [null]}}',
            '{"x": ' + "[" * 50_000 + "]" * 50_000 + "}", '{"T": {"priority": ' + "9" * 5000 + "}}", "\xff\xfe",
            '{"T": {"assigned_member": ' + '"' + "x" * 100_000 + '"}}', '{"E": {"messages": [{"sender": "customer", '
            '"sender_id": "a", "content": "x", "timestamp": "2026-13-45T99:00:00Z"}]}}', "{" * 10, '{"T": NaN}']
BAD_DATES = ["not a date", "2026-13-01", "yesterday at noon-ish", "-1", "99999-01-01", "\x00", "2026-02-30T25:61:00Z", ""]
BAD_QUERIES = ["(", ")", '"', "AND", "OR OR", "*", "a:", ":b", "[a TO", "refund AND (", "\\", "~~~", "x" * 2000, "\x00", ""]
BAD_NAMES = ["", "-x", "a b", "../x", "origin", "a\x00", "x" * 300, "é", "a..b", "a/b", ".lock", "a.lock"]
BAD_URLS = ["", "::", "http://", "git://[::1", "file:///nonexistent/x", "ssh://", "\x00", "https://example.invalid/ ", "-u"]


def state(path: Path) -> tuple:
    """HEAD, refs, working tree and index: what a failed command must leave as it was."""
    git = ["git", "-C", str(path)]
    refs = subprocess.run([*git, "for-each-ref", "--format=%(refname) %(objectname)"], capture_output=True, text=True).stdout
    status = subprocess.run([*git, "status", "--porcelain", "--untracked-files=all"], capture_output=True, text=True).stdout
    index = path / ".git" / "index"
    digest = hashlib.sha256(index.read_bytes()).hexdigest() if index.exists() else ""
    return refs, status, digest


def generate(rng: random.Random, tmp: Path) -> list[str]:
    bad_id = rng.choice(BAD_IDS + ["1001"])
    doc = tmp / "doc.json"
    raw = rng.choice(BAD_JSON)
    doc.write_bytes(raw.encode("utf-8", "surrogateescape") if raw != "\xff\xfe" else b"\xff\xfe")
    choices = [
        ["ticket", "show", bad_id],
        ["ticket", "show", bad_id, "--json"],
        ["ticket", "create", bad_id, "--client", rng.choice(["", "x" * 5000, "a"]), "--company", "c"],
        ["message", "add", bad_id, rng.choice(["--external", "--internal"]), "--sender", rng.choice(["customer", "nobody", ""]),
         "--sender-id", rng.choice(["x", "", "a\x00"]), rng.choice(["hi", "", "x" * 10000])],
        ["update", bad_id, "--file", str(doc)],
        ["update", "1001", "--file", str(doc)],
        ["update", "1001", "--file", str(doc), "--expected-version", rng.choice(["zz", "0" * 40, ""])],
        ["state", "set", bad_id, rng.choice(["priority=URGENT", "priority", "=", "nope=1", "priority=" + "x" * 300])],
        ["history", bad_id, "--limit", rng.choice(["0", "-1", "99999999999999999999", "x", "1"])],
        ["log", "--since", rng.choice(BAD_DATES)],
        ["log", "-n", rng.choice(["0", "-5", "x", "99999999999999999999"])],
        ["diff", bad_id, rng.choice(["HEAD~99", "nope", "", "HEAD"])],
        ["ticket", "show", "1001", "--at", rng.choice(BAD_DATES + ["HEAD~999", "0" * 40])],
        ["search", rng.choice(BAD_QUERIES)],
        ["search", "--role", rng.choice(["root", "", "admin"]), rng.choice(BAD_QUERIES)],
        ["remote", "add", rng.choice(BAD_NAMES), rng.choice(BAD_URLS)],
        ["remote", "remove", rng.choice(BAD_NAMES)],
        ["pull", rng.choice(BAD_NAMES + BAD_URLS)],
        ["push", rng.choice(BAD_NAMES + BAD_URLS)],
        ["stage", "configure", "--file", str(doc)],
        ["stage", "set", bad_id, rng.choice(["nowhere", "", "end"])],
        ["decision", "record", bad_id, "--agent", rng.choice(["classifier", "nobody", ""]), "--seen", rng.choice(["HEAD", "zz"]),
         "--confidence", rng.choice(["0.5", "2", "nan", "-1", "x"]), "--decision", raw],
        ["context", bad_id, "--agent", rng.choice(["classifier", "nobody"]), "--max-tokens", rng.choice(["0", "-1", "10", "x"])],
        ["rollback", bad_id, "--to", rng.choice(BAD_DATES + ["HEAD"])],
        ["archive", bad_id],
        ["blame", bad_id],
        ["config", "get", rng.choice(["", "x", "gitstore.", "a" * 300])],
        ["role", "set", rng.choice(BAD_NAMES), rng.choice(["root", "", "admin"])],
    ]
    return rng.choice(choices)


def hostile_push(rng: random.Random, site: Path, hub: Path) -> tuple[bool, bool, bool]:
    """Commit a broken change in ``site`` with plain git (hooks skipped) and ``git push`` it to ``hub``.

    Returns:
        ``(refused, traceback in the hook's output, hub's main unchanged)``.
    """
    from gitstore.tickets import layout

    git = ["git", "-C", str(site)]
    choice = rng.randrange(4)
    if choice == 0:
        target = site / layout.ticket_path(rng.choice("EIT"), "1001")
        target.write_bytes(rng.choice(HAND_EDITS).encode("utf-8", "surrogateescape"))
    elif choice == 1:
        (site / ".gitstore").mkdir(exist_ok=True)
        (site / ".gitstore" / "config.json").write_text(rng.choice(['{"roles": {"default": "root"}}', "[", '{"workflow": 5}',
                                                                    '{"search": {"default_role": "x"}}']))
    elif choice == 2:
        with (site / ".gitattributes").open("a") as fh:
            fh.write(rng.choice(["* -merge\n", "Tickets/** binary\n", "*.json merge=union\n"]))
    else:
        subprocess.run([*git, "rm", "-q", "-r", "Tickets"], capture_output=True)
    subprocess.run([*git, "add", "-A"], capture_output=True)
    subprocess.run([*git, "commit", "-q", "--no-verify", "-m", "hostile"], capture_output=True)
    before = subprocess.run(["git", "--git-dir", str(hub), "rev-parse", "main"], capture_output=True, text=True).stdout
    proc = subprocess.run([*git, "push", "-q", str(hub), "HEAD:main"], capture_output=True, text=True)
    after = subprocess.run(["git", "--git-dir", str(hub), "rev-parse", "main"], capture_output=True, text=True).stdout
    subprocess.run([*git, "reset", "-q", "--hard", "HEAD~1"], capture_output=True)
    return proc.returncode != 0, "Traceback" in proc.stderr, before == after


HAND_EDITS = ["", "{", "[]", "null", '{"ticket_id": 5}', "\xff", '{"x": ' + "[" * 50_000 + "]" * 50_000 + "}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10_000, help="inputs to try (default 10,000)")
    parser.add_argument("--seconds", type=float, default=1800)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    from click.testing import CliRunner

    from gitstore import Store
    from gitstore.tickets import layout
    from gitstore_cli.main import cli

    rng = random.Random(args.seed)
    started = time.monotonic()
    counts: Counter[str] = Counter()
    exits: Counter[int] = Counter()
    examples: list[str] = []
    runner = CliRunner()
    with tempfile.TemporaryDirectory(prefix="soak-fuzz-") as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "store"
        with Store.init(path, fsync=False) as store:
            for t_no in ("1001", "1002"):
                store.create_ticket(t_no, client_name="Ana", company_name="Acme", actor="amy")
                store.add_message(t_no, "E", sender="customer", sender_id="ana", content="refund please", actor="amy")
        subprocess.run(["git", "-C", str(path), "config", "user.name", "fuzz"], check=True)
        subprocess.run(["git", "-C", str(path), "config", "user.email", "fuzz@example.invalid"], check=True)
        from gitstore_sync.hub import init_hub

        hub = tmp / "hub.git"
        init_hub(hub)
        subprocess.run(["git", "-C", str(path), "push", "-q", str(hub), "main"], check=True, capture_output=True)
        for n in range(args.rounds):
            if time.monotonic() - started > args.seconds:
                break
            if rng.random() < 0.05:  # a plain git push of invalid content to a hub
                refused, traceback, unchanged = hostile_push(rng, path, hub)
                counts["inputs"] += 1
                counts["hub_pushes"] += 1
                counts["hub_accepted_bad"] += not (refused and unchanged)
                counts["tracebacks"] += traceback
                continue
            edited = None
            if rng.random() < 0.1:  # a hand-edited file in a broken shape, then a command that reads it
                edited = path / layout.ticket_path(rng.choice("EIT"), "1001")
                saved = edited.read_bytes()
                edited.write_bytes(rng.choice(HAND_EDITS).encode("utf-8", "surrogateescape"))
                argv = rng.choice([["verify"], ["ticket", "show", "1001"], ["commit"], ["ticket", "list"], ["search", "refund"]])
            else:
                argv = generate(rng, tmp)
            before = state(path)
            result = runner.invoke(cli, ["-C", str(path), "--no-fsync", "--actor", "fuzz", *argv])
            counts["inputs"] += 1
            exits[result.exit_code] += 1
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                counts["tracebacks"] += 1
                kind = f"{argv[:2]!r}: {type(result.exception).__name__}"
                if len(examples) < 10 and not any(e.startswith(kind) for e in examples):
                    examples.append(f"{kind}: {str(result.exception)[:120]} (args {argv[2:4]!r})")
            if result.exit_code not in DOCUMENTED_EXITS:
                counts["bad_exit_codes"] += 1
            if result.exit_code != 0 and state(path) != before:
                counts["changed_on_failure"] += 1
                if len(examples) < 5:
                    examples.append(f"{argv[:3]!r}: changed the store and failed")
            if edited is not None:
                edited.write_bytes(saved)
                subprocess.run(["git", "-C", str(path), "checkout", "-q", "--", "."], capture_output=True)
    emit("fuzz", started, inputs=counts["inputs"], hub_pushes=counts["hub_pushes"], hub_accepted_bad=counts["hub_accepted_bad"],
         tracebacks=counts["tracebacks"], bad_exit_codes=counts["bad_exit_codes"],
         changed_on_failure=counts["changed_on_failure"], exit_codes=dict(sorted(exits.items())), examples=examples)


if __name__ == "__main__":
    main()
