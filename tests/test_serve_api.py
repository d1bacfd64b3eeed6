"""The HTTP API (docs/http.md), against the app in-process: every endpoint (its answer and
one error), ETag/If-Match, tokens (401), roles (403), problem documents, and a
customer-facing token never reading an internal word — the loop of
tests/test_viewer_reads.py over every GET endpoint and ``/events``.

Requests go through starlette's TestClient (httpx, the app's lifespan run); the event
stream and the concurrent writers go through a real uvicorn server in a thread of this
process on 127.0.0.1 (``Live``).
"""

from __future__ import annotations

import json
import os
import queue
import socket
import stat
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from conftest import git
from test_viewer_reads import INTERNAL_IDS, SECRET, desk  # noqa: F401  (desk: a store with roles and internal words)

with warnings.catch_warnings():  # starlette asks for httpx2; httpx is what the project installs
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from gitstore_serve.app import ENDPOINTS, create_app  # noqa: E402


# ---------------------------------------------------------------------------- helpers
def leaks(text: str) -> list[str]:
    low = text.lower()
    return [w for w in (SECRET, *INTERNAL_IDS) if w.lower() in low]


def commit_count(path: Path) -> int:
    return int(git(path, "rev-list", "--count", "HEAD").strip())


def head(path: Path) -> str:
    return git(path, "rev-parse", "HEAD").strip()


def i_blob(path: Path, t_no: str = "1001") -> str:
    from gitstore.tickets import layout

    return git(path, "rev-parse", f"HEAD:{layout.ticket_path('I', t_no)}").strip()


def make_token(gs, actor: str) -> str:
    result = gs("token", "create", actor, "--name", f"{actor} tests")
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


class Api:
    """The app in a TestClient, with a token per actor of the desk."""

    def __init__(self, client: TestClient, tokens: dict[str, str], path: Path, values: dict):
        self.client, self.tokens, self.path, self.values = client, tokens, path, values

    def __call__(self, method: str, url: str, who: str | None = "lead", headers: dict | None = None, **kw) -> httpx.Response:
        sent = dict(headers or {})
        if who is not None:
            sent["Authorization"] = f"Bearer {self.tokens[who]}"
        return self.client.request(method, url, headers=sent, **kw)

    def get(self, url: str, who: str | None = "lead", **kw) -> httpx.Response:
        return self("GET", url, who, **kw)

    def post(self, url: str, who: str | None = "lead", **kw) -> httpx.Response:
        return self("POST", url, who, **kw)

    def etag(self, t_no: str = "1001") -> str:
        found = self.get(f"/api/tickets/{t_no}")
        assert found.status_code == 200, found.text
        return found.headers["etag"]


