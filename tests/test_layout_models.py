"""Models (docs/data-model.md#items), T_NO validation and deterministic JSON."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitstore import InvalidTicketNumber, ValidationError
from gitstore.tickets import layout
from gitstore.tickets.models import MAX_CONTENT_BYTES, ExternalConversation
from gitstore.tickets.files import new_ticket

WHEN = datetime(2020, 3, 29, 3, 44, 52, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "bad",
    ["", "../etc", "a/b", "a\\b", "..", "x..y", "a\nb", "a\x00b", ".hidden", "-x", "a" * 65, "é", "a b", None, 12],
)
def test_invalid_ticket_numbers_are_refused(bad):
    with pytest.raises(InvalidTicketNumber) as info:
        layout.validate_t_no(bad)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("good", ["1001", "TW-l1J2iiiS82gbKBeZRDLX", "a.b_c-1", "Z" * 64])
def test_valid_ticket_numbers(good):
    assert layout.validate_t_no(good) == good
    paths = layout.ticket_paths(good)
    assert paths["E"].startswith("Tickets/T_ext/") and paths["E"].endswith(f"/E_{good}.json")
    assert paths["I"].startswith("Tickets/T_int/") and paths["T"].startswith("Tickets/tickets/")
    # same fan-out folders for the three files, three levels of one hex digit
    fan = {p.split("/", 2)[2].rsplit("/", 1)[0] for p in paths.values()}
    assert len(fan) == 1 and all(len(part) == 1 for part in fan.pop().split("/"))
    assert layout.parse_path(paths["T"]) == ("T", good)


def test_fanout_spreads_tickets():
    folders = [layout.fanout(str(n)) for n in range(5000)]
    # 5,000 tickets over 4,096 leaves: a uniform hash fills ~2,890 of them
    assert 2700 < len(set(folders)) < 3100
    from collections import Counter

    top = Counter(f[0] for f in folders)
    assert len(top) == 16 and max(top.values()) < 2 * 5000 / 16


def test_json_is_deterministic_and_line_precise():
    files = new_ticket("1001", client_name="Ana", company_name="Acme", when=WHEN)
    data = layout.dumps(files.external)
    assert data.endswith(b"}\n")
    text = data.decode()
    assert text.splitlines()[1] == '  "ticket_id": "1001",'
    assert '"last_updated": "2020-03-29T03:44:52Z"' in text
    again = layout.dumps(layout.loads("E", data))
    assert again == data


def test_open_objects_serialise_sorted():
    files = new_ticket("1", client_name="a", company_name="b", when=WHEN, contact_info={"z": 1, "a": {"y": 2, "b": 3}})
    text = layout.dumps(files.external).decode()
    assert text.index('"a"') < text.index('"z"')
    assert text.index('"b": 3') < text.index('"y": 2')


def test_times_are_utc_and_naive_times_refused():
    files = new_ticket("1", client_name="a", company_name="b", when=WHEN)
    data = files.external.model_dump(mode="json")
    data["last_updated"] = "2020-03-29T05:44:52+02:00"
    model = ExternalConversation.model_validate(data)
    assert model.last_updated == WHEN and model.last_updated.tzinfo == timezone.utc
    data["last_updated"] = "2020-03-29T05:44:52"
    with pytest.raises(Exception, match="time zone"):
        ExternalConversation.model_validate(data)


def test_loads_reports_one_line_errors():
    with pytest.raises(ValidationError, match=r"E_1.json: malformed JSON at line 1 column"):
        layout.loads("E", b"{nope", "E_1.json")
    with pytest.raises(ValidationError, match="invalid UTF-8 at byte 1"):
        layout.loads("E", b"{\xff}", "E_1.json")
    files = new_ticket("1", client_name="a", company_name="b", when=WHEN)
    data = files.external.model_dump(mode="json")
    data["platform"] = "fax"
    with pytest.raises(ValidationError, match="platform"):
        layout.loads("E", json.dumps(data).encode(), "E_1.json")
    data["platform"] = "email"
    data["messages"] = [{"message_id": "m", "timestamp": "2020-01-01T00:00:00Z", "sender": "customer",
                         "sender_id": "x", "content": "x" * (MAX_CONTENT_BYTES + 1)}]
    with pytest.raises(ValidationError, match="over the limit"):
        layout.loads("E", json.dumps(data).encode(), "E_1.json")


messages = st.lists(
    st.fixed_dictionaries(
        {
            "message_id": st.text("abcdef0123456789", min_size=1, max_size=12),
            "timestamp": st.datetimes(
                min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
            ),
            "sender": st.sampled_from(["customer", "cs_agent"]),
            "sender_id": st.text(min_size=1, max_size=20).filter(lambda s: "\x00" not in s),
            "content": st.text(max_size=200),
            "metadata": st.fixed_dictionaries(
                {"platform_specific": st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3)}
            ),
        }
    ),
    max_size=5,
    unique_by=lambda m: m["message_id"],
)


@settings(max_examples=60, deadline=None)
@given(msgs=messages, offset=st.integers(-720, 720))
def test_round_trip_is_byte_stable(msgs, offset):
    files = new_ticket("1", client_name="a", company_name="b", when=WHEN)
    data = files.external.model_dump(mode="json")
    zone = timezone(timedelta(minutes=offset))
    data["messages"] = [{**m, "timestamp": m["timestamp"].astimezone(zone).isoformat()} for m in msgs]
    model = layout.validate_data("E", data, "E_1.json")
    once = layout.dumps(model)
    twice = layout.dumps(layout.loads("E", once))
    assert once == twice
    assert [m.timestamp for m in model.messages] == [m["timestamp"] for m in msgs]


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_json_values)
def test_encode_json_is_the_standard_librarys_form(value):
    """The fast encoder writes exactly what json.dumps(indent=2, ensure_ascii=False) writes
    (floats and big integers included, through its fallback)."""
    assert layout.encode_json(value) == json.dumps(value, indent=2, ensure_ascii=False).encode("utf-8")


def test_encode_json_every_code_point():
    text = "".join(chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF)
    assert layout.encode_json({"t": text, "l": [text[:300]]}) == json.dumps(
        {"t": text, "l": [text[:300]]}, indent=2, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_in_an_open_object_is_refused_not_written_as_null(bad):
    files = new_ticket("NAN-1", client_name="c", company_name="co", when=WHEN)
    data = files.external.model_dump(mode="python")
    data["messages"] = [{"message_id": "m1", "timestamp": WHEN, "sender": "customer", "sender_id": "c",
                         "content": "hi", "metadata": {"platform_specific": {"score": bad}}}]
    external = ExternalConversation.model_validate(data)
    with pytest.raises(ValidationError, match="not a JSON number"):
        layout.dumps(external)
