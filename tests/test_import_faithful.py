"""Every real export in, faithfully (docs/importers.md "What an import guarantees").

For every data set of ../shared/data (and always for the small copy of it in
tests/data), this test reads the source with its own parser — the standard library
(``json``, ``mailbox``, ``email``) and the data sets' documented rules, never the
importers —, imports it through the CLI and checks:

- every source message is stored verbatim, at its source time (the same instant),
  with its sender, none twice, in one ticket per conversation / thread / card /
  channel as the source groups them; attachments are recorded;
- within a thread no reply is stored before the message it answers;
- a re-import adds nothing; ``gitstore verify`` and ``git fsck --strict`` are clean;
- ten words that occur once in the source — one inside markup, and CJK words where
  the set has them — are found by ``gitstore search`` in the right ticket.

"Source time" is the data set's own: a tweet's ``datetime``; for the resolving reply,
which has none, the time its tweet id encodes (Twitter's id layout); an e-mail's
``Date`` (else its topmost ``Received``); a Slack ``ts``; a Trello action's ``date``
(a card's first description: its creation; an attachment: its ``date``); SGD and ABCD
have no times and the documented synthetic clock is the expectation.

Each run prints one row of the table ``set | source messages | imported verbatim |
time-correct | skipped with reasons | rare words found`` (``pytest -s`` shows it).
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import mailbox
import re
import subprocess
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Callable

import pytest
from conftest import SHARED_DATA, TEST_DATA, git, read_all, requires_git

UTC = timezone.utc


@dataclass
class Msg:
    """One source message as the source itself says it."""

    group: str
    key: str
    content: str
    time: datetime
    sender: str
    parent: str | None = None
    attachments: tuple[str, ...] = ()


@dataclass
class Source:
    messages: list[Msg] = field(default_factory=list)
    groups: set[str] = field(default_factory=set)
    texts: list[tuple[str, str]] = field(default_factory=list)
    """(group, text) of everything searchable the source holds (messages, names)."""
    decisions: list[tuple[str, str]] = field(default_factory=list)
    """(group, text) of agent actions that must be stored verbatim in T (ABCD)."""
    names: dict[str, str] = field(default_factory=dict)
    """group → the name its ticket carries as ``client_name`` (a Trello card's name)."""

    def add(self, msg: Msg) -> None:
        self.messages.append(msg)
        self.groups.add(msg.group)
        self.texts.append((msg.group, msg.content))


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# ---------------------------------------------------------------- source readers
def twitter_source(paths: list[Path]) -> Source:
    """dialogContent turns, then agentURL; the reply's time from its tweet id:
    milliseconds since 2010-11-04T01:42:54.657Z above the lowest 22 bits."""
    src = Source()
    for path in paths:
        for conv in json.loads(path.read_text(encoding="utf-8")):
            header = conv["dialogHeader"]
            group = header["sessionID"]
            parent = None
            for turn in conv["dialogContent"]:
                speaker = next(k for k in turn if k not in ("datetime", "message", "tweet_ID"))
                key = f"{group}/{turn['tweet_ID']}"
                src.add(Msg(group, key, turn["message"], iso(turn["datetime"]), turn[speaker], parent))
                parent = key
            reply = conv["agentURL"]
            when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=(int(reply["tweet_ID"]) >> 22) + 1288834974657)
            src.add(Msg(group, f"{group}/{reply['tweet_ID']}", reply["url_utterance"], when, header["company"], parent))
    return src


