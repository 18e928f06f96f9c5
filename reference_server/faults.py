"""The registry of named faults (known defects of compatible endpoints) and valid variants.

The first faults and the variants are listed here; registry_requests and registry_responses add the faults of
the whole contract (validation, statuses, rejections, behaviour, streams, count_tokens, models, per-endpoint auth).
"""

from __future__ import annotations

from functools import lru_cache

from . import event_faults as sse
from . import message_faults as hook
from . import registry_requests, registry_responses
from .errors import internal
from .hooks import Fault, FaultSet

_CORE = [
    # auth and errors
    Fault(
        "bearer-first-auth",
        "Authorization: Bearer is read first when present: a valid x-api-key sent with another Bearer value gets 401.",
        "fault",
        auth=hook.bearer_first,
    ),
    Fault(
        "bearer-only-auth",
        "Only Authorization: Bearer is read; x-api-key alone gets a non-Anthropic 401 body.",
        "fault",
        auth=hook.bearer_only,
    ),
    Fault(
        "x-api-key-only-auth",
        "Only x-api-key is read; a Bearer-only request gets 401.",
        "fault",
        auth=hook.x_api_key_only,
    ),
    Fault("auth-not-enforced", "Any key, or none, is accepted.", "fault", auth=hook.no_auth),
    Fault(
        "wrong-key-403",
        "A wrong key gets 403 permission_error instead of 401.",
        "fault",
        auth=hook.wrong_key_403,
    ),
    Fault(
        "openai-error-shape",
        "Error bodies use the OpenAI envelope {error:{message,type,param,code}}.",
        "fault",
        error_body=hook.openai_error,
    ),
    Fault(
        "error-type-pascal-case",
        "error.type is PascalCase (InvalidRequestError...).",
        "fault",
        error_body=hook.pascal_error_type,
    ),
    Fault(
        "no-request-id",
        "No request-id header on any response and no request_id in error bodies.",
        "fault",
        error_body=hook.drop_body_request_id,
        response_headers=hook.drop_request_id_header,
    ),
    Fault(
        "max-tokens-optional",
        "A missing max_tokens is accepted (default 1024).",
        "fault",
        request=hook.default("max_tokens", 1024, "messages"),
    ),
    Fault(
        "model-optional",
        "A missing model is accepted (default reference-model).",
        "fault",
        request=hook.default("model", "reference-model"),
    ),
    Fault(
        "crash-on-missing-messages",
        "A missing messages field crashes the server (500 api_error).",
        "fault",
        validate=hook.crash_on_missing_messages,
    ),
    Fault("invalid-json-500", "An unparsable body gets 500 api_error.", "fault", bad_json=internal()),
    # non-streaming message
    Fault(
        "json-as-text-plain",
        "JSON responses are served as text/plain.",
        "fault",
        response_headers=hook.content_type("json", "text/plain; charset=utf-8"),
    ),
    Fault(
        "message-missing-type", "The Message has no type field.", "fault", json_message=hook.without("type")
    ),
    Fault(
        "message-no-stop-sequence-key",
        "The Message has no stop_sequence key.",
        "fault",
        json_message=hook.without("stop_sequence"),
    ),
    Fault(
        "usage-zero-input",
        "usage.input_tokens is 0 (also in message_start).",
        "fault",
        message=hook.zero_input,
    ),
    Fault("message-id-null", "The Message id is null.", "fault", json_message=hook.with_value("id", None)),
    Fault(
        "message-id-chatcmpl",
        "The Message id is an OpenAI chatcmpl- id.",
        "fault",
        json_message=hook.chatcmpl_id,
    ),
    Fault(
        "empty-text-block",
        "An empty text block is prepended to non-stream content.",
        "fault",
        json_message=hook.prepend_empty_text,
    ),
    Fault(
        "model-echoes-prompt",
        "The model answers every text request by quoting the last user turn back (as some fakes do).",
        "fault",
        responder=hook.settings(echo_prompt=True),
    ),
    Fault(
        "ignore-user-directives",
        "Instructions in user turns are ignored (system ones still work).",
        "fault",
        responder=hook.settings(user_directives=False),
    ),
    Fault(
        "max-tokens-ignored",
        "max_tokens never truncates the output.",
        "fault",
        responder=hook.settings(max_tokens=False),
    ),
    Fault(
        "stop-sequences-ignored",
        "stop_sequences are ignored.",
        "fault",
        responder=hook.settings(stop_sequences=False),
    ),
    Fault(
        "message-missing-usage",
        "The non-stream Message has no usage.",
        "fault",
        json_message=hook.without("usage"),
    ),
    # streaming
    Fault(
        "sse-as-json-content-type",
        "Streams are served as application/json.",
        "fault",
        response_headers=hook.content_type("sse", "application/json"),
    ),
    Fault(
        "sse-no-event-lines",
        "SSE frames carry data: lines only, no event: lines.",
        "fault",
        events=sse.unnamed,
    ),
    Fault(
        "sse-wrong-event-name",
        "content_block_delta events are named 'delta'.",
        "fault",
        events=sse.rename_deltas,
    ),
    Fault(
        "sse-done-sentinel", "A data: [DONE] frame follows message_stop.", "fault", events=sse.done_sentinel
    ),
    Fault("sse-duplicate-message-start", "message_start is sent twice.", "fault", events=sse.duplicate_start),
    Fault(
        "sse-start-without-usage",
        "message_start.message has no usage.",
        "fault",
        events=sse.edit("message_start", sse.pop("message", "usage")),
    ),
    Fault(
        "sse-overlapping-blocks",
        "A text block is split in two blocks that both use index 0, overlapping.",
        "fault",
        events=sse.overlapping_blocks,
    ),
    Fault(
        "sse-thinking-delta-in-text-block",
        "Text arrives as thinking_delta inside a text block.",
        "fault",
        events=sse.edit("content_block_delta", sse.thinking_deltas),
    ),
    Fault(
        "sse-message-delta-without-usage",
        "message_delta has no usage.",
        "fault",
        events=sse.edit("message_delta", sse.pop("usage")),
    ),
    Fault(
        "sse-null-stop-reason",
        "The final message_delta has stop_reason null.",
        "fault",
        events=sse.null_stop_reason,
    ),
    Fault(
        "sse-no-message-stop",
        "The stream ends without message_stop.",
        "fault",
        events=sse.drop("message_stop"),
    ),
    Fault(
        "sse-message-start-missing-model",
        "message_start.message has no model.",
        "fault",
        events=sse.edit("message_start", sse.pop("message", "model")),
    ),
    Fault(
        "sse-lose-text-delta",
        "The first text_delta of a multi-delta block is lost.",
        "fault",
        events=sse.lose_first_text_delta,
    ),
    Fault(
        "sse-partial-json-object",
        "partial_json is the input object itself, in one delta.",
        "fault",
        events=sse.partial_json_object,
    ),
    Fault(
        "sse-drop-after-16-deltas",
        "Text deltas after the 16th are dropped; the stream still ends well.",
        "fault",
        events=sse.drop_after_16_text_deltas,
    ),
    Fault(
        "sse-no-message-start", "The stream has no message_start.", "fault", events=sse.drop("message_start")
    ),
    Fault(
        "sse-truncated",
        "The stream ends in the middle of an event (after message_stop).",
        "fault",
        framing=hook.framing(unterminated_tail='event: ping\ndata: {"type":"pi'),
    ),
    Fault(
        "sse-unknown-event",
        "An undocumented event type (vertex_event) comes after message_start.",
        "fault",
        events=sse.unknown_event,
    ),
    Fault(
        "tool-call-end-turn",
        "A turn ending in tool calls has stop_reason end_turn.",
        "fault",
        message=hook.end_turn_for_tools,
    ),
    # tools and system
    Fault(
        "tools-ignored",
        "tools and tool_choice are ignored; the reply is text.",
        "fault",
        responder=hook.settings(tools=False),
    ),
    Fault(
        "tool-id-dotted",
        "tool_use ids are call.<hex>, outside the allowed pattern.",
        "fault",
        message=hook.tool_id("call."),
    ),
    Fault(
        "tool-id-openai", "tool_use ids are OpenAI-style call_<hex>.", "fault", message=hook.tool_id("call_")
    ),
    Fault(
        "tool-input-as-string",
        "Non-stream tool_use.input is a JSON string.",
        "fault",
        json_message=hook.map_tool_uses(hook.tool_input_as_string),
    ),
    Fault(
        "tool-result-ignored",
        "tool_result blocks never reach the model.",
        "fault",
        responder=hook.settings(tool_results=False),
    ),
    Fault(
        "tool-result-blocks-rejected",
        "A tool_result with block-array content gets 400.",
        "fault",
        validate=hook.reject_tool_result_blocks,
    ),
    Fault(
        "system-string-ignored",
        "A top-level system string is dropped.",
        "fault",
        responder=hook.settings(system_string=False),
    ),
    Fault(
        "system-blocks-ignored",
        "A top-level system given as blocks is dropped.",
        "fault",
        responder=hook.settings(system_blocks=False),
    ),
    Fault(
        "role-system-rejected", "role: system messages get 400.", "fault", validate=hook.reject_role_system
    ),
    # headers
    Fault("beta-query-404", "Requests with ?beta=true get 404.", "fault", route=hook.beta_query_404),
    Fault(
        "only-version-2026", "anthropic-version 2023-06-01 gets 400.", "fault", headers=hook.only_version_2026
    ),
    Fault(
        "only-version-2023", "anthropic-version 2026-10-21 gets 400.", "fault", headers=hook.only_version_2023
    ),
    Fault("reject-unknown-betas", "Any anthropic-beta header gets 400.", "fault", headers=hook.reject_betas),
    # valid variants
    Fault("crlf", "CRLF line endings in the stream.", "variant", framing=hook.framing(newline="\r\n")),
    Fault("cr", "CR line endings in the stream.", "variant", framing=hook.framing(newline="\r")),
    Fault(
        "sse-comments",
        "Comment lines before and inside every event.",
        "variant",
        framing=hook.framing(comments=True),
    ),
    Fault(
        "multiline-data",
        "Event data pretty-printed over several data: lines.",
        "variant",
        framing=hook.framing(multiline_data=True),
    ),
    Fault(
        "no-space-after-colon",
        "Fields written as event:x and data:{...}.",
        "variant",
        framing=hook.framing(space_after_colon=False),
    ),
    Fault(
        "small-chunks",
        "The stream body is written 3 bytes at a time.",
        "variant",
        framing=hook.framing(chunk_size=3),
    ),
    Fault(
        "pings-everywhere",
        "A ping after every event (message_start still comes first).",
        "variant",
        events=sse.pings_everywhere,
    ),
    Fault(
        "extra-fields",
        "Unknown extra fields in the message, events, usage and content blocks.",
        "variant",
        message=hook.extra_in_message,
        events=sse.extra_in_events,
    ),
    Fault(
        "several-text-blocks",
        "The reply text comes as two consecutive text blocks.",
        "variant",
        message=hook.split_first_text,
    ),
    Fault("bom", "A UTF-8 byte order mark starts the stream.", "variant", framing=hook.framing(bom=True)),
]

_REGISTRY = [*_CORE, *registry_requests.REGISTRY, *registry_responses.REGISTRY]
FAULTS: dict[str, Fault] = {fault.name: fault for fault in _REGISTRY}
_ORDER: dict[str, int] = {fault.name: number for number, fault in enumerate(_REGISTRY)}


class UnknownFault(KeyError):
    """A fault spec names a fault that is not in the registry."""


@lru_cache(maxsize=1024)
def fault_set(spec: str) -> FaultSet:
    """The faults named in a spec such as "sse-no-message-stop+no-request-id", in registry order.

    Work is proportional to the spec, not to the registry, and each spec is parsed once (cached).
    """
    names = {name for name in spec.split("+") if name}
    for name in names:
        if name not in FAULTS:
            raise UnknownFault(name)
    return FaultSet(tuple(FAULTS[name] for name in sorted(names, key=_ORDER.__getitem__)))
