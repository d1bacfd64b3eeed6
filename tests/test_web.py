"""The web view of ``gitstore serve`` (serve/web.py), driven in process with Starlette's
TestClient the way a browser uses it: log in with a token, read pages, post forms.

The store has roles: ivan is ``admin`` (reads and writes E and I), nina ``internal``
(writes I only), bob ``customer_facing`` (reads E and T only). The word ``zebrafirmware``
is only ever in internal notes: no page bob gets may contain it.
"""

from __future__ import annotations

import re
import warnings

import pytest

pytest.importorskip("starlette")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's TestClient prefers httpx2; httpx works
    from starlette.testclient import TestClient

from gitstore import Store
from gitstore.agents import set_role

SECRET = "zebrafirmware"
"""A word only internal notes contain."""


@pytest.fixture
def site(tmp_path):
    """A store with three tickets, roles and a token per actor; returns (path, tokens)."""
    from gitstore_serve.tokens import create_token

    path = tmp_path / "store"
    with Store.init(path, fsync=False) as store:
        set_role(store, "bob", "customer_facing", actor="lead")
        set_role(store, "ivan", "admin", actor="lead")
        set_role(store, "nina", "internal", actor="lead")
        store.create_ticket("1001", client_name="Ana Ruiz", company_name="Acme", priority="HIGH", actor="lead")
        store.add_message("1001", "E", sender="customer", sender_id="ana", content="The printer is down again", actor="lead")
        store.add_message(
            "1001", "I", sender="technical_member", sender_id="ops", content=f"Known {SECRET} bug, patch tonight",
            actor="lead",
        )
        store.create_ticket("1002", client_name="Ben Okafor", company_name="Globex", actor="lead")
        store.add_message("1002", "E", sender="customer", sender_id="ben", content="Refund for order 77 please", actor="lead")
        store.set_state("1002", {"assigned_member": "ivan", "conversation_status": "escalated"}, actor="lead")
        store.create_ticket("1003", client_name="Cy Tran", company_name="Initech", actor="lead")
        store.set_stage("1003", "classifier", reason="triaged", actor="lead")
        tokens = {name: create_token(store, name).token for name in ("bob", "ivan", "nina")}
    return path, tokens


@pytest.fixture
def client(site):
    from gitstore_serve.app import create_app

    path, _tokens = site
    with TestClient(create_app(path, fsync=False), base_url="http://testserver") as test_client:
        yield test_client


CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def login(client, token: str, next_path: str = "/"):
    page = client.get("/login")
    assert page.status_code == 200
    return client.post("/login", data={"csrf_token": csrf_of(page.text), "token": token, "next": next_path},
                       follow_redirects=False)


def as_user(client, site, name: str):
    answer = login(client, site[1][name])
    assert answer.status_code == 303, answer.text
    return client


def post_form(client, url: str, data: dict, page: str):
    """POST a form of ``page`` (its CSRF token) to ``url`` without following the redirect."""
    token = csrf_of(client.get(page).text)
    return client.post(url, data={"csrf_token": token, **data}, follow_redirects=False)


def head_of(path) -> str:
    with Store.open(path, fsync=False) as store:
        return str(store.head().id)


def listed(html: str) -> list[str]:
    return re.findall(r'<tr class="row[^"]*" data-ticket="(\d+)"', html)


# ---------------------------------------------------------------- login
def test_pages_without_a_token_go_to_login_and_posts_are_refused(client, site):
    path, _ = site
    before = head_of(path)
    for url, target in (("/", "/login?next=%2F"), ("/tickets/1001?at=HEAD", "/login?next=%2Ftickets%2F1001%3Fat%3DHEAD"),
                        ("/search?q=printer", "/login?next=%2Fsearch%3Fq%3Dprinter")):
        answer = client.get(url, follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, target)
    page = client.get("/login")
    refused = client.post("/tickets/1001/reply", data={"csrf_token": csrf_of(page.text), "content": "hi"},
                          follow_redirects=False)
    assert refused.status_code == 401
    assert "Log in first" in refused.text
    client.cookies.set("gitstore_token", "gst_not-a-token")
    assert client.get("/", follow_redirects=False).headers["location"] == "/login?next=%2F"
    assert head_of(path) == before


