"""anthropic-conformance: a conformance harness for Anthropic Messages API compatible endpoints."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
