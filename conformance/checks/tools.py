"""Checks of tool use: a forced call, ids, stop_reason, input against its schema, and the round trip."""

from __future__ import annotations

import json
import re

import jsonschema

from conformance.checks.acceptance import declined
from conformance.checks.common import (
    block_types,
    contains_words,
    controlled_miss,
    id_findings,
    message_text,
    missing_call,
    model_gated,
    require_message,
    short,
    tool_uses,
)
from conformance.engine import Blocked, Context, Unsupported, check, fail, finding
from conformance.verdicts import MODEL_GATED_REASON, Finding
from conformance.wire import Exchange

PROBE = "tool-forced"
OWNER = "tools/forced-call"
TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")


def forced(ctx: Context) -> Exchange:
    """The directed tool call the tool checks judge: forced (tool_choice tool), or asked in words with tool_choice
    auto where the model's row says it refuses forced tool use (Probes.forced)."""
    return ctx.exchange(PROBE, lambda: ctx.request(ctx.probes.tool_body(PROBE)))


def forced_call(ctx: Context, *, rule: str = "") -> tuple[dict | None, list[Finding]]:
    """The tool_use block of the directed call, or findings saying why there is none. Those findings are
    tools/forced-call's; the checks that judge the call (its id, input, stop_reason) are skipped without one."""
    body, findings = require_message(forced(ctx), rule=rule)
    if body is None:
        return None, ctx.needs(findings, OWNER, "no Message from the forced tool call probe")
    spec = ctx.probes.tool(PROBE)
    calls = [b for b in tool_uses(body) if b.get("name") == spec.name]
    if not calls:
        kinds = block_types(body) if isinstance(body.get("content"), list) else body.get("content")
        return None, ctx.needs([missing_call(ctx, spec.name, f"content block types {short(kinds)}", "$.content",
                                             rule=rule)], OWNER, "no tool call to judge")
    return calls[0], []


def _refused_forced(ctx: Context) -> None:
    """On a model whose row says it refuses forced tool use: send the forced call anyway; the documented 400 (or
    any clean refusal) is unsupported. Returns when the target took it: the directed call is judged then."""
    spec = ctx.probes.tool(PROBE)
    body = {**ctx.probes.tool_body(PROBE), "tool_choice": {"type": "tool", "name": spec.name}}
    ex = ctx.exchange(PROBE + "-refused", lambda: ctx.request(body))
    model_gated(ex, "forced tool use")
    if refusal := declined(ex):  # the model's, by its row: no profile counts it
        raise Unsupported(f"{MODEL_GATED_REASON} (forced tool use: the {ctx.target.model_row.describe()} row says the "
                          f"model refuses it, and the target declined it: {short(refusal, 160)})")


@check("tools/forced-call", rule="TOOL-FORCED", tier="cheap")
def forced_tool_call(ctx: Context):
    """tool_choice {type: tool} yields a tool_use for that tool with the requested input (the model's documented
    400 where it refuses forced tool use: unsupported)."""
    model_gated(forced(ctx), "forced tool use")
    if not ctx.probes.forced:
        _refused_forced(ctx)
    call, findings = forced_call(ctx)
    if call is None:
        return findings
    spec = ctx.probes.tool(PROBE)
    value = call.get("input")
    if not isinstance(value, dict):
        return [fail("input as a JSON object", short(value), "$.content[].input")]
    if value != spec.arguments:
        return [finding(ctx.content_verdict(), f"input {spec.arguments}", short(value),
                        "$.content[].input")]
    return []


@check("tools/tool-use-id", rule="TOOL-ID", tier="cheap")
def tool_use_id(ctx: Context):
    """tool_use.id matches ^[a-zA-Z0-9_-]+$ (toolu_ prefix expected)."""
    call, findings = forced_call(ctx)
    if call is None:
        return findings
    return id_findings(call.get("id"), "$.content[].id", "toolu_", TOOL_ID)


@check("tools/stop-reason", rule="TOOL-STOP-REASON", tier="cheap")
def tool_stop_reason(ctx: Context):
    """A turn that ends in a tool call has stop_reason tool_use."""
    call, findings = forced_call(ctx)
    if call is None:
        return findings
    body = forced(ctx).json
    if body.get("stop_reason") != "tool_use":
        return [fail("stop_reason tool_use", short(body.get("stop_reason")), "$.stop_reason")]
    return []


@check("tools/input-matches-schema", rule="TOOL-INPUT-SCHEMA", tier="cheap")
def input_matches_schema(ctx: Context):
    """tool_use.input is an object valid against the tool's input_schema."""
    call, findings = forced_call(ctx)
    if call is None:
        return findings
    value = call.get("input")
    if not isinstance(value, dict):
        return [fail("a JSON object", f"{type(value).__name__} {short(value)}", "$.content[].input")]
    schema = ctx.probes.tool(PROBE).schema
    return [fail("valid against the tool's input_schema", err.message,
                 "$.content[].input" + "".join(f"[{p!r}]" for p in err.absolute_path))
            for err in jsonschema.Draft202012Validator(schema).iter_errors(value)]


