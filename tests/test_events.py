from __future__ import annotations

import json

import pytest

from live2d_notify.events import Arrival, Deduper, Event, IdClock, InvalidEvent, encode_middle, validate


def test_validate_drops_unknown_fields_and_defaults_source() -> None:
    fields = validate({"type": "success", "title": "ok", "secret": "sk-live-123", "cwd": "/home/alice"})
    assert fields == {
        "type": "success",
        "title": "ok",
        "message": None,
        "source": "generic",
        "tool": None,
        "session": None,
        "sealed": None,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "nope"}, "type"),
        ({}, "type"),
        ({"type": 3}, "type"),
        ({"type": "info", "title": "x" * 81}, "title"),
        ({"type": "info", "message": "x" * 281}, "message"),
        ({"type": "info", "tool": "x" * 65}, "tool"),
        ({"type": "info", "source": "x" * 33}, "source"),
        ({"type": "info", "session": "x" * 65}, "session"),
        ({"type": "info", "title": ["a"]}, "title"),
    ],
)
def test_invalid_fields_are_named(body: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidEvent) as err:
        validate(body)
    assert err.value.field == field


def test_limits_are_inclusive_and_count_characters() -> None:
    fields = validate({"type": "info", "title": "é" * 80, "message": "🙂" * 280})
    assert fields["title"] == "é" * 80


def test_non_object_bodies_are_invalid() -> None:
    for body in ([], "x", 1, None):
        with pytest.raises(InvalidEvent):
            validate(body)


def test_nul_and_lone_surrogates_are_cleaned() -> None:
    fields = validate({"type": "info", "title": "a\x00b\ud800c"})
    assert fields["title"] == "abc"
    Event.create(fields, IdClock()).frame.decode("utf-8")


def test_frame_survives_newlines_in_titles() -> None:
    event = Event.create(validate({"type": "info", "title": "x\r\n\r\ndata: evil\n\nevent: revoked"}), IdClock())
    lines = event.frame.decode().split("\n")
    assert lines[0] == "event: agent"
    assert lines[1] == f"id: {event.id}"
    assert lines[2].startswith("data: ")
    assert lines[3:] == ["", ""]
    data = json.loads(lines[2][len("data: ") :])
    assert data["title"] == "x\r\n\r\ndata: evil\n\nevent: revoked"
    assert set(data) == {"id", "type", "source", "title", "message", "tool", "session", "sealed", "ts"}
    assert data["ts"].endswith("Z")


def test_ids_sort_in_publish_order() -> None:
    clock = IdClock()
    ids = [clock.next()[0] for _ in range(1000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 1000


def test_deduper_lets_a_key_through_once_per_window() -> None:
    now = [0.0]
    d = Deduper(window=3, clock=lambda: now[0])
    assert d.first(("u", "s"))
    assert not d.first(("u", "s"))
    assert d.first(("u", "other"))
    now[0] = 3.5
    assert d.first(("u", "s"))


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "success", "title": "Done ✓ «ça»", "source": "claude", "session": "s-1"},
        {"type": "waiting", "title": 'a "quote" \\ and\ttab', "approval_id": "ap_123", "sealed": "v1.abc"},
        {"type": "info"},
        {"type": "error", "message": "line one\nline two\u2028", "tool": "Bash"},
    ],
)
def test_a_frame_built_from_the_shipped_middle_is_the_frame_itself(fields: dict[str, str]) -> None:
    """Redis carries `encode_middle`'s JSON; the receiving process splices in the id and time without
    decoding it, and must get byte for byte the frame the publisher would have made."""
    clean = validate(fields)
    clean["approval_id"] = fields.get("approval_id")
    event_id, us = IdClock().next()
    event = Event.from_parts(event_id, us, clean)
    _, middle = encode_middle(clean)
    assert "\n" not in middle.partition("\n")[0]
    assert Arrival.of(event_id, us, middle.encode()).frame == event.frame
    data = json.loads(event.frame.decode().split("\n")[2][len("data: ") :])
    assert data == event.fields and list(data)[:2] == ["id", "type"] and list(data)[-1] in ("ts", "approval_id")
    # Byte for byte the JSON the json module writes (encode_middle writes it out member by member).
    text = event.frame.decode().split("\n")[2][len("data: ") :]
    assert text == json.dumps(event.fields, ensure_ascii=False, separators=(",", ":"))
    # What a process of the previous version put on the wire (the whole data object) reads the same.
    old = json.dumps({k: v for k, v in data.items() if k not in ("id", "ts")}).encode()
    assert Arrival.of(event_id, us, old).frame == event.frame
