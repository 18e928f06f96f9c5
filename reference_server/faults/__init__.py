"""The registry of named faults (known defects of compatible endpoints) and valid variants.

Each area module, mirroring conformance/checks/, holds the hooks and the FAULTS of the defects its checks catch;
common holds what areas share. ORDER is the catalogue's order: the order `serve --list-faults` and the detection
matrix list faults, and the order in which a set of combined faults applies its hooks (FaultSet). A new fault goes
in its area's FAULTS and at the end of ORDER.
"""

from __future__ import annotations

from functools import lru_cache

from ..hooks import Fault, FaultSet
from . import (
    acceptance,
    auth,
    count_tokens,
    errors,
    features,
    headers,
    message,
    models,
    parity,
    sdk,
    streaming,
    system,
    thinking,
    tools,
    usage,
    validation,
    variants,
)

AREAS = (acceptance, auth, count_tokens, errors, features, headers, message, models, parity, sdk, streaming, system,
         thinking, tools, usage, validation, variants)

ORDER = (
    # the first catalogue: auth and errors
    "bearer-first-auth", "bearer-only-auth", "x-api-key-only-auth", "auth-not-enforced", "wrong-key-403",
    "openai-error-shape", "error-type-pascal-case", "no-request-id", "max-tokens-optional", "model-optional",
    "crash-on-missing-messages", "invalid-json-500",
    # the non-streaming Message
    "json-as-text-plain", "message-missing-type", "message-no-stop-sequence-key", "usage-zero-input",
    "message-id-null", "message-id-chatcmpl", "empty-text-block", "model-echoes-prompt", "ignore-user-directives",
    "max-tokens-ignored", "stop-sequences-ignored", "message-missing-usage",
    # streams
    "sse-as-json-content-type", "sse-no-event-lines", "sse-wrong-event-name", "sse-done-sentinel",
    "sse-duplicate-message-start", "sse-start-without-usage", "sse-overlapping-blocks",
    "sse-thinking-delta-in-text-block", "sse-message-delta-without-usage", "sse-null-stop-reason",
    "sse-no-message-stop", "sse-message-start-missing-model", "sse-lose-text-delta", "sse-partial-json-object",
    "sse-drop-after-16-deltas", "sse-no-message-start", "sse-truncated", "sse-unknown-event", "tool-call-end-turn",
    # tools and system
    "tools-ignored", "tool-id-dotted", "tool-id-openai", "tool-input-as-string", "tool-result-ignored",
    "tool-result-blocks-rejected", "system-string-ignored", "system-blocks-ignored", "role-system-rejected",
    # headers
    "beta-query-404", "only-version-2026", "only-version-2023", "reject-unknown-betas",
    # valid variants
    "crlf", "cr", "sse-comments", "multiline-data", "no-space-after-colon", "small-chunks", "pings-everywhere",
    "extra-fields", "several-text-blocks", "bom",
    # request handling: validation switched off
    "accept-empty-messages", "accept-unknown-role", "accept-empty-text-block", "accept-orphan-tool-result",
    "accept-unanswered-tool-use", "accept-bad-tool-name", "ignore-unknown-fields", "accept-five-cache-breakpoints",
    "accept-negative-max-tokens", "accept-string-max-tokens", "accept-tool-choice-unknown-tool",
    "accept-small-thinking-budget", "version-optional", "accept-temperature-2026",
    # wrong statuses and error shapes
    "validation-422", "unknown-model-400", "unknown-model-200", "no-size-limit", "crash-on-messages-object",
    "not-found-html", "request-id-body-null", "request-id-uuid", "unknown-beta-500",
    # valid inputs rejected
    "reject-consecutive-roles", "prefill-500", "reject-prefill", "reject-images", "model-without-role-system",
    "model-without-temperature", "reject-streaming", "images-500", "reject-documents", "documents-500",
    "reject-thinking-replay", "reject-metadata", "reject-cache-control-on-tool-result", "leading-system-role-500",
    "reject-over-16-tools", "reject-context-management", "reject-multiple-stop-sequences", "reject-temperature",
    "reject-multiple-tool-results", "rate-limited-without-retry-after", "rate-limited-without-ratelimit-headers",
    "x-should-retry-invalid",
    # answers: model behaviour
    "mangle-non-ascii", "auto-never-calls-tools", "ignore-tool-choice", "ignore-tool-choice-none",
    "no-parallel-tool-calls", "ignore-disable-parallel", "duplicate-tool-ids", "thinking-ignored",
    "thinking-without-signature", "wrong-bearer-accepted",
    # streams
    "sse-no-signature-delta", "sse-thinking-as-text", "sse-stop-sequence-as-end-turn", "sse-max-tokens-as-end-turn",
    "sse-start-without-cache-fields", "sse-parallel-tools-interleaved", "sse-tool-input-differs",
    "sse-output-tokens-doubled", "sse-idle-gap", "sse-malformed-error-event", "sse-tool-as-text",
    "sse-ping-before-start", "sse-request-error-first", "sse-no-pings",
    # usage
    "usage-output-one", "usage-delta-output-zero", "usage-input-short-zero", "usage-constant",
    "usage-output-is-total",
    # missing endpoints and count_tokens
    "models-missing", "count-tokens-missing", "count-tokens-missing-plain", "models-missing-plain",
    "count-tokens-ignores-system", "count-tokens-ignores-tools", "count-tokens-halved", "count-tokens-string",
    "count-tokens-no-validation",
    # /v1/models
    "models-openai-shape", "models-get-404", "models-unknown-200", "models-ignore-limit", "models-created-at-epoch",
    # auth per endpoint
    "count-tokens-bearer-only", "count-tokens-x-api-key-only", "count-tokens-no-auth", "models-bearer-only",
    "models-x-api-key-only", "models-no-auth",
    # late-2026 features
    "typed-tools-need-input-schema", "reject-defer-loading", "reject-cache-ttl", "output-format-dropped",
    "context-management-beta-dropped", "accept-2026-content-rules", "head-root-500",
    # per model: layers in front of a model of fixtures/models.json (Fault.model)
    "reject-adaptive-thinking", "reject-output-config", "thinking-signature-blanked", "drop-signature-only-thinking",
    "model-gated-500",
    # a fixed model catalogue
    "narrow-model-catalogue",
    # a refusal of role: system messages in a layer's own words
    "role-system-rejected-own-words",
)


def _catalogue() -> dict[str, Fault]:
    """Every area's faults, by name, in ORDER; an error when a fault is in no area, in two, or not in ORDER."""
    by_name: dict[str, Fault] = {}
    for area in AREAS:
        for fault in area.FAULTS:
            if by_name.setdefault(fault.name, fault) is not fault:
                raise ValueError(f"fault {fault.name!r} is defined twice")
    if len(set(ORDER)) != len(ORDER) or set(ORDER) != set(by_name):
        raise ValueError(f"ORDER and the areas' faults differ: {sorted(set(ORDER) ^ set(by_name))}")
    return {name: by_name[name] for name in ORDER}


FAULTS: dict[str, Fault] = _catalogue()
_ORDER: dict[str, int] = {name: number for number, name in enumerate(ORDER)}


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
