"""The content-block and delta rules of a stream: block indices dense from 0 and one block open at a time, each
delta's type fitting its block, and the accumulation of text, thinking and tool input (whose fragments must join to
a JSON object). A mixin of StreamValidator: its handlers are cells of the state machine's TRANSITIONS."""

from __future__ import annotations

import copy
import json
from typing import Any

from conformance.sse_rules import (
    _FAST_DELTAS,
    DELTA_BLOCKS,
    KNOWN_BLOCKS,
    TOOL_BLOCKS,
    State,
    _is_int,
    _json_kind,
    _OpenBlock,
    _show,
    _Step,
)


class BlockRules:
    """The handlers of content_block_start, _delta and _stop (and of the block events that come out of turn)."""

    def _fast_delta(self, data: dict[str, Any]) -> bool:
        """The commonest event, a delta that fits its open block, taken in a few steps: True when taken. It does what
        the general path (framing checks, dispatch, _on_block_delta, _accumulate) does with such an event; any other
        event, or anything odd about this one, returns False and takes the general path."""
        opened = self._open
        delta = data.get("delta")
        if opened is None or data.get("type") != "content_block_delta" or type(delta) is not dict:
            return False
        index = data.get("index")
        if type(index) is not int or index != opened.index:
            return False
        delta_type = delta.get("type")
        if type(delta_type) is not str:
            return False
        into = _FAST_DELTAS.get((opened.type, delta_type))
        piece = delta.get(into[1]) if into else None
        if type(piece) is not str:
            return False
        getattr(opened, into[0]).append(piece)
        return True

    def _where(self, index: Any) -> str:
        """What happened to block `index` so far, for a block event that does not fit."""
        if not _is_int(index):
            return f"index {_show(index)} is not an integer"
        if 0 <= index < self._next_index:
            return f"block {index} was already stopped"
        return f"block {index} was never started"

    def _on_block_start(self, step: _Step) -> None:
        data = step.data or {}
        given = data.get("index", None if step.data is not None else self._next_index)
        if not _is_int(given) or given != self._next_index:
            detail = "" if _is_int(given) else f" ({self._where(given)})"
            self._report(
                "STREAM-BLOCK-ORDER",
                step.index,
                f"content_block_start(index={self._next_index}) (indices are dense from 0)",
                f"{step.name}{detail}",
                "$.index",
            )
        index = given if _is_int(given) else self._next_index
        self._next_index = max(self._next_index, index + 1)
        start = data.get("content_block")
        block = copy.deepcopy(start) if isinstance(start, dict) else {}
        block_type = block.get("type") if isinstance(block.get("type"), str) else None
        self._content.append(block)
        self._open = _OpenBlock(index, block_type, block, step.index)
        self.state = State.BLOCK

    def _overlapping_start(self, step: _Step) -> None:
        self._stop_first(step, "the next content_block_start")

    def _block_left_open(self, step: _Step) -> None:
        self._stop_first(step, step.kind)

    def _stop_first(self, step: _Step, before: str) -> None:
        """`step` came while a block is open: report the missing content_block_stop, close the block, go on."""
        assert self._open is not None
        self._report(
            "STREAM-BLOCK-ORDER",
            step.index,
            f"content_block_stop(index={self._open.index}) before {before}",
            f"{step.name} while block {self._open.index} is open",
        )
        self._close_block(step.index)
        self._dispatch(step)

    def _no_open_block(self, step: _Step) -> None:
        got = step.name if step.data is None else f"{step.name}: {self._where(step.data.get('index'))}"
        self._report(
            "STREAM-BLOCK-ORDER",
            step.index,
            f"{step.kind} only inside an open content block (none is open)",
            got,
            "$.index",
        )

    def _block_after_message_delta(self, step: _Step) -> None:
        self._report(
            "STREAM-BLOCK-ORDER",
            step.index,
            "no content block events after message_delta",
            f"{step.name} after message_delta (event #{self._deltas[-1]})",
        )

    def _fits_open_block(self, step: _Step) -> bool:
        """Report a block event whose index is not the open block's; True when it fits."""
        assert self._open is not None
        if step.data is None:
            return True  # its data is unreadable (already reported); take it as meant for the open block
        index = step.data.get("index")
        if _is_int(index) and index == self._open.index:
            return True
        self._report(
            "STREAM-BLOCK-ORDER",
            step.index,
            f"{step.kind}(index={self._open.index}) for the open block",
            f"{step.name} while block {self._open.index} is open",
            "$.index",
        )
        return False

    def _on_block_delta(self, step: _Step) -> None:
        if not self._fits_open_block(step) or step.data is None:
            return
        assert self._open is not None
        opened = self._open
        delta = step.data.get("delta")
        if not isinstance(delta, dict) or not isinstance(delta.get("type"), str):
            path = "$.delta.type" if isinstance(delta, dict) else "$.delta"
            got = f"delta {_show(delta)}"
            self._report("STREAM-DELTA-TYPE", step.index, "a delta object with a string type", got, path)
            return
        delta_type = delta["type"]
        fits = DELTA_BLOCKS.get(delta_type)
        if fits is None:
            self._report(
                "STREAM-UNKNOWN-EVENT",
                step.index,
                f"a documented delta type ({', '.join(DELTA_BLOCKS)})",
                f"{delta_type} in block {opened.index} ({opened.type})",
                "$.delta.type",
                warn=True,
            )
            return
        if opened.type in KNOWN_BLOCKS and opened.type not in fits:
            allowed = [name for name, blocks in DELTA_BLOCKS.items() if opened.type in blocks]
            expected = f"a {opened.type} block's delta ({', '.join(allowed) or 'none: it arrives whole'})"
            got = f"{delta_type} in block {opened.index}, a {opened.type} block"
            self._report("STREAM-DELTA-TYPE", step.index, expected, got, "$.delta.type")
            return
        self._accumulate(step, opened, delta_type, delta)

    def _accumulate(self, step: _Step, opened: _OpenBlock, delta_type: str, delta: dict[str, Any]) -> None:
        if delta_type == "text_delta" and isinstance(delta.get("text"), str):
            opened.text.append(delta["text"])
        elif delta_type == "thinking_delta" and isinstance(delta.get("thinking"), str):
            opened.thinking.append(delta["thinking"])
        elif delta_type == "signature_delta":
            opened.block["signature"] = delta.get("signature")
        elif delta_type == "citations_delta":
            citations = opened.block.get("citations")
            if isinstance(citations, list):
                citations.append(delta.get("citation"))
            else:
                opened.block["citations"] = [delta.get("citation")]
        elif delta_type == "input_json_delta":
            fragment = delta.get("partial_json")
            if isinstance(fragment, str):
                opened.fragments.append(fragment)
            else:
                got = (
                    "no partial_json"
                    if "partial_json" not in delta
                    else (f"partial_json as {_json_kind(fragment)}: {_show(fragment)}")
                )
                self._report(
                    "STREAM-TOOL-JSON",
                    step.index,
                    "partial_json as a string fragment",
                    got,
                    "$.delta.partial_json",
                )

    def _on_block_stop(self, step: _Step) -> None:
        self._fits_open_block(step)  # a stop for another index still ends the open block
        self._close_block(step.index)

    def _close_block(self, event_index: int | None) -> None:
        self._finish_block(event_index)
        self.state = State.MESSAGE

    def _finish_block(self, event_index: int | None, *, check: bool = True) -> None:
        """Join the open block's pieces into it; check a tool block's input."""
        opened = self._open
        assert opened is not None
        block = opened.block
        if opened.text:
            block["text"] = (block["text"] if isinstance(block.get("text"), str) else "") + "".join(
                opened.text
            )
        if opened.thinking:
            old = block["thinking"] if isinstance(block.get("thinking"), str) else ""
            block["thinking"] = old + "".join(opened.thinking)
        opened.finished = True
        joined = "".join(opened.fragments)
        if not check:
            return
        if joined.strip():
            try:
                value = json.loads(joined)
            except (ValueError, RecursionError) as exc:
                value = exc
            if isinstance(value, dict):
                block["input"] = value
            else:
                why = f"invalid JSON ({value})" if isinstance(value, Exception) else _json_kind(value)
                self._report(
                    "STREAM-TOOL-JSON",
                    event_index,
                    "input_json_delta fragments that concatenate to a JSON object",
                    f"{_show(joined, 80)}: {why}",
                )
        elif opened.type in TOOL_BLOCKS and not isinstance(block.get("input"), dict):
            got = "no input" if "input" not in block else f"input {_show(block['input'])}"
            self._report(
                "STREAM-TOOL-JSON",
                opened.start_event,
                "a JSON object input (there were no partial_json fragments)",
                got,
                "$.content_block.input",
            )
