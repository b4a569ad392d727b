"""Pairing a device: a one-time code that only its user's account can come from, once."""

from __future__ import annotations

import asyncio
import base64
import time

import httpx

from tests.support import LOOSE_LIMITS, LiveServer, bearer, new_user


def make_code(base: str, session: str) -> dict[str, str]:
    r = httpx.post(base + "/api/pairings", headers=bearer(session))
    assert r.status_code == 201, r.text
    return dict(r.json())


def claim(base: str, code: object, **extra: object) -> httpx.Response:
    return httpx.post(base + "/api/pairings/claim", json={"code": code, **extra})


def test_a_code_is_one_time_url_safe_and_random_enough(shared_server: LiveServer) -> None:
    u = new_user(shared_server.url)
    made = make_code(shared_server.url, u["session_token"])
    code = made["code"]
    assert set(code) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert len(base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))) * 8 >= 128
    assert made["expires_at"].endswith("Z")
    got = claim(shared_server.url, code, label="phone")
    assert got.status_code == 201
    body = got.json()
    assert set(body) == {"user_id", "device_id", "session_token", "session_expires_at"}
    assert body["user_id"] == u["user_id"] and body["session_token"].startswith("l2n_sess_")
    again = claim(shared_server.url, code)
    assert again.status_code == 401 and again.json()["error"]["code"] == "pairing_used"


def test_guessed_and_malformed_codes_give_nothing(shared_server: LiveServer) -> None:
    u = new_user(shared_server.url)
    real = make_code(shared_server.url, u["session_token"])["code"]
    guesses = [real[:-1] + ("A" if real[-1] != "A" else "B"), "A" * len(real), "x"]
    for guess in guesses:
        r = claim(shared_server.url, guess)
        assert r.status_code == 401 and r.json()["error"]["code"] == "pairing_invalid", guess
    for bad in (None, 42, "", "y" * 500):
        r = claim(shared_server.url, bad)
        assert r.status_code == 422 and r.json()["error"]["field"] == "code"
    assert httpx.post(shared_server.url + "/api/pairings/claim", content=b"code=1").status_code == 415
    assert claim(shared_server.url, real).status_code == 201  # the real one still works, once


def test_an_expired_code_is_refused(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({**LOOSE_LIMITS, "LIVE2D_NOTIFY_PAIRING_TTL": "1"})
    u = new_user(srv.url)
    code = make_code(srv.url, u["session_token"])["code"]
    time.sleep(1.2)  # the code's own lifetime, not a synchronisation
    r = claim(srv.url, code)
    assert r.status_code == 401 and r.json()["error"]["code"] == "pairing_expired"


def test_a_code_made_before_a_revoke_all_dies_with_it(shared_server: LiveServer) -> None:
    """A leaked session that made a code cannot come back through it after the owner's revoke-all."""
    u = new_user(shared_server.url)
    code = make_code(shared_server.url, u["session_token"])["code"]
    assert (
        httpx.post(shared_server.url + "/api/users/me/revoke-all", headers=bearer(u["session_token"])).status_code
        == 200
    )
    r = claim(shared_server.url, code)
    assert r.status_code == 401 and r.json()["error"]["code"] == "pairing_expired"


async def test_of_two_concurrent_claims_exactly_one_wins(shared_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=shared_server.url) as c:
        for _ in range(10):
            u = new_user(shared_server.url)
            code = make_code(shared_server.url, u["session_token"])["code"]
            results = await asyncio.gather(*(c.post("/api/pairings/claim", json={"code": code}) for _ in range(8)))
            codes = sorted(r.status_code for r in results)
            assert codes == [201] + [401] * 7
            assert {r.json()["error"]["code"] for r in results if r.status_code == 401} == {"pairing_used"}


def test_claims_are_rate_limited_per_address(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({"LIVE2D_NOTIFY_SIGNUP_RATE": "3/minute", "LIVE2D_NOTIFY_MANAGE_RATE": "100/minute"})
    u = new_user(srv.url)
    codes = [claim(srv.url, "guess-" + str(i)).status_code for i in range(3)]
    assert codes == [401, 401, 429]  # the sign-up itself took one of the three
    r = claim(srv.url, make_code(srv.url, u["session_token"])["code"])
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_a_foreign_page_cannot_claim(shared_server: LiveServer) -> None:
    u = new_user(shared_server.url)
    code = make_code(shared_server.url, u["session_token"])["code"]
    r = httpx.post(
        shared_server.url + "/api/pairings/claim", json={"code": code}, headers={"Origin": "https://evil.example"}
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
    assert claim(shared_server.url, code).status_code == 201


def test_only_a_session_makes_codes(shared_server: LiveServer) -> None:
    u = new_user(shared_server.url)
    r = httpx.post(shared_server.url + "/api/pairings", headers=bearer(u["hook_token"]))
    assert r.status_code == 403 and r.json()["error"]["code"] == "token_scope"
    assert httpx.post(shared_server.url + "/api/pairings").status_code == 401


def test_codes_never_reach_the_log_or_the_database(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(LOOSE_LIMITS)
    u = new_user(srv.url)
    code = make_code(srv.url, u["session_token"])["code"]
    assert claim(srv.url, code).status_code == 201
    claim(srv.url, code)
    srv.stop()
    assert code not in srv.log_text()
    raw = b"".join(p.read_bytes() for p in srv.tmp.iterdir() if p.name.startswith("live2d-notify.db"))
    assert code.encode() not in raw
    assert "pairing claimed user=" + u["user_id"] in srv.log_text()
