"""The pacing and back-off of conformance.pacing: retry-after, the run-wide hold, the slow-down, the bounds, and the
pacing shared by threads and by processes."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from conformance import pacing
from conformance.pacing import FLOOR, MAX_ONE_WAIT, Pacer, RateLimited, retry_after


@pytest.mark.parametrize("headers, seconds", [
    ({"retry-after": "7"}, 7.0),
    ({"retry-after": "0.5"}, 0.5),
    ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the SDK's order: milliseconds first
    ({"retry-after": "-3"}, None),
    ({"retry-after": "soon"}, None),
    ({}, None),
])
def test_retry_after_reads_seconds_and_milliseconds(headers, seconds):
    assert retry_after(headers) == seconds


def test_retry_after_reads_an_http_date():
    now = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=42), usegmt=True)  # "Wed, 02 Dec 2026 12:00:42 GMT"
    assert retry_after({"retry-after": later}, now=now.timestamp()) == pytest.approx(42)
    assert retry_after({"retry-after": format_datetime(now, usegmt=True)}, now=now.timestamp() + 5) == 0.0


def _turns(pacer: Pacer, count: int) -> list[float]:
    """Take `count` turns: when each came."""
    out = []
    for _ in range(count):
        pacer.wait()
        out.append(time.monotonic())
    return out


def _paced_in_a_process(folder: str, rate: float, count: int) -> list[float]:
    return _turns(Pacer(rate, folder), count)  # in a worker process: the pacing shared through the folder


def _most_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t - start < 1.0) for i, start in enumerate(times))


def test_the_pacing_holds_across_processes(tmp_path):
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        times = [t for result in pool.map(_paced_in_a_process, [str(tmp_path)] * 2, [20] * 2, [15] * 2)
                 for t in result]
    # 30 turns at 20 a second, two processes asking at once: never more than 20 (and the edge) in any second
    assert len(times) == 30 and _most_in_one_second(times) <= 21
    assert max(times) - min(times) >= 29 / 20 - 0.05
    assert Pacer(folder=tmp_path).waited()["seconds"] > 0.5  # the processes' waits, summed in the shared file


def test_the_pacing_holds_across_threads():
    pacer = Pacer(50)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        times = sorted(t for result in pool.map(lambda _: _turns(pacer, 10), range(4)) for t in result)
    assert _most_in_one_second(times) <= 51 and times[-1] - times[0] >= 39 / 50 - 0.05


def test_unpaced_turns_do_not_wait():
    pacer = Pacer()
    started = time.monotonic()
    _turns(pacer, 200)
    assert time.monotonic() - started < 0.5 and pacer.waited()["seconds"] == 0


def test_a_busy_answer_holds_every_request_back_for_its_retry_after_counted_once():
    pacer = Pacer()
    assert pacer.busy(429, {"retry-after": "0.4"}, 0, time.monotonic()) is None
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        ends = list(pool.map(lambda _: (pacer.wait(), time.monotonic())[1], range(3)))
    assert min(ends) - started >= 0.38
    waited = pacer.waited()
    assert 0.38 <= waited["seconds"] < 0.8  # wall time held back, not three threads' waits added up
    assert waited["rate_limited"] == 1 and waited["backoff_seconds"] == pytest.approx(waited["seconds"])


def test_without_retry_after_the_back_off_doubles_with_each_attempt():
    holds = []
    for attempt in range(3):
        pacer = Pacer(base=0.1)
        pacer.busy(503, {}, attempt, time.monotonic())
        holds.append(pacer.wait())
    for attempt, hold in enumerate(holds):
        assert 0.1 * 2 ** attempt * 0.85 <= hold <= 0.1 * 2 ** attempt * 1.15


def test_a_target_that_is_always_busy_costs_the_back_off_budget_and_then_nothing():
    pacer = Pacer(budget=0.6, retries=1000)
    started = time.monotonic()
    attempt, why = 0, None
    while why is None:
        pacer.wait()
        why = pacer.busy(429, {"retry-after": "0.1"}, attempt, time.monotonic())
        attempt += 1
    assert why == "the run's back-off budget of 0.6 s is spent (--max-backoff)"
    assert time.monotonic() - started < 1.5
    # spent: the next busy answer is given up at once, and the slow-down is over
    assert "is spent" in pacer.busy(429, {"retry-after": "0.1"}, 0, time.monotonic())
    started = time.monotonic()
    _turns(pacer, 20)
    assert time.monotonic() - started < 0.2
    assert pacer.waited()["backoff_seconds"] <= 0.6 + 0.1


@pytest.mark.parametrize("headers, attempt, says", [
    ({"x-should-retry": "false", "retry-after": "0"}, 0, "x-should-retry: false"),
    ({"retry-after": "0"}, 2, "sent at most 3 times"),
    ({"retry-after": str(int(MAX_ONE_WAIT) + 1)}, 0, f"more than the {MAX_ONE_WAIT:g} s"),
])
def test_a_busy_answer_is_not_sent_again_when(headers, attempt, says):
    assert says in Pacer(retries=2).busy(429, headers, attempt, time.monotonic())


def test_the_check_deadline_bounds_the_back_off_and_the_hold():
    pacer = Pacer()
    now = time.monotonic()
    assert "check's time limit" in pacer.busy(429, {"retry-after": "1"}, 0, now, until=now + 0.2)
    assert pacer.busy(429, {"retry-after": "1"}, 0, now) is None  # another request, with time to wait
    with pytest.raises(RateLimited, match="holds requests for another"):
        pacer.wait(until=time.monotonic() + 0.2)


def test_after_a_busy_answer_the_pacing_slows_down_once_per_round_then_recovers(monkeypatch):
    monkeypatch.setattr(pacing, "HALF_LIFE", 0.1)
    pacer = Pacer()
    sent = time.monotonic()
    for _ in range(3):  # three answers to requests sent before the slow-down: one slow-down
        assert pacer.busy(429, {"retry-after": "0"}, 0, sent) is None
    times = _turns(pacer, 6)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(gap >= FLOOR * 0.5 for gap in gaps[:2])  # slowed (halving every 0.1 s here) ...
    assert sum(gaps) < 2 * FLOOR * 5  # ... by FLOOR, not doubled three times
    time.sleep(0.5)  # five half-lives without a busy answer
    started = time.monotonic()
    _turns(pacer, 50)
    assert time.monotonic() - started < 0.2  # unpaced again


def test_a_busy_answer_to_a_request_sent_after_the_slow_down_slows_down_further():
    pacer = Pacer()
    pacer.busy(429, {"retry-after": "0"}, 0, time.monotonic())
    first = _turns(pacer, 2)
    pacer.busy(429, {"retry-after": "0"}, 0, first[-1])  # sent after the first slow-down
    later = _turns(pacer, 3)
    # turns keep to a schedule: one that woke late may be followed by one on time, so the mean gap is what holds
    assert (later[-1] - later[0]) / (len(later) - 1) >= 2 * FLOOR * 0.9


def test_reconnects_are_counted_across_threads():
    pacer = Pacer()
    threads = [threading.Thread(target=pacer.reconnected) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert pacer.waited()["reconnects"] == 8
