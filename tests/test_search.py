"""Search: the Whoosh index, its freshness, roles, the query language and the CLI.

The store holds real data: the IBM Twitter customer-care sample (external messages)
and real Slack messages from the Houston Data Vis export (internal messages, added
through the API as a technical team's Slack discussion would be).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import TEST_DATA, git, requires_git, shared_or_skip

SAMPLE = TEST_DATA / "twitter_care_sample.json"
SLACK_SAMPLE = TEST_DATA / "slack_houstondatavis_tools"
REFUND_TICKET = "TW-uB0Uc1Uueb6MzB1abM0W"  # "AskPlayStation hello i need refund game"


# ---------------------------------------------------------------------------- data
def slack_messages(folder: Path):
    """Yield ``(channel, record)`` for every plain message of a Slack export folder."""
    for channel in sorted(p for p in folder.iterdir() if p.is_dir()):
        for day in sorted(channel.glob("*.json")):
            for record in json.loads(day.read_text(encoding="utf-8")):
                if record.get("type") == "message" and not record.get("subtype") and record.get("text", "").strip():
                    yield channel.name, record


def add_slack_internal(store, folder: Path, tickets: list[str]) -> dict[str, str]:
    """Add each Slack message as an internal message of a ticket (round robin).

    Returns:
        message_id → (T_NO, text).
    """
    placed = {}
    with store.batch():
        for position, (channel, record) in enumerate(slack_messages(folder)):
            t_no = tickets[position % len(tickets)]
            when = datetime.fromtimestamp(float(record["ts"]), timezone.utc)
            message_id = f"slack-{channel}-{record['ts']}"
            message = {
                "message_id": message_id,
                "timestamp": when.isoformat(),
                "sender": "technical_member",
                "sender_id": record["user"],
                "content": record["text"],
                "platform": "slack",
                "message_type": "update",
                "metadata": {"channel_id": channel},
            }
            store.update(t_no, {"I": {"messages": [message]}}, actor="slack-bridge")
            placed[message_id] = (t_no, record["text"])
    return placed


def build_store(path: Path, twitter: Path, slack: Path):
    from gitstore import Store
    from gitstore.importers.base import run_import
    from gitstore.importers.twitter_care import IMPORTER

    store = Store.init(path, fsync=False)
    run_import(store, IMPORTER, twitter, actor="importer", progress=False)
    tickets = store.list_tickets()
    placed = add_slack_internal(store, slack, tickets)
    store.close()
    return placed


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A store built once per module: the Twitter sample + the Slack extract."""
    path = tmp_path_factory.mktemp("template") / "store"
    placed = build_store(path, SAMPLE, SLACK_SAMPLE)
    return path, placed


@pytest.fixture
def sstore(template, tmp_path):
    """A private copy of the template store, opened."""
    from gitstore import Store

    path = tmp_path / "store"
    shutil.copytree(template[0], path, symlinks=True)
    store = Store.open(path, fsync=False)
    store.placed = template[1]
    yield store
    store.close()


def cli(path: Path, *args: str, input: str | None = None):
    from click.testing import CliRunner

    from gitstore_cli.main import cli as main

    return CliRunner().invoke(main, ["-C", str(path), "--no-fsync", "--actor", "tester", *args], input=input)


def search(store, query, **options):
    from gitstore_index.search import search as run

    return run(store, query, **options)


# ---------------------------------------------------------------------------- finding
def test_finds_known_words_in_external_messages(sstore):
    results = search(sstore, "refund")
    assert results.total >= 3
    top = results.hits[0]
    assert top.t_no == REFUND_TICKET and top.kind == "external"
    assert top.sender == "customer" and top.sender_id == "Carlos11Sk"
    assert "**refund**" in top.snippet.lower()
    assert top.time == "2019-08-12T13:08:28Z"
    # stemming: the plural finds the same messages
    assert {h.message_id for h in search(sstore, "refunds").hits} == {h.message_id for h in results.hits}


