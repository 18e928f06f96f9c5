"""Shared helpers of the benchmark: logging, timing, medians, subprocesses, paths that never reach an output."""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
STARTED = time.monotonic()
SANITIZE: list[tuple[str, str]] = []  # (machine path, placeholder): replaced in everything written out
KEY_ENV = "ANTHROPIC_CONFORMANCE_SERVER_KEY"


def say(message: str) -> None:
    """A progress line on stderr, with the seconds since the start."""
    print(f"[{time.monotonic() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def sanitize(text: str) -> str:
    """`text` with machine paths replaced by placeholders."""
    for path, placeholder in sorted(SANITIZE, key=lambda item: -len(item[0])):
        if path:
            text = text.replace(path, placeholder)
    return text


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def dummy_key(name: str) -> str:
    """A throwaway key for a local server (not a secret: nothing real accepts it)."""
    return f"sk-bench-{name}-{secrets.token_hex(6)}"


def conformance_command() -> str:
    """The `anthropic-conformance` next to this Python, else the one on PATH."""
    beside = Path(sys.executable).parent / "anthropic-conformance"
    if beside.exists():
        return str(beside)
    found = shutil.which("anthropic-conformance")
    if not found:
        raise RuntimeError("no anthropic-conformance command: install the project into this Python")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any real credential or target, plus `extra`."""
    env = dict(os.environ)
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_CONFORMANCE_API_KEY",
                 "OPENAI_API_KEY", KEY_ENV):
        env.pop(name, None)
    env.update(extra)
    return env


@dataclass
class Timed:
    """One finished command: exit code, wall seconds, and its output (stdout and stderr merged)."""

    code: int
    seconds: float
    output: str


def timed_run(argv: list[str], timeout: float, cwd: Path | None = None, env: dict[str, str] | None = None) -> Timed:
    """Run `argv` to completion (its process group is killed after `timeout`) and time it."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            cwd=cwd, env=env if env is not None else clean_env(), text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(proc)
        output, _ = proc.communicate()
        return Timed(-1, time.perf_counter() - started, (output or "") + f"\n(timed out after {timeout:.0f} s)")
    return Timed(proc.returncode, time.perf_counter() - started, output or "")


@functools.cache
def compare_backends() -> ModuleType:
    """examples/compare_backends.py as a module (it is a script, not a package): its backend table, installer and
    process handling serve the benchmark too."""
    path = REPO / "examples" / "compare_backends.py"
    spec = importlib.util.spec_from_file_location("bench_compare_backends", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM the process's group, wait, SIGKILL it if it lingers, children included: as the example stops its own."""
    compare_backends().stop_process(proc)


def last_lines(text: str, count: int = 6) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return " | ".join(line.strip() for line in text.strip().splitlines()[-count:])
