"""Benchmark: scale — a store of a million messages against a 1,000-ticket store.

Generates (fixed seed; ``bench/scale_corpus.py``) N tickets holding M messages
(default 100,000 / 1,000,000; E and I, 6–30 Zipf-drawn words of the real Twitter
customer-care vocabulary, a few tickets twenty times the average) through gitstore's
write path (``Store.bulk`` + ``create_ticket``: one commit per ticket), and a baseline
store of the same shape with ``--base-tickets`` tickets. With ``--workdir`` both
corpora are kept there and generation is resumable: a rerun after a kill continues
where it stopped and ends with the same files; each run measures a copy, so the kept
corpora stay as generated.

After generating, the history log and the ticket-list rows are brought up to date as
``gitstore import`` does after printing its summary (``catch_up_derived``: its time and
peak RSS are in the ``generate`` line). Then measures on both stores, each command as a
fresh process under GNU time (wall
time, peak RSS; ``bench/cli.py``'s ``run_once``), one JSON line per figure with the
baseline store's figure in the same line (``baseline``, ``ratio``) and the load average:

- ``index rebuild`` (its default ``--procs``): wall time, messages/s, peak RSS (the
  largest process), index bytes;
- in process, against SQLite FTS5 (stdlib, porter, built streaming from the same corpus):
  FTS5 build time and size; p50/p95 of a frequent word, a rare word, a two-word phrase
  and 200 mixed queries (``bench/search.py``'s ``make_queries``) through
  ``gitstore_index.search.search`` (one-shot: opens the index) and ``run_search`` on an
  open index, against FTS5 (``ORDER BY rank LIMIT 10`` with ``snippet()``);
- ``ticket show``, ``ticket list --priority high``, ``search`` (frequent word, rare
  word, phrase, the frequent word as a customer-facing actor), ``history``, ``log
  --since`` (the window of the last 100 tickets created): median and first wall time;
- one update: ``message add`` as a process (fsync on; the process also brings the
  index up to date after printing), p50/p95; ``Store.update`` in process, fsync on
  and off, p50/p95;
- catch-up: 1,000 commits through the API with no index subscribed, then the first
  ``search`` process (it catches the index up on open) against the same search on a
  fresh index;
- ``gc`` and ``verify`` as processes (wall time, peak RSS); the objects folder before
  and after ``gc``, and the index folder.

A command that fails stops the run with its stderr; no figure is printed for it.
Progress goes to stderr, figures to stdout. Needs GNU time (``/usr/bin/time``).

Usage: python bench/scale.py [--tickets 100000] [--messages 1000000] [--base-tickets 1000]
       [--seed 4] [--repeat 3] [--workdir DIR] [--keep] [--skip-fts5]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from common import emit, folder_bytes, objects_bytes, percentile
from scale_corpus import Generator, created_at, generate, read_progress, t_no
from search import fts5_build, make_queries

from gitstore import Store

HERE = Path(__file__).resolve().parent
UPDATE_RUNS = 5
"""``message add`` processes per ``--repeat``."""
QUERY_RUNS = 20
"""In-process runs of each named query."""
LOG_WINDOW = 100
"""``log --since`` covers the creation of this many last tickets in both stores."""


def _load_cold_start():
    """``bench/cli.py`` (``run_once``, ``GITSTORE``), loaded by its path: once ``common``
    has put the repository first on ``sys.path``, the name ``cli`` is the CLI package."""
    spec = importlib.util.spec_from_file_location("bench_cli", HERE / "cli.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cold = _load_cold_start()
GITSTORE: list[str] = cold.GITSTORE
run_once: Callable[[list[str], Path], tuple[float, float]] = cold.run_once


def note(text: str) -> None:
    """One progress line on stderr."""
    print(f"scale: {text}", file=sys.stderr, flush=True)


@dataclass
class Subject:
    """One measured store: the large one or the baseline."""

    label: str
    generator: Generator
    path: Path
    scratch: Path
    generation: dict[str, Any]
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def tickets(self) -> int:
        return self.generator.shape.tickets

    @property
    def messages(self) -> int:
        return self.generator.shape.messages

    def cli(self, *args: str, actor: str = "bench") -> list[str]:
        """The argv of one gitstore command on this store."""
        return [*GITSTORE, "--no-pager", "--actor", actor, *args]

    def show_ticket(self) -> int:
        """An ordinary ticket (not one of the large ones) in the middle of the store."""
        n = self.tickets // 2
        while self.generator.shape.is_big(n):
            n += 1
        return n


def output(argv: list[str], cwd: Path) -> str:
    """Run ``argv`` and return its stdout; stop the benchmark with its stderr if it fails."""
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-400:]}")
    return proc.stdout


def processes(argv: list[str], cwd: Path, repeat: int) -> dict[str, float]:
    """Run ``argv`` ``repeat`` times as new processes: median and first wall (ms), peak RSS (MB)."""
    runs = [run_once(argv, cwd) for _ in range(repeat)]
    return {"wall_ms": round(statistics.median(w for w, _ in runs) * 1000, 1), "first_ms": round(runs[0][0] * 1000, 1),
            "peak_rss_mb": round(max(r for _, r in runs), 1)}


def spread(times_ms: list[float]) -> dict[str, float]:
    """p50/p95 (ms) of a list of times in milliseconds."""
    return {"p50_ms": round(percentile(times_ms, 50), 2), "p95_ms": round(percentile(times_ms, 95), 2)}


def figure(measure: str, big: Subject, base: Subject, got: dict[str, Any], base_got: dict[str, Any],
           ratio_of: str | None = None, **extra: Any) -> None:
    """Print one figure: the large store's, the baseline's next to it, their ratio, the load."""
    record: dict[str, Any] = {"bench": "scale", "measure": measure, **extra, "tickets": big.tickets, "messages": big.messages,
                              **got, "baseline": {"tickets": base.tickets, "messages": base.messages, **base_got}}
    if ratio_of is not None and base_got.get(ratio_of):
        record["ratio"] = round(got[ratio_of] / base_got[ratio_of], 2)
    record["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    emit(record)


# ---------------------------------------------------------------------- the figures


def queries(generator: Generator) -> dict[str, str]:
    """The named queries: the most frequent non-stop word, the rarest word, a phrase of
    the two most frequent non-stop words (as typed on the command line)."""
    from whoosh.analysis import STOP_WORDS

    words = [w for w in generator.words if w not in STOP_WORDS]
    return {"frequent": words[0], "rare": words[-1], "phrase": f'"{words[0]} {words[1]}"'}


def index_rebuild(s: Subject) -> dict[str, Any]:
    from gitstore_index.paths import index_dir
    from gitstore_index.store_index import index_status

    wall, rss = run_once(s.cli("index", "rebuild"), s.path)
    with Store.open(s.path, fsync=False) as store:
        status = index_status(store)
        size = folder_bytes(index_dir(store))
    if not status.up_to_date:
        raise SystemExit(f"{s.label}: index not up to date after 'gitstore index rebuild': {status}")
    return {"wall_s": round(wall, 2), "messages_per_s": round(s.messages / wall), "peak_rss_mb": round(rss, 1),
            "index_bytes": size, "documents": status.documents}


def in_process_search(s: Subject, skip_fts5: bool, seed: int) -> dict[str, dict[str, Any]]:
    """Per query set: gitstore one-shot and warm p50/p95 (and FTS5's); the FTS5 build first."""
    from gitstore_index.search import run_search, search
    from gitstore_index.store_index import SearchIndex

    sets = {name: [q] * QUERY_RUNS for name, q in queries(s.generator).items()}
    sets["mixed"] = make_queries(seed, "mixed")
    out: dict[str, dict[str, Any]] = {}
    db = None
    if not skip_fts5:
        db, seconds, size = fts5_build(s.generator.messages(), s.scratch)
        out["build"] = {"fts5_s": round(seconds, 2), "fts5_messages_per_s": round(s.messages / seconds) if seconds else None,
                        "fts5_bytes": size}
    with Store.open(s.path, fsync=False) as store, SearchIndex.open(store) as index:
        run_search(index, sets["mixed"][0], limit=10, count=False)  # warm the searcher
        for name, qs in sets.items():
            oneshot, warm, fts, hits = [], [], [], 0
            for q in qs:
                start = time.perf_counter()
                found = search(store, q, limit=10, count=False)
                oneshot.append((time.perf_counter() - start) * 1000)
                hits += len(found.hits)
                start = time.perf_counter()
                run_search(index, q, limit=10, count=False)
                warm.append((time.perf_counter() - start) * 1000)
                if db is not None:
                    match = q if q.startswith('"') else " ".join(f'"{w}"' for w in q.split())
                    start = time.perf_counter()
                    db.execute("SELECT t_no, snippet(docs, 2, '**', '**', '…', 12) FROM docs WHERE docs MATCH ? "
                               "ORDER BY rank LIMIT 10", (match,)).fetchall()
                    fts.append((time.perf_counter() - start) * 1000)
            got: dict[str, Any] = {"queries": len(qs), "hits_per_query": round(hits / len(qs), 1),
                                   **{f"oneshot_{k}": v for k, v in spread(oneshot).items()},
                                   **{f"warm_{k}": v for k, v in spread(warm).items()}}
            if fts:
                got.update({f"fts5_{k}": v for k, v in spread(fts).items()})
            out[name] = got
    if db is not None:
        db.close()
        (s.scratch / "fts.sqlite").unlink()
    return out


def reads(s: Subject, repeat: int) -> dict[str, dict[str, Any]]:
    """Each read command as a new process; keyed by the command's label."""
    q = queries(s.generator)
    show = t_no(s.show_ticket())
    since = created_at(max(0, s.tickets - LOG_WINDOW)).isoformat()
    commands = {
        "ticket show": s.cli("ticket", "show", show),
        "ticket list --priority high": s.cli("ticket", "list", "--priority", "high"),
        "search (frequent word)": s.cli("search", q["frequent"]),
        "search (rare word)": s.cli("search", q["rare"]),
        "search (two-word phrase)": s.cli("search", q["phrase"]),
        "search (frequent word, customer_facing)": s.cli("search", q["frequent"], actor="bob"),
        "history": s.cli("history", show),
        f"log --since (last {LOG_WINDOW} tickets)": s.cli("log", "--since", since),
    }
    return {name: processes(argv, s.path, repeat) for name, argv in commands.items()}


def cli_update(s: Subject, repeat: int) -> dict[str, Any]:
    """``message add`` as a new process, ``repeat * UPDATE_RUNS`` times."""
    show = t_no(s.show_ticket())
    runs = [run_once(s.cli("message", "add", show, "--external", "--sender", "customer", "--sender-id", "bench",
                           f"scale follow-up {k}"), s.path) for k in range(repeat * UPDATE_RUNS)]
    return {"runs": len(runs), **spread([w * 1000 for w, _ in runs]), "peak_rss_mb": round(max(r for _, r in runs), 1)}


def catch_up(s: Subject, commits: int, seed: int) -> dict[str, Any]:
    """``commits`` API updates with no index subscribed, then the first search process."""
    rng = random.Random(seed + 5)
    with Store.open(s.path, fsync=False) as store, store.batch():
        for n in range(commits):
            store.add_message(t_no(rng.randrange(s.tickets)), "E", sender="customer", sender_id="bench",
                              content=f"catch up {n}", actor="bench")
    before = json.loads(output(s.cli("index", "status", "--json"), s.path))
    if before["up_to_date"]:
        raise SystemExit(f"{s.label}: the index is up to date after {commits} commits with no index subscribed")
    wall, rss = run_once(s.cli("search", queries(s.generator)["frequent"]), s.path)
    after = json.loads(output(s.cli("index", "status", "--json"), s.path))
    if not after["up_to_date"]:
        raise SystemExit(f"{s.label}: the first search after {commits} commits left the index behind: {after}")
    fresh = s.results["reads"]["search (frequent word)"]["wall_ms"]
    return {"commits": commits, "wall_ms": round(wall * 1000, 1), "peak_rss_mb": round(rss, 1), "fresh_index_wall_ms": fresh}


def api_updates(s: Subject, updates: int, fsync: bool, seed: int) -> dict[str, Any]:
    """``Store.update`` (one external message) ``updates`` times in process."""
    rng = random.Random(seed + (7 if fsync else 11))
    times = []
    with Store.open(s.path, fsync=fsync) as store:
        for n in range(updates):
            message = {"sender": "customer", "sender_id": "bench", "content": f"scale api update {n}"}
            start = time.perf_counter()
            store.update(t_no(rng.randrange(s.tickets)), {"E": {"messages": [message]}}, actor="bench")
            times.append((time.perf_counter() - start) * 1000)
    return {"updates": updates, **spread(times)}


def gc(s: Subject) -> dict[str, Any]:
    git_dir = s.path / ".git"
    before = objects_bytes(git_dir)
    wall, rss = run_once(s.cli("gc"), s.path)
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(rss, 1), "objects_bytes_before": before,
            "objects_bytes_after": objects_bytes(git_dir)}


