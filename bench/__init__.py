"""The benchmark of anthropic-conformance and its reference server: `python -m bench` (see bench/README.md)."""

from __future__ import annotations
