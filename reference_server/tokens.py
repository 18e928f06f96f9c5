"""Token accounting of the fake model: a token is a whitespace-separated word."""

from __future__ import annotations

import json
import re
from typing import Any

from .conversation import blocks_of, text_of, tool_result_text

WORD = re.compile(r"\S+")


def count_words(text: str) -> int:
    """The number of tokens (words) in text."""
    return len(WORD.findall(text))


def first_words(text: str, limit: int) -> str:
    """The text up to the end of its `limit`-th word, with the original spacing kept."""
    if limit <= 0:
        return ""
    for number, match in enumerate(WORD.finditer(text), start=1):
        if number == limit:
            return text[: match.end()]
    return text


def tool_input_tokens(tool_input: Any) -> int:
    """Output tokens of one tool_use block: the words of its input JSON, at least 1."""
    return max(1, count_words(json.dumps(tool_input)))


def _block_words(block: dict[str, Any]) -> int:
    kind = block.get("type")
    if kind == "text":
        return count_words(str(block.get("text", "")))
    if kind == "tool_use":
        return count_words(json.dumps(block.get("input", {})))
    if kind == "tool_result":
        return count_words(tool_result_text(block))
    if kind == "document":
        source = block.get("source")
        if isinstance(source, dict) and isinstance(source.get("data"), str) and source.get("type") == "text":
            return count_words(source["data"])
        return 0
    if kind == "search_result":
        return count_words(text_of(block.get("content")))
    return 0


def input_tokens(body: dict[str, Any]) -> int:
    """Input tokens of a request: words of the system, messages and tool definitions, plus 1 per message."""
    total = count_words(text_of(body.get("system")))
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, dict):
            continue
        total += 1 + sum(_block_words(block) for block in blocks_of(message.get("content")))
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else []:
        total += count_words(json.dumps(tool))
    return max(1, total)
