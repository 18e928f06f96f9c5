"""Identifiers in the real API's shapes: request, message and tool-use ids."""

from __future__ import annotations

import hashlib
import secrets

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_LENGTH = 24


def random_base62(length: int = ID_LENGTH) -> str:
    """`length` random base62 characters."""
    return "".join(secrets.choice(BASE62) for _ in range(length))


def derived_base62(seed: str, salt: str, length: int = ID_LENGTH) -> str:
    """`length` base62 characters derived deterministically from seed and salt."""
    number = int.from_bytes(hashlib.sha256(f"{seed}\x00{salt}".encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        chars.append(BASE62[digit])
    return "".join(chars)


def derived_hex(seed: str, salt: str, length: int = 24) -> str:
    """`length` hex characters derived deterministically from seed and salt."""
    return hashlib.sha256(f"{seed}\x00{salt}".encode()).hexdigest()[:length]


def request_id() -> str:
    """A fresh `req_` id, as in the request-id header."""
    return "req_" + random_base62()
