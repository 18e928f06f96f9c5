"""The deterministic fake model: a request body in, a Message dict out, following general directives."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from . import directives, natural
from .conversation import Turn, system_sources, text_of, tool_result_text, turns
from .directives import Plan, ToolCall
from .ids import derived_base62
from .schema_instance import instance
from .tokens import count_words, first_words, input_tokens, tool_input_tokens

DEFAULT_REPLY = "Hello from the reference server."
AFTER_TOOL_REPLY = "The tool call has completed."
TOOLS_OFF_REPLY = "Tool use is turned off for this request, so no tool was called."
THINKING_TEXT = "I read the conversation and follow its instructions to compose the reply."
_SIGNING_KEY = b"reference-server-thinking"


@dataclass(frozen=True)
class ResponderSettings:
    """What the model takes into account; faults switch parts off."""

    user_directives: bool = True
    system_string: bool = True
    system_blocks: bool = True
    tools: bool = True
    tool_results: bool = True
    stop_sequences: bool = True
    max_tokens: bool = True
    thinking: bool = True
    tool_choice: bool = True  # False: tool_choice is ignored (auto)
    tool_choice_none: bool = True  # False: tool_choice none is treated as auto
    auto_tool_calls: bool = True  # False: under auto (or no tool_choice) tools are never called
    parallel_calls: bool = True  # False: only the first call directive is honoured
    disable_parallel: bool = True  # False: disable_parallel_tool_use is ignored
    echo_prompt: bool = False  # True: a text reply quotes the last user turn back (as some fakes do) instead


DEFAULT_SETTINGS = ResponderSettings()


def sign(thinking: str) -> str:
    """The signature of a thinking text: base64 of its HMAC."""
    return base64.b64encode(hmac.new(_SIGNING_KEY, thinking.encode(), hashlib.sha256).digest()).decode()


def respond(
    body: dict[str, Any], settings: ResponderSettings = DEFAULT_SETTINGS, seed: str | None = None,
    plan: Plan | None = None,
) -> dict[str, Any]:
    """The Message the fake model answers `body` with (`plan`, if given, instead of the prompt's); ids derive from
    `seed` (default: the body)."""
    seed = seed if seed is not None else json.dumps(body, sort_keys=True, default=str)
    conversation = _conversation(body, settings)
    tools = [tool for tool in _list(body.get("tools")) if isinstance(tool, dict)] if settings.tools else []
    choice = _tool_choice(body, settings)
    if plan is None:
        plan = _plan(body, conversation, settings, tools if choice.get("type", "auto") == "auto" else [])
    text, calls = _apply_tool_choice(plan, tools, choice, settings)
    text = _continue_prefill(conversation, text)
    if settings.echo_prompt and not calls:
        text = "Received: " + _last_user_text(body)[:80]

    stop_sequences = body.get("stop_sequences") if settings.stop_sequences else None
    text, matched = _cut_at_stop_sequence(text, stop_sequences if isinstance(stop_sequences, list) else [])
    if matched is not None:
        calls = []
    limit = _max_tokens(body.get("max_tokens")) if settings.max_tokens else None
    thinking = _thinking(body) if settings.thinking else None
    thinking, text, calls, truncated = _truncate(thinking, text, calls, limit)

    content: list[dict[str, Any]] = []
    if thinking is not None:  # display omitted: a signature-only block, signed over the thinking it hides
        hidden = _thinking_display(body) == "omitted"
        content.append({"type": "thinking", "thinking": "" if hidden else thinking, "signature": sign(thinking)})
        thinking = "" if hidden else thinking
    if text.strip():
        content.append({"type": "text", "text": text})
    for number, call in enumerate(calls):
        tool_id = "toolu_" + derived_base62(seed, f"tool-{number}")
        content.append({"type": "tool_use", "id": tool_id, "name": call.name, "input": call.input})

    if truncated:
        stop_reason, matched = "max_tokens", None
    elif matched is not None:
        stop_reason = "stop_sequence"
    elif calls:
        stop_reason = "tool_use"
    else:
        stop_reason = "end_turn"
    output = count_words(thinking or "") + count_words(text) + sum(tool_input_tokens(c.input) for c in calls)
    return {
        "id": "msg_" + derived_base62(seed, "message"),
        "type": "message",
        "role": "assistant",
        "content": content,
        "model": body.get("model"),
        "stop_reason": stop_reason,
        "stop_sequence": matched,
        "usage": {
            "input_tokens": input_tokens(body),
            "output_tokens": output,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "standard",
        },
    }


def _last_user_text(body: dict[str, Any]) -> str:
    """The text of the last user turn (its text blocks joined), as an echoing fake quotes it."""
    users = [m for m in _list(body.get("messages")) if isinstance(m, dict) and m.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    if isinstance(content, str):
        return content
    return " ".join(b.get("text", "") for b in _list(content) if isinstance(b, dict) and isinstance(b.get("text"), str))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _max_tokens(value: Any) -> int | None:
    """The output limit: a non-negative int, or a string of digits (a lenient layer's coercion); else none."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value if type(value) is int and value >= 0 else None


def _tool_choice(body: dict[str, Any], settings: ResponderSettings) -> dict[str, Any]:
    choice = body.get("tool_choice")
    if not settings.tools or not settings.tool_choice or not isinstance(choice, dict):
        return {}
    if choice.get("type") == "none" and not settings.tool_choice_none:
        return {}
    if not settings.disable_parallel:
        return {key: value for key, value in choice.items() if key != "disable_parallel_tool_use"}
    return choice


def _conversation(body: dict[str, Any], settings: ResponderSettings) -> list[Turn]:
    conversation = turns(body.get("messages"))
    if settings.tool_results:
        return conversation
    stripped = []
    for turn in conversation:
        kept = [
            (b, o) for b, o in zip(turn.blocks, turn.origins, strict=True) if b.get("type") != "tool_result"
        ]
        stripped.append(Turn(turn.role, tuple(b for b, _ in kept), tuple(o for _, o in kept)))
    return stripped


def _plan(
    body: dict[str, Any], conversation: list[Turn], settings: ResponderSettings, tools: list[dict[str, Any]]
) -> Plan:
    """What applies: the last user turn's directives, else a tool-result echo, else the system's directives, else a
    call of a tool the prompt names (of `tools`, those offered under tool_choice auto): a directive someone wrote
    wins over what is inferred from a prompt."""
    users = [turn for turn in conversation if turn.role == "user"]
    last_user = users[-1] if users else None
    user_plan = (
        directives.parse(text_of(last_user.blocks)) if last_user and settings.user_directives else Plan()
    )
    if user_plan.directs_output:
        return user_plan
    sources = system_sources(body, strings=settings.system_string, blocks=settings.system_blocks)
    results = [block for block in last_user.blocks if block.get("type") == "tool_result"] if last_user else []
    if results:
        texts = list(sources)
        if settings.user_directives:
            texts += [text_of(turn.blocks) for turn in users]
        if any(directives.parse(text).echo_tool_result for text in texts):
            echoed = "\n".join(tool_result_text(block) for block in results)
            return Plan(echoed if echoed.strip() else AFTER_TOOL_REPLY)
        return Plan(AFTER_TOOL_REPLY)
    system_plans = [plan for plan in map(directives.parse, sources) if plan.directs_output]
    if system_plans:
        return system_plans[-1]
    prompt = text_of(last_user.blocks) if last_user and settings.user_directives else ""
    if tools and prompt and (tool := natural.named_tool(prompt, tools)) is not None:
        return Plan(None, (ToolCall(str(tool["name"]), natural.fill(tool, prompt)),))
    return Plan(DEFAULT_REPLY)


def _apply_tool_choice(
    plan: Plan, tools: list[dict[str, Any]], choice: dict[str, Any], settings: ResponderSettings
) -> tuple[str | None, list[ToolCall]]:
    schemas = {tool["name"]: tool.get("input_schema") for tool in tools if isinstance(tool.get("name"), str)}
    directed = plan.calls if settings.parallel_calls else plan.calls[:1]
    valid = [call for call in directed if call.name in schemas]
    kind = choice.get("type", "auto")
    text = plan.text
    if kind == "none":
        calls: list[ToolCall] = []
        if text is None:
            text = TOOLS_OFF_REPLY
    elif kind == "tool" and isinstance(choice.get("name"), str) and choice["name"] in schemas:
        name = choice["name"]
        named = [call for call in plan.calls if call.name == name]
        calls = named[:1] or [ToolCall(name, instance(schemas[name]))]
        text = None
    elif kind == "any" and tools:
        first = str(tools[0].get("name"))
        calls = valid or [ToolCall(first, instance(schemas.get(first)))]
        text = None
    else:
        calls = valid if settings.auto_tool_calls else []
        if text is None and not calls:
            if plan.calls and not valid:
                text = f"The tool {plan.calls[0].name} is not available."
            else:
                text = TOOLS_OFF_REPLY if plan.calls else DEFAULT_REPLY
    if choice.get("disable_parallel_tool_use") is True:
        calls = calls[:1]
    return text, calls


def _continue_prefill(conversation: list[Turn], text: str | None) -> str | None:
    if not conversation or conversation[-1].role != "assistant" or text is None:
        return text
    prefill = text_of(conversation[-1].blocks)
    return text[len(prefill) :] if prefill and text.startswith(prefill) else text


def _cut_at_stop_sequence(text: str | None, stop_sequences: list[Any]) -> tuple[str | None, str | None]:
    if not text:
        return text, None
    found = [
        (text.find(s), n, s) for n, s in enumerate(stop_sequences) if isinstance(s, str) and s and s in text
    ]
    if not found:
        return text, None
    position, _, sequence = min(found)
    return text[:position], sequence


def _thinking(body: dict[str, Any]) -> str | None:
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "adaptive"):
        return None
    return THINKING_TEXT


def _thinking_display(body: dict[str, Any]) -> str | None:
    thinking = body.get("thinking")
    return thinking.get("display") if isinstance(thinking, dict) else None


def _truncate(
    thinking: str | None, text: str | None, calls: list[ToolCall], limit: int | None
) -> tuple[str | None, str, list[ToolCall], bool]:
    """Cut the output to `limit` tokens: thinking first, then text, then whole tool calls."""
    text = text or ""
    if limit is None:
        return thinking, text, calls, False
    budget = limit
    truncated = False
    if thinking is not None:
        if count_words(thinking) > budget:
            return first_words(thinking, budget), "", [], True
        budget -= count_words(thinking)
    if count_words(text) > budget or (budget == 0 and (text or calls)):
        return thinking, first_words(text, budget), [], True
    budget -= count_words(text)
    kept: list[ToolCall] = []
    for call in calls:
        cost = tool_input_tokens(call.input)
        if cost > budget:
            truncated = True
            break
        kept.append(call)
        budget -= cost
    return thinking, text, kept, truncated
