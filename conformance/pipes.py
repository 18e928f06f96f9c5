"""Output whose reader has gone (`anthropic-conformance checks | head -1`) is dropped: the command goes on, unharmed."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO


class PipeSafe:
    """A text stream that, once its reader has closed the pipe, discards what is written instead of raising
    BrokenPipeError: the run, its reports and its exit code are what they would have been."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._leave()
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._leave()

    def _leave(self) -> None:
        self.gone = True
        silence(self._stream)

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding, ...: the stream's own
        return getattr(self._stream, name)


def silence(stream: TextIO) -> None:
    """Point the stream's file descriptor at /dev/null, so that what it still buffers is flushed there at exit
    (else Python reports the broken pipe as it shuts down)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


@contextlib.contextmanager
def pipe_safe() -> Iterator[None]:
    """sys.stdout and sys.stderr as PipeSafe streams while the block runs."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = PipeSafe(sys.stdout), PipeSafe(sys.stderr)
    try:
        yield
    finally:
        wrapped = sys.stdout, sys.stderr
        for stream in wrapped:
            stream.flush()  # what is still buffered meets a closed pipe here, not as Python shuts down
        sys.stdout, sys.stderr = saved
        for stream, original in zip(wrapped, saved, strict=True):
            if isinstance(stream, PipeSafe) and stream.gone:
                silence(original)  # pytest's fd capture may have put the closed pipe back on the descriptor
