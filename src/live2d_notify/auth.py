"""Who is asking: the bearer token, verified and checked against revocations; where the request comes from.

Works on the raw ASGI scope, so the framework's routes and the fast path (fastpath.py) share it.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.types import Scope

from live2d_notify.errors import ApiError, from_bad_token
from live2d_notify.services import Services
from live2d_notify.tokens import BadToken, Claims, Kind

SESSION_ONLY = frozenset({Kind.SESSION})
HOOK_ONLY = frozenset({Kind.HOOK})
TICKET_ONLY = frozenset({Kind.TICKET})
STREAM_BEARER = frozenset({Kind.SESSION, Kind.TICKET})
_MISSING = "Send the token as 'Authorization: Bearer <token>'."


def header(scope: Scope, name: bytes) -> str | None:
    """One request header (lower-case name), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise ApiError(401, "token_missing", _MISSING, headers={"WWW-Authenticate": "Bearer"})
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "token_missing", _MISSING, headers={"WWW-Authenticate": "Bearer"})
    return token


def verify(svc: Services, token: str, allowed: frozenset[Kind]) -> Claims:
    """Signature, kind, expiry, lifetime and revocation, or the API error that says which failed."""
    try:
        claims = svc.tokens.verify(token, allowed)
        svc.revocations.check(claims)
    except BadToken as exc:
        raise from_bad_token(exc) from None
    return claims


def authenticate(svc: Services, scope: Scope, allowed: frozenset[Kind]) -> Claims:
    return verify(svc, bearer_token(header(scope, b"authorization")), allowed)


def client_ip(svc: Services, scope: Scope) -> str:
    if svc.settings.trust_proxy:
        forwarded = header(scope, b"x-forwarded-for")
        if forwarded:
            return forwarded.split(",", 1)[0].strip()[:64]
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def ip_bucket(ip: str) -> str:
    """What a per-address limit counts: an IPv4 address, or an IPv6 address's /64 (one subscriber's
    share: every address of a /64 is usually one machine or one home)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def check_origin(svc: Services, scope: Scope) -> None:
    """Refuse a browser request from a page that is neither this server's nor a configured CORS origin.

    Unauthenticated POSTs (sign-up, pairing claims) are CORS-simple requests, so any web page could send
    them with its visitors' browsers. Requests without `Origin` (curl, hooks) are not browsers' and pass.
    """
    origin = header(scope, b"origin")
    if origin is None:
        return
    if origin in svc.settings.cors_origins:
        return
    host = header(scope, b"host")
    parts = urlsplit(origin) if origin != "null" else None
    if parts is not None and parts.scheme in ("http", "https") and host and parts.netloc.lower() == host.lower():
        return
    raise ApiError(403, "origin_not_allowed", "Requests from this page's origin are not allowed here.")
