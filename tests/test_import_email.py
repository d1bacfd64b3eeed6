"""``gitstore import email``: mbox files and .eml folders.

Always-on tests use ``tests/data/httpd_users_sample.mbox`` (3 whole threads, 12 real
messages of the ASF httpd-users archive) and .eml messages built in the test; the full
ASF archives in ../shared/data are imported by the ``shared_or_skip`` tests. Expected
values are computed from the raw files with the standard library (``mailbox`` and the
``email`` parser with ``policy.default``), independently of the importer.
"""

from __future__ import annotations

import hashlib
import json
import mailbox
import re
from datetime import timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from conftest import SHARED_DATA, TEST_DATA, git, requires_git, shared_or_skip

SAMPLE = TEST_DATA / "httpd_users_sample.mbox"


def raw_messages(path: Path) -> list:
    """The messages of an mbox, parsed by the standard library (policy.default)."""
    box = mailbox.mbox(str(path))
    try:
        return [BytesParser(policy=policy.default).parsebytes(box.get_bytes(k)) for k in box.keys()]
    finally:
        box.close()


def thread_count(messages) -> int:
    """Threads of a message list: connected Message-ID / In-Reply-To / References."""
    parent: dict[str, str] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for msg in messages:
        own = str(msg["Message-ID"]).strip()
        find(own)
        linked = re.findall(r"<[^<>\s]+>", " ".join(str(msg[h] or "") for h in ("In-Reply-To", "References")))
        for other in linked:
            a, b = find(own), find(other)
            if a != b:
                parent[a] = b
    return len({find(str(m["Message-ID"]).strip()) for m in messages})


def store_messages(path) -> dict[str, dict]:
    """message_id → (t_no, message dict) for every external message in the store."""
    from gitstore import Store

    found = {}
    with Store.open(path, fsync=False) as store:
        for t_no in store.list_tickets():
            for message in store.read(t_no).external.messages:
                found[message.message_id] = (t_no, message.model_dump(mode="json"))
    return found


def import_json(gs, *args, exit_code=0):
    result = gs("import", "email", *args, "--json")
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout)


def test_mbox_extract_counts_text_sender_time(gs):
    raw = raw_messages(SAMPLE)
    summary = import_json(gs, str(SAMPLE))
    assert summary["messages_added"] == len(raw) == 12
    assert len(summary["tickets_created"]) == thread_count(raw) == 3
    assert summary["skipped"] == [] and summary["commits"] == 12
    stored = store_messages(gs.path)
    assert len(stored) == 12
    # every message: exact text (policy.default's decoding), time, sender address
    for msg in raw:
        message_id = str(msg["Message-ID"]).strip()[1:-1]
        t_no, message = stored[message_id]
        body = msg.get_body(preferencelist=("plain", "html"))
        assert message["content"] == body.get_content()
        when = parsedate_to_datetime(str(msg["Date"])).astimezone(timezone.utc)
        assert message["timestamp"] == when.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert message["sender_id"] == msg["From"].addresses[0].addr_spec.lower()
    # thread "About ServerLimit": Mahmood asks (customer), Eric answers (agent)
    question = stored["225131299.2033432.1594201321692@mail.yahoo.com"][1]
    assert question["content"].startswith("Hello\nWhen I set ServerLimit to 500, does that include all TCP connection states?")
    assert question["sender"] == "customer" and question["timestamp"] == "2020-07-08T09:42:01Z"
    answer_t_no, answer = next(v for k, v in stored.items() if k.startswith("CALK=YjN6+1RWmnTLjv"))
    assert answer["sender"] == "cs_agent" and answer["timestamp"] == "2020-07-08T10:33:27Z"
    assert answer_t_no == stored["225131299.2033432.1594201321692@mail.yahoo.com"][0]
    # the same customer writing again later in the thread stays the customer
    assert stored["5f0dbc09.1c69fb81.8d5a5.6947@mx.google.com"][1]["sender"] == "customer"
    assert answer["metadata"]["platform_specific"]["subject"] == "Re: [users@httpd] About ServerLimit"


