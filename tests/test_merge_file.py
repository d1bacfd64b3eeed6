"""The semantic three-way merge of ticket files (sync/filemerge.py): examples and properties."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitstore.tickets import layout
from gitstore.errors import MergeConflictError
from gitstore.tickets.rules import cross_file_problems
from gitstore.tickets.files import TicketFiles, new_ticket
from gitstore.tickets.update import apply_update
from gitstore_sync.filemerge import merge_json_objects, merge_ticket_file

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)


def base_ticket(t_no: str = "1001") -> TicketFiles:
    files = new_ticket(t_no, client_name="Ana", company_name="Acme", when=T0).stamped(T0)
    applied = apply_update(
        files,
        {"E": {"messages": [{"message_id": "m-base", "sender": "customer", "sender_id": "ana", "content": "Printer down"}]}},
        T0,
    )
    return applied.files.stamped(T0)


def blobs(files: TicketFiles | None) -> dict[str, bytes | None]:
    return {k: (layout.dumps(files.get(k)) if files is not None else None) for k in "EIT"}


def merge_ticket(base: TicketFiles | None, ours: TicketFiles | None, theirs: TicketFiles | None):
    """Merge all three files; return (bytes per kind, lost values, merged TicketFiles)."""
    b, o, t = blobs(base), blobs(ours), blobs(theirs)
    out, lost = {}, []
    for kind in "EIT":
        result = merge_ticket_file(kind, f"{kind}_1001.json", b[kind], o[kind], t[kind])
        out[kind] = result.data
        lost += result.lost
    models = {k: layout.loads(k, out[k], k) for k in "EIT"}
    return out, lost, TicketFiles(ours.t_no if ours else theirs.t_no, models["E"], models["I"], models["T"])


def update(files: TicketFiles, data: dict, when: datetime) -> TicketFiles:
    return apply_update(files, data, when).files.stamped(when)


def message(mid: str, content: str, when: datetime | None = None, sender: str = "customer") -> dict:
    item = {"message_id": mid, "sender": sender, "sender_id": "x", "content": content}
    if when is not None:
        item["timestamp"] = when.isoformat()
    return item


def test_concurrent_appends_keep_every_message_ordered_by_time():
    base = base_ticket()
    ours = update(base, {"E": {"messages": [message("m-a", "from site A", T0 + timedelta(minutes=2))]}}, T0 + timedelta(minutes=2))
    theirs = update(base, {"E": {"messages": [message("m-b", "from site B", T0 + timedelta(minutes=1))]}}, T0 + timedelta(minutes=3))
    out, lost, merged = merge_ticket(base, ours, theirs)
    assert [m.message_id for m in merged.external.messages] == ["m-base", "m-b", "m-a"]
    assert lost == []
    assert merged.workflow.last_synchronized == T0 + timedelta(minutes=3)  # the later stamp
    assert cross_file_problems(merged) == []
    assert out == merge_ticket(base, theirs, ours)[0]


def test_scalar_changed_on_one_side_wins_without_conflict():
    base = base_ticket()
    ours = update(base, {"T": {"priority": "HIGH"}}, T0 + timedelta(minutes=1))
    theirs = update(base, {"T": {"assigned_member": "zed"}, "E": {"conversation_status": "escalated"}}, T0 + timedelta(minutes=2))
    _out, lost, merged = merge_ticket(base, ours, theirs)
    assert (merged.workflow.priority, merged.workflow.assigned_member) == ("HIGH", "zed")
    assert merged.external.conversation_status == "escalated"
    assert lost == []


def test_scalar_changed_differently_on_both_sides_newer_wins_and_loser_recorded():
    base = base_ticket()
    older = update(base, {"T": {"assigned_member": "amy"}}, T0 + timedelta(minutes=1))
    newer = update(base, {"T": {"assigned_member": "bob"}}, T0 + timedelta(minutes=5))
    for ours, theirs in ((older, newer), (newer, older)):
        _out, lost, merged = merge_ticket(base, ours, theirs)
        assert merged.workflow.assigned_member == "bob"
        assert [(v.file, v.field, v.kept, v.lost, v.reason) for v in lost] == [
            ("T_1001.json", "assigned_member", "bob", "amy", "newer")
        ]


def test_same_stamp_conflict_breaks_the_tie_by_value_the_same_way_on_both_sites():
    base = base_ticket()
    when = T0 + timedelta(minutes=1)
    a = update(base, {"T": {"assigned_member": "amy"}}, when)
    b = update(base, {"T": {"assigned_member": "bob"}}, when)
    first, lost, merged = merge_ticket(base, a, b)
    assert first == merge_ticket(base, b, a)[0]
    assert merged.workflow.assigned_member == "bob" and lost[0].lost == "amy" and lost[0].reason == "tie"


def test_ticket_created_on_both_sides_is_merged_not_duplicated():
    a = new_ticket("1001", client_name="Ana", company_name="Acme", when=T0).stamped(T0)
    a = update(a, {"E": {"messages": [message("m-a", "hello from A")]}}, T0 + timedelta(seconds=5))
    b = new_ticket("1001", client_name="Ana B.", company_name="Acme", when=T0 + timedelta(seconds=1))
    b = update(b.stamped(T0 + timedelta(seconds=1)), {"E": {"messages": [message("m-b", "hello from B")]}}, T0 + timedelta(seconds=9))
    out, lost, merged = merge_ticket(None, a, b)
    assert {m.message_id for m in merged.external.messages} == {"m-a", "m-b"}
    assert merged.workflow.client_name == "Ana B."  # the newer side
    assert any(v.field == "client_name" and v.lost == "Ana" for v in lost)
    assert cross_file_problems(merged) == []
    assert out == merge_ticket(None, b, a)[0]


def test_deleted_on_one_side_and_changed_on_the_other_keeps_the_change():
    base = base_ticket()
    changed = update(base, {"E": {"messages": [message("m-new", "still here")]}}, T0 + timedelta(minutes=1))
    b, c = blobs(base), blobs(changed)
    for kind in "EIT":
        assert merge_ticket_file(kind, "x", b[kind], None, c[kind]).data == c[kind]
        assert merge_ticket_file(kind, "x", b[kind], c[kind], None).data == c[kind]
        assert merge_ticket_file(kind, "x", b[kind], b[kind], None).data is None  # deletion of an unchanged file


def test_message_edited_on_both_sides_keeps_the_newer_edit_and_records_the_other():
    base = base_ticket()
    e = base.external.model_dump(mode="json")
    ours_e, theirs_e = json.loads(json.dumps(e)), json.loads(json.dumps(e))
    ours_e["messages"][0]["content"] = "Printer down (edited at A)"
    theirs_e["messages"][0]["content"] = "Printer down (edited at B)"
    ours_e["last_updated"] = "2024-05-01T10:00:00Z"
    theirs_e["last_updated"] = "2024-05-01T11:00:00Z"
    to_bytes = lambda d: layout.dumps(layout.validate_data("E", d, "E"))  # noqa: E731
    result = merge_ticket_file("E", "E_1001.json", layout.dumps(base.external), to_bytes(ours_e), to_bytes(theirs_e))
    merged = layout.loads("E", result.data)
    assert merged.messages[0].content == "Printer down (edited at B)"
    assert [(v.field, v.lost) for v in result.lost] == [("messages[m-base].content", "Printer down (edited at A)")]


def test_one_invalid_side_loses_and_is_recorded_both_invalid_is_refused():
    base = base_ticket()
    good = update(base, {"T": {"priority": "HIGH"}}, T0 + timedelta(minutes=1))
    bad = b'{"ticket_id": "1001", "priority": "URGENT"}\n'
    result = merge_ticket_file("T", "T_1001.json", layout.dumps(base.workflow), layout.dumps(good.workflow), bad)
    assert result.data == layout.dumps(good.workflow)
    assert result.lost[0].reason == "invalid" and "T_1001.json" in result.lost[0].lost
    with pytest.raises(MergeConflictError, match="T_1001.json: both sides are invalid"):
        merge_ticket_file("T", "T_1001.json", layout.dumps(base.workflow), b"{", bad)


def test_config_objects_merge_per_key():
    base = b'{"agents": {"a": 1}, "search": {"role": "x"}}\n'
    ours = b'{"agents": {"a": 1, "b": 2}, "search": {"role": "x"}}\n'
    theirs = b'{"agents": {"a": 1}, "search": {"role": "y"}}\n'
    merged = json.loads(merge_json_objects(".gitstore/config.json", base, ours, theirs).data)
    assert merged == {"agents": {"a": 1, "b": 2}, "search": {"role": "y"}}
    assert merge_json_objects("c", base, ours, theirs).data == merge_json_objects("c", base, theirs, ours).data


# ---------------------------------------------------------------------------------------
# Properties (Hypothesis): random concurrent updates on two sites of one ticket.

STAMPS = st.integers(min_value=1, max_value=6).map(lambda m: T0 + timedelta(minutes=m))


@st.composite
def side_updates(draw, prefix: str):
    """A list of updates (update_data, stamp) made by one site; ids unique per site."""
    updates = []
    count = draw(st.integers(min_value=0, max_value=4))
    for number in range(count):
        kind = draw(st.sampled_from(["E-msg", "I-msg", "progress", "decision", "state", "status"]))
        when = draw(STAMPS) + timedelta(seconds=number)
        item_time = draw(st.sampled_from([None, T0 + timedelta(minutes=3)]))  # ties on purpose
        ident = f"{prefix}{number}"
        if kind == "E-msg":
            data = {"E": {"messages": [message(f"m-{ident}", f"text {ident}", item_time)]}}
        elif kind == "I-msg":
            data = {"I": {"messages": [message(f"m-{ident}", f"note {ident}", item_time, sender="technical_member")]}}
        elif kind == "progress":
            data = {"I": {"progress_updates": [{"update_id": f"pu-{ident}", "updater": "tech", "status": draw(st.sampled_from(["assigned", "in_progress", "blocked", "resolved"]))}]}}
        elif kind == "decision":
            data = {"T": {"agent_decisions": [{"decision_id": f"d-{ident}", "agent": "classifier", "decision": {"label": draw(st.sampled_from(["bug", "billing"]))}, "confidence": 0.5}]}}
        elif kind == "state":
            field_name, values = draw(st.sampled_from([("priority", ["HIGH", "LOW"]), ("assigned_member", ["amy", "bob", None]), ("workflow_stage", ["classifier", "selection", "action"]), ("resolved", [True, False])]))
            data = {"T": {field_name: draw(st.sampled_from(values))}}
        else:
            data = {"E": {"conversation_status": draw(st.sampled_from(["active", "resolved", "escalated"]))}}
        updates.append((data, when))
    return updates


def play(files: TicketFiles, updates) -> TicketFiles:
    for data, when in updates:
        try:
            files = update(files, data, when)
        except Exception as exc:  # an update that changes nothing is simply skipped
            if "changes nothing" not in str(exc):
                raise
    return files


def ids(files: TicketFiles) -> set[str]:
    return (
        {m.message_id for m in files.external.messages}
        | {m.message_id for m in files.internal.messages}
        | {p.update_id for p in files.internal.progress_updates}
        | {d.decision_id for d in files.workflow.agent_decisions}
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(side_updates("a"), side_updates("b"), st.booleans())
def test_merge_properties(a_updates, b_updates, created_on_both_sides):
    if created_on_both_sides:
        base = None
        a = play(new_ticket("1001", client_name="Ana", company_name="Acme", when=T0).stamped(T0), a_updates)
        b = play(new_ticket("1001", client_name="Ana", company_name="Beta", when=T0).stamped(T0), b_updates)
    else:
        base = base_ticket()
        a, b = play(base, a_updates), play(base, b_updates)
    ab, _lost, merged = merge_ticket(base, a, b)
    ba, _lost2, _ = merge_ticket(base, b, a)
    assert ab == ba  # commutative, byte for byte
    assert ids(merged) == ids(a) | ids(b)  # no message, update or decision lost
    assert cross_file_problems(merged) == []  # validates, one shared stamp
    for kind in "EIT":  # canonical bytes
        assert ab[kind] == layout.dumps(merged.get(kind))
    sides_e = {blobs(a)["E"], blobs(b)["E"]}
    if len(sides_e) == 2 and blobs(base)["E"] not in sides_e:  # a true merge of E ran
        times = [(m.timestamp, m.message_id) for m in merged.external.messages]
        assert times == sorted(times)
    # idempotent: merging a side with itself, or the result with a side, changes nothing
    assert merge_ticket(base, a, a)[0] == blobs(a)
    assert merge_ticket(merged, merged, merged)[0] == ab
    _again, _lost3, again_files = merge_ticket(base, merged, b)
    assert ids(again_files) == ids(merged)  # merging again brings nothing new