def email_source(paths: list[Path]) -> Source:
    """Threads by Message-ID / In-Reply-To / References; body = ``policy.default``'s
    preferred text part; time = ``Date`` (else the topmost ``Received``), in UTC."""
    parsed = []
    for path in paths:
        box = mailbox.mbox(str(path))
        try:
            for key in box.keys():
                raw = box.get_bytes(key)
                parsed.append((raw, BytesParser(policy=policy.default).parsebytes(raw)))
        finally:
            box.close()
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    def own_id(raw: bytes, msg) -> str:
        return str(msg["Message-ID"]).strip() if msg["Message-ID"] else "sha256:" + hashlib.sha256(raw).hexdigest()

    for raw, msg in parsed:
        me = find(own_id(raw, msg))
        for other in re.findall(r"<[^<>\s]+>", " ".join(str(msg[h] or "") for h in ("In-Reply-To", "References"))):
            a, b = find(me), find(other)
            if a != b:
                parent[a] = b
    src = Source()
    for raw, msg in parsed:
        mid = own_id(raw, msg)
        if msg["Date"] is not None:
            when = email.utils.parsedate_to_datetime(str(msg["Date"]))
        else:
            when = email.utils.parsedate_to_datetime(" ".join(str(msg.get_all("Received")[0]).rsplit(";", 1)[-1].split()))
        when = (when.replace(tzinfo=UTC) if when.tzinfo is None else when).astimezone(UTC)
        body = msg.get_body(preferencelist=("plain", "html"))
        try:
            content = body.get_content() if body is not None else ""
        except (LookupError, UnicodeDecodeError):
            content = body.get_payload(decode=True).decode("utf-8", "replace")
        if body is not None and body.get_param("charset") is None and "\ufffd" in content:
            try:  # 8-bit bytes in a part that declares no charset: what the sender meant is UTF-8
                content = body.get_payload(decode=True).decode("utf-8")
            except UnicodeDecodeError:
                pass
        replied = re.findall(r"<[^<>\s]+>", str(msg["In-Reply-To"] or ""))
        names = tuple(
            part.get_filename() for part in msg.walk()
            if not part.is_multipart() and part.get_content_disposition() == "attachment" and part.get_filename()
        )
        src.add(Msg(find(mid), mid, content, when, msg["From"].addresses[0].addr_spec.lower(), replied[0] if replied else None, names))
    keys = {m.key for m in src.messages}
    for m in src.messages:
        if m.parent not in keys:
            m.parent = None
    return src


def sgd_source(paths: list[Path]) -> Source:
    """Dialogue ``n_m`` starts 2019-01-01T00:00:00Z + ((n-1)·100000 + m) hours; turn k
    is k·30 s later (the importer's documented synthetic clock)."""
    src = Source()
    start = datetime(2019, 1, 1, tzinfo=UTC)
    for path in paths:
        for dialogue in json.loads(path.read_text(encoding="utf-8")):
            group = dialogue["dialogue_id"]
            n, m = (int(x) for x in group.split("_"))
            begin = start + timedelta(hours=(n - 1) * 100000 + m)
            parent = None
            for k, turn in enumerate(dialogue["turns"]):
                key = f"{group}/{k}"
                src.add(Msg(group, key, turn["utterance"], begin + timedelta(seconds=30 * k), turn["speaker"].lower(), parent))
                parent = key
    return src


def abcd_source(paths: list[Path]) -> Source:
    """Conversation n starts 2020-01-01T00:00:00Z + n hours, turn k k·30 s later;
    ``action`` turns are the agent's actions (kept in T, not as messages)."""
    src = Source()
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for path in paths:
        for convo in json.loads(path.read_text(encoding="utf-8")):
            group = str(convo["convo_id"])
            user = convo["scenario"]["personal"]["username"]
            begin = start + timedelta(hours=convo["convo_id"])
            parent = None
            for k, (speaker, text) in enumerate(convo["original"]):
                if speaker == "action":
                    src.decisions.append((group, text))
                    continue
                key = f"{group}/{k}"
                src.add(Msg(group, key, text, begin + timedelta(seconds=30 * k), user if speaker == "customer" else "agent", parent))
                parent = key
    return src


def slack_source(paths: list[Path]) -> Source:
    """Every message object of every channel folder; author ``user``, for a
    ``file_comment`` the comment's user; files shared by ``file_share`` messages."""
    src = Source()
    for folder in paths:
        users = {}
        if (folder / "users.json").exists():
            users = {u["id"]: u["name"] for u in json.loads((folder / "users.json").read_text(encoding="utf-8"))}
        for channel in json.loads((folder / "channels.json").read_text(encoding="utf-8")):
            for day in sorted((folder / channel["name"]).glob("*.json")):
                for message in json.loads(day.read_text(encoding="utf-8")):
                    author = message.get("user") or (message.get("comment") or {}).get("user") or message.get("username") or message.get("bot_id")
                    seconds, _, micro = message["ts"].partition(".")
                    when = datetime.fromtimestamp(int(seconds), UTC) + timedelta(microseconds=int(micro.ljust(6, "0")[:6]))
                    files = []
                    if message.get("subtype") != "file_comment":
                        files = [f.get("name") for f in ([message["file"]] if "file" in message else []) + message.get("files", [])]
                    thread = message.get("thread_ts")
                    src.add(Msg(
                        channel["name"], f"{channel['id']}/{message['ts']}", message.get("text", ""), when,
                        users.get(author, author), f"{channel['id']}/{thread}" if thread and thread != message["ts"] else None,
                        tuple(files),
                    ))
    return src