def test_mbox_attachments_and_alternatives_are_recorded_not_inlined(gs):
    raw = raw_messages(SAMPLE)
    import_json(gs, str(SAMPLE))
    stored = store_messages(gs.path)
    checked_attachment = checked_alternative = False
    for msg in raw:
        message = stored[str(msg["Message-ID"]).strip()[1:-1]][1]
        for part in msg.iter_attachments():
            payload = part.get_payload(decode=True)
            record = next(a for a in message["attachments"] if a["content_type"] == part.get_content_type())
            assert record["size"] == len(payload)
            assert record["sha256"] == hashlib.sha256(payload).hexdigest()
            assert payload.decode("latin-1") not in message["content"]
            checked_attachment = True
        if msg.get_content_type() == "multipart/alternative":
            alternatives = message["metadata"]["platform_specific"]["alternatives"]
            assert [a["content_type"] for a in alternatives] == ["text/html"]
            checked_alternative = True
    assert checked_attachment and checked_alternative


@requires_git
def test_reimport_adds_nothing_verify_and_git_log_show_source_times(gs):
    import_json(gs, str(SAMPLE))
    head = git(gs.path, "rev-parse", "HEAD").strip()
    again = import_json(gs, str(SAMPLE))
    assert again["commits"] == 0 and again["messages_added"] == 0 and again["duplicates"] == 12
    assert git(gs.path, "rev-parse", "HEAD").strip() == head
    assert gs("verify").exit_code == 0
    assert git(gs.path, "diff-files", "--name-only") == ""  # stat data staged with each file
    assert git(gs.path, "status", "--porcelain") == ""
    git(gs.path, "fsck", "--strict")
    dates = git(gs.path, "log", "--format=%aI", "-n", "12").split()
    expected = {
        parsedate_to_datetime(str(m["Date"])).astimezone(timezone.utc).isoformat()
        for m in raw_messages(SAMPLE)
    }
    assert set(dates) == expected
    # one commit per message, in source-time order, each named by its message
    subjects = git(gs.path, "log", "--format=%s", "-n", "12").splitlines()
    assert all(s.startswith("Import e-mail ") for s in subjects)


def _eml(path: Path, **fields) -> EmailMessage:
    msg = EmailMessage()
    for key in ("From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References"):
        if fields.get(key):
            msg[key] = fields[key]
    msg.set_content(fields["body"], charset=fields.get("charset", "utf-8"), cte=fields.get("cte"))
    for name, data in fields.get("files", []):
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    path.write_bytes(msg.as_bytes(policy=policy.default))
    return msg


