"""Checks of request validation: each invalid request is rejected with the status and error.type the API uses."""

from __future__ import annotations

from conformance.checks.errors import validation_check

# check id -> (bad-request probe, rule)
VALIDATION_CHECKS = {
    "validation/empty-messages": ("empty-messages", "VAL-EMPTY-MESSAGES"),
    "validation/unknown-role": ("unknown-role", "VAL-ROLE"),
    "validation/empty-text-block": ("empty-text-block", "VAL-EMPTY-TEXT"),
    "validation/orphan-tool-result": ("orphan-tool-result", "VAL-TOOL-PAIRING"),
    "validation/unanswered-tool-use": ("unanswered-tool-use", "VAL-TOOL-PAIRING"),
    "validation/bad-tool-name": ("bad-tool-name", "VAL-TOOL-NAME"),
    "validation/unknown-field": ("unknown-field", "VAL-UNKNOWN-FIELD"),
    "validation/cache-breakpoints": ("cache-breakpoints", "VAL-CACHE-BREAKPOINTS"),
    "validation/negative-max-tokens": ("negative-max-tokens", "VAL-MAX-TOKENS-TYPE"),
    "validation/string-max-tokens": ("string-max-tokens", "VAL-MAX-TOKENS-TYPE"),
    "validation/messages-not-array": ("messages-not-array", "VAL-MESSAGES-TYPE"),
    "validation/tool-choice-unknown-tool": ("tool-choice-unknown-tool", "VAL-TOOL-CHOICE"),
    "validation/thinking-budget": ("thinking-budget", "VAL-THINKING-BUDGET"),
    "validation/unknown-model": ("unknown-model", "VAL-UNKNOWN-MODEL"),
    "validation/oversized-body": ("oversized-body", "VAL-SIZE"),
}

for _check_id, (_probe, _rule) in VALIDATION_CHECKS.items():
    validation_check(_check_id, _probe, _rule)
