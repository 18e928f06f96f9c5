"""The active pytest side of a conformance run: markers, the session fixture, outcomes, the report."""

from __future__ import annotations

import json
import os
import time
import warnings

import pytest

from conformance.budget import TokenLedger
from conformance.embedded import EmbeddedServer
from conformance.engine import Session, run_check, statement
from conformance.report import build_report, result_dict, write_report
from conformance.target import Secret, Target, display_url
from conformance.verdicts import Verdict, render

USER_PROPERTY = "conformance_result"
WORKER_KEY = "conformance_target"
TIERS_HELP = {
    "free": "conformance check that generates nothing (auth, validation errors)",
    "cheap": "conformance check with tiny max_tokens (the core behaviours)",
    "expensive": "conformance check with longer outputs; needs --conformance-expensive against a real target",
}


class ConformanceWarning(UserWarning):
    """A difference from the real API that clients still tolerate."""


def parse_features(value: str | None) -> frozenset[str]:
    """--without thinking,images -> the declared unsupported features (a closed list)."""
    from conformance.engine import FEATURES

    names = frozenset(part.strip() for part in (value or "").split(",") if part.strip())
    unknown = names - set(FEATURES)
    if unknown:
        raise pytest.UsageError(f"--without: unknown feature(s) {', '.join(sorted(unknown))}; "
                                f"known: {', '.join(FEATURES)}")
    return names


def parse_headers(values: list[str]) -> tuple[tuple[str, str], ...]:
    headers = []
    for value in values:
        name, sep, rest = value.partition(":")
        if not sep or not name.strip():
            raise pytest.UsageError(f"--header {value!r}: expected NAME:VALUE")
        headers.append((name.strip(), rest.strip()))
    return tuple(headers)