def trello_source(paths: list[Path]) -> Source:
    """Per card: comments; each description version with the action that wrote it
    (a description no action records, or the one the first recorded edit replaced,
    at the card's creation, by its creator); attachments (action, else the card's
    ``attachments``)."""
    src = Source()
    for path in paths:
        board = json.loads(path.read_text(encoding="utf-8"))
        members = {m["id"]: m.get("username") for m in board["members"]}
        by_card = defaultdict(list)
        for action in board["actions"]:
            card = (action.get("data") or {}).get("card") or {}
            by_card[card.get("id")].append(action)
        for card in board["cards"]:
            group = f"{board['shortLink']}/{card['idShort']}"
            src.groups.add(group)
            src.texts.append((group, card["name"]))
            src.names[group] = card["name"]
            actions = sorted(by_card[card["id"]], key=lambda a: a["date"])
            created = next((a for a in actions if a["type"] in ("createCard", "convertToCardFromCheckItem", "copyCard", "emailCard")), None)
            if created is not None:
                birth, creator = iso(created["date"]), created["memberCreator"]["username"]
            else:
                birth, creator = datetime.fromtimestamp(int(card["id"][:8], 16), UTC), "trello"
                if actions and iso(actions[0]["date"]) < birth:
                    birth = iso(actions[0]["date"])
            edits = [a for a in actions if a["type"] == "updateCard" and "desc" in a["data"].get("old", {})]
            first = edits[0]["data"]["old"]["desc"] if edits else card["desc"]
            previous = None
            if first:
                previous = f"{card['id']}:desc"
                src.add(Msg(group, previous, first, birth, creator))
            for a in edits:
                text = a["data"]["card"]["desc"]
                if text:
                    src.add(Msg(group, a["id"], text, iso(a["date"]), a["memberCreator"]["username"]))
            covered = set()
            for a in actions:
                who = (a.get("memberCreator") or {}).get("username") or members.get(a["idMemberCreator"])
                if a["type"] == "commentCard":
                    src.add(Msg(group, a["id"], a["data"]["text"], iso(a["date"]), who))
                elif a["type"] == "addAttachmentToCard":
                    covered.add(a["data"]["attachment"]["id"])
                    src.add(Msg(group, a["id"], "", iso(a["date"]), who, attachments=(a["data"]["attachment"]["name"],)))
            for att in card.get("attachments") or []:
                if att["id"] not in covered:
                    src.add(Msg(group, att["id"], "", iso(att["date"]), members.get(att["idMember"], "trello"), attachments=(att["name"],)))
    return src


# ---------------------------------------------------------------- the sets
@dataclass
class DataSet:
    name: str
    kind: str
    small: list[Path]
    full: list[str]
    reader: Callable[[list[Path]], Source]
    options: list[str] = field(default_factory=list)
    folder_source: bool = False


SETS = [
    DataSet("twitter_customer_care_ibm", "twitter-care", [TEST_DATA / "twitter_care_sample.json"],
            ["twitter_customer_care_ibm/dev.json"], twitter_source),
    DataSet("asf_mailing_lists_mbox", "email", [TEST_DATA / "httpd_users_sample.mbox"],
            ["asf_mailing_lists_mbox/httpd-users-2020-07.dev.mbox", "asf_mailing_lists_mbox/maven-dev-2017-11-mboxvm.mbox"],
            email_source),
    DataSet("sgd_schema_guided_dialogue", "sgd", [TEST_DATA / "sgd_sample" / "dialogues_001.json"],
            ["sgd_schema_guided_dialogue/dev/dialogues_001.json"], sgd_source),
    DataSet("slack_export_houstondatavis", "slack", [TEST_DATA / "slack_sample"],
            ["slack_export_houstondatavis"], slack_source, ["--channel-map", "*=SLACK-{channel}"], True),
    DataSet("trello_clipkit", "trello", [TEST_DATA / "trello_clipkit_sample.json"],
            ["trello_clipkit/board_dev.json"], trello_source),
    DataSet("trello_gocd_test_drive", "trello", [TEST_DATA / "trello_sample.json", TEST_DATA / "trello_variants.json"],
            ["trello_gocd_test_drive/board_dev.json"], trello_source),
    DataSet("abcd_sample", "abcd", [TEST_DATA / "abcd_sample.json"], ["abcd_sample/abcd_sample_dev.json"], abcd_source),
]

