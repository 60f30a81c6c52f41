"""Standard Webhooks signatures (https://www.standardwebhooks.com), written from the spec.

A subscriber verifies that a request came from us and was not altered or replayed:
``webhook-signature`` carries ``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``
keyed with the decoded bytes of the subscription's ``whsec_<base64>`` secret. While a rotated-out
secret is still in its grace period both secrets sign, space-separated, so a receiver that has
not switched yet keeps verifying.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec asks for 24 to 64 random bytes


class InvalidSignature(Exception):
    """The request does not carry a valid signature from any of the given secrets."""


def new_secret() -> str:
    """A fresh signing secret, shown to the subscriber once."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key: the base64 part of ``whsec_...`` decoded (the prefix is not key material)."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``msg_id.timestamp.body``."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(signing_secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per live secret, space-separated."""
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in signing_secrets)


def headers(signing_secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of a delivery; ``msg_id`` is the same on every retry of one message."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(signing_secrets, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def verify(
    secret: str,
    request_headers: dict[str, str],
    body: bytes,
    now: int,
    tolerance_seconds: int = 300,
) -> None:
    """What a receiver does (README's snippet does the same): raise unless one of the header's
    signatures matches and the timestamp is within ``tolerance_seconds`` of ``now``."""
    msg_id = request_headers["webhook-id"]
    timestamp = int(request_headers["webhook-timestamp"])
    if abs(now - timestamp) > tolerance_seconds:
        raise InvalidSignature("timestamp outside the tolerance: a replay or a wrong clock")
    expected = sign(secret, msg_id, timestamp, body)
    for candidate in request_headers["webhook-signature"].split(" "):
        if hmac.compare_digest(candidate, expected):
            return
    raise InvalidSignature("no signature matches")
