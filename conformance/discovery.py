"""Finding out about a target before the run: is it reachable, and which model does it list first."""

from __future__ import annotations

from dataclasses import replace

from conformance.target import Target
from conformance.wire import Wire, WireRequest


class Unreachable(Exception):
    """The target cannot be reached at all (refused, DNS, TLS, timeout)."""


def probe_models(target: Target) -> tuple[int | None, object]:
    """GET /v1/models with x-api-key, then Bearer: (status, parsed body). Raises Unreachable."""
    wire = Wire(target)
    try:
        last = None
        for auth in ("x-api-key", "bearer"):
            ex = wire.send("models", WireRequest(method="GET", path="/v1/models", auth=auth,
                                                 version=target.anthropic_version))
            if ex.error:
                raise Unreachable(ex.error)
            last = ex
            if ex.ok:
                break
        return last.status, last.json
    finally:
        wire.close()


def first_model(target: Target) -> Target:
    """The target with its model set to the first model it lists (unchanged when it lists none)."""
    try:
        _, body = probe_models(target)
    except Unreachable:
        return target
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, list) and data and isinstance(data[0], dict) and isinstance(data[0].get("id"), str):
        return replace(target, model=data[0]["id"])
    return target