_LETTERS = re.compile(r"(?<![^\W_])[^\W\d_]{4,}(?![^\W_])")
_MARKUP = r"[*_~`]{}[*_~`]"
_PUNCTUATED = r"(?<![^\W_]){0}[.,;:!?)\"'\]]"
_CJK_RUN = re.compile(r"[\u3041-\u309f\u30a1-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff]{2,}")


def rare_words(src: Source) -> list[tuple[str, str, str]]:
    """Ten ``(word, group, why)`` that occur once in the source: one inside markup
    when the source has markup, up to three CJK words, the rest plain, chosen by hash."""
    from whoosh.analysis import STOP_WORDS

    counts: Counter = Counter()
    where: dict[str, str] = {}
    for group, text in src.texts:
        for word in _LETTERS.findall(text.lower()):
            counts[word] += 1
            where[word] = group
    once = sorted((w for w, n in counts.items() if n == 1 and w not in STOP_WORDS), key=lambda w: hashlib.sha1(w.encode()).hexdigest())
    picked: list[tuple[str, str, str]] = []
    texts = [t.lower() for _g, t in src.texts]
    markup = next((w for w in once if any(re.search(_MARKUP.format(re.escape(w)), t) for t in texts)), None)
    if markup is None:  # no */_/~/` markup around a rare word: trailing punctuation, then
        markup = next((w for w in once if any(re.search(_PUNCTUATED.format(re.escape(w)), t) for t in texts)), None)
    if markup:
        picked.append((markup, where[markup], "markup"))
    cjk: Counter = Counter()
    cjk_where: dict[str, str] = {}
    joined = "\n".join(t for _g, t in src.texts)
    for group, text in src.texts:
        for run in _CJK_RUN.findall(text):
            for size in (2, 3, 4):
                for i in range(len(run) - size + 1):
                    cjk[run[i : i + size]] += 1
                    cjk_where[run[i : i + size]] = group
    for size in (2, 3, 4):
        found = sorted((w for w, n in cjk.items() if n == 1 and len(w) == size and joined.count(w) == 1),
                       key=lambda w: hashlib.sha1(w.encode()).hexdigest())
        if found:
            picked.append((found[0], cjk_where[found[0]], "cjk"))
    for word in once:
        if len(picked) == 10:
            break
        if word != markup:
            picked.append((word, where[word], "word"))
    return picked


# ---------------------------------------------------------------- the check
def stored_messages(path: Path) -> dict[str, list[dict]]:
    """T_NO → its E and I messages as JSON."""
    out = {}
    for t_no, files in read_all(path).items():
        out[t_no] = [m.model_dump(mode="json") for m in files.external.messages + files.internal.messages]
    return out


def assign(src: Source, stored: dict[str, list[dict]], clients: dict[str, str]) -> dict[str, str]:
    """Source group → the ticket holding its messages (by content; one ticket per
    group); a group without messages → the ticket whose ``client_name`` is its name."""
    holders: dict[str, Counter] = defaultdict(Counter)
    exact: dict[tuple, Counter] = defaultdict(Counter)
    for t_no, messages in stored.items():
        for m in messages:
            holders[m["content"]][t_no] += 1
            exact[(m["content"], iso(m["timestamp"]), m["sender_id"])][t_no] += 1
    scores = {g: Counter() for g in src.groups}
    for m in src.messages:  # the same text at the same time from the same sender counts most
        for t_no in holders.get(m.content, ()):
            scores[m.group][t_no] += 1
        for t_no in exact.get((m.content, m.time, m.sender), ()):
            scores[m.group][t_no] += 3
    taken, out = set(), {}
    for group in sorted(scores, key=lambda g: -max(scores[g].values(), default=0)):
        best = [t for t, _n in scores[group].most_common() if t not in taken]
        if best:
            out[group] = best[0]
            taken.add(best[0])
    for group, name in src.names.items():
        if group not in out:
            free = [t for t, client in sorted(clients.items()) if client == name and t not in taken]
            if free:
                out[group] = free[0]
                taken.add(free[0])
    return out


