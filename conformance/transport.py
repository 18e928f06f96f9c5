"""Bounded HTTP to a target, shared by the wire and the SDK: deadlines, size caps, a concurrency cap, a breaker, pacing
and retries (conformance.pacing), and one more try after a dropped kept-alive connection."""

from __future__ import annotations

import importlib
import os
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

# the limits and their options live in conformance.limits; imported from here by many, so they stay importable here
from conformance.limits import Limits, MiB  # noqa: F401
from conformance.pacing import BUSY, Pacer, RateLimited

PIECE = 64 * 1024  # decoded bytes handed on at a time: a gzip bomb never inflates more than this at once
ENCODINGS = "gzip, deflate"  # what the harness asks for: the encodings it decodes itself, with a bound


class TransportLimit(Exception):
    """A limit of the harness stopped a request (too large, target down, no free slot): the check is an error."""


class TooLarge(TransportLimit):
    pass


class TargetDown(TransportLimit):
    pass


class NoSlot(TransportLimit):
    pass


class BadEncoding(TransportLimit):
    pass


class Held(TransportLimit):
    pass


def limit_in(exc: BaseException | None) -> TransportLimit | None:
    """The TransportLimit behind an exception (the SDK wraps what the transport raised), if any."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, TransportLimit):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


class Breaker:
    """Counts consecutive transport failures (timeouts, refused or reset connections); past the limit the target is
    taken as down and nothing more is sent to it, so a dead target costs a few timeouts, not one per check."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.failures = 0
        self.sent = 0
        self.last = ""
        self.tripped_at: int | None = None  # how many requests had been sent when it tripped
        self._lock = threading.Lock()

    def success(self) -> None:
        with self._lock:
            self.sent += 1
            if self.tripped_at is None:
                self.failures = 0

    def failure(self, why: str) -> None:
        with self._lock:
            self.sent += 1
            self.failures += 1
            self.last = why
            if self.limit and self.failures >= self.limit and self.tripped_at is None:
                self.tripped_at = self.sent

    @property
    def tripped(self) -> bool:
        return self.tripped_at is not None

    @property
    def reason(self) -> str:
        return (f"not sent: the target failed {self.failures} requests in a row (last: {self.last}), so the run "
                f"stopped sending to it (--max-failures {self.limit})")  # report.STOPPED_SENDING


class Slots:
    """At most `size` requests in flight to one target. With a folder, the slots are lock files shared by every
    process of the run (pytest-xdist workers); without one, by the threads of this process."""

    def __init__(self, size: int, folder: str | os.PathLike | None = None) -> None:
        self.size = size
        self.folder = Path(folder) if folder else None
        self._semaphore = threading.BoundedSemaphore(size)

    def acquire(self, wait: float):
        """A held slot (call .release()), or NoSlot after `wait` seconds."""
        deadline = time.monotonic() + wait
        if self.folder is None:
            if not self._semaphore.acquire(timeout=wait):
                raise NoSlot(f"no free connection slot within {wait:.0f} s (--max-concurrency {self.size})")
            return _Held(self._semaphore.release)
        from filelock import FileLock, Timeout  # imported on use: the plugin loads this module into every pytest run

        while True:
            for index in range(self.size):
                lock = FileLock(self.folder / f"slot-{index}")
                try:
                    lock.acquire(timeout=0)
                except Timeout:
                    continue
                except OSError as exc:
                    raise NoSlot(f"the concurrency cap's lock file cannot be opened: {exc}") from None
                return _Held(lock.release)
            if time.monotonic() > deadline:
                raise NoSlot(f"no free connection slot within {wait:.0f} s (--max-concurrency {self.size})")
            time.sleep(0.02)


class _Held:
    def __init__(self, release) -> None:
        self._release = release

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


# -- the deadline: a total time per request, enforced on every socket operation (headers included) -------------------

_local = threading.local()