def verify(s: Subject) -> dict[str, Any]:
    """``gitstore verify``, and ``verify --no-objects`` (without git fsck)."""
    found: dict[str, Any] = {}
    for key, args in (("", ()), ("no_objects_", ("--no-objects",))):
        try:
            wall, rss = run_once(s.cli("verify", *args), s.path)
        except SystemExit as exc:  # verify prints its problems on stdout
            problems = subprocess.run(s.cli("verify", *args), cwd=s.path, capture_output=True, text=True).stdout
            raise SystemExit(f"{exc} {problems[:400]}") from None
        found.update({f"{key}wall_s": round(wall, 2), f"{key}peak_rss_mb": round(rss, 1)})
    return found


def sizes(s: Subject) -> dict[str, Any]:
    from gitstore_index.paths import index_dir

    with Store.open(s.path, fsync=False) as store:
        index = folder_bytes(index_dir(store))
    objects = objects_bytes(s.path / ".git")
    return {"objects_bytes": objects, "index_bytes": index, "objects_bytes_per_message": round(objects / max(1, s.messages), 1)}


# ---------------------------------------------------------------------- setting up


def prepare(label: str, generator: Generator, corpora: Path, measured: Path | None) -> Subject:
    """Generate (or finish) a corpus, copy it to ``measured`` if given, configure roles."""
    shape = generator.shape
    folder = corpora / f"corpus-{shape.tickets}-{shape.messages}-{generator.seed}"
    already = read_progress(folder)
    start_messages = already.get("messages_done", 0) if already else 0

    def report(done: int, messages: int, spent: float) -> None:
        rate = (messages - start_messages) / spent if spent else 0.0
        note(f"{label}: {done:,}/{shape.tickets:,} tickets, {messages:,}/{shape.messages:,} messages, {rate:,.0f} messages/s")

    progress = generate(folder, generator, report=report)
    path = folder / "store"
    if measured is not None:
        target = measured / label
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        note(f"{label}: copying the corpus to {target}")
        output(["cp", "-a", str(path), str(target)], corpora)
        path = target
    scratch = path.parent / f"{label}-scratch"
    scratch.mkdir(exist_ok=True)
    with Store.open(path, fsync=False) as store:
        if str(store.head().id) != progress["head"]:
            raise SystemExit(f"{path}: HEAD is not the generated corpus's last commit {progress['head']}")
        store.write_config_section("roles", {"actors": {"bob": "customer_facing"}, "default": None}, actor="bench")
    output([*GITSTORE, "--no-pager", "--actor", "bench", "index", "status"], path)  # first command: clone set-up, not timed
    # what `gitstore import` does after printing its summary: the history log and the
    # ticket-list rows catch up (built here), so the first read after an import builds nothing
    wall, rss = run_once([sys.executable, "-c", "import sys; from gitstore import Store; "
                          "from gitstore.maintenance import catch_up_derived; "
                          "s = Store.open(sys.argv[1], fsync=False); catch_up_derived(s); s.close()", str(path)], path)
    seconds = progress["seconds"]
    return Subject(label, generator, path, scratch, {
        "seconds": seconds, "messages_per_s": round(shape.messages / seconds) if seconds else None,
        "derived_after_import_s": round(wall, 2), "derived_after_import_peak_rss_mb": round(rss, 1),
        "reused": bool(already and already.get("complete")), "resumed": bool(already and not already.get("complete"))})


