"""Read-only views of a request: content blocks, merged turns, system sources and their text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Turn:
    """Consecutive same-role messages merged into one turn; `origins[i]` is the message index of blocks[i]."""

    role: str
    blocks: tuple[dict[str, Any], ...]
    origins: tuple[int, ...]


def blocks_of(content: Any) -> list[dict[str, Any]]:
    """A message content as a list of blocks (a string is one text block; an empty string none)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):
        return [block for block in content if isinstance(block, dict)]
    return []


def turns(messages: Any) -> list[Turn]:
    """The user/assistant conversation with role: system entries left out and same-role runs merged."""
    result: list[Turn] = []
    if not isinstance(messages, list):
        return result
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            continue
        blocks = tuple(blocks_of(message.get("content")))
        origins = (index,) * len(blocks)
        if result and result[-1].role == message["role"]:
            last = result[-1]
            result[-1] = Turn(last.role, last.blocks + blocks, last.origins + origins)
        else:
            result.append(Turn(message["role"], blocks, origins))
    return result


def text_of(content: Any) -> str:
    """The text of a content (a string, or the text blocks of a block list or tuple, joined with newlines)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, (list, tuple)):
        return ""
    return "\n".join(
        block["text"]
        for block in content
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)
    )


def tool_result_text(block: dict[str, Any]) -> str:
    """The text a tool_result carries: its string content, or its text blocks joined with newlines."""
    return text_of(block.get("content"))


def system_sources(body: dict[str, Any], *, strings: bool = True, blocks: bool = True) -> list[str]:
    """System instruction texts in order: the top-level system, then each role: system message."""
    sources: list[str] = []
    system = body.get("system")
    if (isinstance(system, str) and strings) or (isinstance(system, list) and blocks):
        sources.append(text_of(system))
    for message in body.get("messages") or []:
        if isinstance(message, dict) and message.get("role") == "system":
            sources.append(text_of(message.get("content")))
    return sources