def test_login_sets_an_httponly_strict_cookie_and_goes_where_it_was_asked(client, site):
    answer = login(client, site[1]["ivan"], "/tickets/1002")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/tickets/1002"
    cookies = {c.split("=", 1)[0]: c for c in answer.headers.get_list("set-cookie")}
    token_cookie = cookies["gitstore_token"]
    assert "HttpOnly" in token_cookie and "samesite=strict" in token_cookie.lower() and "Path=/" in token_cookie
    assert "HttpOnly" in cookies["gitstore_session"]  # a new session (and CSRF token) at login
    page = client.get("/tickets/1002")
    assert page.status_code == 200
    assert "ivan (admin)" in page.text


def test_login_refuses_a_bad_token_a_missing_csrf_token_and_a_foreign_next(client, site):
    page = client.get("/login")
    bad = client.post("/login", data={"csrf_token": csrf_of(page.text), "token": "gst_wrong", "next": "/"},
                      follow_redirects=False)
    assert bad.status_code == 401
    assert "not valid here" in bad.text
    assert "gitstore_token" not in bad.headers.get("set-cookie", "")
    no_csrf = client.post("/login", data={"token": site[1]["ivan"]}, follow_redirects=False)
    assert no_csrf.status_code == 403
    assert "gitstore_token" not in no_csrf.headers.get("set-cookie", "")
    away = login(client, site[1]["ivan"], "//evil.example/steal")
    assert away.headers["location"] == "/"


def test_a_revoked_token_sends_the_browser_back_to_login(client, site):
    from gitstore_serve.tokens import list_tokens, revoke_token

    path, _ = site
    as_user(client, site, "ivan")
    assert client.get("/", follow_redirects=False).status_code == 200
    with Store.open(path, fsync=False) as store:
        ivan = next(r for r in list_tokens(store) if r.actor == "ivan")
        revoke_token(store, ivan.id)
    assert client.get("/", follow_redirects=False).headers["location"] == "/login?next=%2F"


def test_an_unreadable_token_file_is_an_error_page_not_a_traceback(client, site):
    path, _ = site
    as_user(client, site, "ivan")
    (path / ".git" / "gitstore" / "tokens.json").write_text("{not json")
    page = client.get("/", follow_redirects=False)
    assert page.status_code == 500
    assert "tokens.json is unreadable" in page.text and "Traceback" not in page.text


def test_logout_forgets_the_token(client, site):
    as_user(client, site, "ivan")
    assert "Log out" in client.get("/logout").text
    answer = post_form(client, "/logout", {}, "/")
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    assert 'gitstore_token=""' in answer.headers.get("set-cookie", "") or "Max-Age=0" in answer.headers.get("set-cookie", "")
    assert client.get("/", follow_redirects=False).status_code == 303


# ---------------------------------------------------------------- list and search
def test_the_list_shows_every_ticket_newest_first_with_the_filters_of_ticket_list(client, site):
    as_user(client, site, "ivan")
    page = client.get("/")
    assert page.status_code == 200
    assert listed(page.text) == ["1003", "1002", "1001"]
    assert "3 tickets" in page.text
    assert listed(client.get("/?priority=HIGH").text) == ["1001"]
    assert listed(client.get("/?status=escalated").text) == ["1002"]
    assert listed(client.get("/?assignee=IVAN").text) == ["1002"]
    assert listed(client.get("/?stage=classifier").text) == ["1003"]
    assert listed(client.get("/?priority=LOW&stage=trigger").text) == ["1002"]
    bad = client.get("/?status=lost")
    assert bad.status_code == 400
    assert "unknown status &#39;lost&#39;" in bad.text


def test_the_list_shows_an_internal_latest_message_only_to_internal_viewers(client, site):
    as_user(client, site, "ivan")
    page = client.get("/").text
    assert SECRET in page and "Internal note" in page
    client.cookies.clear()
    as_user(client, site, "bob")
    page = client.get("/").text
    assert SECRET not in page
    assert "The printer is down again" in page  # bob's row shows the newest public message
    assert "Internal note" not in page


