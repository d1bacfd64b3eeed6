"""Agents through the CLI: an end-to-end agent scenario on an imported real ticket, and
bad input answered with one-line errors and nothing written."""

from __future__ import annotations

import hashlib
import json

import pytest

from conftest import TEST_DATA, git

SESSION = "btl6ofX5a6TSNB3b3rkV"  # 11 turns between a customer and the support account
T_NO = f"TW-{SESSION}"


@pytest.fixture
def imported(gs, tmp_path):
    """A CLI store holding one real IBM customer-care conversation (tests/data extract)."""
    records = json.loads((TEST_DATA / "twitter_care_sample.json").read_text(encoding="utf-8"))
    record = next(r for r in records if r["dialogHeader"]["sessionID"] == SESSION)
    source = tmp_path / "one.json"
    source.write_text(json.dumps([record]), encoding="utf-8")
    r = gs("import", "twitter-care", str(source))
    assert r.exit_code == 0, r.output
    customer = next(t["client"] for t in record["dialogContent"] if "client" in t)
    return customer


def ok(result) -> dict | list | None:
    assert result.exit_code == 0, result.output
    try:
        return json.loads(result.output)
    except json.JSONDecodeError:
        return None


def imported_first_tweet() -> str:
    records = json.loads((TEST_DATA / "twitter_care_sample.json").read_text(encoding="utf-8"))
    record = next(r for r in records if r["dialogHeader"]["sessionID"] == SESSION)
    return next(t["message"] for t in record["dialogContent"] if "client" in t)


def head(gs) -> str:
    return git(gs.path, "rev-parse", "HEAD").strip()


