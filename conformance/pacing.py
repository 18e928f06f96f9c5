"""Pacing of the requests to one target and back-off from its busy answers, shared by every process of a run."""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

BUSY = (429, 503, 529)  # the target asks to come back later: waited for, retried, never judged
MAX_ONE_WAIT = 60.0  # the longest single wait a busy answer may ask for; a longer retry-after is not waited for
FLOOR = 0.02  # seconds between requests after the first slow-down of an unpaced run (50 requests a second)
POLL = 0.001  # seconds between tries of a held state lock (filelock polls; fcntl's flock would block)
MAX_INTERVAL = 2.0  # the slowest the adaptive pacing gets on its own: one request every 2 s
HALF_LIFE = 10.0  # seconds without a busy answer in which the adaptive slow-down halves
STATE_FILE = "pacing.json"  # in the folder shared by the run's processes (the concurrency cap's folder)


class RateLimited(Exception):
    """The pacing would hold a request past the time it has left (see conformance.transport.TransportLimit)."""


def retry_after(headers: Any, now: float | None = None) -> float | None:
    """Seconds a busy answer asks to wait: retry-after-ms, then retry-after in seconds or as an HTTP-date; None when
    it says nothing usable."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            seconds = float(value) / 1000
            if seconds >= 0:
                return seconds
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
        return seconds if seconds >= 0 else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _fresh_state() -> dict[str, float]:
    return {"next_at": 0.0, "hold_until": 0.0, "slow": 0.0, "slowed_at": -1.0, "covered_until": 0.0,
            "waited": 0.0, "backoff": 0.0, "busy": 0, "reconnects": 0}


class Pacer:
    """Spaces the requests to one target (at most `rate` a second; 0: unpaced) and decides, for each busy answer
    (429, 503, 529), whether and how long to wait before sending it again.

    A busy answer holds every request of the run back for its retry-after (else `base` * 2^attempt, with jitter) and
    slows the pacing down (its interval doubles, at most once per round of requests, up to MAX_INTERVAL; the
    slow-down halves every HALF_LIFE seconds without a busy answer). The time requests were held back while slowed
    down counts against `budget` seconds for the whole run; once it is spent, busy answers are not waited for (the
    check is an error) and the slow-down ends, so a target that always answers 429 costs `budget` seconds at most.

    With a folder, the state is a file shared by every process of the run (pytest-xdist workers), under a filelock,
    like the concurrency cap's lock files; without one, it is shared by the threads of this process. Times are
    time.monotonic(), which is one system-wide clock on Linux, macOS and Windows (CLOCK_MONOTONIC, mach time,
    QueryPerformanceCounter), so the workers' times compare."""

    def __init__(self, rate: float = 0.0, folder: str | os.PathLike | None = None, budget: float = 180.0,
                 retries: int = 6, base: float = 1.0) -> None:
        self.rate = rate
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.folder = Path(folder) if folder else None
        self.budget = budget
        self.retries = retries
        self.base = base
        self._lock = threading.Lock()
        self._memory = _fresh_state()

    @contextmanager
    def _state(self) -> Iterator[dict[str, float]]:
        """The shared state, locked for the block and written back after it."""
        with self._lock:
            if self.folder is None:
                yield self._memory
                return
            from filelock import FileLock  # imported on use, as in transport.Slots

            path = self.folder / STATE_FILE
            with FileLock(f"{path}.lock").acquire(poll_interval=POLL):  # held for microseconds: poll often
                raw = path.read_bytes() if path.exists() else b""
                state = {**_fresh_state(), **(json.loads(raw) if raw else {})}
                yield state
                path.write_bytes(json.dumps(state).encode())

    def _spacing(self, state: dict[str, float], now: float) -> float:
        """Seconds between two requests now: the rate's interval, or the adaptive slow-down's if that is longer."""
        slow = state["slow"] * 0.5 ** ((now - state["slowed_at"]) / HALF_LIFE) if state["slow"] else 0.0
        return max(self.interval, slow if slow >= FLOOR / 2 else 0.0)  # at the floor, one half-life, then none

    def wait(self, until: float | None = None) -> float:
        """Take the next turn to send, sleeping until it comes; the seconds slept. RateLimited (without taking a
        turn) when the turn would come after `until` (time.monotonic())."""
        with self._state() as state:
            now = time.monotonic()
            at = max(now, state["next_at"])
            if until is not None and at > until:
                raise RateLimited(f"the target's rate limit holds requests for another {at - now:.1f} s, more than "
                                  f"this check has left (--check-timeout)")
            slowed = state["hold_until"] > now or self._spacing(state, now) > self.interval
            state["next_at"] = at + self._spacing(state, now)
            added = at - max(now, state["covered_until"])  # wall time held back, counted once however many wait
            if added > 0:
                state["waited"] += added
                if slowed:
                    state["backoff"] += added
            state["covered_until"] = max(state["covered_until"], at)
        if at > now:
            time.sleep(at - now)
        return at - now

    def busy(self, status: int, headers: Any, attempt: int, sent_at: float,
             until: float | None = None) -> str | None:
        """A busy answer to a request sent at `sent_at`, its `attempt`-th (0 first). Holds the run back and slows it
        down, and returns None (send it again, after `wait`), or why it is not sent again."""
        delay = retry_after(headers)
        if delay is None:
            delay = min(self.base * 2 ** attempt, MAX_ONE_WAIT) * random.uniform(0.9, 1.1)
        with self._state() as state:
            now = time.monotonic()
            state["busy"] += 1
            left = self.budget - state["backoff"]
            extra = max(0.0, now + delay - max(now, state["next_at"], state["covered_until"]))
            why = None
            if str(headers.get("x-should-retry", "")).lower() == "false":
                why = "the target said x-should-retry: false"
            elif attempt >= self.retries:
                why = f"one request is sent at most {self.retries + 1} times"
            elif delay > MAX_ONE_WAIT:
                why = f"it asked to wait {delay:.0f} s, more than the {MAX_ONE_WAIT:g} s the harness waits at once"
            elif left < 0.1:
                why = f"the run's back-off budget of {self.budget:g} s is spent (--max-backoff)"
                # the target is not coming back within the budget: stop holding the run back and slowing it down
                state["slow"], state["hold_until"] = 0.0, now
                state["next_at"] = min(state["next_at"], now + self.interval)
            elif extra > left:
                why = (f"waiting {delay:.1f} s more would pass the run's back-off budget of {self.budget:g} s "
                       f"({left:.1f} s left; --max-backoff)")
            elif until is not None and now + delay > until:
                why = f"waiting {delay:.1f} s more would pass the check's time limit (--check-timeout)"
            if why is not None:
                return why
            state["hold_until"] = max(state["hold_until"], now + delay)
            state["next_at"] = max(state["next_at"], now + delay)
            if sent_at >= state["slowed_at"]:  # sent after the last slow-down: that one was not enough
                state["slow"] = min(max(2 * self._spacing(state, now), FLOOR), MAX_INTERVAL)
                state["slowed_at"] = now
            return None

    def reconnected(self) -> None:
        """Count a request sent again on a fresh connection after a kept-alive one was dropped."""
        with self._state() as state:
            state["reconnects"] += 1

    def waited(self) -> dict[str, Any]:
        """What the run waited for, for the report: wall seconds requests were held back (pacing and back-off), of
        them while slowed down by busy answers, the busy answers, and the reconnects."""
        with self._state() as state:
            return {"seconds": round(state["waited"], 3), "backoff_seconds": round(state["backoff"], 3),
                    "rate_limited": int(state["busy"]), "reconnects": int(state["reconnects"])}