def main() -> None:
    """Generate both stores, then print every figure (one JSON line each)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100000)
    parser.add_argument("--messages", type=int, default=1000000)
    parser.add_argument("--base-tickets", type=int, default=1000,
                        help="tickets of the baseline store (same average messages per ticket)")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each read command (message add: 5x this)")
    parser.add_argument("--updates", type=int, default=200, help="in-process Store.update calls per fsync setting")
    parser.add_argument("--catch-up-commits", type=int, default=1000)
    parser.add_argument("--workdir", metavar="DIR",
                        help="keep the generated corpora in DIR (resumable) and measure copies of them")
    parser.add_argument("--keep", action="store_true", help="keep the measured stores (and the temporary folder)")
    parser.add_argument("--skip-fts5", action="store_true", help="leave out the SQLite FTS5 baseline")
    args = parser.parse_args()
    if args.repeat < 1 or args.base_tickets < 1 or args.tickets < 1:
        parser.error("--repeat, --tickets and --base-tickets must be at least 1")
    if shutil.which("time", path="/usr/bin:/bin") is None:
        raise SystemExit("GNU time (/usr/bin/time, Debian package 'time') is needed for peak RSS")

    root = Path(args.workdir).resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="gitstore-bench-scale-"))
    measured = root / "measure" if args.workdir else None
    base_messages = round(args.messages * args.base_tickets / args.tickets)
    try:
        big = prepare("big", Generator(args.tickets, args.messages, args.seed), root, measured)
        base = prepare("baseline", Generator(args.base_tickets, base_messages, args.seed), root, measured)
        figure("generate", big, base, big.generation, base.generation, ratio_of=None,
               write_path="Store.bulk + create_ticket, one commit per ticket, fsync off")

        def both(step: Callable[[Subject], Any]) -> tuple[Any, Any]:
            return step(big), step(base)

        got = both(index_rebuild)
        figure("index_rebuild", big, base, *got, ratio_of="wall_s", command="gitstore index rebuild", cpus=os.cpu_count(),
               note="default --procs; peak_rss_mb is the largest single process, not the sum of parallel writers")

        note("in-process search" + ("" if args.skip_fts5 else " and the SQLite FTS5 baseline"))
        found = both(lambda s: in_process_search(s, args.skip_fts5, args.seed))
        if not args.skip_fts5:
            figure("fts5_build", big, base, {**found[0]["build"], "gitstore_rebuild_s": got[0]["wall_s"],
                                             "gitstore_index_bytes": got[0]["index_bytes"]},
                   {**found[1]["build"], "gitstore_rebuild_s": got[1]["wall_s"], "gitstore_index_bytes": got[1]["index_bytes"]},
                   ratio_of="fts5_s")
        for name in [*queries(big.generator), "mixed"]:
            query = queries(big.generator).get(name, "200 mixed one- and two-word queries (bench/search.py make_queries)")
            figure("search_in_process_ms", big, base, found[0][name], found[1][name], ratio_of="oneshot_p50_ms",
                   query=query, kind=name, note="top 10 with snippets, no counts, owner's view")

        note("read commands")
        for s in (big, base):
            s.results["reads"] = reads(s, args.repeat)
        for name in big.results["reads"]:
            figure("cli", big, base, big.results["reads"][name], base.results["reads"][name], ratio_of="wall_ms", command=name)

        note("updates")
        figure("update_cli_ms", big, base, *both(lambda s: cli_update(s, args.repeat)), ratio_of="p50_ms",
               command="gitstore message add", note="fsync on; the process also indexes the message after printing")
        figure("catch_up", big, base, *both(lambda s: catch_up(s, args.catch_up_commits, args.seed)), ratio_of="wall_ms",
               command="first gitstore search after the commits")
        for fsync in (True, False):
            figure("update_in_process_ms", big, base, *both(lambda s: api_updates(s, args.updates, fsync, args.seed)),
                   ratio_of="p50_ms", call="Store.update (one external message)", fsync=fsync)

        note("gc and verify")
        figure("gc", big, base, *both(gc), ratio_of="wall_s", command="gitstore gc")
        figure("verify", big, base, *both(verify), ratio_of="wall_s", command="gitstore verify")
        figure("sizes", big, base, *both(sizes), ratio_of="objects_bytes")
    finally:
        if args.keep:
            note(f"kept {measured or root}")
        elif measured is not None:
            shutil.rmtree(measured, ignore_errors=True)
        elif not args.workdir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
