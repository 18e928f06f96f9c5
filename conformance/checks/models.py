"""Checks of GET /v1/models and /v1/models/{id}: page shape, items, lookup, unknown ids, pagination."""

from __future__ import annotations

from datetime import datetime

from conformance.checks.bad_requests import rejected
from conformance.checks.common import error_detail, short, unserved
from conformance.engine import Blocked, Context, check, fail, strict
from conformance.verdicts import Finding
from conformance.wire import Exchange

FEATURE = "models"
ITEM_KEYS = ("type", "id", "display_name", "created_at")


def get(ctx: Context, name: str, path: str) -> Exchange:
    ex = ctx.exchange(name, lambda: ctx.request(None, method="GET", path=path))
    if name == "models":
        unserved(ex.status, "GET /v1/models", error_detail(ex))
    return ex


def page(ctx: Context, *, rule: str = "") -> tuple[dict | None, list[Finding]]:
    ex = get(ctx, "models", "/v1/models")
    if not ex.ok:
        return None, [fail("HTTP 200", f"HTTP {ex.status}: {ex.body[:120].decode('utf-8', 'replace')}", rule=rule)]
    if not isinstance(ex.json, dict):
        return None, [fail("a JSON object", short(ex.body[:80]), rule=rule)]
    return ex.json, []


def item_findings(item: object, where: str, *, rule: str = "") -> list[Finding]:
    if not isinstance(item, dict):
        return [fail("a ModelInfo object", short(item), where, rule=rule)]
    out = []
    if item.get("type") != "model":
        out.append(fail('type "model"', short(item.get("type")), f"{where}.type", rule=rule))
    for key in ("id", "display_name", "created_at"):
        if not isinstance(item.get(key), str) or not item.get(key):
            out.append(fail("a non-empty string", short(item.get(key)) if key in item else "missing",
                            f"{where}.{key}", rule=rule))
    return out


@check("models/list-shape", rule="MODELS-PAGE", tier="free", feature=FEATURE)
def list_shape(ctx: Context):
    """GET /v1/models is a page {data, has_more, first_id, last_id} of ModelInfo {type, id, display_name, created_at}."""
    body, findings = page(ctx)
    if body is None:
        return findings
    out = []
    data = body.get("data")
    if not isinstance(data, list) or not data:
        return [fail("a non-empty data array", short(data), "$.data")]
    if not isinstance(body.get("has_more"), bool):
        out.append(fail("has_more: a boolean", short(body.get("has_more")), "$.has_more"))
    for key, index in (("first_id", 0), ("last_id", -1)):
        expected = data[index].get("id") if isinstance(data[index], dict) else None
        if body.get(key) != expected:
            out.append(fail(f"{key} {short(expected)} (the id of the page's {key[:-3]} item)",
                            short(body.get(key)), f"$.{key}"))
    for i, item in enumerate(data[:20]):
        out += item_findings(item, f"$.data[{i}]")
    return out


def first_id(ctx: Context) -> str:
    body, findings = page(ctx)
    data = (body or {}).get("data")
    if findings or not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise Blocked("models/list-shape", "GET /v1/models gave no model id to look up; models/list-shape reports why")
    return str(data[0].get("id"))


@check("models/get-listed", rule="MODELS-GET", tier="free", feature=FEATURE)
def get_listed(ctx: Context):
    """GET /v1/models/{id} for a listed id returns that ModelInfo."""
    model_id = first_id(ctx)
    ex = get(ctx, "model-get", f"/v1/models/{model_id}")
    if not ex.ok:
        return [fail(f"HTTP 200 for the listed model {model_id}", f"HTTP {ex.status}")]
    out = item_findings(ex.json, "$")
    if isinstance(ex.json, dict) and ex.json.get("id") != model_id:
        out.append(fail(f"id {short(model_id)}", short(ex.json.get("id")), "$.id"))
    return out


@check("models/unknown-404", rule="MODELS-UNKNOWN", tier="free", feature=FEATURE)
def unknown_404(ctx: Context):
    """GET /v1/models/{unknown id} is 404 not_found_error."""
    first_id(ctx)  # the endpoint exists
    ex = get(ctx, "model-unknown", "/v1/models/no-such-model-" + ctx.session.nonces.word("model"))
    return rejected(ex, 404, "not_found_error", "an unknown model id")


@check("models/pagination", rule="MODELS-PAGINATION", tier="free", feature=FEATURE)
def pagination(ctx: Context):
    """limit=1 gives one model, and after_id=<its id> continues with the next one."""
    body, findings = page(ctx)
    if body is None:
        return findings
    one = get(ctx, "models-limit", "/v1/models?limit=1")
    data = one.json.get("data") if one.ok and isinstance(one.json, dict) else None
    if not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], dict):
        return [fail("exactly one model for limit=1", short(data if data is not None else one.status),
                     "$.data")]
    total = len(body.get("data") or [])
    if one.json.get("has_more") is not (total > 1):
        return [fail(f"has_more {total > 1} (the full list has {total})",
                     short(one.json.get("has_more")), "$.has_more")]
    if total > 1:
        nxt = get(ctx, "models-after", f"/v1/models?limit=1&after_id={data[0].get('id')}")
        following = nxt.json.get("data") if nxt.ok and isinstance(nxt.json, dict) else None
        expected = body["data"][1].get("id") if isinstance(body["data"][1], dict) else None
        got = following[0].get("id") if isinstance(following, list) and following and isinstance(following[0], dict) \
            else following
        if got != expected:
            return [fail(f"after_id continues with {short(expected)}", short(got), "$.data[0].id")]
    return []


@check("models/created-at", rule="MODELS-CREATED-AT", tier="free", feature=FEATURE)
def created_at(ctx: Context):
    """created_at is an RFC 3339 date-time string."""
    body, findings = page(ctx)
    if body is None:
        return findings
    out = []
    for i, item in enumerate((body.get("data") or [])[:20]):
        value = item.get("created_at") if isinstance(item, dict) else None
        try:
            datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            ok = isinstance(value, str) and "T" in value
        except ValueError:
            ok = False
        if not ok:
            out.append(strict("an RFC 3339 date-time string", short(value),
                              f"$.data[{i}].created_at"))
    return out
