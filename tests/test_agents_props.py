"""Property tests (Hypothesis) for agents: no internal message ever reaches a
customer-facing agent; transitions outside the configured graph are always refused."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitstore.agents import build_context, configure_workflow, load_access, set_role, set_stage
from gitstore.agents.workflow import load_workflow, parse_workflow
from gitstore.errors import BudgetTooSmall, InvalidTransition, ValidationError

_numbers = itertools.count()
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60)
external_message = st.fixed_dictionaries({
    "sender": st.sampled_from(["customer", "cs_agent"]),
    "sender_id": st.sampled_from(["ana", "bob", "frontdesk", "classifier"]),
    "content": text,
})
internal_message = st.fixed_dictionaries({
    "sender": st.sampled_from(["cs_agent", "technical_member"]),
    "sender_id": st.sampled_from(["ops1", "bob", "frontdesk", "classifier"]),
    "content": text,
    "metadata": st.fixed_dictionaries({"importance": st.integers(0, 9)}),
})


@SETTINGS
@given(
    external=st.lists(external_message, max_size=12),
    internal=st.lists(internal_message, min_size=1, max_size=12),
    budget=st.one_of(st.none(), st.integers(200, 1500)),
    strategy=st.sampled_from(["recent", "important", "summarized"]),
    processed_after=st.integers(0, 3),
)
def test_customer_facing_agents_never_see_internal_messages(store, external, internal, budget, strategy, processed_after):
    if "frontdesk" not in load_access(store).agents:  # the store lives across examples
        set_role(store, "frontdesk", "customer_facing", actor="admin", agent=True)
    t_no = f"P{next(_numbers)}"
    store.create_ticket(t_no, client_name="Ana", company_name="Acme", actor="tester")
    # internal contents carry a marker that no external message can contain
    internal = [{**m, "content": f"⟦internal {i}⟧ {m['content']}"} for i, m in enumerate(internal)]
    half_e, half_i = len(external) // 2, len(internal) // 2
    first = {"E": {"messages": [{"sender": "customer", "sender_id": "ana", "content": "hi"}] + external[:half_e]}}
    if half_i:
        first["I"] = {"messages": internal[:half_i]}
    store.update(t_no, first, actor="tester")
    if processed_after % 2:
        from gitstore.agents import mark_processed

        mark_processed(store, t_no, "frontdesk", actor="frontdesk")
    rest = {"I": {"messages": internal[half_i:]}}
    if external[half_e:]:
        rest["E"] = {"messages": external[half_e:]}
    store.update(t_no, rest, actor="tester")
    try:
        ctx = build_context(store, t_no, "frontdesk", max_tokens=budget, strategy=strategy)
    except BudgetTooSmall:
        return
    assert ctx.role == "customer_facing"
    for message in ctx.messages:
        assert "⟦internal" not in message["content"]
        assert "· internal]" not in message["content"]
    internal_ids = {m.message_id for m in store.read(t_no).internal.messages}
    assert not internal_ids & set(ctx.away + ctx.omitted + ctx.summarized + ([ctx.trigger] if ctx.trigger else []))
    # an internal agent does see them (the property is about the role, not missing data)
    inside = build_context(store, t_no, "classifier")
    assert any("⟦internal" in m["content"] for m in inside.messages)


stage_names = st.lists(st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True), min_size=2, max_size=6, unique=True)


@st.composite
def workflows(draw):
    stages = draw(stage_names)
    edges = draw(st.sets(st.tuples(st.sampled_from(stages), st.sampled_from(stages)), max_size=len(stages) ** 2))
    transitions: dict[str, list[str]] = {}
    for a, b in sorted(edges):
        transitions.setdefault(a, []).append(b)
    return {"stages": stages, "initial": stages[0], "transitions": transitions}


@settings(max_examples=200, deadline=None)
@given(workflow=workflows(), data=st.data())
def test_the_graph_decides_every_transition(workflow, data):
    parsed = parse_workflow(workflow)
    current = data.draw(st.sampled_from(workflow["stages"]))
    target = data.draw(st.one_of(st.sampled_from(workflow["stages"]), st.from_regex(r"[a-z]{1,8}", fullmatch=True)))
    allowed = target in workflow["transitions"].get(current, [])
    if allowed:
        parsed.check_transition(current, target)
    else:
        with pytest.raises(InvalidTransition):
            parsed.check_transition(current, target)


@SETTINGS
@given(workflow=workflows(), data=st.data())
def test_transitions_outside_the_configured_graph_are_refused_on_the_store(store, workflow, data):
    configure_workflow(store, workflow, actor="admin")
    assert load_workflow(store).stages == tuple(workflow["stages"])
    t_no = f"W{next(_numbers)}"
    current = data.draw(st.sampled_from(workflow["stages"]))
    store.create_ticket(t_no, client_name="Ana", company_name="Acme", actor="tester")
    store.update(t_no, {"T": {"workflow_stage": current}}, actor="tester")
    target = data.draw(st.one_of(st.sampled_from(workflow["stages"]), st.just("nowhere")))
    before = store.head().id
    if target in workflow["transitions"].get(current, []):
        set_stage(store, t_no, target, reason="graph allows it", actor="tester")
        files = store.read(t_no)
        assert files.workflow.workflow_stage == target
        assert (files.workflow.phase_transitions[-1].from_, files.workflow.phase_transitions[-1].to) == (current, target)
    else:
        with pytest.raises(InvalidTransition):
            set_stage(store, t_no, target, reason="outside the graph", actor="tester")
        # state set goes through the same rules (staying put is no transition: nothing to change)
        with pytest.raises(InvalidTransition if target != current else ValidationError):
            store.set_state(t_no, {"workflow_stage": target}, actor="tester")
        assert store.head().id == before