class ConformanceRun:
    """Registered as a pytest plugin for one run against one target."""

    def __init__(self, target: Target | None, *, expensive: bool = False, report_path: str | None = None,
                 selection: dict | None = None, seed: int | None = None, level: str = "strict",
                 transcripts_dir: str | None = None, budget_tokens: int | None = None) -> None:
        self.target = target  # None: start the embedded reference server
        self.expensive = expensive
        self.level = level
        self.transcripts_dir = transcripts_dir
        self.budget_tokens = budget_tokens
        self.ledger_path: str | None = None  # the shared ledger file, made by the controller, read by workers
        self.report_path = report_path
        self.selection = dict(selection or {})
        self.seed = seed
        self.results: dict[str, dict] = {}
        self.worker = ""
        self.report: dict | None = None
        self._server: EmbeddedServer | None = None
        self._session: Session | None = None

    @classmethod
    def from_options(cls, config: pytest.Config) -> ConformanceRun:
        opt = config.option
        target = None
        handed = getattr(config, "workerinput", {}).get(WORKER_KEY)
        ledger_path = handed.pop("ledger_path", None) if handed else None
        if handed:  # an xdist worker: the controller hands over its target (the embedded server included)
            target = Target(api_key=Secret(handed.pop("api_key")), **{
                **handed, "headers": tuple(tuple(pair) for pair in handed["headers"]),
                "without": frozenset(handed["without"])})
        elif opt.conformance_base_url:
            key = opt.conformance_api_key or os.environ.get("ANTHROPIC_CONFORMANCE_API_KEY") or os.environ.get(
                "ANTHROPIC_API_KEY", "")
            if not key:
                raise pytest.UsageError("a real target needs an API key: --conformance-api-key, "
                                        "$ANTHROPIC_CONFORMANCE_API_KEY or $ANTHROPIC_API_KEY")
            target = Target(
                base_url=opt.conformance_base_url, api_key=Secret(key), model=opt.conformance_model or "",
                headers=parse_headers(opt.conformance_header),
                anthropic_version=opt.conformance_anthropic_version or "2023-06-01",
                timeout=opt.conformance_timeout or 60.0, without=parse_features(opt.conformance_without),
            )
        run = cls(target, expensive=opt.conformance_expensive, report_path=opt.conformance_report,
                  level=opt.conformance_level, transcripts_dir=opt.conformance_save_transcripts,
                  budget_tokens=opt.conformance_budget_tokens,
                  selection={"keyword": opt.keyword or None, "expensive": opt.conformance_expensive,
                             "level": opt.conformance_level, "budget_tokens": opt.conformance_budget_tokens})
        run.ledger_path = ledger_path
        return run

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        """xdist controller: hand the target to each worker (over its private channel, never printed)."""
        t = self.target
        node.workerinput[WORKER_KEY] = {
            "base_url": t.base_url, "api_key": t.api_key.reveal(), "model": t.model, "headers": list(t.headers),
            "anthropic_version": t.anthropic_version, "embedded": t.embedded, "timeout": t.timeout,
            "without": sorted(t.without), "ledger_path": self.shared_ledger_path(),
        }

    # -- lifecycle ---------------------------------------------------------------------------------
    def pytest_configure(self, config: pytest.Config) -> None:
        for tier, text in TIERS_HELP.items():
            config.addinivalue_line("markers", f"{tier}: {text}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.target is None and not hasattr(session.config, "workerinput"):
            self._server = EmbeddedServer().start()
            self.target = Target(base_url=self._server.base_url, api_key=self._server.api_key,
                                 model="reference-model", embedded=True)
        if self.target is not None and not self.target.model:
            from conformance.discovery import first_model

            self.target = first_model(self.target)
            if not self.target.model:
                raise pytest.UsageError("the target lists no model at GET /v1/models: pass --conformance-model")
        self.worker = getattr(session.config, "workerinput", {}).get("workerid", "")

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        if self.target is None:
            return ["conformance target: the embedded reference server"]
        kind = " (embedded reference server)" if self.target.embedded else ""
        url = self.target.redact(display_url(self.target.base_url))
        return [f"conformance target: {url}{kind}  model={self.target.model}"
                f"  anthropic-version={self.target.anthropic_version}  key redacted"]

    @property
    def session(self) -> Session:
        if self._session is None:
            ledger = TokenLedger(self.budget_tokens, self.shared_ledger_path() if self.budget_tokens else None)
            self._session = Session(self.target, expensive=self.expensive, seed=self.seed, ledger=ledger)
        return self._session

    def shared_ledger_path(self) -> str | None:
        """One ledger file for the whole run (the controller makes it; workers get its path)."""
        if self.budget_tokens is None:
            return None
        if self.ledger_path is None:
            import tempfile

            handle, self.ledger_path = tempfile.mkstemp(prefix="conformance-budget-", suffix=".txt")
            os.write(handle, b"0")
            os.close(handle)
        return self.ledger_path

    def check_runner(self, request: pytest.FixtureRequest):
        """The function a suite item calls: run one check, record it, and turn its verdict into an outcome."""
        session = self.session

        def run(item_id: str) -> None:
            started = time.monotonic()
            result = run_check(session, item_id)
            target = session.target
            reproduce = reproduce_command(target, item_id)
            verdict = result.at(self.level)
            clean = result.verdict is Verdict.PASS and result.at("compat") is Verdict.PASS
            message = "" if clean else render(result, statement(result.rule), reproduce, self.level)
            message = target.redact(message)
            record = result_dict(result, message, time.monotonic() - started)
            if self.worker:  # each xdist worker sends its own copy of a shared exchange: count each copy
                for exchange in record["exchanges"]:
                    exchange["name"] = f"{self.worker}:{exchange['name']}"
            request.node.user_properties.append((USER_PROPERTY, target.redact(json.dumps(record))))
            if verdict in (Verdict.FAIL, Verdict.ERROR):
                pytest.fail(message, pytrace=False)
            if verdict is Verdict.WARN or (verdict is Verdict.PASS and message):
                warnings.warn(ConformanceWarning(message), stacklevel=2)
            elif verdict in (Verdict.SKIPPED, Verdict.UNSUPPORTED):
                pytest.skip(target.redact(result.reason or result.verdict.value))

        return run

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == USER_PROPERTY and report.when == "call":
                record = json.loads(value)
                self.results[record["id"]] = record

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        try:
            if self.transcripts_dir and self._session is not None:  # every process with a session (xdist workers too)
                self.save_transcripts()
            if hasattr(session.config, "workerinput") or self.target is None:
                return
            exchanges: dict[str, dict] = {}  # each exchange once, however many checks (and workers) read it
            for record in self.results.values():
                for ex in record.get("exchanges", []):
                    exchanges.setdefault(ex["name"], ex)
            tokens = (sum(ex["tokens_requested"] for ex in exchanges.values()),
                      sum(ex["tokens_used"] for ex in exchanges.values()))
            self.report = build_report(self.target, self.selection, list(self.results.values()), tokens)
            self.report["budget"] = {"limit": self.budget_tokens,
                                     "reserved": TokenLedger(None, self.ledger_path).spent if self.ledger_path
                                     else self.report["tokens"]["requested"]}
            if self.report_path:
                write_report(self.report, self.report_path)
        finally:
            if self._session is not None:
                self._session.close()
            if self._server is not None:
                self._server.stop()

    def save_transcripts(self) -> None:
        """Every exchange of the run, normalised (ids, text and counts masked; never a credential), one file each."""
        from pathlib import Path

        from conformance import transcripts

        folder = Path(self.transcripts_dir)
        folder.mkdir(parents=True, exist_ok=True)
        records = {name: transcripts.normalise(ex, self._session.target) for name, ex in self._session.exchanges.items()}
        transcripts.save(records, folder)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._server is not None:  # every exit path, also when the session never finished
            self._server.stop()


def find_run(config: pytest.Config) -> ConformanceRun | None:
    """The ConformanceRun registered for this pytest run, if any."""
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, ConformanceRun):
            return plugin
    return None


def reproduce_command(target: Target, item_id: str) -> str:
    if target.embedded:
        return f"anthropic-conformance run -k '{item_id}'"
    return f"anthropic-conformance run --base-url {target.redact(display_url(target.base_url))} -k '{item_id}'"
