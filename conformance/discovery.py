"""Finding out about a target before the run: is it reachable, and which model does it list first."""

from __future__ import annotations

import re
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


def key_rejected(target: Target, model: str) -> str | None:
    """GET /v1/models refused the key: confirm on POST /v1/messages (1 output token at most) with both auth styles.
    Returns how the target refused, or None when one of them was accepted (or answered anything but 401/403)."""
    wire = Wire(target)
    try:
        answers = [wire.send("key-check", WireRequest(body=_probe_body(model), auth=style,
                                                      version=target.anthropic_version))
                   for style in ("x-api-key", "bearer")]
    finally:
        wire.close()
    if all(ex.status in (401, 403) for ex in answers):
        return f"HTTP {answers[0].status} and {answers[1].status}"
    return None


def model_unknown(target: Target) -> str | None:
    """POST /v1/messages with the target's model (1 output token at most). Returns the target's own words when it
    clearly says it does not know the model, else None: any other answer, a transport failure included, is left to
    the checks to judge."""
    wire = Wire(target)
    try:
        ex = wire.send("model-check", WireRequest(body=_probe_body(target.model), auth="x-api-key",
                                                  version=target.anthropic_version))
        if ex.status in (401, 403):
            ex = wire.send("model-check-bearer", WireRequest(body=_probe_body(target.model), auth="bearer",
                                                             version=target.anthropic_version))
    finally:
        wire.close()
    return None if ex.error else says_model_unknown(ex.status, ex.json, target.model)


# Words that say a model is unknown, in an error message that names the model.
UNKNOWN_WORDS = ("not found", "unknown", "does not exist", "doesn't exist", "invalid model", "not a valid model",
                 "no such model")


def says_model_unknown(status: int | None, body: object, model: str) -> str | None:
    """The target's answer, quoted, when it clearly says the model is unknown: a 404 not_found_error whose message
    names the model (or says "model": a wrong path is a 404 too, but says nothing of a model), a 4xx whose message
    names the model as not found, unknown, not existing or invalid, or OpenAI's code model_not_found. None for
    anything else: 401, 403, 408, 413, 429, and every error about something other than the model."""
    if status is None or not 400 <= status < 500 or status in (401, 403, 408, 413, 429):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        kind, message, code = error.get("type"), error.get("message"), error.get("code")
    elif isinstance(error, str):  # {"error": "..."}, as some layers answer
        kind, message, code = None, error, None
    else:
        return None
    if not isinstance(message, str):
        return None
    names = bool(model) and re.search(rf"(?<![\w-])(?<!\w\.){re.escape(model)}(?![\w-]|\.\w)", message, re.I) is not None
    lowered = message.lower()
    clear = (
        (status == 404 and kind == "not_found_error" and (names or "model" in lowered))
        or (names and any(word in lowered for word in UNKNOWN_WORDS))
        or code == "model_not_found"
    )
    if not clear:
        return None
    said = " ".join(message.split())
    said = said if len(said) <= 160 else said[:159] + "…"
    return f"HTTP {status}" + (f" {kind}" if isinstance(kind, str) else "") + f": {said}"


def listed_models(body: object, limit: int = 5) -> list[str]:
    """The first model ids a GET /v1/models body lists (none when it is not a model list)."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return []
    return [item["id"] for item in data if isinstance(item, dict) and isinstance(item.get("id"), str)][:limit]


def _probe_body(model: str) -> dict:
    return {"model": model, "max_tokens": 1, "messages": [{"role": "user", "content": "Hello."}]}
