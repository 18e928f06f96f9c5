"""A small HTTP/1.1 keep-alive load generator (asyncio), the fallback when `wrk` is not installed."""

# python -m bench.loadgen --url URL --body-file FILE --header "name: value" -c 32 -d 10
#
# Each of the -c connections sends the same POST again and again for -d seconds, reading each response whole
# (Content-Length or chunked), and records its latency. It prints one line, BENCH_JSON {...}, in the shape the
# wrk script of bench/load.py prints: requests, non-2xx, socket errors, p50/p99 latency in microseconds.

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # seconds, of complete responses
    status: int = 0  # complete responses that were not 2xx/3xx
    connect: int = 0
    read: int = 0
    write: int = 0
    timeout: int = 0
    bytes: int = 0


async def read_response(reader: asyncio.StreamReader) -> tuple[int, int, bool]:
    """Read one response whole: (status, bytes read, keep-alive)."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    size = len(status_line)
    status = int(status_line.split()[1])
    length, chunked, keep = None, False, True
    while True:
        line = await reader.readline()
        size += len(line)
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection" and value == "close":
            keep = False
    if chunked:
        while True:
            line = await reader.readline()
            size += len(line)
            chunk = int(line.split(b";")[0].strip() or b"0", 16)
            if chunk == 0:
                while (trailer := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    size += len(trailer)
                size += 2
                break
            size += len(await reader.readexactly(chunk + 2))
    elif length is not None:
        size += len(await reader.readexactly(length))
    else:
        size += len(await reader.read())
        keep = False
    return status, size, keep


async def connection(host: str, port: int, request: bytes, deadline: float, timeout: float, tally: Tally) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.perf_counter() < deadline:
        if writer is None:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            except (TimeoutError, OSError):
                tally.connect += 1
                await asyncio.sleep(0.01)
                continue
        assert reader is not None and writer is not None
        started = time.perf_counter()
        try:
            writer.write(request)
        except OSError:
            tally.write += 1
            writer.close()
            writer = None
            continue
        try:
            status, size, keep = await asyncio.wait_for(read_response(reader), timeout)
        except TimeoutError:
            tally.timeout += 1
            keep = False
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            tally.read += 1
            keep = False
        else:
            finished = time.perf_counter()
            if finished <= deadline:
                tally.latencies.append(finished - started)
                tally.bytes += size
                if not 200 <= status < 400:
                    tally.status += 1
        if not keep:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(share * len(sorted_values)))]


async def drive(url: str, body: bytes, headers: list[str], connections: int, duration: float,
                timeout: float) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = [f"POST {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1", f"Host: {parts.netloc}",
            f"Content-Length: {len(body)}", *headers]
    request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
    tally = Tally()
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(*(connection(host, port, request, deadline, timeout, tally) for _ in range(connections)))
    elapsed = max(time.perf_counter(), deadline) - started
    ordered = sorted(tally.latencies)
    return {"requests": len(ordered), "duration_us": elapsed * 1e6, "bytes": tally.bytes, "connect": tally.connect,
            "read": tally.read, "write": tally.write, "status": tally.status, "timeout": tally.timeout,
            "p50_us": percentile(ordered, 0.50) * 1e6, "p99_us": percentile(ordered, 0.99) * 1e6,
            "mean_us": (sum(ordered) / len(ordered) * 1e6) if ordered else 0.0,
            "max_us": (ordered[-1] * 1e6) if ordered else 0.0}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--header", action="append", default=[], help="'name: value', repeatable")
    parser.add_argument("-c", "--connections", type=int, default=1)
    parser.add_argument("-d", "--duration", type=float, default=5.0, help="seconds")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per response")
    options = parser.parse_args(argv)
    with open(options.body_file, "rb") as handle:
        body = handle.read()
    try:
        import uvloop
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    result = runner(drive(options.url, body, options.header, options.connections, options.duration, options.timeout))
    print("BENCH_JSON " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