def second_turn(ctx: Context, key: str, result_content, is_error: bool = False) -> tuple[dict, str]:
    """The request that sends the tool result back (the assistant turn replayed verbatim when the target gave one),
    and how that assistant turn was made."""
    spec = ctx.probes.tool(PROBE)
    first = forced(ctx)
    body = first.json if first.ok and isinstance(first.json, dict) else None
    calls = [b for b in tool_uses(body) if b.get("name") == spec.name and isinstance(b.get("id"), str)
             and TOOL_ID.match(b["id"])]
    if calls and isinstance(calls[0].get("input"), dict):
        assistant = body["content"]
        tool_id, how = calls[0]["id"], "the target's own tool_use turn, replayed verbatim"
    else:
        tool_id = "toolu_" + ctx.session.nonces.word(key + ".id")
        assistant = [{"type": "tool_use", "id": tool_id, "name": spec.name, "input": spec.arguments}]
        how = "a harness-made tool_use turn (the first turn gave no usable tool_use)"
    result = {"type": "tool_result", "tool_use_id": tool_id, "content": result_content}
    if is_error:
        result["is_error"] = True
    request_body = {
        "model": ctx.target.model, "max_tokens": 64, "tools": [spec.tool],
        "messages": [{"role": "user", "content": ctx.probes.tool_body(PROBE)["messages"][0]["content"]},
                     {"role": "assistant", "content": assistant},
                     {"role": "user", "content": [result]}],
    }
    return request_body, how


def round_trip_findings(ctx: Context, key: str, content_of, is_error: bool, *, rule: str = "") -> list[Finding]:
    words = ctx.probes.tool_result_words(key)
    request_body, how = second_turn(ctx, key, content_of(" ".join(words)), is_error)

    def answered(ex: Exchange) -> bool:
        return ex.ok and contains_words(message_text(ex.json if isinstance(ex.json, dict) else None), words)

    first, good = ctx.content_exchange(key, lambda: ctx.request(request_body), answered)  # a model's miss is retried
    body, findings = require_message(first, rule=rule)
    if body is None:
        return [Finding(f.verdict, f.rule, f.expected, f.got, f"second turn ({how})") for f in findings]
    if good is not None:
        return []
    return [controlled_miss(ctx, f"a final answer containing the tool result {' '.join(words)!r}",
                            short(message_text(body)) + f" (stop_reason {body.get('stop_reason')})",
                            f"second turn ({how})", words, "in a tool_result", reply=body, rule=rule)]


@check("tools/round-trip", rule="TOOL-ROUND-TRIP", tier="cheap")
def round_trip(ctx: Context):
    """tool_use, then tool_result (string content), then a final answer that uses the result."""
    return round_trip_findings(ctx, "tool-round-trip", lambda text: text, False)


@check("tools/result-blocks-with-error", rule="TOOL-RESULT-BLOCKS", tier="cheap")
def result_blocks(ctx: Context):
    """A tool_result with block-array content and is_error true is accepted and reaches the model."""
    return round_trip_findings(ctx, "tool-result-blocks", lambda text: [{"type": "text", "text": text}], True)


def _choice_request(ctx: Context, key: str, tool_choice: dict | None, directed: bool, count: int = 1):
    specs = [ctx.probes.tool(f"{key}.{i}") for i in range(count)]
    text = "\n".join(f"Call the tool {s.name} with input {json.dumps(s.arguments)}" for s in specs) if directed \
        else "Hello."
    body = {"model": ctx.target.model, "max_tokens": 256, "tools": [s.tool for s in specs],
            "messages": [{"role": "user", "content": text}]}
    if tool_choice is not None:
        body["tool_choice"] = tool_choice
    return specs, (lambda: ctx.request(body))


def _calls(ex: Exchange) -> list[dict]:
    return tool_uses(ex.json if ex.ok and isinstance(ex.json, dict) else None)


@check("tools/choice-auto", rule="TOOL-CHOICE", tier="cheap")
def choice_auto(ctx: Context):
    """tool_choice auto: asked to call a tool, the model calls it."""
    specs, build = _choice_request(ctx, "choice-auto", {"type": "auto"}, directed=True)
    first, good = ctx.content_exchange("choice-auto", build, lambda ex: any(c.get("name") == specs[0].name
                                                                             for c in _calls(ex)))
    body, findings = require_message(first)
    if body is None:
        return findings
    if good is None:
        return [finding(ctx.content_verdict(), f"a tool_use calling {specs[0].name} (tool_choice auto)",
                        short(block_types(body)), "$.content")]
    return []


@check("tools/choice-any", rule="TOOL-CHOICE", tier="cheap")
def choice_any(ctx: Context):
    """tool_choice any: some tool is called even without being asked, with stop_reason tool_use."""
    _, build = _choice_request(ctx, "choice-any", {"type": "any"}, directed=False)
    first = ctx.exchange("choice-any", build)
    model_gated(first, "forced tool use (tool_choice any)")
    body, findings = require_message(first)
    if body is None:
        return findings
    out = []
    if not tool_uses(body):
        out.append(fail("a tool_use block (tool_choice any forces a tool call)",
                        short(block_types(body)), "$.content"))
    if body.get("stop_reason") != "tool_use":
        out.append(fail("stop_reason tool_use", short(body.get("stop_reason")), "$.stop_reason"))
    return out


