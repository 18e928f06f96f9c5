"""The Messages API's closed vocabularies, defined once: stop reasons and SSE event types (every importer reads these)."""

from __future__ import annotations

# the StopReason enum (anthropic.types.StopReason)
STOP_REASONS = (
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
)
# the beta StopReason enum (anthropic.types.beta.BetaStopReason): what an answer to a beta request may also end with
BETA_STOP_REASONS = (*STOP_REASONS, "compaction")
# the documented SSE event types of a Messages API stream (anthropic.types.RawMessageStreamEvent, ping and error)
KNOWN_EVENTS = frozenset(
    {
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "ping",
        "error",
    }
)