def test_agents_work_a_real_ticket_end_to_end(gs, imported):
    customer = imported
    # the import left the conversation resolved (stage end); the customer writes again
    ok(gs("message", "add", T_NO, "--external", "--sender", "customer", "--sender-id", customer,
          "Still no refund after two weeks, please escalate", actor=customer))
    ok(gs("stage", "set", T_NO, "trigger", "--reason", "customer wrote again", "--json"))

    # 1. the classifier builds its context and decides
    c1 = ok(gs("context", T_NO, "--agent", "classifier", "--max-tokens", "600", "--json"))
    assert c1["messages"][-1] == {"role": "user", "content": "Still no refund after two weeks, please escalate"}
    assert c1["messages"][-2]["content"] == "=== NEW INTERACTION ==="
    assert c1["tokens"] + c1["reserve_tokens"] <= 600
    assert c1["away"] == []  # a late-joining agent: everything is history
    classifier_bytes = gs("context", T_NO, "--agent", "classifier", "--max-tokens", "600", "--canonical").output
    assert hashlib.sha256(classifier_bytes.encode("utf-8")).hexdigest() == c1["sha256"]
    d1 = ok(gs("decision", "record", T_NO, "--agent", "classifier", "--decision", '{"priority": "HIGH"}',
               "--confidence", "0.87", "--seen", c1["commit"], "--max-tokens", "600", "--json"))
    assert d1["missed"] == [] and d1["context_commit"] == c1["commit"]
    trailers = git(gs.path, "log", "-1", "--format=%(trailers)", d1["commit"])
    assert "Agent: classifier" in trailers and f"Decision: {d1['decision_id']} confidence=0.87" in trailers
    ok(gs("state", "set", T_NO, "priority=HIGH"))
    ok(gs("stage", "set", T_NO, "classifier", "--reason", "classified HIGH"))
    ok(gs("stage", "set", T_NO, "selection", "--reason", "pick an action", "--summary", "refund delay"))

    # 2. the orchestrator routes to selector and updater in one turn
    started = ok(gs("turn", "start", T_NO, "--agents", "selector,updates", "--reason", "classified: choose and act",
                    "--json", actor="orchestrator"))
    turn_id = started["turn_id"]
    cs = ok(gs("context", T_NO, "--agent", "selector", "--json"))
    cu = ok(gs("context", T_NO, "--agent", "updates", "--json"))
    ok(gs("decision", "record", T_NO, "--agent", "selector", "--decision", '{"action": "refund_escalation"}',
          "--confidence", "0.7", "--seen", cs["commit"], "--reply-internal", "Escalate to billing: refund overdue"))
    ok(gs("turn", "complete", T_NO, turn_id, "--agent", "selector", "--summary", "chose refund escalation"))
    show = ok(gs("turn", "show", T_NO, "--json"))
    assert show["current_routing"]["turn_id"] == turn_id and show["routing_history"] == []

    # 3. a customer message arrives while the updater is working
    ok(gs("message", "add", T_NO, "--external", "--sender", "customer", "--sender-id", customer,
          "Any news? It has been 15 days", actor=customer))
    du = ok(gs("decision", "record", T_NO, "--agent", "updates", "--decision", '{"status": "in_progress"}',
               "--confidence", "0.95", "--seen", cu["commit"], "--reply-internal",
               "Refund escalation logged with billing", "--json"))
    missed_ids = [m["sender_id"] for m in du["missed"]]
    assert customer in missed_ids and "selector" in missed_ids  # it saw neither
    ok(gs("turn", "complete", T_NO, turn_id, "--agent", "updates", "--summary", "customer informed"))
    show = ok(gs("turn", "show", T_NO, "--json"))
    assert show["current_routing"] is None
    assert [t["turn_id"] for t in show["routing_history"]] == [turn_id]
    assert show["routing_history"][0]["is_completed"] is True
    assert show["user_request"] == imported_first_tweet()
    ok(gs("stage", "set", T_NO, "action", "--reason", "acting on the selection"))

    # 4. the customer message shows up as "while you were away" for the next agents
    nxt = ok(gs("context", T_NO, "--agent", "classifier", "--json"))
    contents = [m["content"] for m in nxt["messages"]]
    away_at = contents.index("=== MESSAGES WHILE YOU WERE AWAY ===")
    assert contents.index("Any news? It has been 15 days") > away_at
    assert "[selector · cs_agent · internal] Escalate to billing: refund overdue" in contents[away_at:]
    before_away = contents[:away_at]
    assert "Still no refund after two weeks, please escalate" in before_away  # seen at c1
    upd = ok(gs("context", T_NO, "--agent", "updates", "--json"))
    upd_contents = [m["content"] for m in upd["messages"]]
    assert upd_contents.index("Any news? It has been 15 days") > upd_contents.index("=== MESSAGES WHILE YOU WERE AWAY ===")
    assert {"role": "assistant", "content": "Refund escalation logged with billing"} in upd["messages"]

    stages = ok(gs("stage", "show", T_NO, "--json"))
    assert [(t["from"], t["to"]) for t in stages["phase_transitions"]] == [
        ("end", "trigger"), ("trigger", "classifier"), ("classifier", "selection"), ("selection", "action")]
    assert stages["phase_transitions"][2]["summary"] == "refund delay"

    # 5. months later: what did the classifier see when it set priority HIGH?
    ok(gs("message", "add", T_NO, "--external", "--sender", "customer", "--sender-id", customer, "Refund received, thanks",
          actor=customer))
    rebuilt = gs("context", T_NO, "--agent", "classifier", "--decision", d1["decision_id"], "--canonical")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert rebuilt.output.encode("utf-8") == classifier_bytes.encode("utf-8")
    again = ok(gs("context", T_NO, "--decision", d1["decision_id"], "--json"))
    assert again["sha256"] == c1["sha256"] and again["commit"] == c1["commit"]

    # 6. a person confirms the classifier's decision
    ok(gs("decision", "confirm", T_NO, d1["decision_id"], actor="lead"))
    state = ok(gs("ticket", "show", T_NO, "--json"))["workflow_state"]
    confirmed = {d["decision_id"]: d["human_confirmed"] for d in state["agent_decisions"]}
    assert confirmed[d1["decision_id"]] is True and state["priority"] == "HIGH"
    assert state["agent_states"]["classifier"]["last_processed_commit"] == c1["commit"]
    assert git(gs.path, "status", "--porcelain") == ""
    git(gs.path, "fsck", "--no-progress")
    ok(gs("verify", T_NO))


def _refused(gs, *args, expect: str, actor="tester"):
    before = head(gs)
    r = gs(*args, actor=actor)
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.output
    assert expect in lines[0], lines[0]
    assert head(gs) == before  # nothing written
    return lines[0]


