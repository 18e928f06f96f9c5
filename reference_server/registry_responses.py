"""Faults of answers: model behaviour, streams, count_tokens, /v1/models and per-endpoint auth."""

from __future__ import annotations

from . import endpoint_faults as ep
from . import message_faults as hook
from . import request_faults as rq
from . import response_faults as rs
from . import usage_faults as us
from .hooks import Fault
from .message_faults import no_auth, x_api_key_only
from .models import with_settings

REGISTRY = [
    # behaviour
    Fault(
        "mangle-non-ascii",
        "Every non-ASCII character of generated text becomes '?' (streamed and not).",
        "fault",
        message=rs.mangle_non_ascii,
    ),
    Fault(
        "auto-never-calls-tools",
        "Under tool_choice auto (or none given) tools are never called.",
        "fault",
        responder=hook.settings(auto_tool_calls=False),
    ),
    Fault(
        "ignore-tool-choice",
        "tool_choice is ignored (behaves as auto).",
        "fault",
        responder=hook.settings(tool_choice=False),
    ),
    Fault(
        "ignore-tool-choice-none",
        "tool_choice none is treated as auto.",
        "fault",
        responder=hook.settings(tool_choice_none=False),
    ),
    Fault(
        "no-parallel-tool-calls",
        "Only the first call directive is honoured (no parallel tool calls).",
        "fault",
        responder=hook.settings(parallel_calls=False),
    ),
    Fault(
        "ignore-disable-parallel",
        "disable_parallel_tool_use is ignored.",
        "fault",
        responder=hook.settings(disable_parallel=False),
    ),
    Fault(
        "duplicate-tool-ids",
        "Every tool_use block of a message gets the same id.",
        "fault",
        message=rs.duplicate_tool_ids,
    ),
    Fault(
        "thinking-ignored",
        "No thinking block, even when thinking is requested.",
        "fault",
        responder=hook.settings(thinking=False),
    ),
    Fault(
        "thinking-without-signature",
        "Non-stream thinking blocks lack the signature key.",
        "fault",
        json_message=rs.thinking_without_signature,
    ),
    Fault(
        "wrong-bearer-accepted",
        "Any Authorization: Bearer value is accepted (x-api-key is still checked).",
        "fault",
        auth=ep.any_bearer,
    ),
    # streaming
    Fault(
        "sse-no-signature-delta",
        "Thinking is streamed without a signature_delta.",
        "fault",
        events=rs.drop_signature_deltas,
    ),
    Fault(
        "sse-thinking-as-text",
        "A thinking block is streamed as a text block with text_delta.",
        "fault",
        stream_message=rs.thinking_as_text,
    ),
    Fault(
        "sse-stop-sequence-as-end-turn",
        "Streamed replies cut by a stop sequence report end_turn and stop_sequence null.",
        "fault",
        stream_message=rs.end_turn_for("stop_sequence"),
    ),
    Fault(
        "sse-max-tokens-as-end-turn",
        "Streamed replies cut by max_tokens report end_turn.",
        "fault",
        stream_message=rs.end_turn_for("max_tokens"),
    ),
    Fault(
        "sse-start-without-cache-fields",
        "message_start usage lacks cache_creation_input_tokens and cache_read_input_tokens.",
        "fault",
        events=rs.start_without_cache_fields,
    ),
    Fault(
        "sse-parallel-tools-interleaved",
        "Two or more tool_use blocks are streamed interleaved (all starts, alternating deltas, all stops).",
        "fault",
        events=rs.interleave_tool_blocks,
    ),
    Fault(
        "sse-tool-input-differs",
        'The streamed tool input carries an extra key "extra": true.',
        "fault",
        stream_message=rs.tool_input_extra_key,
    ),
    Fault(
        "sse-output-tokens-doubled",
        "message_delta usage.output_tokens is twice the non-stream value.",
        "fault",
        stream_message=rs.output_tokens_doubled,
    ),
    Fault(
        "sse-idle-gap",
        "The stream goes silent (no ping) for 1.5 s after its first chunk.",
        "fault",
        framing=hook.framing(pause_after_first=1.5),
    ),
    Fault(
        "sse-malformed-error-event",
        'After the first delta an event: error with data {"error": "overloaded"}, and the stream ends.',
        "fault",
        events=rs.error_after_first_delta,
    ),
    Fault(
        "sse-tool-as-text",
        "Streamed tool calls come as a text block holding the call's JSON, with stop_reason end_turn.",
        "fault",
        stream_message=rs.tool_calls_as_text,
    ),
    Fault(
        "sse-ping-before-start",
        "A ping comes before message_start.",
        "fault",
        events=us.ping_before_start,
    ),
    Fault(
        "sse-request-error-first",
        "Streams are HTTP 200 with one error event, an invalid_request_error, instead of an HTTP 400.",
        "fault",
        events=us.request_error_first,
    ),
    Fault("sse-no-pings", "Streams carry no ping events.", "fault", events=us.no_pings),
    # usage
    Fault(
        "usage-output-one",
        "usage.output_tokens is 1 whatever the reply (streamed and not).",
        "fault",
        message=us.output_one,
    ),
    Fault(
        "usage-delta-output-zero",
        "message_delta usage.output_tokens is 0 after the text was streamed.",
        "fault",
        events=us.delta_output_zero,
    ),
    Fault(
        "usage-input-short-zero",
        "usage.input_tokens undercounts by 2: 0 for a one-word prompt such as 'Hi' (streamed and not).",
        "fault",
        message=us.input_short_zero,
    ),
    Fault(
        "usage-constant",
        "usage is 10 input and 5 output tokens for every request (streamed and not).",
        "fault",
        message=us.constant,
    ),
    Fault(
        "usage-output-is-total",
        "usage.output_tokens carries input plus output tokens (streamed and not).",
        "fault",
        message=us.output_is_total,
    ),
    # count_tokens
    Fault(
        "models-missing",
        "GET /v1/models and /v1/models/{id} do not exist (404 not_found_error).",
        "fault",
        route=rq.route_404("models", "model"),
    ),
    Fault(
        "count-tokens-missing",
        "count_tokens does not exist (404 not_found_error).",
        "fault",
        route=rq.route_404("count_tokens"),
    ),
    Fault(
        "count-tokens-missing-plain",
        "count_tokens does not exist, answered as a web framework does (404 {\"detail\": \"Not Found\"}).",
        "fault",
        route=rq.route_unserved(404, {"detail": "Not Found"}, "application/json", "count_tokens"),
    ),
    Fault(
        "models-missing-plain",
        "GET /v1/models and /v1/models/{id} are not routed: 405 with a plain-text body.",
        "fault",
        route=rq.route_unserved(405, "Method Not Allowed", "text/plain; charset=utf-8", "models", "model"),
    ),
    Fault(
        "count-tokens-ignores-system",
        "count_tokens leaves the system prompt out.",
        "fault",
        count_tokens=ep.ignoring("system"),
    ),
    Fault(
        "count-tokens-ignores-tools",
        "count_tokens leaves the tool definitions out.",
        "fault",
        count_tokens=ep.ignoring("tools"),
    ),
    Fault(
        "count-tokens-halved", "count_tokens reports half the input tokens.", "fault", count_tokens=ep.halved
    ),
    Fault(
        "count-tokens-string",
        "count_tokens returns input_tokens as a string.",
        "fault",
        count_tokens=ep.as_string,
    ),
    Fault(
        "count-tokens-no-validation",
        "count_tokens bodies are not validated (no messages: 200 with 1 token).",
        "fault",
        relax=frozenset({"count-tokens-validation"}),
    ),
    # /v1/models
    Fault(
        "models-openai-shape",
        "/v1/models answers in the OpenAI shape {object: list, data: [{id, object, created, owned_by}]}.",
        "fault",
        models=with_settings(openai_shape=True),
    ),
    Fault(
        "models-get-404", "GET /v1/models/{id} is always 404.", "fault", models=with_settings(get_by_id=False)
    ),
    Fault(
        "models-unknown-200",
        "GET /v1/models/<unknown> answers a made-up ModelInfo.",
        "fault",
        models=with_settings(invent_unknown=True),
    ),
    Fault(
        "models-ignore-limit",
        "limit is ignored: all models, has_more false.",
        "fault",
        models=with_settings(honour_limit=False),
    ),
    Fault(
        "models-created-at-epoch",
        "created_at is an integer epoch instead of an RFC 3339 string.",
        "fault",
        models=with_settings(epoch_created_at=True),
    ),
    # auth per endpoint
    Fault(
        "count-tokens-bearer-only",
        "count_tokens reads only Authorization: Bearer.",
        "fault",
        auth=ep.bearer_only,
        auth_endpoints=ep.COUNT_TOKENS,
    ),
    Fault(
        "count-tokens-x-api-key-only",
        "count_tokens reads only x-api-key.",
        "fault",
        auth=x_api_key_only,
        auth_endpoints=ep.COUNT_TOKENS,
    ),
    Fault(
        "count-tokens-no-auth",
        "count_tokens accepts requests without a key.",
        "fault",
        auth=no_auth,
        auth_endpoints=ep.COUNT_TOKENS,
    ),
    Fault(
        "models-bearer-only",
        "/v1/models reads only Authorization: Bearer.",
        "fault",
        auth=ep.bearer_only,
        auth_endpoints=ep.MODELS,
    ),
    Fault(
        "models-x-api-key-only",
        "/v1/models reads only x-api-key.",
        "fault",
        auth=x_api_key_only,
        auth_endpoints=ep.MODELS,
    ),
    Fault(
        "models-no-auth",
        "/v1/models accepts requests without a key.",
        "fault",
        auth=no_auth,
        auth_endpoints=ep.MODELS,
    ),
]
