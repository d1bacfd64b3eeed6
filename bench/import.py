"""Benchmark: importing real exports.

Imports the full mbox set (``asf_mailing_lists_mbox``: both files) and the full Slack
set (``slack_export_houstondatavis``, every channel to its own ticket with
``*=SLACK-{channel}``) of ../shared/data into a fresh store with the bulk import
(``run_import``: one commit per message, many commits under one writer lock and one
branch update per checkpoint), then imports the same sources again (all duplicates).

Baselines, measured in the same run on the same events:

- bulk import ← the same updates written one by one through the normal API
  (``Store.create_ticket`` / ``Store.update``, each taking the lock, re-reading and
  re-validating the ticket, moving the branch and catching up the working tree), into
  another fresh store;
- re-import ← the first (bulk) import of the same data.

Prints one JSON line per measurement: messages/s and commits/s (wall clock, plus the
process's CPU seconds, since the machine is shared) with the baseline's figures and the
ratio. Each set is timed from a warm process (one small import first), as a long
import is. Targets: bulk import >= 500 messages/s, re-import of
all-duplicate data >= 5,000 messages/s. fsync is off on both sides unless ``--fsync``
(the bulk import then flushes once per checkpoint, the baseline once per update).

Usage: python bench/import.py [--fsync] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from common import ROOT, emit

from gitstore import Store
from gitstore.importers.base import ImportSummary, run_import
from gitstore.importers.email import EmailImporter
from gitstore.importers.slack import make_importer as slack_importer

ACTOR = "bench-importer"


def sources(data: Path) -> list[tuple[str, object, list[Path]]]:
    """(name, importer, source paths) of the two sets the issue names."""
    mbox = data / "asf_mailing_lists_mbox"
    return [
        ("asf_mailing_lists_mbox", EmailImporter(), sorted(mbox.glob("*.mbox"))),
        ("slack_export_houstondatavis", slack_importer(("*=SLACK-{channel}",)), [data / "slack_export_houstondatavis"]),
    ]


def bulk(store: Store, importer, paths: list[Path]) -> tuple[float, float, int, int, int]:
    """Import every path; return (seconds, CPU seconds, messages read, added, commits)."""
    read = added = commits = 0
    start, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        summary = run_import(store, importer, path, actor=ACTOR, progress=False)
        read += summary.messages_read
        added += summary.messages_added
        commits += summary.commits
    return time.perf_counter() - start, time.process_time() - cpu, read, added, commits


def one_by_one(store: Store, importer, paths: list[Path]) -> tuple[float, float, int, int]:
    """Write the same events through the normal API, one update per call.

    Returns (seconds, CPU seconds, messages added, commits). The importer reads the source first,
    outside the timing, so the figure is the cost of the writes alone.
    """
    events = []
    for path in paths:
        events += list(importer.events(path, ImportSummary()))
    events.sort(key=lambda e: e.when)
    updates = [(e, e.update() if callable(e.update) else e.update) for e in events]
    messages = commits = 0
    existing: set[str] = set()
    start, cpu = time.perf_counter(), time.process_time()
    for event, update in updates:
        actor = event.actor or ACTOR
        if event.t_no not in existing and not store.exists(event.t_no):
            data = dict(update)
            for kind, changes in (event.create_update or {}).items():
                data[kind] = {**changes, **data.get(kind, {})}
            store.create_ticket(event.t_no, **event.create, actor=actor, update_data=data or None, timestamp=event.when)
        else:
            store.update(event.t_no, update, actor=actor, timestamp=event.when)
        existing.add(event.t_no)
        commits += 1
        messages += event.messages
    return time.perf_counter() - start, time.process_time() - cpu, messages, commits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--fsync", action="store_true", help="fsync on for both sides")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gitstore-bench-import-"))
    try:
        warm = Store.init(work / "warm-up", fsync=args.fsync)  # load modules before timing
        run_import(warm, EmailImporter(), ROOT / "tests" / "data" / "httpd_users_sample.mbox", actor=ACTOR, progress=False)
        warm.close()
        for name, importer, paths in sources(args.data):
            bulk_store = Store.init(work / f"{name}-bulk", fsync=args.fsync)
            seconds, cpu, read, added, commits = bulk(bulk_store, importer, paths)
            bulk_store.close()
            api_store = Store.init(work / f"{name}-api", fsync=args.fsync)
            api_seconds, api_cpu, api_messages, api_commits = one_by_one(api_store, importer, paths)
            api_store.close()
            emit({
                "bench": "import", "measurement": "bulk_import", "source": name, "fsync": args.fsync,
                "messages": added, "commits": commits, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
                "messages_per_s": round(added / seconds, 1), "commits_per_s": round(commits / seconds, 1),
                "messages_per_cpu_s": round(added / cpu, 1),
                "baseline": "same updates one by one through Store.create_ticket/Store.update",
                "baseline_messages": api_messages, "baseline_seconds": round(api_seconds, 3),
                "baseline_cpu_seconds": round(api_cpu, 3),
                "baseline_messages_per_s": round(api_messages / api_seconds, 1),
                "baseline_commits_per_s": round(api_commits / api_seconds, 1),
                "speedup": round((added / seconds) / (api_messages / api_seconds), 2),
                "target_messages_per_s": 500,
            })
            again_store = Store.open(work / f"{name}-bulk", fsync=args.fsync)
            re_seconds, re_cpu, re_read, re_added, re_commits = bulk(again_store, importer, paths)
            again_store.close()
            assert re_added == 0 and re_commits == 0, "re-import added data"
            emit({
                "bench": "import", "measurement": "reimport_all_duplicates", "source": name, "fsync": args.fsync,
                "messages": re_read, "commits": re_commits, "seconds": round(re_seconds, 3),
                "cpu_seconds": round(re_cpu, 3), "messages_per_s": round(re_read / re_seconds, 1),
                "baseline": "first bulk import of the same data, same run",
                "baseline_messages_per_s": round(read / seconds, 1),
                "speedup": round((re_read / re_seconds) / (read / seconds), 2),
                "target_messages_per_s": 5000,
            })
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