def test_bad_input_is_refused_with_one_line_and_nothing_written(gs, imported):
    seen = ok(gs("context", T_NO, "--agent", "classifier", "--json"))["commit"]
    _refused(gs, "context", T_NO, "--agent", "nobody", expect="unknown agent 'nobody'")
    _refused(gs, "decision", "record", T_NO, "--agent", "nobody", "--decision", "{}", "--confidence", "0.5",
             "--seen", seen, expect="unknown agent")
    for bad in ("1.5", "-0.1", "nan"):
        _refused(gs, "decision", "record", T_NO, "--agent", "classifier", "--decision", '{"p": 1}',
                 "--confidence", bad, "--seen", seen, expect="confidence")
    _refused(gs, "decision", "record", T_NO, "--agent", "classifier", "--decision", "[1]", "--confidence", "0.5",
             "--seen", seen, expect="JSON object")
    _refused(gs, "decision", "record", T_NO, "--agent", "classifier", "--decision", "{", "--confidence", "0.5",
             "--seen", seen, expect="not valid JSON")
    _refused(gs, "decision", "record", T_NO, "--agent", "classifier", "--decision", "{}", "--confidence", "0.5",
             "--seen", "0" * 40, expect="unknown revision")
    _refused(gs, "decision", "confirm", T_NO, "dec_missing", expect="no decision 'dec_missing'")
    _refused(gs, "context", T_NO, "--agent", "classifier", "--decision", "dec_missing", expect="no decision")
    _refused(gs, "turn", "complete", T_NO, "turn_missing", "--agent", "selector", "--summary", "x", expect="no turn")
    _refused(gs, "turn", "start", T_NO, "--agents", "selector,ghost", "--reason", "x", expect="unknown agent 'ghost'")
    _refused(gs, "stage", "set", T_NO, "limbo", "--reason", "x", expect="unknown stage 'limbo'")
    # the import left the ticket at "end": only reopening is allowed
    line = _refused(gs, "stage", "set", T_NO, "action", "--reason", "x", expect="not allowed")
    assert "from end: trigger" in line
    _refused(gs, "state", "set", T_NO, "workflow_stage=selection", expect="not allowed")
    _refused(gs, "context", T_NO, "--agent", "classifier", "--max-tokens", "20", expect="cannot hold")

    started = ok(gs("turn", "start", T_NO, "--agents", "selector", "--reason", "route", "--json"))
    _refused(gs, "turn", "start", T_NO, "--agents", "updates", "--reason", "again", expect="still open")
    _refused(gs, "turn", "complete", T_NO, started["turn_id"], "--agent", "updates", "--summary", "x",
             expect="was not routed")
    ok(gs("turn", "complete", T_NO, started["turn_id"], "--agent", "selector", "--summary", "done"))
    _refused(gs, "turn", "complete", T_NO, started["turn_id"], "--agent", "selector", "--summary", "again",
             expect="already completed")
    dec = ok(gs("decision", "record", T_NO, "--agent", "classifier", "--decision", "{}", "--confidence", "1",
                "--seen", seen, "--json"))
    ok(gs("decision", "confirm", T_NO, dec["decision_id"]))
    _refused(gs, "decision", "confirm", T_NO, dec["decision_id"], expect="already confirmed")


