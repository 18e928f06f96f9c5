"""What the recording upstream saw: requests and responses, correlated with probes by a nonce, in a bounded store.

A probe carries a fresh random token `gw-<20 hex>` (optionally `gw-<hex>.<directive>`) in its last user text, the one
part of a request every gateway must forward (a translating one included). The upstream finds it in the raw body;
when a gateway rewrote the body beyond recognition it falls back to any header value and then to `metadata.user_id`.
The directive after the dot tells the upstream how to answer (see DIRECTIVES).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

NONCE = re.compile(r"gw-([0-9a-f]{20})(?:\.([a-z][a-z0-9_-]{0,30}))?")
# What a probe may ask the upstream to do (a number after a directive, e.g. pause-1500, is its parameter).
DIRECTIVES = ("rate-limit", "overloaded", "server-error", "stream-error", "pause", "refusal", "pause-turn", "long",
              "length")
MAX_RECORDS = 512  # records kept; the oldest go first
MAX_BODY = 4 * 1024 * 1024  # bytes of one request or response body kept
MAX_TOTAL = 128 * 1024 * 1024  # bytes of bodies kept in all


def new_nonce() -> str:
    """A fresh nonce: 20 random hex digits (never a fixed string)."""
    return secrets.token_hex(10)


def token(nonce: str, directive: str = "") -> str:
    """The text a probe carries: gw-<nonce>, or gw-<nonce>.<directive>."""
    return f"gw-{nonce}" + (f".{directive}" if directive else "")


def find_token(text: str) -> tuple[str, str] | None:
    """The last (nonce, directive) in `text`, or None."""
    found = None
    for match in NONCE.finditer(text):
        found = (match.group(1), match.group(2) or "")
    return found


@dataclass
class Record:
    """One request the upstream received and the response it sent, with times (time.monotonic())."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]  # as received: lower-cased names, order kept, repeats kept
    body: bytes
    received_at: float
    nonce: str = ""
    directive: str = ""
    found_by: str = ""  # body | header | metadata | "" (not correlated)
    status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    chunks: list[tuple[float, bytes]] = field(default_factory=list)  # (time sent, bytes)
    done_at: float | None = None
    truncated: bool = False

    def header(self, name: str) -> str | None:
        """The first value of a request header (None when absent)."""
        return next((value for key, value in self.headers if key == name.lower()), None)

    def response_header(self, name: str) -> str | None:
        return next((value for key, value in self.response_headers if key == name.lower()), None)

    @property
    def json(self) -> Any:
        import json

        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            return None

    @property
    def response_body(self) -> bytes:
        return b"".join(chunk for _, chunk in self.chunks)

    @property
    def response_json(self) -> Any:
        import json

        try:
            return json.loads(self.response_body)
        except (ValueError, RecursionError):
            return None

    @property
    def openai(self) -> bool:
        """The request came in OpenAI Chat Completions form (a translating gateway)."""
        return self.path.rstrip("/").endswith("/chat/completions")

    def events(self) -> list[tuple[float, str | None, str]]:
        """The SSE events the upstream sent: (time sent, event name, data text)."""
        from conformance.sse import SSEDecoder

        decoder = SSEDecoder()
        out: list[tuple[float, str | None, str]] = []
        for at, chunk in self.chunks:
            out.extend((at, item.event, item.data) for item in decoder.feed(chunk))
        out.extend((self.done_at or 0.0, item.event, item.data) for item in decoder.close())
        return out

    def size(self) -> int:
        return len(self.body) + sum(len(chunk) for _, chunk in self.chunks)


def correlate(body: bytes, headers: list[tuple[str, str]]) -> tuple[str, str, str]:
    """(nonce, directive, found_by) of a request: its body first, then its header values, then metadata.user_id."""
    text = body[:MAX_BODY].decode("utf-8", "replace")
    if found := find_token(text):
        return (*found, "body")
    for _, value in headers:
        if found := find_token(value):
            return (*found, "header")
    try:
        import json

        user = (json.loads(body).get("metadata") or {}).get("user_id") or ""
    except (ValueError, AttributeError, RecursionError, TypeError):
        user = ""
    if isinstance(user, str) and (found := find_token(user)):
        return (*found, "metadata")
    return "", "", ""


class Recorder:
    """Thread-safe store of Records, looked up by nonce; bounded in count and bytes (the oldest are dropped)."""

    def __init__(self, max_records: int = MAX_RECORDS, max_total: int = MAX_TOTAL) -> None:
        self.max_records = max_records
        self.max_total = max_total
        self._records: OrderedDict[int, Record] = OrderedDict()
        self._next = 0
        self._bytes = 0
        self._changed = threading.Condition()
        self.dropped = 0
        self.port: int | None = None  # the port of the upstream that records here, once it listens

    def add(self, record: Record) -> int:
        with self._changed:
            key = self._next
            self._next += 1
            self._records[key] = record
            self._bytes += record.size()
            self._evict()
            self._changed.notify_all()
            return key

    def grew(self, record: Record, size: int) -> bool:
        """Count `size` more bytes of `record`; False when the record may keep no more (its body is cut there)."""
        with self._changed:
            kept = record.size()
            if kept + size > MAX_BODY:
                record.truncated = True
                return False
            self._bytes += size
            self._evict()
            return True

    def finish(self, record: Record) -> None:
        with self._changed:
            record.done_at = time.monotonic()
            self._changed.notify_all()

    def _evict(self) -> None:
        while self._records and (len(self._records) > self.max_records or self._bytes > self.max_total):
            _, old = self._records.popitem(last=False)
            self._bytes -= old.size()
            self.dropped += 1

    def all(self) -> list[Record]:
        with self._changed:
            return list(self._records.values())

    def find(self, nonce: str, wait: float = 2.0, done: bool = True) -> list[Record]:
        """The records of `nonce`, oldest first; waits up to `wait` seconds for one (finished, if `done`)."""
        deadline = time.monotonic() + wait
        with self._changed:
            while True:
                found = [r for r in self._records.values() if r.nonce == nonce]
                if found and (not done or all(r.done_at is not None for r in found)):
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    return found
                self._changed.wait(left)

    def clear(self) -> None:
        with self._changed:
            self._records.clear()
            self._bytes = 0
