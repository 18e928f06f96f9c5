"""The byte and line decoder: a text/event-stream body, fed in chunks of bytes, to SSEEvents (WHATWG HTML "parsing an
event stream", sans-IO), with the framing problems it met in plain words. It knows nothing of the Messages API."""

from __future__ import annotations

import codecs
from typing import NamedTuple

_BOM = "\ufeff"


class SSEEvent(NamedTuple):
    """One dispatched server-sent event (a named tuple: made once per event, it must be cheap to make)."""

    index: int  # 0-based position among the dispatched events of this stream
    event: str | None  # value of the last `event:` field of the block; None when the block had none
    data: str  # the block's data lines joined with "\n"
    id: str | None = None  # the last event ID in force at dispatch (it persists, per WHATWG)
    retry: int | None = None  # the `retry:` value given in this block, if any


class SSEDecoder:
    """Sans-IO WHATWG text/event-stream decoder: feed bytes, get events."""

    def __init__(self) -> None:
        self.errors: list[str] = []  # framing problems, in plain words
        self.comments = 0  # comment lines seen
        self.bytes_seen = 0
        self._undecoded = b""  # the start of a UTF-8 sequence cut by a chunk boundary
        self._utf8_reported = False
        self._at_start = True  # no character decoded yet (a BOM may come)
        self._skip_lf = False  # the last text ended with CR: an LF right after it belongs to that line end
        self._line: list[str] = []  # pieces of the line not yet ended
        self._data: list[str] = []  # the data buffer, one item per data line
        self._event: str | None = None  # the event type buffer
        self._retry: int | None = None
        self._last_id: str | None = None
        self._dispatched = 0
        self._closed = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Take the next bytes of the stream; return the events they complete."""
        if self._closed:
            raise RuntimeError("SSEDecoder.feed() called after close()")
        offset = self.bytes_seen - len(self._undecoded)
        self.bytes_seen += len(chunk)
        text = self._decode(self._undecoded + bytes(chunk), offset, final=False)
        return self._process(self._lines(text))

    def close(self) -> list[SSEEvent]:
        """End of input: flush, and record an unterminated final event (WHATWG discards it)."""
        if self._closed:
            return []
        self._closed = True
        events: list[SSEEvent] = []
        if self._undecoded:
            offset = self.bytes_seen - len(self._undecoded)
            events = self._process(self._lines(self._decode(self._undecoded, offset, final=True)))
        unfinished = "".join(self._line)
        if unfinished.startswith(":"):
            unfinished = ""  # an unended comment line loses nothing
        if self._data or self._event is not None or unfinished:
            parts = []
            if self._event is not None:
                parts.append(f"event: {self._event}")
            if self._data:
                parts.append(f"{len(self._data)} data line{'s' if len(self._data) != 1 else ''}")
            if unfinished:
                parts.append(f"an unended line {_preview(unfinished, 40)!r}")
            self.errors.append(
                f"unterminated final event at end of stream ({', '.join(parts)}): an event ends with a blank "
                "line, so it was not dispatched"
            )
        return events

    def _decode(self, data: bytes, offset: int, *, final: bool) -> str:
        """Decode UTF-8, keeping a cut multi-byte sequence for the next chunk; replace invalid bytes."""
        try:
            text, used = codecs.utf_8_decode(data, "strict", final)
        except UnicodeDecodeError as exc:
            if not self._utf8_reported:
                self._utf8_reported = True
                self.errors.append(
                    f"invalid UTF-8 at byte offset {offset + exc.start} (replaced with U+FFFD; "
                    "later invalid bytes are not reported)"
                )
            text, used = codecs.utf_8_decode(data, "replace", final)
        self._undecoded = data[used:]
        if self._at_start and text:
            self._at_start = False
            if text[0] == _BOM:
                text = text[1:]
        return text

    def _lines(self, text: str) -> list[str]:
        """The lines that `text` ends (CRLF, LF or CR); keep the unended rest for later."""
        if not text:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
        if "\r" in text:
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in text:
            if text:
                self._line.append(text)
            return []
        lines = text.split("\n")
        if self._line:
            self._line.append(lines[0])
            lines[0] = "".join(self._line)
        rest = lines.pop()
        self._line = [rest] if rest else []
        return lines

    def _process(self, lines: list[str]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        for line in lines:
            if not line:
                event = self._dispatch()
                if event is not None:
                    events.append(event)
            elif line[0] == ":":
                self.comments += 1
            elif line.startswith("data: "):  # the two common lines, exactly as the general rule reads them
                self._data.append(line[6:])
            elif line.startswith("event: "):
                self._event = line[7:]
            else:
                name, colon, value = line.partition(":")
                if colon and value[:1] == " ":
                    value = value[1:]
                if name == "data":
                    self._data.append(value)
                elif name == "event":
                    self._event = value
                elif name == "id":
                    if "\x00" not in value:
                        self._last_id = value
                elif name == "retry":
                    if value.isascii() and value.isdigit():
                        self._retry = int(value)
                # any other field is ignored
        return events

    def _dispatch(self) -> SSEEvent | None:
        data, event, retry = self._data, self._event, self._retry
        self._data, self._event, self._retry = [], None, None
        if not data:
            return None
        dispatched = SSEEvent(self._dispatched, event, "\n".join(data), self._last_id, retry)
        self._dispatched += 1
        return dispatched


def _preview(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
