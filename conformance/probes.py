"""Probe requests: per-run random nonces in every word, tool name and schema, built into directives."""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from conformance.wire import WireRequest

_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
# What Claude Code 2.1.332 sends with its POST /v1/messages?beta=true (`claude -p`, default model claude-opus-5-5;
# docs/claude-code-request.md has the capture). With a model it does not know it leaves out per-turn-control-2026-07-01
# (and the per-message output_config that beta allows).
CLAUDE_CODE_VERSION = "2.1.332"
CLAUDE_CODE_DEFAULT_MODEL = "claude-opus-5-5"  # what it sends without --model; the capture's shape is this model's
CLAUDE_CODE_PER_TURN_BETA = "per-turn-control-2026-07-01"  # only with its default model
CLAUDE_CODE_USER_AGENT = f"claude-cli/{CLAUDE_CODE_VERSION} (external, sdk-cli)"
CLAUDE_CODE_BETAS = (
    "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,per-turn-control-2026-07-01,"
    "mid-conversation-tool-changes-2026-07-01,thinking-token-count-2026-05-13,advanced-tool-use-2025-11-20,"
    "effort-2025-11-24"
)
# Its headers besides auth, anthropic-version, content-type and accept (application/json, also for streams), in the
# order it sends them; X-Claude-Code-Session-Id (a UUID per session) is added per run.
CLAUDE_CODE_HEADERS = (
    ("user-agent", CLAUDE_CODE_USER_AGENT),
    ("x-stainless-arch", "x64"),
    ("x-stainless-lang", "js"),
    ("x-stainless-os", "Linux"),
    ("x-stainless-package-version", "0.128.0"),
    ("x-stainless-retry-count", "0"),
    ("x-stainless-runtime", "node"),
    ("x-stainless-runtime-version", "v26.12.1"),
    ("x-stainless-timeout", "600"),
    ("anthropic-beta", CLAUDE_CODE_BETAS),
    ("anthropic-dangerous-direct-browser-access", "true"),
    ("x-app", "cli"),
)


def claude_code_betas(model: str) -> str:
    """Claude Code's anthropic-beta list for `model`: the captured list with its default model, without the
    per-turn-control beta with any other (docs/claude-code-request.md)."""
    if model == CLAUDE_CODE_DEFAULT_MODEL:
        return CLAUDE_CODE_BETAS
    return ",".join(b for b in CLAUDE_CODE_BETAS.split(",") if b != CLAUDE_CODE_PER_TURN_BETA)


def claude_code_headers_for(model: str) -> tuple[tuple[str, str], ...]:
    """CLAUDE_CODE_HEADERS as Claude Code sends them with `model`."""
    return tuple((k, claude_code_betas(model) if k == "anthropic-beta" else v) for k, v in CLAUDE_CODE_HEADERS)


class Nonces:
    """Random, pronounceable words for one run: stable per key, different every run."""

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed if seed is not None else secrets.randbits(64))
        self._cache: dict[str, str] = {}

    def word(self, key: str) -> str:
        if key not in self._cache:
            syllables = "".join(
                self._random.choice(_CONSONANTS) + self._random.choice(_VOWELS) for _ in range(3)
            )
            self._cache[key] = f"{syllables}{self._random.randint(10, 99)}"
        return self._cache[key]

    def words(self, key: str, count: int) -> list[str]:
        return [self.word(f"{key}.{i}") for i in range(count)]

    def identifier(self, key: str) -> str:
        return f"{self.word(key)}_{self.word(key + '.suffix')}"


@dataclass(frozen=True)
class ProbeSpec:
    """A tool the probes define, with a nonce name and schema, and the input the directive asks for."""

    name: str
    schema: dict
    arguments: dict

    @property
    def tool(self) -> dict:
        return {"name": self.name, "description": "Records a value for the conformance probe.",
                "input_schema": self.schema}


