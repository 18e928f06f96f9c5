"""anthropic-conformance: a conformance harness for Anthropic Messages API compatible endpoints."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["AnthropicFake", "__version__"]


def __getattr__(name: str) -> object:
    """AnthropicFake, imported on first use (the pytest plugin imports this package and must stay light)."""
    if name == "AnthropicFake":
        from conformance.fake import AnthropicFake

        return AnthropicFake
    raise AttributeError(f"module 'conformance' has no attribute {name!r}")
