"""The reference server: a deterministic ASGI fake of the Anthropic Messages API, with named faults."""

from __future__ import annotations

from .app import create_app
from .faults import FAULTS
from .server import serve

__all__ = ["FAULTS", "create_app", "serve"]