def test_finds_internal_slack_messages(sstore):
    expected = {m for m, (_, text) in sstore.placed.items() if re.search(r"\bterminals?\b", text, re.I)}
    results = search(sstore, "terminal", kind="internal")  # (stemming also finds "termination" in E)
    assert len(expected) >= 2 and results.total == len(expected)
    assert {h.message_id for h in results.hits} == expected
    assert {h.kind for h in results.hits} == {"internal"}
    assert all(h.platform == "slack" and h.sender_id.startswith("U061") for h in results.hits)
    for hit in results.hits:
        assert sstore.placed[hit.message_id][0] == hit.t_no
    assert all("**terminal**" in h.snippet for h in results.hits)
    igraph = search(sstore, "igraph")
    assert igraph.hits[0].snippet.startswith("**igraph** is a collection of network analysis tools")


def test_hits_ranked_and_grouped_by_ticket(sstore):
    results = search(sstore, "dygraphs OR refund", limit=20)
    scores = [h.score for h in results.hits]
    assert scores == sorted(scores, reverse=True)
    groups = results.by_ticket()
    assert [t for t, _ in groups] == list(dict.fromkeys(h.t_no for h in results.hits))
    assert sum(len(hits) for _, hits in groups) == len(results.hits)


def test_query_language(sstore):
    phrase = search(sstore, '"network analysis tools"')
    assert phrase.total == 1 and "igraph is a collection" in phrase.hits[0].snippet
    assert search(sstore, '"analysis network tools"').total == 0
    terminal = search(sstore, "terminal", kind="internal").total
    assert search(sstore, "termin*", kind="internal").total >= terminal >= 2
    assert search(sstore, "terminl~", kind="internal").total == terminal  # fuzzy: one edit away
    assert search(sstore, "refund AND game").hits[0].t_no == REFUND_TICKET
    without = search(sstore, "refund NOT game", limit=50)
    assert REFUND_TICKET not in {h.t_no for h in without.hits if "game" in h.snippet.lower()}
    assert {h.sender_id for h in search(sstore, "sender_id:carlos11sk").hits} == {"Carlos11Sk"}
    assert {h.t_no for h in search(sstore, f"ticket:{REFUND_TICKET}", limit=100).hits} == {REFUND_TICKET}
    assert {h.kind for h in search(sstore, "kind:workflow company:askplaystation").hits} == {"workflow"}
    in_2019 = search(sstore, "refund time:[2019-08-01 to 2019-09-01]", limit=50)
    assert in_2019.hits and all(h.time.startswith("2019-08") for h in in_2019.hits)
    assert search(sstore, "refund time:>2020", limit=50).total == search(sstore, "refund", since="2020-01-01").total


def test_filters(sstore):
    internal = search(sstore, "terminal OR refund", kind="internal", limit=50)
    assert internal.hits and {h.kind for h in internal.hits} == {"internal"}
    one = search(sstore, "refund OR terminal", ticket=REFUND_TICKET, limit=50)
    assert {h.t_no for h in one.hits} == {REFUND_TICKET}
    by_sender = search(sstore, "refund", sender_id="CARLOS11SK")
    assert {h.sender_id for h in by_sender.hits} == {"Carlos11Sk"}
    slack = search(sstore, "terminal OR refund", platform="slack", limit=50)
    assert {h.platform for h in slack.hits} == {"slack"}
    early = search(sstore, "terminal OR refund", until="2016-01-01", limit=50)
    assert early.hits and all(h.time < "2016" for h in early.hits)
    late = search(sstore, "terminal OR refund", since="2016-01-01", limit=50)
    assert late.hits and all(h.time >= "2016" for h in late.hits)
    assert early.total + late.total == search(sstore, "terminal OR refund", limit=50).total
    # --status/--priority are ticket attributes: every hit's ticket has them
    sstore.set_state(REFUND_TICKET, {"priority": "HIGH", "conversation_status": "escalated"}, actor="lead")
    high = search(sstore, "refund OR terminal", priority="high", limit=50)
    assert high.hits and {h.t_no for h in high.hits} == {REFUND_TICKET}
    escalated = search(sstore, "refund", status="escalated", limit=50)
    assert {h.t_no for h in escalated.hits} == {REFUND_TICKET}
    assert search(sstore, "refund", status="escalated", priority="LOW").total == 0