def reply_with(words: list[str]) -> str:
    return "Reply with exactly: " + " ".join(words)


def tool_spec(nonces: Nonces, key: str) -> ProbeSpec:
    name = "record_" + nonces.identifier(key + ".tool")
    text_field, number_field = nonces.word(key + ".field1"), nonces.word(key + ".field2")
    schema = {
        "type": "object",
        "properties": {text_field: {"type": "string"}, number_field: {"type": "integer"}},
        "required": [text_field, number_field],
    }
    arguments = {text_field: nonces.word(key + ".value"), number_field: int(nonces.word(key + ".n")[-2:])}
    return ProbeSpec(name=name, schema=schema, arguments=arguments)


def call_tool_text(spec: ProbeSpec) -> str:
    return (
        f"Call the tool {spec.name} with input {json.dumps(spec.arguments)}\n"
        "After the tool returns, reply with exactly the tool result."
    )


class Probes:
    """Builds every probe request of a run from its nonces; the model name comes from the target."""

    def __init__(self, nonces: Nonces, model: str, forced: bool = True) -> None:
        self.n = nonces
        self.model = model
        # False where the model's row says it refuses forced tool use (tool_choice any / tool: a documented 400):
        # the tool probes then ask for the call in words, with tool_choice auto, as a client of that model does
        self.forced = forced
        self._builders: dict[str, Callable[[], WireRequest]] = {}

    # -- text -----------------------------------------------------------------------------------
    def text_words(self, key: str) -> list[str]:
        return self.n.words(key, 3)

    def text_body(self, key: str, *, stream: bool = False, max_tokens: int = 64, **extra) -> dict:
        body = {
            "model": self.model,
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": reply_with(self.text_words(key))}],
        }
        if stream:
            body["stream"] = True
        body.update(extra)
        return body

    def long_words(self) -> list[str]:
        return self.n.words("long", 80)

    def max_tokens_words(self) -> list[str]:
        return self.n.words("max-tokens", 30)

    def stop_words(self) -> tuple[list[str], str, list[str]]:
        """Words before the stop sequence, the stop sequence, words after it."""
        return self.n.words("stop.before", 2), self.n.word("stop.seq").upper(), self.n.words("stop.after", 2)

    # -- tools ----------------------------------------------------------------------------------
    def tool(self, key: str) -> ProbeSpec:
        return tool_spec(self.n, key)

    def tool_choice(self, spec: ProbeSpec) -> dict:
        """The tool_choice of a directed tool call: forcing `spec`'s tool, or auto where the model refuses that."""
        return {"type": "tool", "name": spec.name} if self.forced else {"type": "auto"}

    def tool_body(self, key: str, *, stream: bool = False) -> dict:
        spec = self.tool(key)
        body = {
            "model": self.model,
            "max_tokens": 256,
            "tools": [spec.tool],
            "tool_choice": self.tool_choice(spec),
            "messages": [{"role": "user", "content": call_tool_text(spec)}],
        }
        if stream:
            body["stream"] = True
        return body

    def tool_result_words(self, key: str) -> list[str]:
        return self.n.words(key + ".result", 3)

    # -- system ---------------------------------------------------------------------------------
    def system_body(self, form: str) -> dict:
        directive = reply_with(self.text_words("system-" + form))
        body = {"model": self.model, "max_tokens": 64}
        hello = {"role": "user", "content": "Hello."}
        if form == "string":
            body.update(system=directive, messages=[hello])
        elif form == "blocks":
            body.update(
                system=[
                    {"type": "text", "text": "You are a conformance probe.", "cache_control": {"type": "ephemeral"}},
                    {"type": "text", "text": directive},
                ],
                messages=[hello],
            )
        elif form == "role-message":
            body.update(messages=[hello, {"role": "system", "content": directive}])
        else:
            raise ValueError(form)
        return body


def request(body, **kwargs) -> WireRequest:
    return WireRequest(body=body, **kwargs)