def _clamp(timeout: float | None, error: type[Exception]) -> tuple[float | None, bool]:
    """The timeout of one socket operation, and whether the request's deadline (not the operation's own timeout) is
    what bounds it; past the deadline, `error` at once."""
    deadline = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout, False
    remaining = deadline[0] - time.monotonic()
    if remaining <= 0:
        raise error(_total_message(deadline))
    if timeout is None or remaining < timeout:
        return remaining, True
    return timeout, False


def _total_message(deadline: tuple[float, float]) -> str:
    return f"the total time limit of {deadline[1]:g} s per request was reached (--timeout)"


class _Attempt:
    """What one attempt at a request did on the network: whether its connection had carried a request before, and
    whether any byte of the response arrived.

    httpcore does not tell: its pool hands a request an idle kept-alive connection or a new one without saying which,
    and a failure carries neither. But every connection's network stream is made by _DeadlineBackend, and the sync
    httpcore does every read and write of a request in the thread that sends it, one request at a time on an HTTP/1.1
    connection (HTTP/2 is not enabled). So the stream counts the requests written on it, and the attempt, set in a
    thread-local around the send, learns from the first write which stream it went on and from each read whether a
    byte came back."""

    __slots__ = ("stream", "reused", "received")

    def __init__(self) -> None:
        self.stream: _DeadlineStream | None = None
        self.reused = False
        self.received = False


class _DeadlineStream:
    """A network stream whose every read and write ends by the request's deadline, however slowly bytes come."""

    def __init__(self, inner: Any, core: ModuleType) -> None:
        self._inner = inner
        self._core = core
        self.served = 0  # requests written on this connection (see _Attempt)

    def _bounded(self, operation, timeout: float | None, error: type[Exception], *args):
        timeout, by_deadline = _clamp(timeout, error)
        try:
            return operation(*args, timeout)
        except self._core.TimeoutException:
            if by_deadline:
                raise error(_total_message(_local.deadline)) from None
            raise

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._bounded(self._inner.read, timeout, self._core.ReadTimeout, max_bytes)
        attempt = getattr(_local, "attempt", None)
        if data and attempt is not None and attempt.stream is self:
            attempt.received = True
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        attempt = getattr(_local, "attempt", None)
        if attempt is not None and attempt.stream is not self:  # the attempt's first write: this is its connection
            attempt.stream, attempt.reused = self, self.served > 0
            self.served += 1
        self._bounded(self._inner.write, timeout, self._core.WriteTimeout, buffer)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        inner = self._bounded(self._inner.start_tls, timeout, self._core.ConnectTimeout, ssl_context, server_hostname)
        return _DeadlineStream(inner, self._core)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend:
    def __init__(self, inner: Any, core: ModuleType) -> None:
        self._inner = inner
        self._core = core

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        stream = self._inner.connect_tcp(host, port, _clamp(timeout, self._core.ConnectTimeout)[0], local_address,
                                         socket_options)
        return _DeadlineStream(stream, self._core)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        stream = self._inner.connect_unix_socket(path, _clamp(timeout, self._core.ConnectTimeout)[0], socket_options)
        return _DeadlineStream(stream, self._core)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


# -- decoding with a bound ------------------------------------------------------------------------------------------