def test_eml_folder_ticket_tag_agent_domain_charset_attachment(gs, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    log = b"\x00\x01printer log\xff" * 50
    _eml(folder / "1.eml", From="Ana Lima <ana@client.example>", To="help@help.example", Subject="Printer down",
         Date="Mon, 02 Mar 2020 09:15:00 +0100", **{"Message-ID": "<m1@client.example>"},
         body="Le café est prêt, mais l'imprimante ne marche pas.\n", charset="iso-8859-1", cte="quoted-printable",
         files=[("printer.log", log)])
    _eml(folder / "2.eml", From="Bo Agent <bo@help.example>", To="ana@client.example", Subject="Re: Printer down [T_1001]",
         Date="Mon, 02 Mar 2020 10:00:00 +0100", **{"Message-ID": "<m2@help.example>", "In-Reply-To": "<m1@client.example>",
                                                   "References": "<m1@client.example>"},
         body="We are on it.\n")
    _eml(folder / "3.eml", From="ana@client.example", To="help@help.example", Subject="[T_1001] still broken",
         Date="Tue, 03 Mar 2020 08:00:00 +0000", **{"Message-ID": "<m3@client.example>"}, body="Still broken today.\n")
    summary = import_json(gs, str(folder), "--agent-domain", "help.example")
    assert summary["tickets_created"] == ["1001"] and summary["messages_added"] == 3
    from gitstore import Store

    with Store.open(gs.path, fsync=False) as store:
        files = store.read("1001")
    messages = {m.message_id: m for m in files.external.messages}
    assert messages["m1@client.example"].content == "Le café est prêt, mais l'imprimante ne marche pas.\n"
    assert messages["m1@client.example"].timestamp.isoformat() == "2020-03-02T08:15:00+00:00"
    assert [m.sender for m in files.external.messages] == ["customer", "cs_agent", "customer"]
    attachment = messages["m1@client.example"].attachments[0]
    assert (attachment.name, attachment.size, attachment.sha256) == ("printer.log", len(log), hashlib.sha256(log).hexdigest())
    assert files.external.participants.cs_agents == ["bo@help.example"]
    assert files.workflow.client_name == "Ana Lima" and files.workflow.company_name == "client.example"
    assert files.external.platform == "email"


def test_oversized_message_is_skipped_with_reason(gs, tmp_path):
    folder = tmp_path / "big"
    folder.mkdir()
    _eml(folder / "a.eml", From="a@x.example", Subject="ok", Date="Mon, 02 Mar 2020 09:00:00 +0000",
         **{"Message-ID": "<ok@x>"}, body="fine\n")
    _eml(folder / "b.eml", From="a@x.example", Subject="Re: ok", Date="Mon, 02 Mar 2020 09:05:00 +0000",
         **{"Message-ID": "<big@x>", "In-Reply-To": "<ok@x>"}, body="x" * (300 * 1024) + "\n")
    result = gs("import", "email", str(folder))
    assert result.exit_code == 3, result.output  # 3: records were skipped
    assert "1 messages added" in result.stdout and "1 skipped" in result.stdout
    assert "b.eml (big@x)" in result.stderr and "over the limit" in result.stderr


def test_truncated_mbox_imports_what_precedes_and_exits_1(gs, tmp_path):
    data = SAMPLE.read_bytes()
    cut = data.rfind(b"\nFrom ") + 300  # inside the headers of the last message
    broken = tmp_path / "broken.mbox"
    broken.write_bytes(data[:cut])
    line = data[:cut].count(b"\n", 0, data.rfind(b"\nFrom ") + 1) + 1
    result = gs("import", "email", str(broken))
    assert result.exit_code == 1
    assert f"broken.mbox: line {line} (message 12)" in result.stderr and "truncated" in result.stderr
    assert len(store_messages(gs.path)) == 11
    assert gs("verify").exit_code == 0


def test_not_an_mbox_is_reported_at_line_1(gs, tmp_path):
    bogus = tmp_path / "notes.mbox"
    bogus.write_text("just some notes\nFrom here on\n")
    result = gs("import", "email", str(bogus))
    assert result.exit_code == 1
    assert "notes.mbox: line 1: not an mbox file" in result.stderr


def test_bulk_writer_notifies_subscribers_once_per_commit(store):
    from gitstore.importers.base import run_import
    from gitstore.importers.email import IMPORTER

    seen = []
    store.subscribe(seen.append)
    summary = run_import(store, IMPORTER, SAMPLE, actor="importer", progress=False)
    assert len(seen) == summary.commits == 12
    assert [e.commit for e in seen][-1] == str(store.head().id)
    assert all("E" in e.kinds and e.added["E"] for e in seen)


def test_search_finds_an_imported_phrase(gs):
    import_json(gs, str(SAMPLE))
    result = gs("search", '"ServerLimit to 500"', "--json")
    assert result.exit_code == 0, result.output
    assert "225131299.2033432.1594201321692@mail.yahoo.com" in result.stdout


def test_full_asf_archives(gs, tmp_path):
    folder = shared_or_skip("asf_mailing_lists_mbox")
    raw = []
    for name in ("httpd-users-2020-07.dev.mbox", "maven-dev-2017-11-mboxvm.mbox"):
        raw += raw_messages(folder / name)
        import_json(gs, str(folder / name))
    unique = {str(m["Message-ID"]).strip() for m in raw}
    stored = store_messages(gs.path)
    assert len(stored) == len(unique) == 371
    from gitstore import Store

    with Store.open(gs.path, fsync=False) as store:
        assert len(store.list_tickets()) == thread_count(raw)
    # a GitBox message without Date is timed by its topmost Received header
    gitbox = stored["150951629010.5809.564130352388296600.gitbox@gitbox.apache.org"][1]
    assert gitbox["timestamp"] == "2017-11-01T06:04:51Z"
    assert gitbox["metadata"]["platform_specific"]["time_source"] == "Received"
    again = import_json(gs, str(folder / "maven-dev-2017-11-mboxvm.mbox"))
    assert again["commits"] == 0 and again["duplicates"] == 317
    assert gs("verify").exit_code == 0


def test_newer_export_adds_only_what_is_new(gs, tmp_path):
    data = SAMPLE.read_bytes()
    starts = [i for i in range(len(data)) if data.startswith(b"From ", i) and (i == 0 or data[i - 1 : i] == b"\n")]
    older = tmp_path / "older.mbox"
    older.write_bytes(data[: starts[6]])  # the first 6 messages
    first = import_json(gs, str(older))
    assert first["messages_added"] == 6
    newer = import_json(gs, str(SAMPLE))
    assert newer["messages_added"] == 6 and newer["duplicates"] == 6
    assert newer["tickets_created"] and set(first["tickets_created"]) & set(newer["tickets_updated"])
    assert len(store_messages(gs.path)) == 12


def test_mbox_split_and_header_reading_match_the_standard_library():
    from gitstore.importers.email import read_headers, split_mbox

    paths = [SAMPLE]  # plus the full archives when ../shared is present
    paths += sorted((SHARED_DATA / "asf_mailing_lists_mbox").glob("*.mbox"))
    for path in paths:
        box = mailbox.mbox(str(path))
        reference = [box.get_bytes(k) for k in box.keys()]
        box.close()
        mine = [raw for _, raw in split_mbox(path.read_bytes())]
        assert mine == reference
        for raw in reference:
            msg = BytesParser(policy=policy.default).parsebytes(raw)
            mail = read_headers(raw, "x")
            if msg["Message-ID"] is None:  # one maven message has none: a content hash stands in
                assert mail.msgid.startswith("sha256:")
            else:
                assert mail.msgid == str(msg["Message-ID"]).strip()[1:-1]
            assert mail.subject == str(msg["Subject"] or "")
            assert mail.address == msg["From"].addresses[0].addr_spec.lower()
            assert mail.references == re.findall(r"<([^<>\s]+)>", str(msg["References"] or ""))


def test_archived_ticket_refuses_imported_messages(gs, tmp_path):
    data = SAMPLE.read_bytes()
    starts = [i for i in range(len(data)) if data.startswith(b"From ", i) and (i == 0 or data[i - 1 : i] == b"\n")]
    older = tmp_path / "older.mbox"
    older.write_bytes(data[: starts[1]])  # the first message of the SSL thread
    t_no = import_json(gs, str(older))["tickets_created"][0]
    archived = gs("archive", t_no)
    assert archived.exit_code == 0, archived.output
    summary = import_json(gs, str(SAMPLE), exit_code=3)
    refused = [record["reason"] for record in summary["skipped"] if "archived" in record["reason"]]
    assert len(refused) == 3 and summary["messages_added"] == 8  # the other two threads


@pytest.mark.parametrize("name", ["Ana", "\x00stamp\x00", "\x00messages\x00"])
def test_bulk_frames_render_the_canonical_bytes(name):
    from datetime import datetime

    from gitstore.tickets import layout
    from gitstore.tickets.files import new_ticket
    from gitstore.tickets.update import Frame, render_item

    when = datetime(2020, 7, 8, 9, 42, 1, tzinfo=timezone.utc)
    files = new_ticket("1001", client_name=name, company_name=name, when=when)
    message = {"message_id": "m1", "timestamp": "2020-07-08T09:42:01Z", "sender": "customer",
               "sender_id": "ana", "content": "über\n\"quoted\"\t\x01", "metadata": {"platform_specific": {"b": 1, "a": [1.5]}}}
    full = layout.validate_data("E", {**files.external.model_dump(mode="json"), "messages": [message, {**message, "message_id": "m2"}]}, "E")
    items = [render_item(m.model_dump(mode="json")) for m in full.messages]
    frame = Frame(full.model_copy(update={"messages": []}), "last_updated", ("messages",))
    assert frame.render(when, {"messages": items}) == layout.dumps(full)
    assert (frame.pieces is None) == (name != "Ana")


@requires_git
def test_reimport_ledger_stays_right_when_tickets_change_between_imports(gs, tmp_path):
    data = SAMPLE.read_bytes()
    starts = [i for i in range(len(data)) if data.startswith(b"From ", i) and (i == 0 or data[i - 1 : i] == b"\n")]
    older = tmp_path / "older.mbox"
    older.write_bytes(data[: starts[6]])
    t_no = import_json(gs, str(older))["tickets_created"][0]
    ledger = gs.path / ".git" / "gitstore" / "import-ids.json"
    assert ledger.is_file()  # derived data: never committed
    added = gs("message", "add", t_no, "--external", "--sender", "cs_agent", "--sender-id", "desk", "Noted.")
    assert added.exit_code == 0, added.output
    newer = import_json(gs, str(SAMPLE))  # HEAD moved and the ticket changed since the ledger
    assert newer["messages_added"] == 6 and newer["duplicates"] == 6
    assert len(store_messages(gs.path)) == 13
    ledger.unlink()
    again = import_json(gs, str(SAMPLE))
    assert again["commits"] == 0 and again["duplicates"] == 12
    assert "import-ids.json" not in git(gs.path, "ls-files")


def test_message_without_sender_is_skipped_and_the_rest_imported(gs, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    _eml(folder / "1.eml", From="a@x.example", Subject="ok", Date="Mon, 02 Mar 2020 09:00:00 +0000",
         **{"Message-ID": "<ok@x>"}, body="fine\n")
    (folder / "2.eml").write_bytes(
        b"Subject: no sender\nMessage-ID: <anon@x>\nDate: Mon, 02 Mar 2020 09:01:00 +0000\n\nbody\n"
    )
    _eml(folder / "3.eml", From="b@x.example", Subject="later", Date="Mon, 02 Mar 2020 09:02:00 +0000",
         **{"Message-ID": "<later@x>"}, body="after the odd one\n")
    result = gs("import", "email", str(folder), "--json")
    assert result.exit_code == 3, result.output
    skipped = json.loads(result.stdout)["skipped"]
    assert skipped == [{"position": str(folder / "2.eml"), "id": "anon@x", "reason": "malformed message: no From header"}]
    assert sorted(store_messages(gs.path)) == ["later@x", "ok@x"]


def test_truncated_eml_file_stops_with_its_file_name(gs, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    _eml(folder / "1.eml", From="a@x.example", Subject="ok", Date="Mon, 02 Mar 2020 09:00:00 +0000",
         **{"Message-ID": "<ok@x>"}, body="fine\n")
    (folder / "2.eml").write_bytes(b"From: a@x.example\nSubject: cut")
    result = gs("import", "email", str(folder))
    assert result.exit_code == 1
    assert "2.eml: truncated message" in result.stderr
    assert list(store_messages(gs.path)) == ["ok@x"]
