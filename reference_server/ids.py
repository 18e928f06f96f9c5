"""Identifiers in the real API's shapes: request, message and tool-use ids."""

from __future__ import annotations

import hashlib
import os
import random

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_LENGTH = 24
_RANDOM = random.Random(os.urandom(16))  # ids must be unique, not secret: no system call per id
_TO_BASE62 = bytes(ord(BASE62[byte % 62]) for byte in range(256))  # a random or digest byte -> a base62 character


def random_base62(length: int = ID_LENGTH) -> str:
    """`length` random base62 characters."""
    return _RANDOM.randbytes(length).translate(_TO_BASE62).decode("ascii")


def derived_base62(seed: str, salt: str, length: int = ID_LENGTH) -> str:
    """`length` (at most 32) base62 characters derived deterministically from seed and salt."""
    digest = hashlib.sha256(f"{seed}\x00{salt}".encode()).digest()
    return digest[:length].translate(_TO_BASE62).decode("ascii")


def derived_hex(seed: str, salt: str, length: int = 24) -> str:
    """`length` hex characters derived deterministically from seed and salt."""
    return hashlib.sha256(f"{seed}\x00{salt}".encode()).hexdigest()[:length]


def request_id() -> str:
    """A fresh `req_` id, as in the request-id header."""
    return "req_" + random_base62()
