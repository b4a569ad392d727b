from __future__ import annotations

import time

import pytest

from live2d_notify.revocations import Revocations
from live2d_notify.tokens import PREFIX, BadToken, Kind, TokenService, now_us

ALL = frozenset(Kind)


def test_tokens_carry_a_recognisable_prefix_per_kind() -> None:
    svc = TokenService(["k1"])
    for kind in Kind:
        token, claims = svc.issue(kind, "usr_1", 60)
        assert token.startswith(PREFIX[kind])
        assert claims.kind is kind
        assert svc.verify(token, ALL).user_id == "usr_1"


def test_no_kind_can_pose_as_another() -> None:
    svc = TokenService(["k1"])
    session, _ = svc.issue(Kind.SESSION, "usr_1", 60)
    forged = PREFIX[Kind.HOOK] + session[len(PREFIX[Kind.SESSION]) :]
    with pytest.raises(BadToken) as err:
        svc.verify(forged, ALL)
    assert err.value.code == "token_invalid"


def test_well_signed_token_of_the_wrong_kind_is_a_scope_error() -> None:
    svc = TokenService(["k1"])
    hook, _ = svc.issue(Kind.HOOK, "usr_1", 60)
    with pytest.raises(BadToken) as err:
        svc.verify(hook, {Kind.SESSION})
    assert err.value.code == "token_scope"


def test_expired_token_is_refused() -> None:
    svc = TokenService(["k1"])
    token, claims = svc.issue(Kind.HOOK, "usr_1", 60)
    with pytest.raises(BadToken) as err:
        svc.verify(token, ALL, now=claims.expires + 1)
    assert err.value.code == "token_expired"


def test_key_rotation_newest_signs_all_verify() -> None:
    old = TokenService(["old"])
    token, _ = old.issue(Kind.HOOK, "usr_1", 60)
    rotated = TokenService(["old", "new"])
    assert rotated.verify(token, ALL).user_id == "usr_1"
    fresh, _ = rotated.issue(Kind.HOOK, "usr_1", 60)
    assert TokenService(["new"]).verify(fresh, ALL).user_id == "usr_1"
    with pytest.raises(BadToken):
        TokenService(["other"]).verify(token, ALL)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t[:-1],
        lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1],
        lambda t: t + "x",
        lambda t: t.replace(".", "", 1),
        lambda t: "l2n_hook_",
        lambda t: "",
    ],
)
def test_mutated_tokens_are_invalid(mutate) -> None:  # type: ignore[no-untyped-def]
    svc = TokenService(["k1"])
    token, _ = svc.issue(Kind.HOOK, "usr_1", 60)
    with pytest.raises(BadToken) as err:
        svc.verify(mutate(token), ALL)
    assert err.value.code == "token_invalid"


def test_revocation_by_id_is_scoped_to_its_user() -> None:
    svc = TokenService(["k1"])
    _, claims = svc.issue(Kind.HOOK, "usr_a", 60)
    rev = Revocations()
    rev.revoke_token("usr_b", claims.token_id, int(time.time()) + 60)  # someone else naming a's id
    rev.check(claims)
    rev.revoke_token("usr_a", claims.token_id, int(time.time()) + 60)
    with pytest.raises(BadToken) as err:
        rev.check(claims)
    assert err.value.code == "token_revoked"


def test_revoke_all_refuses_earlier_tokens_only() -> None:
    svc = TokenService(["k1"])
    _, before = svc.issue(Kind.SESSION, "usr_a", 60)
    rev = Revocations()
    rev.revoke_user("usr_a", now_us(), int(time.time()) + 60)
    _, after = svc.issue(Kind.SESSION, "usr_a", 60)
    with pytest.raises(BadToken):
        rev.check(before)
    rev.check(after)


def test_revocations_are_purged_once_tokens_would_have_expired() -> None:
    rev = Revocations()
    rev.revoke_token("u", "t", purge_after=100)
    rev.revoke_user("u", 1, purge_after=200)
    assert rev.purge(now=150) == 1
    assert len(rev) == 1
    assert rev.purge(now=250) == 1
    assert len(rev) == 0
