"""The output-token budget of a run: one ledger, shared by every check and every xdist worker (a file under a filelock)."""

from __future__ import annotations

import os
import threading
from pathlib import Path


class BudgetExceeded(Exception):
    """A generating request would exceed the run's output-token budget."""


class TokenLedger:
    """Reserves max_tokens before each generating request; never lets the total pass the limit.

    With a `path`, the running total lives in that file under an exclusive lock, so several processes (xdist
    workers) share one budget. Without a limit, it only counts.
    """

    def __init__(self, limit: int | None = None, path: str | os.PathLike | None = None) -> None:
        self.limit = limit
        self.path = Path(path) if path else None
        self._spent = 0
        self._lock = threading.Lock()
        if self.path is not None and not self.path.exists():
            self.path.write_text("0", encoding="ascii")

    def reserve(self, tokens: int, what: str = "") -> None:
        """Count `tokens` against the budget, or raise BudgetExceeded (nothing is counted then)."""
        if tokens <= 0:
            return
        with self._lock:
            if self.path is None:
                self._spent = self._check(self._spent, tokens, what)
                return
            from filelock import FileLock  # imported on use, as in transport.Slots

            lock = FileLock(f"{self.path}.lock")
            with lock.acquire(poll_interval=0.001), open(self.path, "r+", encoding="ascii") as handle:
                spent = self._check(int(handle.read().strip() or 0), tokens, what)
                handle.seek(0)
                handle.truncate()
                handle.write(str(spent))
                handle.flush()  # written before the lock is let go, or another process reads the old total

    def _check(self, spent: int, tokens: int, what: str) -> int:
        if self.limit is not None and spent + tokens > self.limit:
            raise BudgetExceeded(f"budget: {what or 'this request'} needs max_tokens {tokens}, but only "
                                 f"{self.limit - spent} of the {self.limit} output tokens of --budget-tokens are left")
        return spent + tokens

    @property
    def spent(self) -> int:
        if self.path is None:
            return self._spent
        with open(self.path, encoding="ascii") as handle:
            return int(handle.read().strip() or 0)
