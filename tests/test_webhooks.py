"""Webhooks (docs/http.md#webhooks): signed deliveries of every commit, in order, at
least once, as the endpoint's actor may see them.

A real receiver runs on 127.0.0.1 (``http.server`` in a thread, a free port) and checks
every signature with its own code below (the Standard Webhooks scheme, written here
apart from ``gitstore_serve.signing``). Retries use a backoff of milliseconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import git, requires_git

SECRET_WORD = "zebraquartz"
GITSTORE = str(Path(sys.executable).parent / "gitstore")
FAST = dict(base=0.01, factor=2.0, cap=0.05, jitter=0.0)


# ---------------------------------------------------------------------- the receiver
def verifies(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """True when one ``v1`` signature of ``webhook-signature`` is the HMAC-SHA256 of
    ``{webhook-id}.{webhook-timestamp}.{body}`` under ``secret`` (whsec_ + base64)."""
    key = base64.b64decode(secret[len("whsec_"):])
    signed = headers["webhook-id"].encode() + b"." + headers["webhook-timestamp"].encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    for entry in headers["webhook-signature"].split(" "):
        version, _, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(expected, value.encode()):
            return True
    return False


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records each request and answers ``answers``
    (a list of statuses consumed one per request, then 200); ``stall`` holds requests."""

    def __init__(self, port: int = 0):
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        self.stall = threading.Event()
        self.stall.set()  # set: answer at once
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                receiver.arrived.set()
                receiver.stall.wait(30)
                status = receiver.answers.pop(0) if receiver.answers else 200
                try:
                    self.send_response(status)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender is gone (killed mid-request)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stall.set()
        self.server.shutdown()
        self.server.server_close()

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _headers, body in self.requests]

    def ids(self) -> list[str]:
        return [headers["webhook-id"] for headers, _body in self.requests]


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.stop()


