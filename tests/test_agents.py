"""Each agent session's card: states, caps, forgetting, and the snapshot every new stream starts with."""

from __future__ import annotations

import json

import httpx
import pytest

from live2d_notify.agents import FORGET_AFTER, MAX_SESSIONS, Agents, changes
from live2d_notify.events import InvalidEvent, validate
from tests.support import LiveServer, bearer, new_user
from tests.test_stream import open_stream


def event(kind: str, session: str | None = "s1", **more: str) -> dict[str, str | None]:
    return validate({"type": kind, "session": session, **more})


@pytest.mark.parametrize(
    ("kind", "title", "state"),
    [
        ("start", None, "working"),
        ("progress", "Running a command", "working"),
        ("waiting", None, "waiting"),
        ("success", None, "done"),
        ("error", None, "failed"),
        ("info", "Session ended", "ended"),
    ],
)
def test_each_event_type_sets_its_state(kind: str, title: str | None, state: str) -> None:
    change = changes(event(kind, title=title) if title else event(kind), 1)
    assert change is not None and change["state"] == state


def test_info_leaves_the_state_and_events_without_a_session_have_no_card() -> None:
    cards = Agents(clock=lambda: 10.0)
    for kind, title in (("waiting", "Needs you"), ("info", "Context compacted")):
        change = changes(event(kind, title=title, source="claude"), 5_000_000)
        assert change is not None
        cards.update("u", change)
    [card] = cards.snapshot("u")
    assert card["state"] == "waiting" and card["title"] == "Context compacted" and card["source"] == "claude"
    assert changes(event("start", session=None), 1) is None


def test_at_most_32_cards_the_oldest_dropped_and_old_ones_forgotten() -> None:
    now = [1_000_000.0]
    cards = Agents(clock=lambda: now[0])
    for i in range(MAX_SESSIONS + 3):
        change = changes(event("start", session=f"s{i}"), int((now[0] - FORGET_AFTER + i) * 1e6))
        assert change is not None
        cards.update("u", change)
    listed = cards.snapshot("u")
    assert len(listed) == MAX_SESSIONS and listed[0]["session"] == f"s{MAX_SESSIONS + 2}"  # newest first
    assert "s0" not in {c["session"] for c in listed}
    now[0] += 10  # the oldest ones pass 24 hours without an event
    assert len(cards.snapshot("u")) == MAX_SESSIONS - 7
    assert cards.forget_old() == 7


def test_sealed_is_checked_for_shape_and_size_only() -> None:
    assert validate({"type": "info", "sealed": "v1." + "A" * 4093})["sealed"] == "v1." + "A" * 4093
    assert validate({"type": "info"})["sealed"] is None
    for bad in ("v1." + "A" * 4094, "v2.AAAA", "v1.AA AA", "v1.", "plain text", 5, ["v1.A"]):
        with pytest.raises(InvalidEvent) as exc:
            validate({"type": "info", "sealed": bad})
        assert exc.value.field == "sealed"


async def test_a_new_stream_starts_with_every_card_beyond_the_replay_window(shared_server: LiveServer) -> None:
    base = shared_server.url
    u = new_user(base)
    hook = bearer(u["hook_token"])
    with httpx.Client(base_url=base) as c:
        c.post("/api/events", json={"type": "waiting", "session": "a", "source": "claude"}, headers=hook)
        c.post(
            "/api/events", json={"type": "error", "session": "b", "source": "codex", "sealed": "v1.QUJD"}, headers=hook
        )
        for i in range(150):  # far more than the replay window's 100 events
            c.post("/api/events", json={"type": "progress", "session": "c", "title": f"step {i}"}, headers=hook)
    async with httpx.AsyncClient() as c, open_stream(c, base, session=u["session_token"]) as s:
        s.skip = frozenset()
        assert (await s.next())[0] == "ready"
        kind, eid, data = await s.next()
        assert kind == "agents" and eid is None
        cards = json.loads(data)["agents"]
        assert [(x["session"], x["state"]) for x in cards] == [("c", "working"), ("b", "failed"), ("a", "waiting")]
        assert cards[1]["sealed"] == "v1.QUJD" and cards[0]["title"] == "step 149"
        assert set(cards[0]) == {"session", "source", "state", "tool", "title", "sealed", "updated_at"}
    listed = httpx.get(base + "/api/agents", headers=bearer(u["session_token"])).json()["agents"]
    assert listed == cards
    assert httpx.get(base + "/api/agents", headers=hook).status_code == 403
    other = new_user(base)  # nobody else's cards
    assert httpx.get(base + "/api/agents", headers=bearer(other["session_token"])).json() == {"agents": []}


def test_sealed_travels_on_hook_routes_too(shared_server: LiveServer) -> None:
    u = new_user(shared_server.url)
    r = httpx.post(
        shared_server.url + "/api/hooks/claude",
        json={"hook_event_name": "Stop", "session_id": "abc", "sealed": "v1.c2VhbGVk"},
        headers=bearer(u["hook_token"]),
    )
    assert r.status_code == 202
    [card] = httpx.get(shared_server.url + "/api/agents", headers=bearer(u["session_token"])).json()["agents"]
    assert card["sealed"] == "v1.c2VhbGVk" and card["state"] == "done" and card["source"] == "claude"
    r = httpx.post(
        shared_server.url + "/api/hooks/claude",
        json={"hook_event_name": "Stop", "session_id": "abc", "sealed": "not sealed"},
        headers=bearer(u["hook_token"]),
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "sealed"