def test_search_shows_hits_with_marked_snippets_for_the_viewers_role(client, site):
    as_user(client, site, "ivan")
    page = client.get("/search", params={"q": "printer"})
    assert page.status_code == 200
    assert "Ticket 1001" in page.text
    assert "The <mark>printer</mark> is down again" in page.text
    inside = client.get("/search", params={"q": SECRET})
    assert f"<mark>{SECRET}</mark>" in inside.text and "Internal note" in inside.text
    bad = client.get("/search", params={"q": '"unbalanced'})
    assert bad.status_code == 400
    assert "unbalanced" in bad.text
    assert client.get("/search?q=", follow_redirects=False).headers["location"] == "/"
    client.cookies.clear()
    as_user(client, site, "bob")
    hidden = client.get("/search", params={"q": f"{SECRET} OR patch"})
    assert "Nothing found" in hidden.text
    assert "tonight" not in hidden.text and "Internal note" not in hidden.text


# ---------------------------------------------------------------- the ticket page
def test_an_internal_viewer_sees_the_unified_timeline_with_internal_notes_marked(client, site):
    as_user(client, site, "ivan")
    page = client.get("/tickets/1001")
    assert page.status_code == 200
    html = page.text
    for shown in ("Ana Ruiz", "Acme", "HIGH", "trigger", "active", "nobody"):
        assert shown in html
    external = html.index("The printer is down again")
    internal = html.index(SECRET)
    assert external < internal  # the timeline's order
    note = html[html.rindex("<li", 0, internal):internal]
    assert 'class="message message-internal"' in note and "Internal note" in note
    assert 'id="reply-form"' in html and 'id="note-form"' in html and 'id="state-form"' in html
    assert 'data-watch="ticket"' in html and 'data-ticket="1001"' in html
    assert page.headers["content-security-policy"].startswith("default-src 'none'; script-src 'self'")


def test_a_customer_facing_viewer_never_gets_an_internal_word(client, site):
    path, _ = site
    as_user(client, site, "bob")
    page = client.get("/tickets/1001")
    assert page.status_code == 200
    html = page.text
    assert "The printer is down again" in html
    assert SECRET not in html and "tonight" not in html and "ops" not in re.findall(r'class="sender">(\w+)<', html)
    assert "Internal note" not in html and 'id="note-form"' not in html
    assert 'id="reply-form"' in html  # bob writes E
    versions = re.findall(r'href="/tickets/1001\?at=([0-9a-f]{40})"', html)
    assert len(versions) == 3  # created, the public message, and the internal one...
    assert "internal update" in html  # ...whose summary tells bob nothing (docs/data-model.md#roles)
    for commit in versions:
        old = client.get(f"/tickets/1001?at={commit}").text
        assert SECRET not in old and "Internal note" not in old
    refused = post_form(client, "/tickets/1001/note", {"content": f"{SECRET} from bob"}, "/tickets/1001")
    assert refused.status_code == 403
    with Store.open(path, fsync=False) as store:
        assert all("from bob" not in m.content for m in store.read("1001").internal.messages)


def test_an_internal_actor_may_add_notes_but_not_public_replies(client, site):
    path, _ = site
    as_user(client, site, "nina")
    html = client.get("/tickets/1001").text
    assert 'id="note-form"' in html and 'id="reply-form"' not in html
    before = head_of(path)
    refused = post_form(client, "/tickets/1001/reply", {"content": "Hello from nina"}, "/tickets/1001")
    assert refused.status_code == 403
    assert "may not write" in refused.text
    assert head_of(path) == before
    done = post_form(client, "/tickets/1001/note", {"content": "Looking into it", "message_type": "update",
                                                    "sender": "technical_member"}, "/tickets/1001")
    assert done.status_code == 303


def test_the_forms_write_one_commit_each_as_the_logged_in_actor(client, site):
    from gitstore.history.log import ticket_history

    path, _ = site
    as_user(client, site, "ivan")
    reply = post_form(client, "/tickets/1001/reply", {"content": "We are on it.\r\nSecond line"}, "/tickets/1001")
    assert (reply.status_code, reply.headers["location"]) == (303, "/tickets/1001")
    note = post_form(client, "/tickets/1001/note", {"content": "Ask the vendor", "message_type": "escalation"},
                     "/tickets/1001")
    assert note.status_code == 303
    state = post_form(client, "/tickets/1001/state", {"priority": "LOW", "status": "resolved", "assignee": "nina"},
                      "/tickets/1001")
    assert state.status_code == 303
    stage = post_form(client, "/tickets/1001/stage", {"stage": "classifier", "reason": "first look"}, "/tickets/1001")
    assert stage.status_code == 303
    with Store.open(path, fsync=False) as store:
        files = store.read("1001")
        last = files.external.messages[-1]
        assert (last.sender, last.sender_id, last.content) == ("cs_agent", "ivan", "We are on it.\nSecond line")
        inner = files.internal.messages[-1]
        assert (inner.sender_id, inner.content, inner.message_type) == ("ivan", "Ask the vendor", "escalation")
        assert (files.workflow.priority, files.workflow.assigned_member) == ("LOW", "nina")
        assert files.external.conversation_status == "resolved"
        assert files.workflow.workflow_stage == "classifier"
        assert files.workflow.phase_transitions[-1].reason == "first look"
        history = ticket_history(store, "1001", limit=4)
    assert [e.actor for e in history] == ["ivan"] * 4
    assert [e.kinds for e in history] == [("T",), ("E", "T"), ("I",), ("E",)]
    page = client.get("/tickets/1001").text
    assert "We are on it." in page and "Ask the vendor" in page and "nina" in page


