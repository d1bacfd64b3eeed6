"""Import e-mail: an mbox file or a folder of ``.eml`` files (docs/importers.md "email").

Reading uses the standard library only. An mbox is split at its ``From `` lines exactly
as ``mailbox.mbox`` does (``split_mbox``, tested against it). The few headers threading
needs are read first for every message (``split_headers``: cheap, RFC 5322 unfolding,
RFC 2047 decoding with ``email.header``); bodies are decoded with the ``email`` package
(MIME structure, quoted-printable and base64, charsets: ``decode_body``) only for
messages not already in the store, so a re-import is fast.

Threads become tickets (external conversation, platform ``email``):

- Messages are linked by ``Message-ID``, ``In-Reply-To`` and ``References``; every set
  of linked messages is one thread. Its T_NO is ``EM-`` + the first 12 hex digits of
  the SHA-1 of the thread's root id (the oldest message's first ``References`` id, else
  its ``In-Reply-To``, else its own ``Message-ID``), so a later export of the same list
  (next month's mbox) adds its replies to the same ticket.
- **Ticket tag**: a subject that contains ``[T_<T_NO>]`` (for example
  ``Re: printer down [T_1001]``; T_NO of letters, digits, ``.``, ``_`` and ``-``) puts
  its whole thread into ticket ``<T_NO>`` (created if needed), as help desks do with
  their reply tags. The first tag in time order wins; a tag that is not a valid T_NO is
  ignored.
- **Who is who**: without ``agent_domains`` the thread's first sender is the customer
  (all of their messages are ``customer``) and every other sender is a ``cs_agent``.
  With ``agent_domains`` (``--agent-domain example.org``, repeatable), senders whose
  address is in one of those domains (or a subdomain) are ``cs_agent`` and all others
  ``customer``. Agents are added to ``participants.cs_agents``.
- A new ticket's ``client_name`` is the customer's display name (else address),
  ``company_name`` the customer's mail domain, ``contact_info`` ``{"email": address}``.

Each message is one commit, author date = its ``Date`` header (converted to UTC; a
``-0000`` zone is read as UTC). Without a ``Date`` header the time of the topmost
``Received`` header is used (when the archive's server got it), else the message is
skipped with that reason. ``message_id`` is the ``Message-ID`` without angle brackets
(``sha256:<hex>`` of it when over 200 characters; of the raw message when absent).
``content`` is the text body exactly as decoded (``text/plain`` preferred, else
``text/html``); other parts are recorded, never inlined: attachments in
``attachments`` (name, content type, size in bytes, SHA-256), the other renderings of
the body (the HTML of a ``multipart/alternative``) in ``metadata.platform_specific.
alternatives`` with the same fields. All headers, decoded, are kept in
``platform_specific.headers`` as ``[name, value]`` pairs, plus ``subject``, ``from``,
``in_reply_to``, ``references`` and the source position.

A reply is never stored before the message it answers (``In-Reply-To``, else the last
``References`` id, when that message is in the import): a ``Date`` earlier than its
parent's is raised to the parent's time and ``time_source`` ends in ``, not before its
parent``.

Bad input: a message without ``From`` header, or whose header block never ends before
the next message begins, is skipped with its position, Message-ID (when readable) and
reason; the others are imported. ImportFormatError, with file and line, after the
messages before it are imported: an mbox that does not start with a ``From `` line, a
last message cut off (a truncated file), an ``.eml`` file whose header block never
ends.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy
from email.header import decode_header, make_header
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Iterator

from gitstore.errors import ImportFormatError, InvalidTicketNumber, ValidationError
from gitstore.importers.base import Importer, ImportEvent, ImportSummary
from gitstore.tickets.layout import validate_t_no
from gitstore.timeutil import format_utc, to_utc

TAG_RE = re.compile(r"\[T_([A-Za-z0-9][A-Za-z0-9._-]{0,63})\]")
"""The ticket tag in a subject: ``[T_<T_NO>]``."""

_ID_RE = re.compile(r"<[^<>\s]+>")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
"""Stands in for a time the type checker cannot see is set (mails without one are skipped)."""


@dataclass
class Mail:
    """The headers of one source message, read before any body is decoded."""

    where: str
    raw: bytes
    msgid: str
    in_reply_to: list[str]
    references: list[str]
    subject: str
    address: str
    name: str
    when: datetime | None
    time_source: str


def decode(value: str | None) -> str:
    """Decode an RFC 2047 header value (``=?utf-8?q?…?=``) to text; '' for None."""
    if value is None:
        return ""
    if "=?" not in str(value):
        return str(value)
    try:
        return str(make_header(decode_header(str(value))))
    except (UnicodeDecodeError, LookupError, ValueError):
        return str(value)


def _ids(value: str | None) -> list[str]:
    return _ID_RE.findall(str(value)) if value else []


def _mail_time(fields: dict[str, list[str]]) -> tuple[datetime | None, str]:
    for name in ("Date", "Received"):
        values = fields.get(name.lower(), [])
        if not values:
            continue
        text = values[0]
        if name == "Received":
            text = text.rsplit(";", 1)[-1]
        try:
            when = parsedate_to_datetime(" ".join(text.split()))
        except (TypeError, ValueError, IndexError):
            continue
        if when is None:
            continue
        if when.tzinfo is None:  # RFC 5322 "-0000": UTC, local zone unknown
            when = when.replace(tzinfo=timezone.utc)
        return to_utc(when), name
    return None, ""


_WANTED = (b"from", b"message-id", b"in-reply-to", b"references", b"subject", b"date", b"received")


def split_headers(raw: bytes) -> dict[str, list[str]] | None:
    """Return the header fields the importer needs (lower-case name → values).

    Reads ``From``, ``Message-ID``, ``In-Reply-To``, ``References``, ``Subject``,
    ``Date`` and ``Received`` from the header block with the ``email`` parser's rules
    (RFC 5322 §2.2: a line starting with white space continues the field; unfolding
    removes the line break), without building a message object. Returns None when
    the header block never ends (no blank line), the mark of a truncated message.
    """
    end = raw.find(b"\n\n")
    crlf = raw.find(b"\r\n\r\n")
    if end < 0 or (0 <= crlf < end):
        end = crlf
    if end < 0:
        return None
    block = b"\n" + raw[: end + 1].replace(b"\r\n", b"\n")
    low = block.lower()
    fields: dict[str, list[str]] = {}
    for name in _WANTED:
        key = b"\n" + name + b":"
        at = low.find(key)
        while at >= 0:
            start = at + len(key)
            stop = block.find(b"\n", start)
            while block[stop + 1 : stop + 2] in (b" ", b"\t"):
                stop = block.find(b"\n", stop + 1)
            value = block[start:stop].replace(b"\n", b"").strip()
            fields.setdefault(name.decode("ascii"), []).append(value.decode("utf-8", "surrogateescape"))
            if name == b"received":
                break  # only the topmost one is used
            at = low.find(key, stop)
    return fields


_ANGLE_ADDR = re.compile(r"<([^<>\s@]+@[^<>\s]+)>\s*$")


def _sender(value: str) -> tuple[str, str]:
    """``(display name, address)`` of a From value (``parseaddr`` unless it is simple)."""
    match = _ANGLE_ADDR.search(value)
    if match and '"' not in value and "(" not in value:
        return value[: match.start()].strip(), match.group(1)
    return parseaddr(value)


def read_headers(raw: bytes, where: str) -> Mail:
    """Read the headers of one message (no body decoding).

    Raises:
        ImportFormatError: no end of the header block, or no ``From`` header.
    """
    fields = split_headers(raw)
    if fields is None:
        raise ImportFormatError(f"{where}: truncated message: the header block never ends (no blank line)")
    if "from" not in fields:
        raise ImportFormatError(f"{where}: malformed message: no From header")
    sender = decode(fields["from"][0])
    name, address = _sender(sender)
    ids = _ids(fields.get("message-id", [None])[0])
    msgid = ids[0][1:-1] if ids else "sha256:" + hashlib.sha256(raw).hexdigest()
    when, source = _mail_time(fields)
    return Mail(
        where=where,
        raw=raw,
        msgid=msgid,
        in_reply_to=[i[1:-1] for i in _ids(" ".join(fields.get("in-reply-to", [])))],
        references=[i[1:-1] for i in _ids(" ".join(fields.get("references", [])))],
        subject=decode(fields.get("subject", [""])[0]),
        address=(address or sender).strip().lower(),
        name=name.strip(),
        when=when,
        time_source=source,
    )


def store_message_id(msgid: str) -> str:
    """The ``message_id`` kept in the store for a Message-ID (bounded length)."""
    if len(msgid) <= 200:
        return msgid
    return "sha256:" + hashlib.sha256(msgid.encode("utf-8", "surrogateescape")).hexdigest()


def _part_record(part, index: int) -> dict:
    payload = part.get_payload(decode=True) or b""
    name = part.get_filename()
    if not name:
        ext = mimetypes.guess_extension(part.get_content_type()) or ".bin"
        name = f"part-{index}{ext}"
    return {
        "name": decode(name),
        "content_type": part.get_content_type(),
        "size": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }


def _text_of(part) -> tuple[str, str | None]:
    """Decode a text part: transfer encoding (quoted-printable, base64), then charset.

    An unknown charset or bytes invalid in the declared one are decoded with
    replacement characters and the problem is returned (never silently).
    """
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "us-ascii"
    try:
        return payload.decode(charset), None
    except LookupError:
        return payload.decode("utf-8", "replace"), f"unknown charset {charset!r}: decoded as UTF-8 with replacement characters"
    except UnicodeDecodeError as exc:
        if charset in ("us-ascii", "ascii"):
            try:  # undeclared 8-bit text: UTF-8 is what senders mean today
                return payload.decode("utf-8"), "8-bit bytes without a declared charset: decoded as UTF-8"
            except UnicodeDecodeError:
                pass
        return payload.decode(charset, "replace"), f"bytes invalid in charset {charset!r} at {exc.start}: replaced"


def _is_attachment(part) -> bool:
    return str(part.get("Content-Disposition", "")).split(";")[0].strip().lower() == "attachment"


def decode_body(raw: bytes) -> tuple[str, list[dict], dict]:
    """Decode a message's body: ``(text, attachments, extra platform_specific)``.

    The body is the first inline ``text/plain`` part, else the first inline
    ``text/html``, else the first inline ``text/*`` part (the choice ``get_body`` makes,
    extended to ``multipart/signed``). Every other leaf part is recorded: renderings of
    the body that share its ``multipart/alternative`` as ``alternatives``, the rest as
    attachments. Parsed with ``policy.compat32`` (the ``policy.default`` header objects
    cost most of an import's time and are not needed: headers are decoded with
    ``email.header``); the decoded text equals ``policy.default``'s ``get_content()``
    (tested on the real archives) except for 8-bit bytes in a part without a declared
    charset, which ``get_content`` turns into U+FFFD and this reads as UTF-8 (noted in
    ``decode_problem``).
    """
    msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    leaves = [p for p in msg.walk() if not p.is_multipart()]
    texts = [p for p in leaves if p.get_content_maintype() == "text" and not _is_attachment(p)]
    body = next(
        (p for kind in ("text/plain", "text/html") for p in texts if p.get_content_type() == kind),
        texts[0] if texts else None,
    )
    alternatives_of_body: set[int] = set()
    for parent in msg.walk():
        if parent.get_content_type() == "multipart/alternative":
            children = parent.get_payload()
            if any(child is body for child in children):
                alternatives_of_body |= {id(c) for c in children if c is not body}
    attachments: list[dict] = []
    alternatives: list[dict] = []
    for index, part in enumerate(leaves, start=1):
        if part is body:
            continue
        record = _part_record(part, index)
        (alternatives if id(part) in alternatives_of_body else attachments).append(record)
    extra: dict = {"headers": [[k, decode(v)] for k, v in msg.items()]}
    text = ""
    if body is not None:
        text, problem = _text_of(body)
        extra["body_content_type"] = body.get_content_type()
        if problem:
            extra["decode_problem"] = problem
    if alternatives:
        extra["alternatives"] = alternatives
    if msg.defects:
        extra["defects"] = [type(d).__name__ for d in msg.defects]
    return text, attachments, extra


def split_mbox(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Split mbox bytes into ``(line of the From line, message bytes)``.

    Follows ``mailbox.mbox`` exactly (tested against it): every line that starts with
    ``From `` begins a message; the message is the bytes after that line up to the
    next one, without the blank separator line before it.
    """
    starts = [0] if data.startswith(b"From ") else []
    at = data.find(b"\nFrom ")
    while at >= 0:
        starts.append(at + 1)
        at = data.find(b"\nFrom ", at + 1)
    line = 1
    previous = 0
    for i, start in enumerate(starts):
        line += data.count(b"\n", previous, start)
        previous = start
        body_start = data.find(b"\n", start)
        body_start = len(data) if body_start < 0 else body_start + 1
        stop = starts[i + 1] if i + 1 < len(starts) else len(data)
        # a blank line just before the next From line (or the end) is the separator
        if stop > body_start and data[stop - 1 : stop] == b"\n" and (stop - 1 == body_start or data[stop - 2 : stop - 1] == b"\n"):
            stop -= 1
        yield line, data[body_start:stop]


def _read_or_skip(raw: bytes, where: str, summary: ImportSummary | None) -> Mail | None:
    """``read_headers``, or None after reporting a malformed message as skipped."""
    try:
        return read_headers(raw, where)
    except ImportFormatError as exc:
        if summary is None:
            raise
        fields = split_headers(raw) or {}
        ids = _ids((fields.get("message-id") or [""])[0])
        summary.skip(where, ids[0][1:-1] if ids else None, str(exc).removeprefix(f"{where}: "), 1)
        return None


def _not_before_parents(mails: list[Mail]) -> None:
    """Raise the time of a reply dated before the message it answers to that message's
    time (see module doc); parents first, so chains are consistent."""
    by_id = {m.msgid: m for m in mails}
    done: set[str] = set()
    for mail in mails:
        chain: list[Mail] = []  # this mail and its unsettled ancestors, newest first
        seen: set[str] = set()
        current: Mail | None = mail
        while current is not None and current.msgid not in done and current.msgid not in seen:
            seen.add(current.msgid)
            chain.append(current)
            parent_id = (current.in_reply_to or current.references[-1:] or [""])[0]
            current = by_id.get(parent_id)
        for child in reversed(chain):  # oldest ancestor first
            parent_id = (child.in_reply_to or child.references[-1:] or [""])[0]
            parent = by_id.get(parent_id)
            if parent is not None and parent is not child and parent.when is not None and child.when is not None:
                if child.when < parent.when:
                    child.when = parent.when
                    child.time_source += ", not before its parent"
            done.add(child.msgid)


class _Threads:
    """Union-find over message ids."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _domain_matches(address: str, domains: tuple[str, ...]) -> bool:
    domain = address.rpartition("@")[2]
    return any(domain == d or domain.endswith("." + d) for d in domains)


class EmailImporter(Importer):
    """Importer for an mbox file or a folder of ``.eml`` files (see module doc).

    Args:
        agent_domains: mail domains whose senders are support agents.
    """

    kind = "email"

    def __init__(self, agent_domains: tuple[str, ...] = ()):
        self.agent_domains = tuple(d.lower().lstrip("@") for d in agent_domains)

    def events(self, source: Path, summary: ImportSummary) -> Iterator[ImportEvent]:
        mails: list[Mail] = []
        error: ImportFormatError | None = None
        try:
            for mail in self.read(source, summary):
                mails.append(mail)
        except ImportFormatError as exc:
            error = exc
        yield from self._thread_events(mails, summary)
        if error is not None:
            raise error

    # ------------------------------------------------------------------ reading
    def read(self, source: Path, summary: ImportSummary | None = None) -> Iterator[Mail]:
        """Yield the headers of each message of an mbox file or ``.eml`` folder.

        Args:
            source: the mbox file or the folder.
            summary: where a malformed message is reported as skipped (see module
                doc); without one it raises.

        Raises:
            ImportFormatError: no such source, a truncated file, or (without
                ``summary``) a malformed message (file and line).
        """
        if source.is_dir():
            files = sorted(p for p in source.iterdir() if p.suffix.lower() == ".eml" and p.is_file())
            if not files:
                raise ImportFormatError(f"{source}: no .eml files in the folder")
            for path in files:
                raw = path.read_bytes()
                if not raw.endswith(b"\n") and b"\n\n" not in raw.replace(b"\r\n", b"\n"):
                    raise ImportFormatError(f"{path}: truncated message: the header block never ends")
                mail = _read_or_skip(raw, str(path), summary)
                if mail is not None:
                    yield mail
            return
        if not source.is_file():
            raise ImportFormatError(f"{source}: no such file or folder")
        yield from self._read_mbox(source, summary)

    def _read_mbox(self, path: Path, summary: ImportSummary | None = None) -> Iterator[Mail]:
        data = path.read_bytes()
        first = data.lstrip(b"\r\n")
        if not first.startswith(b"From "):
            line = data.count(b"\n", 0, len(data) - len(first)) + 1
            raise ImportFormatError(f"{path}: line {line}: not an mbox file (expected a 'From ' separator line)")
        parts = list(split_mbox(data))
        for number, (line, raw) in enumerate(parts, start=1):
            where = f"{path}: line {line} (message {number})"
            if not raw.endswith(b"\n") and not data.endswith(b"\n"):
                raise ImportFormatError(f"{where}: truncated message: the file ends in the middle of it")
            if number == len(parts) and split_headers(raw) is None:
                raise ImportFormatError(f"{where}: truncated message: the header block never ends (no blank line)")
            mail = _read_or_skip(raw, where, summary)
            if mail is not None:
                yield mail

    # ------------------------------------------------------------------ threading
    def _thread_events(self, mails: list[Mail], summary: ImportSummary) -> Iterator[ImportEvent]:
        threads = _Threads()
        for mail in mails:
            threads.find(mail.msgid)
            for other in mail.references + mail.in_reply_to:
                threads.union(mail.msgid, other)
        groups: dict[str, list[Mail]] = {}
        for mail in mails:
            if mail.when is None:
                summary.skip(mail.where, mail.msgid, "no Date or Received header: the message has no time", 1)
                continue
            groups.setdefault(threads.find(mail.msgid), []).append(mail)
        _not_before_parents([m for m in mails if m.when is not None])
        for members in groups.values():
            members.sort(key=lambda m: m.when or _EPOCH)  # every grouped mail has a time
            yield from self._ticket_events(members)

    def _ticket_events(self, members: list[Mail]) -> Iterator[ImportEvent]:
        oldest = members[0]
        root = (oldest.references or oldest.in_reply_to or [oldest.msgid])[0]
        t_no = "EM-" + hashlib.sha1(root.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        for mail in members:
            tag = next((m.group(1) for m in TAG_RE.finditer(mail.subject)), None)
            if tag is not None:
                try:
                    t_no = validate_t_no(tag)
                    break
                except InvalidTicketNumber:
                    continue
        customer = oldest
        create = {
            "client_name": customer.name or customer.address,
            "company_name": customer.address.rpartition("@")[2] or customer.address,
            "platform": "email",
            "contact_info": {"email": customer.address},
        }
        for mail in members:
            if self.agent_domains:
                is_agent = _domain_matches(mail.address, self.agent_domains)
            else:
                is_agent = mail.address != customer.address
            yield ImportEvent(
                t_no=t_no,
                when=mail.when or _EPOCH,
                update=_Builder(mail, is_agent),
                ids=(store_message_id(mail.msgid),),
                create=create,
                summary=f"Import e-mail {store_message_id(mail.msgid)[:80]} into ticket {t_no}",
                actor=mail.address or None,
                where=mail.where,
                messages=1,
                cs_agents=(mail.address,) if is_agent else (),
            )


class _Builder:
    """Builds one message's update when called (bodies are decoded only if needed).

    Raises (when called):
        ValidationError: a MIME structure the parser cannot take apart (the runner
            reports the message as skipped with this reason).
    """

    def __init__(self, mail: Mail, is_agent: bool):
        self.mail = mail
        self.is_agent = is_agent

    def __call__(self) -> dict:
        mail = self.mail
        try:
            text, attachments, extra = decode_body(mail.raw)
        except (ValueError, TypeError, AttributeError, IndexError, KeyError, LookupError, AssertionError) as exc:
            # the stdlib parser can trip over badly broken MIME: report, do not crash
            raise ValidationError(f"undecodable MIME structure ({type(exc).__name__}: {exc})") from None
        platform_specific = {
            "subject": mail.subject,
            "from": mail.address,
            "message_id_header": mail.msgid,
            "in_reply_to": mail.in_reply_to,
            "references": mail.references,
            "source": mail.where,
            "time_source": mail.time_source,
            **extra,
        }
        message = {
            "message_id": store_message_id(mail.msgid),
            "timestamp": format_utc(mail.when or _EPOCH),
            "sender": "cs_agent" if self.is_agent else "customer",
            "sender_id": mail.address or "unknown",
            "content": text,
            "attachments": attachments,
            "metadata": {"platform_specific": platform_specific},
        }
        return {"E": {"messages": [message]}}


def make_importer(agent_domains: tuple[str, ...] = ()) -> EmailImporter:
    """Return an e-mail importer (``--agent-domain`` values as ``agent_domains``)."""
    return EmailImporter(tuple(agent_domains))


IMPORTER = EmailImporter()