class _Decoder:
    """gzip / deflate / identity, never inflating more than PIECE bytes at a time."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        if encoding in ("", "identity"):
            self._z = None
        elif encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()
        else:
            raise BadEncoding(f"the target sent content-encoding {encoding!r}, which was not asked for "
                              f"(accept-encoding: {ENCODINGS})")
        self._first = True

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._z is None:
            yield data
            return
        while data:
            try:
                out = self._z.decompress(data, PIECE)
            except zlib.error as exc:
                if self._first and self.encoding == "deflate":  # deflate without the zlib header, as some send it
                    self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._first = False
                    continue
                raise BadEncoding(f"the body is not valid {self.encoding}: {exc}") from None
            self._first = False
            if out:
                yield out
            if self._z.eof and self._z.unused_data:  # another gzip member follows
                data = self._z.unused_data
                self._z = zlib.decompressobj(zlib.MAX_WBITS | 16)
            else:
                data = self._z.unconsumed_tail

    def flush(self) -> bytes:
        return self._z.flush() if self._z is not None else b""


class _BoundedStream:
    """The decoded body, stopped at the size cap and by the deadline; records success or failure on the breaker."""

    def __init__(self, inner, decoder: _Decoder, owner: BoundedTransport, deadline: tuple[float, float], held) -> None:
        self._inner = inner
        self._decoder = decoder
        self._owner = owner
        self._deadline = deadline
        self._held = held

    def __iter__(self) -> Iterator[bytes]:
        limit = self._owner.limits.max_response_bytes
        size = 0
        chunks = iter(self._inner)
        try:
            while True:
                previous, _local.deadline = getattr(_local, "deadline", None), self._deadline
                try:
                    raw = next(chunks)
                except StopIteration:
                    break
                finally:  # set only around this stream's own reads: never left for another request to inherit
                    _local.deadline = previous
                for piece in self._decoder.feed(raw):
                    size += len(piece)
                    if size > limit:
                        raise TooLarge(f"the response body exceeded {limit} bytes (--max-response-bytes); "
                                       "stopped reading")
                    yield piece
            tail = self._decoder.flush()
            if tail:
                yield tail
            self._owner.breaker.success()
        except TransportLimit:
            raise
        except self._owner.http.TransportError as exc:
            self._owner.breaker.failure(describe(exc))
            raise

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._held.release()


_STREAM_TYPES: dict[str, type] = {}
_SSL_CONTEXTS: dict[str, Any] = {}
_SSL_LOCK = threading.Lock()


def _ssl_context(http: ModuleType) -> Any:
    """One verifying SSL context per HTTP module, made on first use: loading the CA bundle costs tens of ms, and
    every check of the SDK makes a client."""
    with _SSL_LOCK:
        if http.__name__ not in _SSL_CONTEXTS:
            _SSL_CONTEXTS[http.__name__] = http.create_ssl_context()
        return _SSL_CONTEXTS[http.__name__]


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class BoundedTransport:
    """An httpx (or httpx2: whatever the SDK uses) transport that bounds every request to one target, paces it, sends
    it again after a busy answer while the pacer allows, and once more on a fresh connection when a kept-alive
    connection was dropped before any byte of the response came."""

    def __init__(self, limits: Limits, breaker: Breaker, slots: Slots, http: ModuleType | None = None,
                 pacer: Pacer | None = None, until: float | None = None) -> None:
        import httpx

        self.limits = limits
        self.breaker = breaker
        self.slots = slots
        self.pacer = pacer or Pacer(limits.max_rps, budget=limits.max_backoff)
        self.until = until  # time.monotonic() by which every request must be done (a check's deadline), if any
        self.http = http or httpx
        self.core = importlib.import_module(self.http.__name__.replace("httpx", "httpcore"))
        # the client insists on its own stream type: the bounded stream is made one of it, once per HTTP module
        self._stream_type = _STREAM_TYPES.setdefault(
            self.http.__name__, type("BoundedStream", (_BoundedStream, self.http.SyncByteStream), {}))
        self._inner = self._transport()
        # a pool that keeps no connection alive: a request sent through it always goes on a fresh connection
        self._fresh = self._transport(self.http.Limits(max_keepalive_connections=0))

    def _transport(self, limits: Any = None):
        transport = self.http.HTTPTransport(retries=0, verify=_ssl_context(self.http),
                                            **({"limits": limits} if limits is not None else {}))
        pool = transport._pool  # the one private seam: every socket operation goes through the deadline
        pool._network_backend = _DeadlineBackend(pool._network_backend, self.core)
        return transport

    def handle_request(self, request):
        """The target's answer; while it is busy (429, 503, 529) and the pacer allows, it is waited for and sent
        again. The busy answers before the last are in the response's extensions["conformance_busy"] as (status,
        headers), and why a busy answer was not sent again in extensions["conformance_gave_up"]."""
        total = float(request.extensions.get("conformance_timeout") or self.limits.request_timeout)
        until = request.extensions.get("conformance_until", self.until)
        request.read()  # the body, to send it again
        busy: list[tuple[int, dict[str, str]]] = []
        while True:
            response, sent_at = self._send(request, total, until)
            if response.status_code not in BUSY:
                break
            try:
                why = self.pacer.busy(response.status_code, response.headers, len(busy), sent_at, until)
                if why is not None:
                    response.extensions["conformance_gave_up"] = why
                    break
                busy.append((response.status_code, {k.lower(): v for k, v in response.headers.items()}))
                for _ in response.stream:  # read to the end: the connection stays usable
                    pass
            except BaseException:
                response.stream.close()  # the slot is released, whatever went wrong
                raise
            response.stream.close()
        response.extensions["conformance_busy"] = busy
        return response

    def _send(self, request, total: float, until: float | None):
        """One paced, bounded attempt: the response (its body still to read) and when it was sent."""
        if self.breaker.tripped:
            raise TargetDown(self.breaker.reason)
        try:
            self.pacer.wait(until)
        except RateLimited as exc:
            raise Held(str(exc)) from None
        if until is not None:
            total = min(total, until - time.monotonic())
            if total <= 0:
                raise Held("the check's time limit was reached while the target's rate limit held it (--check-timeout)")
        held = self.slots.acquire(total)
        sent_at = time.monotonic()
        deadline = (sent_at + total, total)
        request.headers["accept-encoding"] = ENCODINGS
        try:
            response = self._exchange(request, deadline)
        except BaseException as exc:
            if isinstance(exc, self.http.TransportError):
                self.breaker.failure(describe(exc))
            held.release()
            raise
        encoding = response.headers.get("content-encoding", "").strip().lower()
        try:
            decoder = _Decoder(encoding)
        except BadEncoding:
            response.close()  # the connection goes back to the pool (or is dropped), never left in use
            held.release()
            raise
        headers = [(k, v) for k, v in response.headers.raw if k.lower() != b"content-encoding"] if encoding else (
            response.headers.raw)
        return self.http.Response(status_code=response.status_code, headers=headers,
                                  stream=self._stream_type(response.stream, decoder, self, deadline, held),
                                  extensions=response.extensions), sent_at

    def _exchange(self, request, deadline: tuple[float, float]):
        """The response head from the pool; sent once more, on a fresh connection, when a kept-alive connection
        failed before any byte of the response came. A target may close an idle connection at any time (fakellm does
        after every 500), and a request can cross the close on the wire: nothing of it was answered. A fresh
        connection that fails, a timeout, or a failure after the first byte is the target's, and is not retried."""
        previous = getattr(_local, "deadline", None), getattr(_local, "attempt", None)
        _local.deadline = deadline
        try:
            attempt = _local.attempt = _Attempt()
            try:
                return self._inner.handle_request(request)
            except self.http.TransportError as exc:
                if isinstance(exc, self.http.TimeoutException) or not attempt.reused or attempt.received:
                    raise
            self.pacer.reconnected()
            _local.attempt = _Attempt()
            return self._fresh.handle_request(request)
        finally:  # set only around this request's own reads and writes: never left for another to inherit
            _local.deadline, _local.attempt = previous

    def close(self) -> None:
        self._inner.close()
        self._fresh.close()

    def __enter__(self) -> BoundedTransport:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def client(limits: Limits, breaker: Breaker, slots: Slots, http: ModuleType | None = None,
           pacer: Pacer | None = None, until: float | None = None, **kwargs):
    """An http.Client that never follows a redirect (a key must never reach another host) and bounds everything;
    `pacer` paces its requests (shared with the run's other clients), `until` is a deadline for all of them."""
    transport = BoundedTransport(limits, breaker, slots, http, pacer, until)
    timeout = transport.http.Timeout(limits.read_timeout, connect=limits.connect_timeout)
    return transport.http.Client(transport=transport, timeout=timeout, follow_redirects=False, **kwargs)