def wait_for(condition, seconds: float = 60.0) -> None:
    """Wait until ``condition()`` holds (a bound against hanging, not a timing claim)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def add(gs, url: str, *args: str, actor: str = "tester") -> tuple[str, str]:
    """``webhook add URL ARGS --json`` → (endpoint id, secret)."""
    result = gs("webhook", "add", url, *args, "--json", actor=actor)
    assert result.exit_code == 0, result.output
    added = json.loads(result.stdout)
    return added["id"], added["secret"]


def dispatcher(path: Path, **options):
    from gitstore_serve.webhooks import Backoff, Dispatcher

    return Dispatcher(path, fsync=False, backoff=Backoff(**FAST), timeout=10.0, **options)


def chain(path: Path, since: str) -> list[str]:
    """Commit ids after ``since`` on the first-parent chain, oldest first."""
    return git(path, "rev-list", "--first-parent", "--reverse", f"{since}..HEAD").split()


# ---------------------------------------------------------------------- signing
def test_signatures_match_the_specification_and_secrets_are_checked():
    from gitstore_serve.signing import InvalidSecret, new_secret, secret_key, signature, signature_header

    # the test vector of the Standard Webhooks reference libraries
    vector = signature("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}',
                       "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    assert vector == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    one, two = new_secret(), new_secret()
    assert one != two and one.startswith("whsec_") and len(secret_key(one)) == 32
    header = signature_header("ep_1_abc", 1700000000, b"{}", [one, two])
    assert len(header.split(" ")) == 2
    for secret in (one, two):
        assert verifies(secret, {"webhook-id": "ep_1_abc", "webhook-timestamp": "1700000000", "webhook-signature": header}, b"{}")
    assert not verifies(new_secret(), {"webhook-id": "ep_1_abc", "webhook-timestamp": "1700000000",
                                       "webhook-signature": header}, b"{}")
    for bad in ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!", "whsec_" + base64.b64encode(b"short").decode()):
        with pytest.raises(InvalidSecret):
            secret_key(bad)
    with pytest.raises(ValueError):
        signature("a.b", 1, b"", one)  # a '.' in the id would make the signed content ambiguous


# ---------------------------------------------------------------------- delivery
@requires_git
def test_each_commit_is_delivered_once_signed_in_commit_order(gs, receiver):
    from gitstore import Store
    from gitstore_serve.feed import events_since

    gs("ticket", "create", "1001", "--client", "Ana", "--company", "Acme")
    start = git(gs.path, "rev-parse", "HEAD").strip()
    endpoint, secret = add(gs, receiver.url)
    with Store.open(gs.path, fsync=False) as store:
        store.add_message("1001", "E", sender="customer", sender_id="ana", content="printer down", actor="ana")
        store.create_ticket("1002", client_name="Bo", company_name="B", actor="alice")
        store.set_state("1001", {"priority": "HIGH"}, actor="alice")
        expected = [e.to_json() for e in events_since(store, start)]
    with dispatcher(gs.path) as d:
        report = d.drain(10)
    assert report.delivered == 3 and report.waiting == []
    commits = chain(gs.path, start)
    assert receiver.ids() == [f"{endpoint}_{c}" for c in commits]
    for (headers, body), event in zip(receiver.requests, expected):
        assert verifies(secret, headers, body)
        assert headers["content-type"] == "application/json"
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 300
        assert json.loads(body) == {"type": event["type"], "timestamp": event["timestamp"], "data": event}
    assert [b["type"] for b in receiver.bodies()] == ["ticket.updated", "ticket.created", "ticket.updated"]
    with dispatcher(gs.path) as d:  # a restart: the cursor stays, nothing again
        assert d.drain(0).delivered == 0
    assert len(receiver.requests) == 3
    listed = json.loads(gs("webhook", "list", "--json").stdout)
    assert [(e["id"], e["cursor"], e["behind"]) for e in listed] == [(endpoint, commits[-1], 0)]
    assert "whsec_" not in gs("webhook", "list", "--json").stdout + gs("webhook", "list").stdout


@requires_git
def test_a_new_endpoint_starts_at_the_head_unless_from_start(gs, receiver):
    gs("ticket", "create", "1001", "--client", "Ana", "--company", "Acme")
    fresh, _ = add(gs, receiver.url)
    everything, _ = add(gs, receiver.url, "--from-start")
    with dispatcher(gs.path) as d:
        d.drain(10)
    every_commit = git(gs.path, "rev-list", "--first-parent", "--reverse", "HEAD").split()
    assert receiver.ids() == [f"{everything}_{c}" for c in every_commit]
    assert [b["type"] for b in receiver.bodies()] == ["store.updated", "ticket.created"]
    assert not any(i.startswith(fresh) for i in receiver.ids())


@requires_git
def test_events_filter_by_type_and_plain_git_commits_are_noticed(gs, receiver):
    created, _ = add(gs, receiver.url, "--events", "ticket.created")
    plain, _ = add(gs, receiver.url, "--events", "store.updated,config.updated")
    gs("ticket", "create", "1001", "--client", "Ana", "--company", "Acme")
    gs("message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "hello")
    gs("config", "set", "search.default_role", "internal")
    (gs.path / "notes.txt").write_text("a file gitstore does not manage\n")
    git(gs.path, "add", "notes.txt")
    git(gs.path, "commit", "-q", "-m", "plain git commit")
    with dispatcher(gs.path) as d:
        report = d.drain(10)
    got = [(headers["webhook-id"].rsplit("_", 1)[0], json.loads(body)["type"]) for headers, body in receiver.requests]
    assert sorted(got) == sorted([(created, "ticket.created"), (plain, "config.updated"), (plain, "store.updated")])
    assert [b["data"]["summary"] for b in receiver.bodies() if b["type"] == "store.updated"] == ["plain git commit"]
    assert {o.endpoint: o.skipped for o in report.endpoints} == {created: 3, plain: 2}


@requires_git
def test_rotation_signs_with_both_secrets_until_the_old_one_expires(gs, receiver):
    gs("ticket", "create", "1001", "--client", "Ana", "--company", "Acme")
    endpoint, old = add(gs, receiver.url)

    def deliver_one(text: str) -> tuple[dict, bytes]:
        gs("message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", text)
        assert gs("webhook", "deliver").exit_code == 0
        return receiver.requests[-1]

    headers, body = deliver_one("one")
    assert len(headers["webhook-signature"].split(" ")) == 1 and verifies(old, headers, body)
    rotated = gs("webhook", "rotate-secret", endpoint, "--keep-old", "2h", "--json")
    assert rotated.exit_code == 0, rotated.output
    new = json.loads(rotated.stdout)["secret"]
    assert new != old and json.loads(rotated.stdout)["old_expires"]
    headers, body = deliver_one("two")
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert verifies(old, headers, body) and verifies(new, headers, body)
    assert "rotating secret" in gs("webhook", "list").stdout
    assert json.loads(gs("webhook", "list", "--json").stdout)[0]["signing"] == 2
    assert gs("webhook", "rotate-secret", endpoint, "--expire-old").exit_code == 0
    headers, body = deliver_one("three")
    assert len(headers["webhook-signature"].split(" ")) == 1
    assert verifies(new, headers, body) and not verifies(old, headers, body)
    newest = json.loads(gs("webhook", "rotate-secret", endpoint, "--keep-old", "0s", "--json").stdout)["secret"]
    headers, body = deliver_one("four")  # an old secret whose time is up signs no more
    assert verifies(newest, headers, body) and not verifies(new, headers, body)
    assert len(receiver.requests) == 4 and len(set(receiver.ids())) == 4


@requires_git
def test_a_receiver_down_for_a_while_gets_every_event_once_in_order(gs):
    from gitstore import Store

    down = Receiver()
    port, url = down.port, down.url
    gs("ticket", "create", "1001", "--client", "Ana", "--company", "Acme")
    endpoint, secret = add(gs, url)
    start = git(gs.path, "rev-parse", "HEAD").strip()
    down.stop()
    d = dispatcher(gs.path, poll_interval=0.02)
    d.start()
    try:
        with Store.open(gs.path, fsync=False) as store:
            for n in range(50):
                store.add_message("1001", "E", sender="customer", sender_id="ana", content=f"update {n}", actor="ana")
        wait_for(lambda: json.loads(gs("webhook", "list", "--json").stdout)[0]["failures"] >= 3)
        back = Receiver(port)
        try:
            wait_for(lambda: len(back.requests) >= 50)
            wait_for(lambda: json.loads(gs("webhook", "list", "--json").stdout)[0]["behind"] == 0)
        finally:
            d.stop()
            back.stop()
    finally:
        d.stop()
    commits = chain(gs.path, start)
    assert len(commits) == 50
    assert back.ids() == [f"{endpoint}_{c}" for c in commits]  # each once, in commit order
    assert all(verifies(secret, headers, body) for headers, body in back.requests)
    assert [b["data"]["id"] for b in back.bodies()] == commits
    first = [a for a in json.loads(gs("webhook", "deliveries", "-n", "1000", "--json").stdout)
             if a["event"] == commits[0]]
    assert [a["outcome"] for a in first][0] == "delivered" and all(a["outcome"] == "failed" for a in first[1:])
    assert len(first) >= 4 and len({a["webhook_id"] for a in first}) == 1


@requires_git
def test_a_dispatcher_killed_mid_delivery_sends_the_same_webhook_id_again(gs, receiver):
    gs("ticket", "create", "1001", "--client", "Ana", "--company", "Acme")
    endpoint, secret = add(gs, receiver.url)
    start = git(gs.path, "rev-parse", "HEAD").strip()
    for text in ("one", "two", "three"):
        gs("message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", text)
    receiver.stall.clear()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITSTORE_")}
    proc = subprocess.Popen([GITSTORE, "--no-fsync", "-C", str(gs.path), "webhook", "deliver"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert receiver.arrived.wait(60), proc.stderr.read() if proc.poll() is not None else "no request"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    receiver.stall.set()
    attempts = json.loads(gs("webhook", "deliveries", "--json").stdout)
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(1, "interrupted")]
    assert json.loads(gs("webhook", "list", "--json").stdout)[0]["behind"] == 3
    result = gs("webhook", "deliver")
    assert result.exit_code == 0 and "3 delivered" in result.output and "caught up" in result.output, result.output
    commits = chain(gs.path, start)
    ids = [f"{endpoint}_{c}" for c in commits]
    assert receiver.ids() == [ids[0], ids[0], ids[1], ids[2]]
    assert all(verifies(secret, headers, body) for headers, body in receiver.requests)
    assert receiver.requests[0][1] == receiver.requests[1][1]  # the same body again
    attempts = json.loads(gs("webhook", "deliveries", "--json").stdout)
    assert [(a["event"], a["attempt"], a["outcome"]) for a in reversed(attempts)] == [
        (commits[0], 1, "interrupted"), (commits[0], 2, "delivered"), (commits[1], 1, "delivered"), (commits[2], 1, "delivered")]


@requires_git
def test_error_answers_are_retried_in_place_and_410_disables_the_endpoint(gs, receiver):
    gs("ticket", "create", "1001", "--client", "Ana", "--company", "Acme")
    endpoint, _ = add(gs, receiver.url)
    start = git(gs.path, "rev-parse", "HEAD").strip()
    gs("message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "one")
    gs("message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "two")
    receiver.answers = [500, 302, 503]
    with dispatcher(gs.path) as d:
        first = d.run_once()
        assert first.delivered == 0 and first.endpoints[0].error == "HTTP 500 Internal Server Error"
        assert first.endpoints[0].behind == 2 and first.endpoints[0].next_attempt
        assert d.drain(20).waiting == []
    commits = chain(gs.path, start)
    assert receiver.ids() == [f"{endpoint}_{commits[0]}"] * 4 + [f"{endpoint}_{commits[1]}"]
    outcomes = [(a["attempt"], a["outcome"], a["status"]) for a in reversed(json.loads(gs("webhook", "deliveries", "--json").stdout))]
    assert outcomes == [(1, "failed", 500), (2, "failed", 302), (3, "failed", 503), (4, "delivered", 200), (1, "delivered", 200)]

    gs("message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "three")
    receiver.answers = [410]
    assert "disabled" in gs("webhook", "deliver").output
    listed = json.loads(gs("webhook", "list", "--json").stdout)[0]
    assert listed["disabled"] and listed["behind"] == 1
    assert "disabled" in gs("webhook", "deliver").output and len(receiver.requests) == 6  # nothing sent while disabled
    assert gs("webhook", "enable", endpoint).exit_code == 0
    assert "1 delivered" in gs("webhook", "deliver").output
    assert receiver.ids()[-2:] == [f"{endpoint}_{chain(gs.path, start)[-1]}"] * 2


@requires_git
def test_an_endpoint_another_dispatcher_holds_is_passed_over(gs, receiver):
    from gitstore import Store
    from gitstore_serve.deliveries import endpoint_lock
    from gitstore_serve.webhooks import registry

    gs("ticket", "create", "1001", "--client", "Ana", "--company", "Acme")
    endpoint, _ = add(gs, receiver.url)
    gs("message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "one")
    with Store.open(gs.path, fsync=False) as store:
        held = endpoint_lock(registry(store).dir, endpoint)
    held.acquire()
    try:
        with dispatcher(gs.path) as d:
            outcome = d.run_once().endpoints[0]
        assert outcome.busy and outcome.delivered == 0 and receiver.requests == []
    finally:
        held.release()
    with dispatcher(gs.path) as d:
        assert d.run_once().delivered == 1


# ---------------------------------------------------------------------- roles
@pytest.fixture
def desk(gs):
    """bob customer_facing, ivan internal, lead unrestricted; ticket 1001."""
    assert gs("role", "set", "bob", "customer_facing", actor="lead").exit_code == 0
    assert gs("role", "set", "ivan", "internal", actor="lead").exit_code == 0
    gs("ticket", "create", "1001", "--client", "Ana", "--company", "Acme", actor="lead")
    return gs


@requires_git
def test_a_customer_facing_endpoint_never_receives_an_internal_word(desk):
    from gitstore import Store

    gs = desk
    bob_hook, ivan_hook = Receiver(), Receiver()
    try:
        bob, bob_secret = add(gs, bob_hook.url, "--actor", "bob", actor="lead")
        ivan, _ = add(gs, ivan_hook.url, "--actor", "ivan", actor="lead")
        with Store.open(gs.path, fsync=False) as store:
            store.add_message("1001", "E", sender="customer", sender_id="ana", content="printer broken", actor="lead")
            store.update("1001", {"I": {"messages": [{"sender": "technical_member", "sender_id": "dev1",
                                                      "content": f"root cause {SECRET_WORD}"}]}},
                         actor="ivan", summary=f"note on {SECRET_WORD}")
            store.update("1001", {"E": {"messages": [{"sender": "cs_agent", "sender_id": "ivan", "content": "on it"}]},
                                  "I": {"messages": [{"sender": "cs_agent", "sender_id": "ivan",
                                                      "content": f"{SECRET_WORD} again"}]}}, actor="lead")
        assert gs("webhook", "deliver", actor="bob").exit_code == 0
        bob_text = b"".join(body for _h, body in bob_hook.requests).decode()
        assert len(bob_hook.requests) == 2 and SECRET_WORD not in bob_text
        assert all(verifies(bob_secret, h, b) for h, b in bob_hook.requests)
        assert all(t["files"] == ["E"] for b in bob_hook.bodies() for t in b["data"]["tickets"])
        assert len(ivan_hook.requests) == 3
        assert f"note on {SECRET_WORD}" in [b["data"]["summary"] for b in ivan_hook.bodies()]
        assert ["E", "I"] in [t["files"] for b in ivan_hook.bodies() for t in b["data"]["tickets"]]
        for args in (["webhook", "deliveries", "--json"], ["webhook", "deliveries"], ["webhook", "list", "--json"]):
            shown = gs(*args, actor="bob")
            assert shown.exit_code == 0 and SECRET_WORD not in shown.output and ivan in shown.output
        listed = {e["id"]: e["role"] for e in json.loads(gs("webhook", "list", "--json", actor="bob").stdout)}
        assert listed == {bob: "customer_facing", ivan: "internal"}
        # bob may not get internal updates through an endpoint of someone else, nor its secret
        for args in (["webhook", "add", bob_hook.url, "--actor", "ivan"], ["webhook", "add", bob_hook.url, "--actor", "lead"],
                     ["webhook", "rotate-secret", ivan], ["webhook", "remove", ivan]):
            refused = gs(*args, actor="bob")
            assert refused.exit_code == 1 and refused.output.startswith("Error: ") and refused.output.count("\n") == 1, refused.output
            assert "whsec_" not in refused.output
        assert gs("webhook", "add", bob_hook.url, actor="bob").exit_code == 0  # for himself: yes
        assert len(json.loads(gs("webhook", "list", "--json").stdout)) == 3
    finally:
        bob_hook.stop()
        ivan_hook.stop()


# ---------------------------------------------------------------------- the command line
def test_bad_input_is_one_line_and_changes_nothing(gs):
    assert gs("webhook", "list", "--json").stdout.strip() == "[]"
    cases = [
        (["webhook", "add", "ftp://example.org/x"], 1, "http:// or https://"),
        (["webhook", "add", "not a url"], 1, "Error: "),
        (["webhook", "add", "http://127.0.0.1:9/x", "--events", "ticket.deleted"], 1, "unknown event type 'ticket.deleted'"),
        (["webhook", "remove", "ep_nope"], 1, "no webhook endpoint 'ep_nope'"),
        (["webhook", "rotate-secret", "ep_nope"], 1, "no webhook endpoint"),
        (["webhook", "deliveries", "--endpoint", "ep_nope"], 1, "no webhook endpoint"),
        (["webhook", "deliver", "--endpoint", "ep_nope"], 1, "no webhook endpoint"),
        (["webhook", "rotate-secret", "ep_nope", "--keep-old", "soon"], 2, "not a duration"),
    ]
    for args, code, says in cases:
        result = gs(*args)
        assert result.exit_code == code and result.output.startswith("Error: ") and says in result.output, (args, result.output)
        assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert gs("webhook", "list", "--json").stdout.strip() == "[]"


def test_the_registry_and_the_log_are_the_owners_only(gs):
    endpoint, secret = add(gs, "http://127.0.0.1:9/x")
    folder = gs.path / ".git" / "gitstore" / "webhooks"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert secret in (folder / "endpoints.json").read_text()
    gs("webhook", "deliveries")
    for name in ("endpoints.json", "deliveries.sqlite"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    removed = gs("webhook", "remove", endpoint)
    assert removed.exit_code == 0 and endpoint in removed.output
    assert secret not in (folder / "endpoints.json").read_text()


@requires_git
def test_a_fast_forward_onto_another_sites_merge_delivers_the_new_commits_only(gs, receiver):
    gs("ticket", "create", "1001", "--client", "Ana", "--company", "Acme")
    fork = git(gs.path, "rev-parse", "HEAD").strip()
    endpoint, _ = add(gs, receiver.url)
    gs("message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "ours")
    assert "1 delivered" in gs("webhook", "deliver").output
    ours = git(gs.path, "rev-parse", "HEAD").strip()
    # the other site: a commit on the fork point, then a merge of ours as its second parent
    git(gs.path, "checkout", "-q", "-b", "other", fork)
    (gs.path / "notes.txt").write_text("theirs\n")
    git(gs.path, "add", "notes.txt")
    git(gs.path, "commit", "-q", "-m", "their commit")
    theirs = git(gs.path, "rev-parse", "HEAD").strip()
    git(gs.path, "merge", "-q", "--no-edit", "main")
    merge = git(gs.path, "rev-parse", "HEAD").strip()
    git(gs.path, "checkout", "-q", "main")
    git(gs.path, "merge", "-q", "--ff-only", "other")  # our cursor is now off the first-parent chain
    assert gs("webhook", "deliver").exit_code == 0
    assert receiver.ids() == [f"{endpoint}_{c}" for c in (ours, theirs, merge)]
    # a rewritten history: the cursor is gone; said, nothing sent
    git(gs.path, "reset", "-q", "--hard", fork)
    gs("message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "after the rewrite")
    result = gs("webhook", "deliver")
    assert result.exit_code == 0 and "not in the branch's history" in result.output, result.output
    assert len(receiver.requests) == 3
