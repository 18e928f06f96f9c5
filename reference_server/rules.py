"""Scripted answers: rules that match a Messages request and say what to answer, ahead of the responder."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

from .conversation import text_of, turns
from .directives import Plan, ToolCall
from .errors import ERROR_TYPES, ApiError
from .faults import UnknownFault, fault_set
from .hooks import FaultSet

MATCH_KEYS = ("text", "regex", "model", "tools", "turn")
ANSWER_KEYS = ("reply", "tool_call", "error", "mid_stream_error", "fault")
ERROR_MESSAGES = {429: "Number of requests has exceeded your rate limit.", 529: "Overloaded",
                  500: "Internal server error"}


@dataclass(frozen=True)
class Outcome:
    """What a matched rule answers one request with: a plan (None: the responder's), an error, a stream cut short,
    a pause first, and faults applied to the answer."""

    plan: Plan | None = None
    error: ApiError | None = None
    retry_after: int | None = None
    mid_stream: ApiError | None = None
    latency: float = 0.0
    faults: FaultSet = field(default_factory=FaultSet)


@dataclass
class Rule:
    """One rule: what it matches (all given keys must), its answers over turns, and how often it may apply."""

    spec: dict[str, Any]
    used: int = 0

    def matches(self, body: dict[str, Any], prompt: str, turn: int) -> bool:
        """True when every match key of the rule holds for the request."""
        spec = self.spec
        if "text" in spec and spec["text"].lower() not in prompt.lower():
            return False
        if "regex" in spec and re.search(spec["regex"], prompt) is None:
            return False
        if "model" in spec and body.get("model") != spec["model"]:
            return False
        if "turn" in spec and turn != spec["turn"]:
            return False
        if "tools" in spec:
            offered = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
            if not set(spec["tools"]) <= offered:
                return False
        times = spec.get("times")
        return times is None or self.used < times


class RuleBook:
    """Rules in the order given (the first that matches answers); thread-safe, so tests may add rules any time."""

    def __init__(self, specs: list[dict[str, Any]] | None = None) -> None:
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        for spec in specs or []:
            self.add(spec)

    def add(self, spec: dict[str, Any]) -> Rule:
        """Add a rule (a dict as in a rules file); its answers are checked now."""
        check(spec)
        rule = Rule(spec)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Forget every rule."""
        with self._lock:
            self._rules.clear()

    def __len__(self) -> int:
        return len(self._rules)

    def match(self, body: dict[str, Any]) -> Outcome | None:
        """The outcome of the first rule that matches `body`, or None (the responder answers)."""
        prompt, turn, step = _prompt(body)
        with self._lock:
            for rule in self._rules:
                if rule.matches(body, prompt, turn):
                    rule.used += 1
                    answers = rule.spec.get("sequence") or [rule.spec]
                    answer = answers[min(step, len(answers) - 1)]
                    if isinstance(answer, str):
                        answer = {"reply": answer}
                    return outcome(answer, rule.spec.get("latency", 0.0))
        return None


def _prompt(body: dict[str, Any]) -> tuple[str, int, int]:
    """The last user text (the prompt), the turn number (1 + assistant turns before now), and the steps since the
    prompt (assistant turns after it: a tool round trip is one step)."""
    conversation = turns(body.get("messages"))
    turn = 1 + sum(1 for t in conversation if t.role == "assistant")
    for index in range(len(conversation) - 1, -1, -1):
        item = conversation[index]
        if item.role == "user" and (text := text_of(item.blocks)).strip():
            step = sum(1 for t in conversation[index + 1 :] if t.role == "assistant")
            return text, turn, step
    return "", turn, turn - 1


def api_error(spec: Any, default_status: int = 500) -> tuple[ApiError, int | None]:
    """An error answer (`429`, or {"status", "type", "message", "retry_after"}) as an ApiError and its retry-after."""
    spec = {"status": spec} if isinstance(spec, int) else dict(spec) if isinstance(spec, dict) else {}
    status = int(spec.get("status", default_status))
    kind = spec.get("type") or ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    message = spec.get("message") or ERROR_MESSAGES.get(status, f"Scripted error {status}")
    retry = spec.get("retry_after")
    return ApiError(status, kind, message), (int(retry) if retry is not None else None)


def outcome(answer: dict[str, Any], latency: float = 0.0) -> Outcome:
    """One answer of a rule as an Outcome."""
    latency = float(answer.get("latency", latency))
    faults = fault_set(answer["fault"]) if answer.get("fault") else FaultSet()
    if "error" in answer:
        error, retry = api_error(answer["error"])
        return Outcome(error=error, retry_after=retry, latency=latency, faults=faults)
    plan = None
    if "reply" in answer or "tool_call" in answer:
        calls = answer.get("tool_call") or []
        calls = [calls] if isinstance(calls, dict) else calls
        plan = Plan(answer.get("reply"), tuple(ToolCall(c["name"], dict(c.get("input") or {})) for c in calls))
    mid = answer.get("mid_stream_error")
    mid_error = api_error(mid if mid is not True else {}, 529)[0] if mid else None
    return Outcome(plan=plan, mid_stream=mid_error, latency=latency, faults=faults)


def check(spec: dict[str, Any]) -> None:
    """Raise ValueError, in one sentence, if a rule is malformed (the file's JSON Schema says the same, in full)."""
    if not isinstance(spec, dict):
        raise ValueError("a rule must be an object")
    unknown = set(spec) - {*MATCH_KEYS, *ANSWER_KEYS, "sequence", "latency", "times"}
    if unknown:
        raise ValueError(f"a rule has unknown keys: {', '.join(sorted(unknown))}")
    answers = spec.get("sequence") or [spec]
    if not any(key in spec for key in (*ANSWER_KEYS, "sequence", "latency")):
        raise ValueError("a rule needs an answer: reply, tool_call, error, mid_stream_error, fault or sequence")
    if "regex" in spec:
        try:
            re.compile(spec["regex"])
        except re.error as problem:
            raise ValueError(f"the regex {spec['regex']!r} is invalid: {problem}") from None
    for answer in answers:
        if not isinstance(answer, (dict, str)):
            raise ValueError("each answer in a sequence must be a text or an object")
        if isinstance(answer, dict):
            try:
                outcome(answer)  # an unknown fault name, a bad status: raised here, not at request time
            except UnknownFault as unknown:
                raise ValueError(f"there is no fault {unknown.args[0]!r} (see `serve --list-faults`)") from None
            except (KeyError, TypeError, ValueError) as problem:
                raise ValueError(f"an answer is malformed: {problem}") from None