def test_search_without_counts_returns_the_same_hits(sstore):
    counted = search(sstore, "terminal OR refund", limit=5, role="customer_facing")
    quick = search(sstore, "terminal OR refund", limit=5, role="customer_facing", count=False)
    assert quick.total is None and quick.facets == {}
    assert [h.message_id for h in quick.hits] == [h.message_id for h in counted.hits]
    assert all(h.kind != "internal" for h in quick.hits)


def test_ticket_filter_column_scan_matches_lookups(sstore, monkeypatch):
    import gitstore_index.search as module

    low = search(sstore, "refund OR terminal", priority="LOW", limit=100)
    monkeypatch.setattr(module, "TICKET_LOOKUPS", 0)  # force the one-pass scan of the t_no column
    scanned = search(sstore, "refund OR terminal", priority="LOW", limit=100)
    assert low.total > 0 and [h.message_id for h in scanned.hits] == [h.message_id for h in low.hits]
    assert scanned.facets == low.facets


# ---------------------------------------------------------------------------- roles
def test_customer_facing_role_never_sees_internal(sstore):
    query = "terminal OR refund OR dygraphs"
    admin = search(sstore, query, role="admin", limit=100)
    assert admin.facets["kind"].get("internal", 0) >= 3 and admin.facets["kind"].get("external", 0) >= 3
    facing = search(sstore, query, role="customer_facing", limit=100)
    assert "internal" not in facing.facets["kind"]
    assert facing.total == admin.total - admin.facets["kind"]["internal"]
    assert all(h.kind != "internal" for h in facing.hits)
    assert not any("terminal" in h.snippet.lower() or "dygraphs" in h.snippet.lower() for h in facing.hits)
    assert search(sstore, "sparklines", role="admin").total == 1  # only in the Slack discussion
    assert search(sstore, "sparklines", role="customer_facing").total == 0
    assert search(sstore, "kind:internal", role="customer_facing").total == 0
    assert search(sstore, "terminal", role="customer_facing", kind="internal").total == 0
    assert search(sstore, query, role="internal", limit=100).facets == admin.facets
    # an older store's search.default_role still narrows a search made without --role
    sstore.write_config_section("search", {"default_role": "customer_facing"}, actor="admin")
    default = search(sstore, query, limit=100)
    assert default.role == "customer_facing" and default.total == facing.total
    # CLI: --json output carries no internal message, text or count
    result = cli(sstore.path, "search", "sparklines OR dygraphs", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["total"] == 0 and data["hits"] == [] and data["facets"]["kind"] == {}
    result = cli(sstore.path, "search", "sparklines OR dygraphs", "--role", "admin", "--json")
    assert json.loads(result.stdout)["total"] >= 2


def test_unknown_role_in_config_is_one_line_error(sstore):
    sstore.write_config_section("search", {"default_role": "boss"}, actor="admin")
    result = cli(sstore.path, "search", "refund")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: unknown role 'boss': use one of customer_facing, internal, admin"]


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "query, reason",
    [
        ("(refund", "'(' without a matching ')'"),
        ("refund)", "')' without a matching '('"),
        ('"open phrase', "unbalanced double quote"),
        ("refund AND", "AND needs a term after it"),
        ("OR refund", "OR needs a term before it"),
        ("refund AND OR game", "OR needs a term before it"),
        ("refund NOT", "NOT needs a term after it"),
        ("foo:bar", "unknown field 'foo'"),
        ("time:[2020 to", "unbalanced range brackets"),
        ("the", "has no search term"),
        ("refund time:yesterdayish", "a field:value could not be read"),
        ("refund time:[foo to 2020]", "'foo' is not a parseable date"),
        ("   ", "empty"),
    ],
)
def test_invalid_query_is_one_line_error(sstore, query, reason):
    result = cli(sstore.path, "search", query)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: invalid query") and reason in lines[0], result.output


