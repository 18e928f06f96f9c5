"""The clients x faults matrix: real clients (Claude Code, the Python SDK 2.x and 1.x, the TypeScript SDK) run
against the reference server, clean and with every fault and variant; each cell works / degraded / breaks, with
the client's own error. `python -m conformance.client_matrix --out docs/client-matrix`.

Modules: install (throwaway, version-keyed installs and bounded processes), scenarios (what each client runs and
how a scenario is judged), outcome (a cell's outcome and the JSON/Markdown writers), run (the whole run and CLI).
"""

from .run import main, run_matrix

__all__ = ["main", "run_matrix"]