@check("tools/choice-none", rule="TOOL-CHOICE", tier="cheap")
def choice_none(ctx: Context):
    """tool_choice none: no tool is called, even when asked."""
    _, build = _choice_request(ctx, "choice-none", {"type": "none"}, directed=True)
    body, findings = require_message(ctx.exchange("choice-none", build))
    if body is None:
        return findings
    if tool_uses(body) or body.get("stop_reason") == "tool_use":
        return [fail("no tool_use block and stop_reason other than tool_use (tool_choice none)",
                     f"{len(tool_uses(body))} tool_use blocks, stop_reason {short(body.get('stop_reason'))}",
                     "$.content")]
    return []


def parallel(ctx: Context) -> tuple[list, Exchange | None, Exchange]:
    specs, build = _choice_request(ctx, "parallel", None, directed=True, count=2)
    names = {s.name for s in specs}
    first, good = ctx.content_exchange("parallel", build, lambda ex: {c.get("name") for c in _calls(ex)} >= names)
    return specs, good, first


@check("tools/parallel-calls", rule="TOOL-PARALLEL", tier="cheap", feature="parallel-tool-use")
def parallel_calls(ctx: Context):
    """Asked to call two tools, the model returns two tool_use blocks in one message."""
    specs, good, first = parallel(ctx)
    body, findings = require_message(first)
    if body is None:
        return findings
    if good is None:
        return [finding(ctx.content_verdict(), f"tool_use blocks for {specs[0].name} and {specs[1].name}",
                        short([c.get("name") for c in tool_uses(body)]), "$.content")]
    return []


@check("tools/parallel-ids-unique", rule="TOOL-ID-UNIQUE", tier="cheap", feature="parallel-tool-use")
def parallel_ids_unique(ctx: Context):
    """The tool_use ids of one message are distinct."""
    _, good, first = parallel(ctx)
    body, findings = require_message(first)
    if body is None:
        return findings
    ids = [c.get("id") for c in tool_uses((good or first).json)]
    if len(ids) < 2:
        raise Blocked("tools/parallel-calls", f"the target made {len(ids)} tool call(s); ids are judged when it makes two, "
                      "and tools/parallel-calls reports it")
    if len(set(map(str, ids))) != len(ids):
        return [fail("distinct tool_use ids", short(ids), "$.content[].id")]
    return []


@check("tools/disable-parallel", rule="TOOL-DISABLE-PARALLEL", tier="cheap")
def disable_parallel(ctx: Context):
    """disable_parallel_tool_use: at most one tool_use block, even when asked for two."""
    _, build = _choice_request(ctx, "no-parallel", {"type": "auto", "disable_parallel_tool_use": True},
                               directed=True, count=2)
    body, findings = require_message(ctx.exchange("no-parallel", build))
    if body is None:
        return findings
    if len(tool_uses(body)) > 1:
        return [fail("at most one tool_use block", f"{len(tool_uses(body))} tool_use blocks",
                     "$.content")]
    return []


@check("tools/parallel-results", rule="TOOL-PARALLEL-RESULTS", tier="cheap")
def parallel_results(ctx: Context):
    """Two tool_result blocks in one user turn are accepted and both reach the model."""
    specs = [ctx.probes.tool(f"results.{i}") for i in range(2)]
    words = [ctx.probes.tool_result_words(f"results.{i}") for i in range(2)]
    ids = ["toolu_" + ctx.session.nonces.word(f"results.{i}.id") for i in range(2)]
    text = "\n".join(f"Call the tool {s.name} with input {json.dumps(s.arguments)}" for s in specs)
    body = {
        "model": ctx.target.model, "max_tokens": 64, "tools": [s.tool for s in specs],
        "messages": [
            {"role": "user", "content": text + "\nAfter the tools return, reply with exactly the tool result."},
            {"role": "assistant", "content": [{"type": "tool_use", "id": i, "name": s.name, "input": s.arguments}
                                              for i, s in zip(ids, specs, strict=True)]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": i, "content": " ".join(w)}
                                         for i, w in zip(ids, words, strict=True)]},
        ],
    }

    def ok(ex):
        text = message_text(ex.json if ex.ok and isinstance(ex.json, dict) else None)
        return all(contains_words(text, w) for w in words)

    first, good = ctx.content_exchange("parallel-results", lambda: ctx.request(body), ok)
    reply, findings = require_message(first)
    if reply is None:
        return findings
    if good is None:
        return [controlled_miss(ctx, f"an answer with both results {' '.join(words[0])!r} and {' '.join(words[1])!r}",
                                short(message_text(reply)), "$.content", words[0] + words[1], "in two tool_results",
                                reply=reply)]
    return []