def check(gs, spec: DataSet, paths: list[Path]) -> dict:
    src = spec.reader(paths)
    summaries = []
    for path in paths:
        result = gs("import", spec.kind, str(path), *spec.options, "--json")
        assert result.exit_code == 0, result.output  # nothing skipped in these sets
        summaries.append(json.loads(result.stdout))
    stored = stored_messages(gs.path)
    tickets = assign(src, stored, {t: f.workflow.client_name for t, f in read_all(gs.path).items()})
    # one ticket per source group, and no others
    assert len(stored) == len(src.groups), (len(stored), len(src.groups))
    assert len(set(tickets.values())) == len(tickets) == len(src.groups)
    # every message verbatim, at its time, from its sender, none twice
    pools: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for t_no, messages in stored.items():
        for m in messages:
            pools[(t_no, m["content"])].append(m)
    verbatim = timely = sender_ok = attached = 0
    placed: dict[str, dict] = {}
    for msg in src.messages:
        pool = pools.get((tickets.get(msg.group, ""), msg.content), [])
        if not pool:
            continue
        best = next((m for m in pool if iso(m["timestamp"]) == msg.time and m["sender_id"] == msg.sender
                     and {a["name"] for a in m["attachments"]} >= set(msg.attachments)), None)
        best = best or next((m for m in pool if iso(m["timestamp"]) == msg.time), pool[0])
        pool.remove(best)
        placed[msg.key] = best
        verbatim += 1
        timely += iso(best["timestamp"]) == msg.time
        sender_ok += best["sender_id"] == msg.sender
        attached += {a["name"] for a in best["attachments"]} >= set(msg.attachments)
    total = len(src.messages)
    assert sum(len(v) for v in stored.values()) == total  # none twice, nothing invented
    assert (verbatim, timely, sender_ok, attached) == (total, total, total, total)
    recorded = sum(len(m["attachments"]) for ms in stored.values() for m in ms)
    if spec.kind == "email":  # every other MIME leaf is recorded too (inline images, signatures)
        assert recorded >= sum(len(m.attachments) for m in src.messages)
    else:
        assert recorded == sum(len(m.attachments) for m in src.messages)
    # no reply before its parent
    for msg in src.messages:
        if msg.parent in placed:
            assert iso(placed[msg.key]["timestamp"]) >= iso(placed[msg.parent]["timestamp"]), msg.key
    # agent actions verbatim in T (ABCD)
    if src.decisions:
        files = read_all(gs.path)
        kept = Counter((t_no, d.decision.get("text")) for t_no, f in files.items() for d in f.workflow.agent_decisions)
        assert Counter((tickets[g], text) for g, text in src.decisions) == kept
    # re-import adds nothing
    head = git(gs.path, "rev-parse", "HEAD").strip()
    for path in paths:
        again = gs("import", spec.kind, str(path), *spec.options, "--json")
        assert again.exit_code == 0, again.output
        assert json.loads(again.stdout)["commits"] == 0
    assert git(gs.path, "rev-parse", "HEAD").strip() == head
    verify = gs("verify")
    assert verify.exit_code == 0, verify.output
    fsck = subprocess.run(["git", "-C", str(gs.path), "fsck", "--strict"], capture_output=True, text=True)
    assert fsck.returncode == 0 and "error" not in fsck.stderr.lower(), fsck.stderr
    # ten once-occurring words, each found in its ticket
    words = rare_words(src)
    found = 0
    misses = []
    for word, group, _why in words:
        result = gs("search", word, "--limit", "1000", "--json")
        assert result.exit_code == 0, result.output
        hits = {h["t_no"] for h in json.loads(result.stdout)["hits"]}
        if tickets[group] in hits:
            found += 1
        else:
            misses.append(word)
    assert not misses, misses
    assert len(words) == 10
    skipped = [s for summary in summaries for s in summary["skipped"]]
    row = {
        "set": spec.name, "source_messages": total, "imported_verbatim": verbatim, "time_correct": timely,
        "skipped": len(skipped), "rare_words_found": f"{found}/{len(words)}",
        "cjk_words": [w for w, _g, why in words if why == "cjk"], "markup_word": [w for w, _g, why in words if why == "markup"],
    }
    print("\nTABLE", json.dumps(row, ensure_ascii=False))
    return row


@requires_git
@pytest.mark.parametrize("spec", SETS, ids=[s.name for s in SETS])
def test_small_copy_is_imported_faithfully(gs, spec):
    check(gs, spec, spec.small)


@requires_git
@pytest.mark.parametrize("spec", SETS, ids=[s.name for s in SETS])
def test_full_set_is_imported_faithfully(gs, spec):
    paths = [SHARED_DATA / p for p in spec.full]
    missing = [p for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"{missing[0]} is absent (a fresh clone has no ../shared/): full data set test")
    check(gs, spec, paths)
