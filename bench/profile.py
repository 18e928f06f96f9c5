"""Where the reference server spends its time per request under load: py-spy samples it while wrk loads it."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import say
from bench.load import Settings, one_window
from bench.servers import reference_server

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")
RATE = 250  # samples per second
TOP = 15
PACKAGES = ("reference_server", "starlette", "uvicorn", "httptools", "anyio", "asyncio", "json", "conformance")


def _frame(text: str) -> tuple[str, str]:
    match = FRAME.match(text.strip())
    return (match["func"], match["file"]) if match else (text.strip(), "")


def _package(file: str) -> str:
    if "/" not in file:
        return file if file.startswith("<") else f"stdlib {file.removesuffix('.py')}"
    head = file.split("/")[0]
    return head if head in PACKAGES else f"other {head}"


def summarise(collapsed: str, requests_per_s: float) -> dict[str, Any]:
    """Self and inclusive shares of the sampled functions, and µs per request (share x 1e6 / requests per s)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame(part) for part in stack.split(";")]
        func, file = frames[-1]
        own[f"{func} ({file})"] += count
        packages[_package(file)] += count
        for name in {f"{f} ({p})" for f, p in frames}:
            inclusive[name] += count
    per_request = 1e6 / requests_per_s if requests_per_s else 0.0

    def rows(counter: Counter[str], skip_whole: bool = False) -> list[dict[str, Any]]:
        out = []
        for name, count in counter.most_common():
            share = count / total
            if skip_whole and share > 0.97:
                continue  # the event loop and the entry points: every sample is under them
            out.append({"function": name, "share": share, "us_per_request": share * per_request})
            if len(out) == TOP:
                break
        return out

    return {"samples": total, "requests_per_s": requests_per_s, "us_per_request": per_request,
            "self": rows(own), "inclusive": rows(inclusive, skip_whole=True),
            "by_package": [{"package": name, "share": count / total, "us_per_request": count / total * per_request}
                           for name, count in packages.most_common()]}


def section(work: Path, out: Path, seconds: float = 10.0) -> dict[str, Any]:
    if not shutil.which("py-spy"):
        return {"skipped": "py-spy is not installed (pip install py-spy)"}
    server = reference_server(work)
    result: dict[str, Any] = {"tool": subprocess.run(["py-spy", "--version"], capture_output=True, text=True,
                                                      timeout=10).stdout.strip(),
                              "rate_hz": RATE, "seconds": seconds, "concurrency": 32}
    try:
        if server.status != "running" or server.proc is None:
            return {"skipped": f"the reference server did not start: {server.reason}"}
        out.mkdir(parents=True, exist_ok=True)
        for mode in ("json", "stream"):
            target = out / f"profile-{mode}.collapsed"
            settings = Settings(warmup=0, duration=seconds + 2, repetitions=1)
            spy = subprocess.Popen(["py-spy", "record", "--pid", str(server.proc.pid), "--duration", str(int(seconds)),
                                    "--rate", str(RATE), "--format", "raw", "--output", str(target)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(0.5)  # py-spy attaches; idle samples are not recorded
            window = one_window(server, mode == "stream", 32, settings.duration, settings, work)
            _, errors = spy.communicate(timeout=seconds + 60)
            if not target.exists():
                result[mode] = {"problem": f"py-spy wrote nothing: {errors.strip()[-300:]}"}
                continue
            summary = summarise(target.read_text(encoding="utf-8"), window.get("rate", 0.0))
            summary["py_spy"] = errors.strip().splitlines()[-2:] if errors else []
            result[mode] = summary
            say(f"profile {mode}: {summary['samples']} samples at {window.get('rate', 0):,.0f}/s under py-spy")
    finally:
        server.stop()
    return result