def test_bad_dates_and_limits_are_one_line_errors(sstore):
    result = cli(sstore.path, "search", "refund", "--since", "not a date at all")
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        "Error: invalid --since date 'not a date at all': use e.g. 2020-03-01, 2020-03-01T12:00Z or '3 days ago'"
    ]
    from gitstore.errors import InvalidQuery

    with pytest.raises(InvalidQuery, match="limit must be between"):
        search(sstore, "refund", limit=0)
    with pytest.raises(ValueError):  # InvalidQuery is a ValueError too
        search(sstore, "refund", kind="secret")


# ---------------------------------------------------------------------------- CLI
def ids(output):
    """T_NOs of `ticket list --json` (objects with the table's fields)."""
    return [row["ticket"] for row in json.loads(output)]


def test_cli_search_text_and_json(sstore):
    result = cli(sstore.path, "search", "refund", "--limit", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "3 matching (external 3); role unrestricted"  # tester: no role in a store without roles
    assert result.stderr.startswith("building the search index of")
    assert f"ticket {REFUND_TICKET}" in lines
    assert any("customer:Carlos11Sk" in line and "refund" in line.lower() and "**" not in line for line in lines)  # plain in a pipe
    data = json.loads(cli(sstore.path, "search", "refund", "--json").stdout)
    assert data["hits"][0]["t_no"] == REFUND_TICKET and data["hits"][0]["message_id"] == "1160900862912475140"
    assert set(data["hits"][0]) >= {"rank", "score", "kind", "time", "sender", "sender_id", "snippet", "platform"}


def test_index_status_and_rebuild(sstore):
    result = cli(sstore.path, "index", "status", "--json")
    assert json.loads(result.stdout)["exists"] is False
    assert "no search index" in cli(sstore.path, "index", "status").output
    result = cli(sstore.path, "index", "rebuild", "--json")
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    head = str(sstore.head().id)
    messages = sum(
        len(sstore.read(t).external.messages) + len(sstore.read(t).internal.messages) for t in sstore.list_tickets()
    )
    assert status["commit"] == head and status["up_to_date"] is True
    assert status["documents"] == messages + len(sstore.list_tickets())
    assert status["size_bytes"] > 10_000
    text = cli(sstore.path, "index", "status").output
    assert f"indexed commit: {head[:12]}" in text and "up to date" in text
    # no index files ever reach the tree
    assert "gitstore" not in git(sstore.path, "ls-files", "-o", "--exclude-standard")


def test_parallel_rebuild_answers_like_one_process(sstore):
    """``index rebuild --procs 2`` (one segment per writer process) gives the same hits,
    scores, snippets and counts as a one-process build, and the next write catches up."""
    queries = ["refund", "account AND password", '"domain forwarding"', "kind:internal", "time:[2015 to 2030]"]

    def answers():  # hits of equal score may come in another order (document numbers differ)
        return [sorted((-h.score, h.t_no, h.kind, h.message_id, h.time, h.snippet) for h in search(sstore, q, limit=500).hits)
                + [search(sstore, q).total] for q in queries]

    assert cli(sstore.path, "index", "rebuild", "--procs", "1").exit_code == 0
    one = answers()
    assert all(a[:-1] for a in one), one
    result = cli(sstore.path, "index", "rebuild", "--procs", "2", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["segments"] == 2
    assert answers() == one
    assert cli(sstore.path, "message", "add", REFUND_TICKET, "--external", "--sender", "customer",
               "--sender-id", "ana", "where is my quokka refund").exit_code == 0
    assert [h.t_no for h in search(sstore, "quokka").hits] == [REFUND_TICKET]
    assert "Error: Invalid value for '--procs': 0 is not in the range" in cli(sstore.path, "index", "rebuild", "--procs", "0").output


def test_ticket_list_filters_from_index(sstore):
    sstore.set_state(REFUND_TICKET, {"priority": "HIGH", "assigned_member": "Bob", "workflow_stage": "trigger",
                                     "conversation_status": "escalated"}, actor="lead")
    result = cli(sstore.path, "ticket", "list", "--priority", "HIGH", "--json")
    assert result.exit_code == 0, result.output
    assert ids(result.stdout) == [REFUND_TICKET]
    assert ids(cli(sstore.path, "ticket", "list", "--assignee", "bob", "--stage", "trigger", "--json").stdout) == [REFUND_TICKET]
    assert ids(cli(sstore.path, "ticket", "list", "--status", "escalated", "--json").stdout) == [REFUND_TICKET]
    resolved = ids(cli(sstore.path, "ticket", "list", "--status", "resolved", "--all", "--json").stdout)
    assert REFUND_TICKET not in resolved and len(resolved) == len(sstore.list_tickets()) - 1
    apple = ids(cli(sstore.path, "ticket", "list", "--company", "applesupport", "--all", "--json").stdout)
    assert apple and all(sstore.read(t).workflow.company_name == "AppleSupport" for t in apple)
    since = sorted(ids(cli(sstore.path, "ticket", "list", "--since", "2020-03-24", "--all", "--json").stdout))
    expected = [
        t for t in sstore.list_tickets()
        if any(m.timestamp >= datetime(2020, 3, 24, tzinfo=timezone.utc) for m in sstore.read(t).external.messages)
        or sstore.read(t).workflow.card_create_timestamp >= datetime(2020, 3, 24, tzinfo=timezone.utc)
    ]
    assert since == sorted(expected) and 0 < len(since) < len(sstore.list_tickets())
    result = cli(sstore.path, "ticket", "list", "--status", "escalated", "--at", "HEAD~1", "--json")
    assert result.exit_code == 0 and REFUND_TICKET not in ids(result.stdout)  # filters answer at any revision


# ---------------------------------------------------------------------------- freshness
def test_fresh_after_cli_write_in_same_process(sstore):
    from gitstore_index.store_index import index_status

    assert cli(sstore.path, "index", "rebuild").exit_code == 0
    before = index_status(sstore)
    result = cli(sstore.path, "message", "add", REFUND_TICKET, "--external", "--sender", "customer",
                 "--sender-id", "Carlos11Sk", "my kaleidoscope console still has no refund")
    assert result.exit_code == 0, result.output
    after = index_status(sstore)  # read without catching up: the write itself indexed it
    assert after.up_to_date and after.commit == str(sstore.head().id)
    assert after.documents == before.documents + 1  # appended, nothing replaced
    hits = search(sstore, "kaleidoscope").hits
    assert [h.t_no for h in hits] == [REFUND_TICKET] and hits[0].sender_id == "Carlos11Sk"
    # a state change replaces the workflow document only
    assert cli(sstore.path, "state", "set", REFUND_TICKET, "assigned_member=zoe").exit_code == 0
    status = index_status(sstore)
    assert status.up_to_date and status.documents == after.documents
    assert ids(cli(sstore.path, "ticket", "list", "--assignee", "zoe", "--json").stdout) == [REFUND_TICKET]


def test_read_commands_do_not_open_the_index(sstore):
    assert cli(sstore.path, "index", "rebuild").exit_code == 0
    code = (
        "import sys\n"
        "from gitstore_cli.main import cli\n"
        "try:\n"
        f"    cli(['-C', {str(sstore.path)!r}, 'ticket', 'show', {REFUND_TICKET!r}], prog_name='gitstore')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('whoosh loaded:', any(m.split('.')[0] == 'whoosh' for m in sys.modules), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr
    assert REFUND_TICKET in proc.stdout
    assert proc.stderr.strip().splitlines()[-1] == "whoosh loaded: False"


def test_a_write_never_waits_for_an_index_that_is_behind_or_missing(sstore):
    """A subscribed index far behind HEAD (or missing) is not caught up inside the write:
    the update returns after its commit; ``close()`` (or the next search) catches up."""
    from gitstore_index.store_index import SearchIndex, index_status
    from gitstore_index.subscriber import subscribe_index

    SearchIndex.open(sstore).close()
    indexed = index_status(sstore).commit
    for n in range(5):  # commits the index has not seen
        sstore.add_message(REFUND_TICKET, "E", sender="customer", sender_id="ana", content=f"behind {n}", actor="ana")
    subscriber = subscribe_index(sstore)
    sstore.add_message(REFUND_TICKET, "E", sender="customer", sender_id="ana", content="wombat refund", actor="ana")
    assert index_status(sstore).commit == indexed  # the write did not catch the index up
    assert subscriber.deferred == 1 and subscriber.changes == []
    subscriber.close()
    assert index_status(sstore).up_to_date
    assert [h.t_no for h in search(sstore, "wombat").hits] == [REFUND_TICKET]
    # no index at all: the write does not build one; close() does
    shutil.rmtree(sstore.git_dir / "gitstore" / "index")
    subscriber = subscribe_index(sstore)
    sstore.add_message(REFUND_TICKET, "E", sender="customer", sender_id="ana", content="numbat refund", actor="ana")
    assert not (sstore.git_dir / "gitstore" / "index").exists()
    subscriber.close()
    assert index_status(sstore).up_to_date
    assert [h.t_no for h in search(sstore, "numbat").hits] == [REFUND_TICKET]


def test_in_process_subscriber_appends_and_defers_in_batch(sstore):
    from gitstore_index.store_index import SearchIndex
    from gitstore_index.subscriber import subscribe_index
    from gitstore_index.store_index import index_status

    SearchIndex.open(sstore).close()
    subscriber = subscribe_index(sstore)
    sstore.add_message(REFUND_TICKET, "I", sender="technical_member", sender_id="ops1",
                       content="billing shows a duplicate chargeback", actor="ops1")
    assert [c.added for c in subscriber.changes] == [{"internal": [subscriber.changes[0].added["internal"][0]]}]
    assert index_status(sstore).up_to_date
    with sstore.batch():
        for n in range(3):
            sstore.add_message(REFUND_TICKET, "E", sender="cs_agent", sender_id="AskPlayStation",
                               content=f"voucher number {n} issued", actor="agent")
        assert not index_status(sstore).up_to_date and subscriber.deferred == 3
    subscriber.close()
    status = index_status(sstore)
    assert status.up_to_date
    assert search(sstore, "voucher").total == 3
    assert search(sstore, "chargeback", role="customer_facing").total == 0


@requires_git
def test_fresh_after_plain_git_commit_of_hand_edit(sstore):
    from gitstore.tickets import layout

    assert cli(sstore.path, "index", "rebuild").exit_code == 0
    path = sstore.path / layout.ticket_path("E", REFUND_TICKET)
    data = json.loads(path.read_text())
    data["messages"][0]["content"] = "hello i need a platypus for my game"
    path.write_text(json.dumps(data, indent=2) + "\n")
    git(sstore.path, "commit", "-q", "-am", "hand edit")
    results = search(sstore, "platypus")
    assert [h.message_id for h in results.hits] == [data["messages"][0]["message_id"]]
    assert REFUND_TICKET not in {h.t_no for h in search(sstore, "refund AND game", limit=50).hits if h.message_id == data["messages"][0]["message_id"]}
    # the conversation was replaced, not duplicated
    assert search(sstore, f"ticket:{REFUND_TICKET} kind:external", limit=100).total == len(data["messages"])


@requires_git
def test_fresh_after_fetch_and_merge_from_another_clone(sstore, tmp_path):
    from gitstore import Store

    assert cli(sstore.path, "index", "rebuild").exit_code == 0
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(sstore.path), str(other)], check=True)
    clone = Store.open(other, fsync=False)
    clone.add_message(REFUND_TICKET, "I", sender="technical_member", sender_id="remote-ops",
                      content="the narwhal service rebooted", actor="remote-ops", platform="slack")
    clone.close()
    git(sstore.path, "fetch", "-q", str(other), "main")
    git(sstore.path, "merge", "-q", "--ff-only", "FETCH_HEAD")
    hits = search(sstore, "narwhal").hits
    assert [(h.t_no, h.sender_id, h.kind) for h in hits] == [(REFUND_TICKET, "remote-ops", "internal")]


def test_catch_up_after_interrupted_index_write_does_not_duplicate(sstore):
    from gitstore_index.store_index import SearchIndex
    from gitstore_index.state import read_state, write_state

    index = SearchIndex.open(sstore)
    index.close()
    parent = str(sstore.head().id)
    sstore.add_message(REFUND_TICKET, "E", sender="customer", sender_id="Carlos11Sk",
                       content="any update on the quokka refund", actor="c")
    # simulate a crash after the Whoosh commit but before the state record
    index = SearchIndex.open(sstore, catch_up=False)
    index.apply_event(type("E", (), {"parent": parent, "commit": str(sstore.head().id), "t_no": REFUND_TICKET})())
    state = read_state(index.folder)
    state.commit, state.pending = parent, str(sstore.head().id)
    write_state(index.folder, state)
    index.close()
    assert search(sstore, "quokka").total == 1


def test_batch_import_through_cli_keeps_index_exact(tmp_path):
    path = tmp_path / "s"
    assert cli(path, "init", str(path)).exit_code == 0
    assert cli(path, "index", "rebuild").exit_code == 0
    result = cli(path, "import", "twitter-care", str(SAMPLE))
    assert result.exit_code == 0, result.output
    status = json.loads(cli(path, "index", "status", "--json").stdout)
    assert status["up_to_date"] is True
    assert status["documents"] == 103 + 38  # messages + one workflow document per ticket
    assert cli(path, "import", "twitter-care", str(SAMPLE)).exit_code == 0  # re-import adds nothing
    assert json.loads(cli(path, "index", "status", "--json").stdout)["documents"] == 141


# ---------------------------------------------------------------------------- damage
def test_corrupted_index_is_detected_and_rebuilt(sstore):
    assert cli(sstore.path, "index", "rebuild").exit_code == 0
    folder = sstore.path / ".git" / "gitstore" / "index"
    for item in folder.iterdir():
        item.write_bytes(b"\x00garbage\xff" * 10)
    status = cli(sstore.path, "index", "status")
    assert "search index unreadable" in status.output
    result = cli(sstore.path, "search", "refund", "--json")
    assert result.exit_code == 0
    assert "search index at" in result.stderr and "is corrupted" in result.stderr and "rebuilding it from HEAD" in result.stderr
    assert json.loads(result.stdout)["hits"][0]["t_no"] == REFUND_TICKET
    assert json.loads(cli(sstore.path, "index", "status", "--json").stdout)["up_to_date"] is True


def test_missing_segment_files_are_rebuilt_on_search(sstore):
    assert cli(sstore.path, "index", "rebuild").exit_code == 0
    folder = sstore.path / ".git" / "gitstore" / "index"
    for item in folder.glob("*.seg"):
        item.unlink()
    for item in folder.glob("*_*.*"):
        if not item.name.startswith("_MAIN_") and item.suffix != ".toc":
            item.unlink()
    result = cli(sstore.path, "search", "terminal", "--json")
    assert result.exit_code == 0, result.output
    assert "corrupted" in result.stderr
    assert json.loads(result.stdout)["total"] >= 2


def test_schema_version_change_rebuilds(sstore):
    from gitstore_index.state import read_state, write_state

    assert cli(sstore.path, "index", "rebuild").exit_code == 0
    folder = sstore.path / ".git" / "gitstore" / "index"
    state = read_state(folder)
    state.schema_version = 0
    write_state(folder, state)
    result = cli(sstore.path, "search", "refund")
    assert result.exit_code == 0
    assert "schema version 0 differs" in result.stderr
    assert read_state(folder).schema_version >= 1


def test_index_lock_timeout_does_not_fail_a_write(sstore, tmp_path):
    """A write made while another process holds the index lock still commits."""
    assert cli(sstore.path, "index", "rebuild").exit_code == 0
    lock = sstore.path / ".git" / "gitstore" / "index.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from filelock import FileLock; l = FileLock(sys.argv[1]); l.acquire(); print('held', flush=True); time.sleep(30)", str(lock)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        from gitstore import Store
        from gitstore_index.subscriber import subscribe_index
        from gitstore.errors import LockTimeout
        from gitstore_index.store_index import SearchIndex

        store = Store.open(sstore.path, fsync=False)
        notes = []
        subscriber = subscribe_index(store, report=notes.append, lock_timeout=0.3)
        result = store.add_message(REFUND_TICKET, "E", sender="customer", sender_id="x", content="walrus", actor="x")
        assert str(store.head().id) == result.commit
        assert notes and "search index not updated" in notes[-1] and "catches up on next use" in notes[-1]
        with pytest.raises(LockTimeout, match="another process is writing the search index"):
            SearchIndex.open(store, lock_timeout=0.3)
        subscriber._unsubscribe()
    finally:
        holder.kill()
        holder.wait()
    assert search(sstore, "walrus").total == 1


# ---------------------------------------------------------------------------- hygiene
def test_whoosh_warnings_never_reach_users(tmp_path):
    """Fresh bytecode compilation of Whoosh under -W error: no SyntaxWarning/DeprecationWarning."""
    code = "import gitstore_index.search, gitstore_index.watcher, gitstore_index.store_index; print('ok')"
    proc = subprocess.run(
        [sys.executable, "-X", f"pycache_prefix={tmp_path / 'pyc'}", "-W", "error::SyntaxWarning",
         "-W", "error::DeprecationWarning", "-c", code],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok" and proc.stderr == ""


def test_package_exports_are_what_they_say_after_every_submodule_is_imported():
    """A lazy export named like a submodule would be shadowed by the module itself."""
    import importlib
    import types

    import gitstore_index

    for name in ("search", "store_index", "documents", "tickets", "subscriber", "watcher", "roles", "paths", "fastpath"):
        importlib.import_module(f"gitstore_index.{name}")
    for name in gitstore_index.__all__:
        assert not isinstance(getattr(gitstore_index, name), types.ModuleType), name
    assert callable(gitstore_index.search_store) and gitstore_index.search_store.__module__ == "gitstore_index.search"


# ---------------------------------------------------------------------------- full data set
def test_full_twitter_and_slack_data(tmp_path):
    twitter = shared_or_skip("twitter_customer_care_ibm", "dev.json")
    slack_root = shared_or_skip("slack_export_houstondatavis")
    slack = tmp_path / "slack"
    for channel in ("tools", "sci"):
        shutil.copytree(slack_root / channel, slack / channel)
    path = tmp_path / "full"
    placed = build_store(path, twitter, slack)
    from gitstore import Store

    store = Store.open(path, fsync=False)
    contents = {}
    for t_no in store.list_tickets():
        for message in store.read(t_no).external.messages:
            contents[message.message_id] = message.content
    expected = {m for m, text in contents.items() if re.search(r"\brefund(s|ed|ing)?\b", text, re.I)}
    results = search(store, "refund", kind="external", limit=1000)
    found = {h.message_id for h in results.hits}
    assert len(expected) >= 10 and found >= expected
    assert all("refund" in contents[m].lower() for m in found)
    assert results.total == len(found)
    internal = search(store, "jupyter OR igraph", kind="internal", limit=50)
    assert internal.total >= 3 and all(placed[h.message_id][0] == h.t_no for h in internal.hits)
    assert search(store, "jupyter OR igraph", role="customer_facing", kind="internal").total == 0
    assert search(store, "kind:internal", role="customer_facing").total == 0
    store.close()