def test_a_version_link_shows_the_ticket_as_it_was(client, site):
    as_user(client, site, "ivan")
    post_form(client, "/tickets/1002/reply", {"content": "Refund sent"}, "/tickets/1002")
    html = client.get("/tickets/1002").text
    versions = re.findall(r'href="/tickets/1002\?at=([0-9a-f]{40})"', html)
    assert len(versions) == 4
    old = client.get(f"/tickets/1002?at={versions[1]}").text  # before the reply
    assert "Refund for order 77" in old and "Refund sent" not in old
    assert "as of commit" in old and 'id="reply-form"' not in old and "data-watch" not in old
    missing = client.get("/tickets/1002?at=0123456789abcdef0123456789abcdef01234567")
    assert missing.status_code == 404
    assert client.get("/tickets/4040").status_code == 404


def test_a_refused_write_shows_the_reason_and_keeps_what_was_typed(client, site):
    path, _ = site
    as_user(client, site, "ivan")
    page = client.get("/tickets/1001").text
    version = re.search(r'name="version" value="([0-9a-f]{40})"', page).group(1)
    post_form(client, "/tickets/1001/reply", {"content": "someone else wrote"}, "/tickets/1001")
    before = head_of(path)
    stale = client.post("/tickets/1001/state", data={"csrf_token": csrf_of(page), "version": version, "priority": "LOW"},
                        follow_redirects=False)
    assert stale.status_code == 409
    assert head_of(path) == before
    bad_stage = post_form(client, "/tickets/1001/stage", {"stage": "end", "reason": ""}, "/tickets/1001")
    assert bad_stage.status_code == 422
    empty = post_form(client, "/tickets/1001/reply", {"content": "   "}, "/tickets/1001")
    assert empty.status_code == 422 and "the reply is empty" in empty.text
    kept = post_form(client, "/tickets/1001/stage", {"stage": "action", "reason": "skip ahead"}, "/tickets/1001")
    assert kept.status_code == 422 and "classifier" in kept.text  # InvalidTransition lists the allowed stages
    assert head_of(path) == before


def test_a_post_without_the_sessions_csrf_token_is_refused(client, site):
    path, _ = site
    as_user(client, site, "ivan")
    before = head_of(path)
    for data in ({"content": "forged"}, {"content": "forged", "csrf_token": "0" * 64}):
        answer = client.post("/tickets/1001/reply", data=data, follow_redirects=False)
        assert answer.status_code == 403
        assert "did not come from this site" in answer.text
    token = csrf_of(client.get("/tickets/1001").text)
    client.cookies.set("gitstore_session", "f" * 64)  # another browser session: its token differs
    answer = client.post("/tickets/1001/reply", data={"content": "forged", "csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 403
    assert head_of(path) == before


def test_message_text_is_escaped_everywhere(client, site):
    as_user(client, site, "ivan")
    attack = '<script>alert("owned")</script><img src=x onerror=alert(1)>'
    post_form(client, "/tickets/1002/reply", {"content": attack}, "/tickets/1002")
    for url in ("/tickets/1002", "/", "/search?q=owned"):
        html = client.get(url).text
        assert "<script>alert" not in html and "<img src=x" not in html, url
        assert "&lt;/script&gt;&lt;img src=x" in html, url
    assert "<script" not in client.get("/search", params={"q": "<script>"}).text.replace(
        '<script src="/static/live.js" defer></script>', "")


def test_the_static_files_are_served(client):
    assert "EventSource" in client.get("/static/live.js").text
    assert ".message-internal" in client.get("/static/web.css").text
