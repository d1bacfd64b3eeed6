"""Writes do not wait for derived data: with ``after_write`` (what the CLI uses) a write
returns at the commit path's latency and the search index catches up afterwards
(``gitstore_index.subscriber``; docs/architecture.md)."""

from __future__ import annotations

import json


def test_after_write_subscriber_indexes_only_when_flushed(store):
    from gitstore_index.store_index import SearchIndex
    from gitstore_index.subscriber import subscribe_index

    store.create_ticket("1001", client_name="Ana", company_name="Acme", actor="ana")
    SearchIndex.open(store).close()  # an index that reflects HEAD
    subscriber = subscribe_index(store, after_write=True)
    result = store.add_message("1001", "E", sender="customer", sender_id="ana", content="toaster smokes", actor="ana")
    assert len(subscriber.queued) == 1 and subscriber.changes == []  # the write returned first
    with SearchIndex.open(store, catch_up=False) as index:
        assert index.commit != result.commit
    subscriber.close()
    assert [c.commit for c in subscriber.changes] == [result.commit]
    with SearchIndex.open(store, catch_up=False) as index:
        assert index.commit == result.commit


def test_a_cli_write_is_searchable_by_the_next_command(gs):
    assert gs("ticket", "create", "1001", "--client", "Ana", "--company", "Acme").exit_code == 0
    assert gs("index", "rebuild").exit_code == 0
    added = gs("message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "kettle sparks")
    assert added.exit_code == 0, added.output
    found = json.loads(gs("search", "kettle", "--json").output)
    assert found["total"] == 1


def test_showing_a_recently_changed_ticket_opens_no_history_log(store):
    from gitstore.history.log import DB_NAME

    store.create_ticket("1001", client_name="Ana", company_name="Acme", actor="ana")
    for n in range(3):
        store.add_message("1001", "E", sender="customer", sender_id="ana", content=f"hi {n}", actor="ana")
    last = store.add_message("1001", "I", sender="cs_agent", sender_id="ivan", content="note", actor="ivan")
    log_file = store.state_dir / DB_NAME
    log_file.unlink(missing_ok=True)
    context = store.context("1001")
    assert context.version == last.commit
    assert not log_file.exists()