def problem(response: httpx.Response, status: int, error: str | None = None) -> dict:
    """Check a problem document: status, media type, members, one-line detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == status
    assert "\n" not in body["detail"] and "Traceback" not in response.text
    if error is not None:
        assert body["type"] == f"urn:gitstore:error:{error}", body
    return body


@pytest.fixture
def tokens(desk):  # noqa: F811
    gs, _path, _values = desk
    return {name: make_token(gs, name) for name in ("lead", "ivan", "bob")}


@pytest.fixture
def api(desk, tokens):  # noqa: F811
    gs, path, values = desk
    app = create_app(path, fsync=False, poll_interval=0.05, keepalive=0.5)
    with TestClient(app) as client:
        yield Api(client, tokens, path, values)


# ---------------------------------------------------------------------------- live server and SSE
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Live:
    """A uvicorn server in a thread of this process, serving ``create_app(path)``."""

    def __init__(self, path: Path):
        import uvicorn

        self.app = create_app(path, fsync=False, poll_interval=0.05, keepalive=0.3)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)

    def close(self) -> None:
        self.app.state.feed.close_streams()
        self.server.should_exit = True
        self.thread.join(10)
        assert not self.thread.is_alive()


@pytest.fixture
def live(desk):  # noqa: F811
    _gs, path, _values = desk
    server = Live(path)
    yield server
    server.close()


class SSEReader:
    """Reads ``GET /events`` in a thread: each message as ``{"id", "data", "event"}`` on a queue.

    Args:
        url: the events URL (with its query).
        token: the bearer token.
        last_event_id: sent as ``Last-Event-ID``.
    """

    def __init__(self, url: str, token: str, last_event_id: str | None = None):
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}
        if last_event_id is not None:
            self.headers["Last-Event-ID"] = last_event_id
        self.queue: queue.Queue = queue.Queue()
        self.status: int | None = None
        self.body = b""
        self.raw: list[str] = []
        self.comments = 0
        self.ready = threading.Event()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(30), "no answer from /events"

    def _run(self) -> None:
        try:
            with httpx.Client(timeout=httpx.Timeout(30.0)) as client, client.stream("GET", self.url, headers=self.headers) as r:
                self.status = r.status_code
                self.ready.set()
                if r.status_code != 200:
                    self.body = r.read()
                    return
                current: dict[str, str] = {}
                for line in r.iter_lines():
                    self.raw.append(line)
                    if self.stopped.is_set():
                        return
                    if line == "":
                        if "data" in current:
                            self.queue.put(current)
                        current = {}
                    elif line.startswith(":"):
                        self.comments += 1
                    else:
                        name, _, value = line.partition(":")
                        current[name] = value[1:] if value.startswith(" ") else value
        except httpx.HTTPError:
            pass
        finally:
            self.ready.set()
            self.queue.put(None)

    def take(self, count: int, timeout: float = 30.0) -> list[dict]:
        """The next ``count`` messages (data decoded), or fail after ``timeout`` seconds."""
        found = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            try:
                item = self.queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"got {len(found)} of {count} events: {found}") from None
            if item is None:
                raise AssertionError(f"the stream ended after {len(found)} of {count} events: {found}")
            found.append({**item, "data": json.loads(item["data"])})
        return found

    def close(self) -> None:
        self.stopped.set()


def new_commits(path: Path, since: str) -> list[str]:
    """Commit ids after ``since`` on the first-parent chain, oldest first."""
    return git(path, "rev-list", "--first-parent", "--reverse", f"{since}..HEAD").split()


# ---------------------------------------------------------------------------- tickets
def test_list_tickets_pages_with_a_cursor_over_the_commit_of_the_first_page(api):
    for n in range(4):
        created = api.post("/api/tickets", json={"t_no": f"200{n}", "client_name": "C", "company_name": "Globex"})
        assert created.status_code == 201, created.text
    first = api.get("/api/tickets", params={"limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert page["total"] == 5 and len(page["tickets"]) == 2 and page["next_cursor"]
    pinned = page["commit"]
    api.post("/api/tickets/2001/messages", json={"kind": "external", "sender": "customer", "sender_id": "c", "content": "bump"})
    seen = [row["ticket"] for row in page["tickets"]]
    while page["next_cursor"]:
        page = api.get("/api/tickets", params={"limit": 2, "cursor": page["next_cursor"]}).json()
        assert page["commit"] == pinned  # the later write does not reorder these pages
        seen += [row["ticket"] for row in page["tickets"]]
    assert sorted(seen) == ["1001", "2000", "2001", "2002", "2003"] and len(seen) == len(set(seen))
    fresh = api.get("/api/tickets", params={"limit": 1}).json()
    assert fresh["tickets"][0]["ticket"] == "2001" and fresh["commit"] != pinned  # a new listing shows the write
    assert [r["ticket"] for r in api.get("/api/tickets", params={"company": "GLOBEX", "limit": 10}).json()["tickets"]] == [
        "2001", "2003", "2002", "2000"]
    problem(api.get("/api/tickets", params={"cursor": "not-a-cursor"}), 400, "InvalidOption")
    other = api.get("/api/tickets", params={"limit": 1, "company": "globex"}).json()["next_cursor"]
    problem(api.get("/api/tickets", params={"cursor": other}), 400, "InvalidOption")  # another listing's cursor
    problem(api.get("/api/tickets", params={"stage": "nowhere"}), 400, "InvalidOption")
    problem(api.get("/api/tickets", params={"colour": "red"}), 400)
    problem(api.get("/api/tickets", params={"limit": "0"}), 400)


def test_create_a_ticket_and_refuse_a_taken_number(api):
    created = api.post("/api/tickets", json={"t_no": "3001", "client_name": "Ana", "company_name": "Acme", "priority": "HIGH"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["etag"] == f'"{body["commit"]}"' and created.headers["location"] == "/api/tickets/3001"
    assert body["created"] and api.get("/api/tickets/3001").json()["workflow_state"]["priority"] == "HIGH"
    before = commit_count(api.path)
    problem(api.post("/api/tickets", json={"t_no": "3001", "client_name": "B", "company_name": "C"}), 409, "TicketExists")
    problem(api.post("/api/tickets", json={"t_no": "3002", "client_name": "B"}), 422)  # company_name missing
    problem(api.post("/api/tickets", json={"t_no": "a..b", "client_name": "B", "company_name": "C"}), 400, "InvalidTicketNumber")
    assert commit_count(api.path) == before


def test_show_answers_like_ticket_show_json_with_the_version_as_etag(api, desk):  # noqa: F811
    gs = desk[0]
    shown = api.get("/api/tickets/1001")
    assert shown.status_code == 200
    assert shown.json() == json.loads(gs("ticket", "show", "1001", "--json", actor="lead").stdout)
    assert shown.headers["etag"] == f'"{shown.json()["version"]}"'
    first = api.values["first"]
    old = api.get("/api/tickets/1001", params={"at": first})
    assert old.json()["commit"] == first and old.headers["etag"] == f'"{first}"'
    assert len(old.json()["external_conversation"]["messages"]) == 1
    problem(api.get("/api/tickets/9999"), 404, "TicketNotFound")
    problem(api.get("/api/tickets/1001", params={"at": "no-such-rev"}), 404, "RevisionNotFound")


def test_patch_is_one_synchronized_update(api):
    before = commit_count(api.path)
    done = api("PATCH", "/api/tickets/1001", json={
        "E": {"messages": [{"sender": "cs_agent", "sender_id": "lead", "content": "On it"}]}, "T": {"priority": "HIGH"}})
    assert done.status_code == 200, done.text
    assert commit_count(api.path) == before + 1 and done.headers["etag"] == f'"{done.json()["commit"]}"'
    shown = api.get("/api/tickets/1001").json()
    assert shown["workflow_state"]["priority"] == "HIGH" and shown["external_conversation"]["messages"][-1]["content"] == "On it"
    problem(api("PATCH", "/api/tickets/1001", json={"T": {"ticket_id": "x"}}), 422, "ValidationError")  # a managed field
    problem(api("PATCH", "/api/tickets/1001", json={"X": {}}), 422)
    assert commit_count(api.path) == before + 1


def test_messages_external_and_internal_and_a_role_that_refuses(api):
    sent = api.post("/api/tickets/1001/messages", json={"kind": "external", "sender": "customer", "sender_id": "ana",
                                                        "content": "any news?"})
    assert sent.status_code == 201 and sent.json()["files"] == ["E_1001.json"]
    note = api.post("/api/tickets/1001/messages", "ivan", json={"kind": "internal", "sender": "technical_member",
                                                               "sender_id": "dev1", "content": "patch ready", "message_type": "update"})
    assert note.status_code == 201 and note.json()["files"] == ["I_1001.json"]
    before, blob = commit_count(api.path), i_blob(api.path)
    refused = problem(api.post("/api/tickets/1001/messages", "bob", json={
        "kind": "internal", "sender": "cs_agent", "sender_id": "bob", "content": "sneaky"}), 403, "AccessDenied")
    assert "may not write internal" in refused["detail"]
    problem(api.post("/api/tickets/1001/messages", json={"kind": "external", "sender": "robot", "sender_id": "x",
                                                         "content": "y"}), 422)
    assert (commit_count(api.path), i_blob(api.path)) == (before, blob)


def test_state_sets_fields_and_moves_stages(api):
    done = api.post("/api/tickets/1001/state", json={"assigned_member": "bob", "workflow_stage": "classifier"})
    assert done.status_code == 200, done.text
    state = api.get("/api/tickets/1001").json()["workflow_state"]
    assert (state["assigned_member"], state["workflow_stage"]) == ("bob", "classifier")
    assert api.post("/api/tickets/1001/state", json={"assigned_member": None}).status_code == 200
    assert api.get("/api/tickets/1001").json()["workflow_state"]["assigned_member"] is None
    problem(api.post("/api/tickets/1001/state", json={}), 400, "InvalidOption")
    problem(api.post("/api/tickets/1001/state", json={"workflow_stage": "action"}), 422, "InvalidTransition")


def test_rollback_archive_unarchive(api):
    first = api.values["first"]
    back = api.post("/api/tickets/1001/rollback", json={"to": first, "reason": "undo"})
    assert back.status_code == 200, back.text
    assert f"Rollback-To: {first}" in git(api.path, "log", "-1", "--format=%B")
    problem(api.post("/api/tickets/1001/rollback", json={"to": "no-such-rev"}), 404, "RevisionNotFound")
    assert api.post("/api/tickets/1001/archive", json={"reason": "done"}).status_code == 200
    problem(api.post("/api/tickets/1001/archive"), 409, "ArchivedTicket")
    problem(api.post("/api/tickets/1001/messages", json={"kind": "external", "sender": "customer", "sender_id": "a",
                                                         "content": "x"}), 409, "ArchivedTicket")
    assert api.get("/api/tickets").json()["total"] == 0
    assert api.get("/api/tickets", params={"archived": "true"}).json()["total"] == 1
    assert api.post("/api/tickets/1001/unarchive").status_code == 200
    problem(api.post("/api/tickets/1001/unarchive"), 409, "ArchivedTicket")


STALE_WRITES = {
    "PATCH /api/tickets/1001": {"T": {"priority": "HIGH"}},
    "POST /api/tickets/1001/messages": {"kind": "external", "sender": "cs_agent", "sender_id": "lead", "content": "late"},
    "POST /api/tickets/1001/state": {"priority": "HIGH"},
    "POST /api/tickets/1001/stage": {"stage": "classifier", "reason": "triage"},
    "POST /api/tickets/1001/rollback": {"to": "{first}"},
    "POST /api/tickets/1001/archive": {},
    "POST /api/tickets/1001/decisions": {"agent": "classifier", "decision": {"priority": "HIGH"}, "confidence": 0.9,
                                         "seen": "{head}"},
    "POST /api/tickets/1001/turns": {"agents": ["selector"], "reason": "route"},
}


@pytest.mark.parametrize("write", sorted(STALE_WRITES))
def test_a_stale_if_match_is_412_with_the_current_version_and_writes_nothing(api, write):
    method, url = write.split(" ")
    values = {"first": api.values["first"], "head": head(api.path)}
    body = json.loads(json.dumps(STALE_WRITES[write]).replace("{first}", values["first"]).replace("{head}", values["head"]))
    stale = api.etag()
    moved = api.post("/api/tickets/1001/messages", json={"kind": "external", "sender": "customer", "sender_id": "ana",
                                                         "content": "meanwhile"})
    current = moved.json()["commit"]
    before = commit_count(api.path)
    refused = problem(api(method, url, headers={"If-Match": stale}, json=body), 412, "ConflictError")
    assert refused["current_version"] == current and refused["expected_version"] == stale.strip('"')
    assert refused.get("ticket") == "1001" and commit_count(api.path) == before
    assert api(method, url, headers={"If-Match": stale}, json=body).headers["etag"] == f'"{current}"'
    done = api(method, url, headers={"If-Match": f'"{current}"'}, json=body)
    assert done.status_code in (200, 201), done.text
    assert commit_count(api.path) == before + 1 and done.headers["etag"] == f'"{head(api.path)}"'


def test_if_match_must_be_one_strong_etag(api):
    problem(api.post("/api/tickets/1001/state", headers={"If-Match": 'W/"abc"'}, json={"priority": "HIGH"}), 400)
    problem(api.post("/api/tickets/1001/state", headers={"If-Match": '"a", "b"'}, json={"priority": "HIGH"}), 400)
    problem(api.post("/api/tickets/1001/state", headers={"If-Match": '"0000000000000000000000000000000000000000"'},
                     json={"priority": "HIGH"}), 412, "ConflictError")
    assert api.post("/api/tickets/1001/state", headers={"If-Match": "*"}, json={"priority": "HIGH"}).status_code == 200


# ---------------------------------------------------------------------------- history and search
def test_search_history_diff_blame_log(api):
    found = api.get("/api/search", params={"q": "driver"}).json()
    assert found["total"] >= 1 and found["hits"][0]["t_no"] == "1001"
    assert api.get("/api/search", params={"q": "printer", "kind": "external", "limit": 1}).json()["hits"][0]["kind"] == "external"
    problem(api.get("/api/search", params={"q": "x", "since": "not a date at all"}), 400, "InvalidQuery")
    problem(api.get("/api/search", params={"q": "x", "kind": "tweets"}), 400)

    entries = api.get("/api/tickets/1001/history").json()
    assert len(entries) == 5 and entries[0]["commit"] == head(api.path)
    assert len(api.get("/api/tickets/1001/history", params={"limit": 2}).json()) == 2
    problem(api.get("/api/tickets/9999/history"), 404, "TicketNotFound")

    diff = api.get("/api/tickets/1001/diff", params={"from": api.values["first"], "to": "HEAD"}).json()
    assert diff["old_commit"] == api.values["first"] and len(diff["items"]) >= 3
    assert api.get("/api/tickets/1001/diff").json()["new_commit"] == head(api.path)
    problem(api.get("/api/tickets/1001/diff", params={"from": "no-such-rev"}), 404, "RevisionNotFound")

    lines = api.get("/api/tickets/1001/blame", params={"file": "E"}).json()
    assert [line["item"] for line in lines].count("message") == 2
    problem(api.get("/api/tickets/1001/blame", params={"file": "X"}), 400)

    log = api.get("/api/log", params={"ticket": "1001", "limit": 3}).json()
    assert len(log) == 3 and log[0]["commit"] == head(api.path)
    assert api.get("/api/log", params={"actor": "ivan"}).json()[0]["actor"] == "ivan"
    problem(api.get("/api/log", params={"since": "the day after never"}), 400, "InvalidOption")


# ---------------------------------------------------------------------------- agents
def test_context_decisions_stage_and_turns(api):
    context = api.get("/api/tickets/1001/context", params={"agent": "classifier", "max_tokens": 4000}).json()
    assert context["agent"] == "classifier" and context["messages"] and context["commit"] == head(api.path)
    problem(api.get("/api/tickets/1001/context"), 400, "InvalidOption")
    problem(api.get("/api/tickets/1001/context", params={"agent": "nobody"}), 422, "UnknownAgent")

    recorded = api.post("/api/tickets/1001/decisions", json={
        "agent": "classifier", "decision": {"priority": "HIGH"}, "confidence": 0.9, "seen": context["commit"],
        "max_tokens": 4000, "reply_internal": "looks like the driver"})
    assert recorded.status_code == 201, recorded.text
    decision = recorded.json()
    assert decision["context_sha256"] == context["sha256"] and recorded.headers["etag"] == f'"{decision["commit"]}"'
    again = api.get("/api/tickets/1001/context", params={"agent": "classifier", "decision": decision["decision_id"]}).json()
    assert again["sha256"] == context["sha256"]
    problem(api.post("/api/tickets/1001/decisions", json={"agent": "classifier", "decision": {}, "confidence": 2,
                                                          "seen": context["commit"]}), 422)
    confirmed = api.post(f"/api/tickets/1001/decisions/{decision['decision_id']}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    trail = api.get("/api/tickets/1001").json()["decision_trail"]
    assert trail[-1]["human_confirmed"] is True
    problem(api.post(f"/api/tickets/1001/decisions/{decision['decision_id']}/confirm"), 422, "ValidationError")
    problem(api.post("/api/tickets/1001/decisions/dec_nope/confirm"), 404, "DecisionNotFound")

    moved = api.post("/api/tickets/1001/stage", json={"stage": "classifier", "reason": "new ticket"})
    assert moved.status_code == 200, moved.text
    info = api.get("/api/tickets/1001/stage").json()
    assert info["stage"] == "classifier" and "selection" in info["allowed"]
    problem(api.get("/api/tickets/9999/stage"), 404, "TicketNotFound")
    problem(api.get("/api/tickets/1001/turns", params={"at": "no-such-rev"}), 404, "RevisionNotFound")
    refused = problem(api.post("/api/tickets/1001/stage", json={"stage": "action", "reason": "skip"}), 422, "InvalidTransition")
    assert "selection" in refused["detail"]

    started = api.post("/api/tickets/1001/turns", json={"agents": ["selector", "updates"], "reason": "classified"})
    assert started.status_code == 201, started.text
    turn_id = started.json()["turn_id"]
    problem(api.post("/api/tickets/1001/turns", json={"agents": ["selector"], "reason": "again"}), 409, "TurnStateError")
    done = api.post(f"/api/tickets/1001/turns/{turn_id}/complete", json={"agent": "selector", "summary": "picked KB"})
    assert done.status_code == 200, done.text
    routing = api.get("/api/tickets/1001/turns").json()
    assert routing["current_routing"]["turn_id"] == turn_id
    assert [c["agent"] for c in routing["current_routing"]["completions"]] == ["selector"]
    problem(api.post("/api/tickets/1001/turns/turn_nope/complete", json={"agent": "selector", "summary": "x"}), 404,
            "TurnNotFound")
    assert "Agent: orchestrator" in git(api.path, "log", "--format=%B", "-3")


# ---------------------------------------------------------------------------- auth
def test_no_wrong_or_revoked_token_is_401_and_the_cookie_works(api, desk):  # noqa: F811
    gs = desk[0]
    for headers in ({}, {"Authorization": "Bearer gst_not-a-token"}, {"Authorization": "Basic bGVhZDpwdw=="}):
        refused = problem(api.get("/api/tickets/1001", None, headers=headers), 401)
        assert refused["title"] == "Unauthorized" and api.get("/api/tickets/1001", None, headers=headers).headers[
            "www-authenticate"].startswith('Bearer realm="gitstore"')
    spare = make_token(gs, "ivan")
    assert api.get("/api/tickets/1001", None, headers={"Authorization": f"Bearer {spare}"}).status_code == 200
    listed = json.loads(gs("token", "list", "--json").stdout)
    spare_id = listed[-1]["id"]  # the newest
    assert listed[-1]["actor"] == "ivan" and listed[-1]["revoked"] is None
    assert gs("token", "revoke", spare_id).exit_code == 0
    revoked = problem(api.get("/api/tickets/1001", None, headers={"Authorization": f"Bearer {spare}"}), 401)
    assert "revoked" in revoked["detail"]
    assert api.get("/api/tickets/1001", "ivan").status_code == 200  # the other token of ivan still works
    problem(api.get("/events", None), 401)

    api.client.cookies.set("gitstore_token", api.tokens["bob"])
    try:
        shown = api.get("/api/tickets/1001", None)
        assert shown.status_code == 200 and leaks(shown.text) == []
        form = api.post("/api/tickets/1001/state", None, content=b"priority=HIGH",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        problem(form, 403)  # a cookie write must be JSON: no cross-site form can send it
        assert api.post("/api/tickets/1001/state", None, json={"priority": "HIGH"}).status_code == 200
    finally:
        api.client.cookies.clear()


def test_request_bodies_are_json_and_validated(api):
    problem(api.post("/api/tickets/1001/state", content=b"{nope", headers={"Content-Type": "application/json"}), 400)
    problem(api.post("/api/tickets/1001/state", content=b"priority=HIGH", headers={"Content-Type": "text/plain"}), 415)
    bad = problem(api.post("/api/tickets/1001/state", json={"priority": "URGENT", "colour": "red"}), 422)
    assert bad["detail"].startswith("body.") and len(bad["errors"]) == 2
    problem(api.post("/api/tickets/1001/state", json=[1, 2]), 422)
    problem(api.post("/api/tickets/1001/state", content=b"[" * 100_000, headers={"Content-Type": "application/json"}), 400)
    problem(api.post("/api/tickets/1001/state", content=b"x" * (8 * 1024 * 1024 + 1),
                     headers={"Content-Type": "application/json"}), 413)
    problem(api("DELETE", "/api/tickets/1001"), 405)
    problem(api.get("/api/nothing-here"), 404)


def test_an_unexpected_error_is_a_500_problem_without_a_traceback(api, monkeypatch, caplog):
    import gitstore_serve.api_history as history

    def broken(*_args, **_kwargs):
        raise RuntimeError("secret internals at /srv/x.py line 3")

    monkeypatch.setattr(history, "ticket_history", broken)
    body = problem(api.get("/api/tickets/1001/history"), 500)
    assert "secret" not in json.dumps(body) and body["title"] == "Internal server error"
    assert "secret internals" in caplog.text  # the server's log has it
    assert api.get("/api/tickets/1001").status_code == 200  # and the server goes on


# ---------------------------------------------------------------------------- roles
GETS = {
    "/api/tickets": ["", "?since=2000-01-01", "?limit=1"],
    "/api/tickets/{t_no}": ["", "?at={first}"],
    "/api/search": ["?q=driver", "?q=again", "?q=driver%20OR%20printer", "?q=patching", "?q=printer&kind=internal"],
    "/api/tickets/{t_no}/history": [""],
    "/api/tickets/{t_no}/diff": ["", "?from={first}&to=HEAD"],
    "/api/tickets/{t_no}/blame": ["?file=E", "?file=T", "?file=I"],
    "/api/log": ["", "?ticket=1001"],
    "/api/tickets/{t_no}/context": ["?agent=classifier", "?agent=classifier&strategy=important"],
    "/api/tickets/{t_no}/stage": [""],
    "/api/tickets/{t_no}/turns": [""],
    "/api/openapi.json": [""],
}
"""Every GET endpoint (``/events`` has its own test below) → the queries a customer-facing token runs."""


def test_every_get_endpoint_is_in_the_loop():
    assert {e.path for e in ENDPOINTS if e.method == "GET"} == set(GETS) | {"/events"}


def _urls(path: str, values: dict) -> list[str]:
    return [(path + query).replace("{t_no}", "1001").replace("{first}", values["first"]) for query in GETS[path]]


@pytest.mark.parametrize("path", sorted(GETS))
def test_a_customer_facing_token_never_reads_internal_content(api, path):
    for url in _urls(path, api.values):
        shown = api.get(url, "bob")
        assert leaks(shown.text) == [], (url, shown.text[:2000])
        if url.endswith("file=I"):
            problem(shown, 403, "AccessDenied")
        else:
            assert shown.status_code == 200, (url, shown.text)


@pytest.mark.parametrize("path", ["/api/tickets/{t_no}", "/api/search", "/api/tickets/{t_no}/blame",
                                  "/api/tickets/{t_no}/history", "/api/tickets/{t_no}/context"])
def test_an_internal_token_reads_what_bob_cannot(api, path):
    found = [w for url in _urls(path, api.values) for w in leaks(api.get(url, "ivan").text)]
    assert found, path


def test_search_for_an_internal_word_finds_nothing_for_a_customer_facing_token(api):
    found = api.get("/api/search", "bob", params={"q": SECRET}).json()
    assert (found["total"], found["hits"], found["facets"]["kind"], found["role"]) == (0, [], {}, "customer_facing")
    assert api.get("/api/search", "ivan", params={"q": SECRET}).json()["total"] == 2


def test_history_and_log_say_internal_update_to_a_customer_facing_token(api):
    summaries = [e["summary"] for e in api.get("/api/tickets/1001/history", "bob").json()]
    assert summaries.count("internal update") == 2
    assert [e["summary"] for e in api.get("/api/log", "bob").json()].count("internal update") == 2


def test_events_as_each_token_sees_them(live, tokens, desk):  # noqa: F811
    gs, path, values = desk
    internal_only = [c for c in new_commits(path, values["first"])
                     if git(path, "show", "-s", "--format=%(trailers:key=Files,valueonly)", c).strip() == "I_1001.json"]
    assert len(internal_only) == 2
    bob = SSEReader(f"{live.url}/events", tokens["bob"], last_event_id=values["first"])
    ivan = SSEReader(f"{live.url}/events?last_event_id={values['first']}", tokens["ivan"])
    assert (bob.status, ivan.status) == (200, 200)
    assert gs("message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "sentinel",
              actor="lead").exit_code == 0
    everything = new_commits(path, values["first"])
    got_ivan = ivan.take(len(everything))
    assert [e["id"] for e in got_ivan] == everything == [e["data"]["id"] for e in got_ivan]
    assert any("I" in t["files"] for e in got_ivan for t in e["data"]["tickets"])
    visible = [c for c in everything if c not in internal_only]
    got_bob = bob.take(len(visible))
    assert [e["id"] for e in got_bob] == visible  # the sentinel comes right after: no internal-only commit between
    assert all("I" not in t["files"] for e in got_bob for t in e["data"]["tickets"])
    assert leaks("\n".join(bob.raw)) == [] and SECRET in "\n".join(ivan.raw)  # ivan sees the internal commit's summary
    bob.close()
    ivan.close()


def test_events_resume_wake_on_own_writes_and_refuse_an_unknown_id(live, tokens, desk):  # noqa: F811
    _gs, path, _values = desk
    start = head(path)
    reader = SSEReader(f"{live.url}/events", tokens["lead"], last_event_id=start)
    headers = {"Authorization": f"Bearer {tokens['lead']}"}
    with httpx.Client(base_url=live.url, headers=headers, timeout=30) as client:
        sent = client.post("/api/tickets/1001/messages", json={"kind": "external", "sender": "customer", "sender_id": "a",
                                                               "content": "via http"})
        assert sent.status_code == 201, sent.text
        (event,) = reader.take(1)
        assert event["id"] == sent.json()["commit"] and event["data"]["type"] == "ticket.updated"
        assert event["data"]["tickets"] == [{"ticket": "1001", "files": ["E"]}]
        git(path, "commit", "-q", "--allow-empty", "-m", "plain git commit")  # no gitstore process knows of it: polled
        (plain,) = reader.take(1)
        assert plain["id"] == head(path) and plain["data"]["type"] == "store.updated"
        missing = client.get("/events", headers={"Last-Event-ID": "0" * 40})
        problem(missing, 404, "RevisionNotFound")
    reader.close()


def test_a_client_far_behind_catches_up_in_steps_in_order(live, tokens, desk, monkeypatch):  # noqa: F811
    import gitstore_serve.api_events as api_events

    _gs, path, _values = desk
    monkeypatch.setattr(api_events, "BATCH", 2)
    first = git(path, "rev-list", "--max-parents=0", "HEAD").strip()
    everything = new_commits(path, first)
    assert len(everything) > 5
    reader = SSEReader(f"{live.url}/events", tokens["lead"], last_event_id=first)
    assert [e["id"] for e in reader.take(len(everything))] == everything
    reader.close()


def test_an_event_stream_ends_when_its_token_is_revoked(live, desk):  # noqa: F811
    gs, path, _values = desk
    spare = make_token(gs, "ivan")
    reader = SSEReader(f"{live.url}/events", spare, last_event_id=head(path))
    assert reader.status == 200
    assert gs("token", "revoke", json.loads(gs("token", "list", "--json").stdout)[-1]["id"]).exit_code == 0
    assert reader.queue.get(timeout=30) is None  # the stream ended, without another commit
    again = httpx.get(f"{live.url}/events", headers={"Authorization": f"Bearer {spare}"}, timeout=10)
    problem(again, 401)


def test_concurrent_requests_through_one_server_lose_nothing(live, tokens, desk):  # noqa: F811
    _gs, path, _values = desk
    before = commit_count(path)

    def write(n: int) -> int:
        with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {tokens['lead']}"}, timeout=60) as client:
            for k in range(4):
                sent = client.post("/api/tickets/1001/messages", json={
                    "kind": "external", "sender": "cs_agent", "sender_id": f"w{n}", "content": f"writer {n} message {k}"})
                assert sent.status_code == 201, sent.text
                assert client.get("/api/tickets/1001/history", params={"limit": 1}).status_code == 200
        return n

    with ThreadPoolExecutor(4) as pool:
        assert sorted(pool.map(write, range(4))) == [0, 1, 2, 3]
    assert commit_count(path) == before + 16
    with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {tokens['lead']}"}, timeout=30) as client:
        contents = [m["content"] for m in client.get("/api/tickets/1001").json()["external_conversation"]["messages"]]
    assert sorted(c for c in contents if c.startswith("writer")) == sorted(f"writer {n} message {k}" for n in range(4)
                                                                          for k in range(4))
    git(path, "fsck", "--strict")  # raises on a broken repository


# ---------------------------------------------------------------------------- the document, the others' parts
def test_openapi_lists_every_route_with_the_project_models_schemas(api):
    doc = api.get("/api/openapi.json", None).json()
    assert doc["openapi"].startswith("3.1")
    listed = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    assert listed == {(e.method, e.path) for e in ENDPOINTS}
    routed = {(m, r.path) for r in api.client.app.routes for m in (getattr(r, "methods", None) or ()) if m != "HEAD"}
    assert listed <= routed
    schemas = doc["components"]["schemas"]
    assert schemas["ExternalMessageBody"]["properties"]["sender"]["enum"] == ["customer", "cs_agent"]
    assert schemas["InternalMessageBody"]["properties"]["message_type"]["anyOf"][0]["enum"] == [
        "assignment", "update", "escalation", "resolution"]
    messages = doc["paths"]["/api/tickets/{t_no}/messages"]["post"]
    assert "discriminator" in messages["requestBody"]["content"]["application/json"]["schema"]
    assert "412" in messages["responses"] and any(p["name"] == "If-Match" for p in messages["parameters"])
    assert {p["name"] for p in doc["paths"]["/api/tickets"]["get"]["parameters"]} >= {
        "status", "priority", "assignee", "stage", "company", "since", "archived", "cursor", "limit"}
    assert any(p["name"] == "from" for p in doc["paths"]["/api/tickets/{t_no}/diff"]["get"]["parameters"])


def test_the_web_view_routes_are_mounted_and_a_webhook_dispatcher_runs_with_the_app(desk, monkeypatch):  # noqa: F811
    import types

    import gitstore_serve.app as app_module

    _gs, path, _values = desk
    calls: list[str] = []

    class Dispatcher:
        def __init__(self, store_path):
            calls.append(f"made {Path(store_path) == path}")

        def start(self):
            calls.append("start")

        def stop(self):
            calls.append("stop")

    async def hello(request):
        from starlette.responses import PlainTextResponse

        return PlainTextResponse("hello")

    from starlette.routing import Route

    fakes = {"web": types.SimpleNamespace(routes=[Route("/hello", hello)]), "webhooks": types.SimpleNamespace(Dispatcher=Dispatcher)}
    monkeypatch.setattr(app_module, "optional_module", lambda name: fakes.get(name))
    app = create_app(path, fsync=False)
    assert calls == ["made True"]
    with TestClient(app) as client:
        assert calls == ["made True", "start"]
        assert client.get("/hello").text == "hello"
    assert calls == ["made True", "start", "stop"]


def test_token_commands(desk):  # noqa: F811
    gs, path, _values = desk
    created = gs("token", "create", "bob", "--name", "helpdesk", "--json")
    assert created.exit_code == 0, created.output
    record = json.loads(created.stdout)
    assert record["token"].startswith("gst_") and record["actor"] == "bob" and record["revoked"] is None
    stored = path / ".git" / "gitstore" / "tokens.json"
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600
    text = stored.read_text()
    assert record["token"] not in text and record["id"] in text
    assert "tokens.json" not in git(path, "ls-files")
    listed = gs("token", "list", "--json")
    assert record["token"] not in listed.stdout and "sha256" not in listed.stdout
    assert json.loads(listed.stdout)[-1]["id"] == record["id"]
    plain = gs("token", "list")
    assert f"{record['id']}  bob (helpdesk)" in plain.stdout
    revoked = gs("token", "revoke", record["id"])
    assert revoked.exit_code == 0 and "revoked at" in revoked.stdout
    assert json.loads(gs("token", "list", "--json").stdout)[-1]["revoked"] is not None
    unknown = gs("token", "revoke", "tok_nope")
    assert unknown.exit_code == 1 and unknown.output.startswith("Error: no token 'tok_nope'")
    empty = gs("token", "create", "")
    assert empty.exit_code == 1 and empty.output.startswith("Error: the actor must be")
    assert gs("token", "create", "x\ny").exit_code == 1
    before = stored.read_bytes()
    assert json.loads(before)["tokens"][-1]["id"] == record["id"]  # the refused ones wrote nothing


def test_a_url_quoted_ticket_number_is_refused_in_one_line(api):
    problem(api.get("/api/tickets/" + quote("bad ticket", safe="")), 400, "InvalidTicketNumber")