def test_roles_refuse_writes_across_the_customer_boundary(gs, imported):
    customer = imported
    ok(gs("role", "set", "bob", "customer_facing"))
    ok(gs("role", "set", "ops1", "internal"))
    ok(gs("role", "set", "frontdesk", "customer_facing", "--agent"))
    roles = ok(gs("role", "show", "--json"))
    assert roles["actors"] == {"bob": "customer_facing", "ops1": "internal"}
    assert roles["agents"]["frontdesk"] == "customer_facing" and roles["agents"]["classifier"] == "internal"
    _refused(gs, "message", "add", T_NO, "--internal", "--sender", "cs_agent", "--sender-id", "bob", "note",
             actor="bob", expect="actor 'bob' has role customer_facing and may not write internal (I) messages")
    _refused(gs, "message", "add", T_NO, "--external", "--sender", "technical_member", "--sender-id", "ops1", "hi",
             actor="ops1", expect="may not write external (E) messages")
    ok(gs("message", "add", T_NO, "--external", "--sender", "cs_agent", "--sender-id", "bob", "On it", actor="bob"))
    ok(gs("message", "add", T_NO, "--internal", "--sender", "technical_member", "--sender-id", "ops1",
          "Billing system shows a stuck refund", actor="ops1"))
    # a customer-facing agent never sees the internal note, and may not write one
    front = ok(gs("context", T_NO, "--agent", "frontdesk", "--json"))
    assert not any("stuck refund" in m["content"] for m in front["messages"])
    inside = ok(gs("context", T_NO, "--agent", "classifier", "--json"))
    assert any("stuck refund" in m["content"] for m in inside["messages"])
    _refused(gs, "decision", "record", T_NO, "--agent", "frontdesk", "--decision", "{}", "--confidence", "0.5",
             "--seen", front["commit"], "--reply-internal", "psst", expect="agent 'frontdesk' has role customer_facing")
    ok(gs("decision", "record", T_NO, "--agent", "frontdesk", "--decision", '{"reply": true}', "--confidence", "0.5",
          "--seen", front["commit"], "--reply-external", "We are looking into it", actor="frontdesk"))
    # the global --agent trailer is held to the agent's role too; an unregistered name is not restricted
    _refused(gs, "--agent", "frontdesk", "message", "add", T_NO, "--internal", "--sender", "cs_agent",
             "--sender-id", "frontdesk", "note", expect="agent 'frontdesk' has role customer_facing")
    ok(gs("--agent", "night-bot", "message", "add", T_NO, "--internal", "--sender", "cs_agent", "--sender-id",
          "night-bot", "nightly check done"))
    trailers = git(gs.path, "log", "-1", "--format=%(trailers)")
    assert "Agent: night-bot" in trailers and "Actor: tester" in trailers and customer


def test_tenex_workflow_configured_in_the_store(gs, tmp_path):
    ok(gs("ticket", "create", "7001", "--client", "Ana", "--company", "Acme"))
    ok(gs("stage", "configure", "--preset", "tenex"))
    info = ok(gs("stage", "show", "7001", "--json"))
    assert info["stage"] == "trigger" and info["allowed"] == ["chat"]  # unconfigured stage: initial only
    ok(gs("stage", "set", "7001", "chat", "--reason", "switch to TENEX phases"))
    ok(gs("stage", "set", "7001", "execute", "--reason", "requirements clear"))
    line = _refused(gs, "stage", "set", "7001", "plan", "--reason", "x", expect="not allowed")
    assert "from execute: verification, chat" in line
    ok(gs("state", "set", "7001", "workflow_stage=verification"))
    info = ok(gs("stage", "show", "7001", "--json"))
    assert info["phase_transitions"][-1]["reason"] == "set with state set"
    custom = tmp_path / "wf.json"
    custom.write_text(json.dumps({"stages": ["new", "done"], "transitions": {"new": ["done"], "done": ["x"]}}))
    _refused(gs, "stage", "configure", "--file", str(custom), expect="workflow.transitions.done")
    blob = git(gs.path, "show", "HEAD:.gitstore/config.json")
    assert json.loads(blob)["workflow"]["initial"] == "chat"


def test_routing_loop_is_reported(gs, imported):
    customer = imported
    for n in range(3):
        turn = ok(gs("turn", "start", T_NO, "--agents", "updates,selector", "--reason", f"try {n}", "--json"))
        ok(gs("turn", "complete", T_NO, turn["turn_id"], "--agent", "selector", "--summary", "nothing"))
        ok(gs("turn", "complete", T_NO, turn["turn_id"], "--agent", "updates", "--summary", "nothing"))
    loop = ok(gs("turn", "show", T_NO, "--json"))["routing_loop"]
    assert loop == {"detected": True, "agents": ["selector", "updates"], "count": 3, "threshold": 3}
    assert "routing loop" in gs("turn", "show", T_NO).output
    ok(gs("message", "add", T_NO, "--external", "--sender", "customer", "--sender-id", customer, "new info", actor=customer))
    assert ok(gs("turn", "show", T_NO, "--json"))["routing_loop"]["detected"] is False


def test_help_texts_have_examples(runner):
    from gitstore_cli.main import cli

    for args in (["context"], ["decision", "record"], ["decision", "confirm"], ["stage", "set"], ["turn", "start"],
                 ["turn", "complete"], ["turn", "show"], ["role", "set"], ["stage", "configure"]):
        r = runner.invoke(cli, [*args, "--help"])
        assert r.exit_code == 0 and "Example:" in r.output, args
