"""One conformance run as a plain object (no pytest): its settings and targets, the embedded server, a Session per
target, the records of every judged item, the reports and the exit status. conformance.pytest_run adapts it to
pytest's hooks; the xdist hand-over to workers is `handover()` / `Run.from_handover()`."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

from conformance.budget import TokenLedger
from conformance.embedded import REFERENCE_MODEL, EmbeddedServer
from conformance.engine import Session, run_check, statement
from conformance.redaction import RedactingRecords
from conformance.report import build_report, outside_record, record_of, write_report
from conformance.settings import Settings, load_deviations
from conformance.target import Target, redact
from conformance.verdicts import Verdict, render, reproduce_command


class RunError(Exception):
    """The run cannot start (a target lists no model); one sentence."""


@dataclass(frozen=True)
class Judgement:
    """A judged item: its report record, its verdict at the run's level, the rendered message, the deviation status."""

    record: dict
    verdict: Verdict
    message: str
    deviation: dict | None
    reason: str

    @property
    def status(self) -> str | None:
        return (self.deviation or {}).get("status")


class Run:
    """A run against one or more named targets (compare runs several; "" is a single run's target)."""

    def __init__(self, settings: Settings | None = None, *, targets: dict[str, Target | None] | None = None,
                 deviations: dict[str, dict] | None = None, reports_dir: str | None = None,
                 seed: int | None = None, upstreams: dict | None = None) -> None:
        self.settings = settings or Settings()
        # name -> target; None: the embedded reference server, started once by the controller
        self.targets: dict[str, Target | None] = dict(targets) if targets is not None else {
            "": self.settings.target()}
        if deviations is None:  # target name -> {check id -> {reason, link}}
            deviations = {"": load_deviations(self.settings.deviations)} if self.settings.deviations else {}
        self.deviations = deviations
        self.reports_dir = reports_dir
        self.seed = seed
        # gateway mode: target name -> its recording upstream's Recorder, read by the gateway/* checks
        self.upstreams: dict[str, object] = dict(upstreams or {})
        self._upstream_server = None  # the recording upstream this run started itself (--conformance-upstream-port)
        self.ledger_path: str | None = None  # the shared ledger file, made by the controller, read by workers
        self.slots_root: str | None = None  # lock files of each target's concurrency cap, shared with the workers
        self.worker = ""
        self.results: dict[str, dict[str, dict]] = {name: {} for name in self.targets}
        self.reports: dict[str, dict] = {}
        self.collect_errors: dict[str, str] = {}  # area -> why its suite module could not be collected
        self._server: EmbeddedServer | None = None
        self._sessions: dict[str, Session] = {}
        self.records = RedactingRecords(self.redact)  # what the clients log (headers at DEBUG) is redacted too

    # -- the settings every part reads -------------------------------------------------------------------------------
    @property
    def level(self) -> str:
        return self.settings.level

    @property
    def expensive(self) -> bool:
        return self.settings.expensive

    @property
    def budget_tokens(self) -> int | None:
        return self.settings.budget_tokens

    @property
    def target(self) -> Target | None:
        """The target of a single-target run."""
        return self.targets.get("")

    @property
    def report(self) -> dict | None:
        return self.reports.get("")

    @property
    def multi(self) -> bool:
        return list(self.targets) != [""]

    # -- xdist hand-over -------------------------------------------------------------------------------------------
    def handover(self) -> dict:
        """What a pytest-xdist worker needs (over its private channel, never printed: it holds the keys)."""
        return {"targets": {name: t.handover() for name, t in self.targets.items()},
                "settings": self.settings.to_dict(), "deviations": self.deviations, "seed": self.seed,
                "ledger_path": self.shared_ledger_path(), "slots_root": self.shared_slots_root()}

    @classmethod
    def from_handover(cls, handed: dict) -> Run:
        run = cls(Settings.from_dict(handed["settings"]), deviations=handed["deviations"], seed=handed["seed"],
                  targets={name: Target.from_handover(t) for name, t in handed["targets"].items()})
        run.ledger_path, run.slots_root = handed["ledger_path"], handed["slots_root"]
        return run

    # -- lifecycle -------------------------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Boot the embedded reference server (if a target needs it) while pytest starts; start() waits for it."""
        if None in self.targets.values() and self._server is None:
            self._server = EmbeddedServer().launch()

    def start(self) -> None:
        """Every target ready to judge: the embedded server up, a model chosen (RunError when a target lists none),
        and in gateway mode the recording upstream listening."""
        if self.settings.upstream_port is not None and "" not in self.upstreams:
            from conformance.gateway.upstream import Upstream

            try:
                self._upstream_server = Upstream(port=self.settings.upstream_port).start()
            except OSError as exc:
                raise RunError(f"cannot listen on 127.0.0.1:{self.settings.upstream_port} for the recording upstream: "
                               f"{exc.strerror or exc}") from None
            self.upstreams[""] = self._upstream_server.recorder
        for name, target in list(self.targets.items()):
            if target is None:
                if self._server is None:
                    self._server = EmbeddedServer()
                if not self._server.base_url:
                    self._server.start()
                target = self._server.target(limits=self.settings.limits, model=self.settings.model or REFERENCE_MODEL,
                                             model_profile=self.settings.model_profile or "")
            if not target.model:
                from conformance.discovery import first_model

                target = first_model(target)
                if not target.model:
                    label = f" {name}" if name else ""
                    raise RunError(f"the target{label} lists no model at GET /v1/models: pass a model")
            self.targets[name] = target

    def session_for(self, name: str) -> Session:
        if name not in self._sessions:
            ledger = TokenLedger(self.budget_tokens, self.shared_ledger_path() if self.budget_tokens else None)
            slots = self.slots_folder(name) if self.slots_root else None
            self._sessions[name] = Session(self.targets[name], expensive=self.expensive, seed=self.seed,
                                           ledger=ledger, slots_dir=slots,
                                           upstream=self.upstreams.get(name))
        return self._sessions[name]

    def slots_folder(self, name: str) -> str:
        """xdist: one folder per target, shared by every worker: the slot lock files and the pacing state."""
        folder = os.path.join(self.slots_root, str(list(self.targets).index(name)))
        os.makedirs(folder, exist_ok=True)
        return folder

    def shared_slots_root(self) -> str:
        """The folder of the concurrency caps' lock files (the controller makes it when it starts workers)."""
        if self.slots_root is None:
            import tempfile

            self.slots_root = tempfile.mkdtemp(prefix="conformance-slots-")
        return self.slots_root

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

    # -- judging and recording ---------------------------------------------------------------------------------------
    def judge(self, item_id: str, name: str = "") -> Judgement:
        """Run one check against the named target and make its record (redacted)."""
        started = time.monotonic()
        session = self.session_for(name)
        result = run_check(session, item_id)
        target = session.target
        reproduce = reproduce_command(target, item_id, expensive=self.expensive, level=self.level,
                                      upstream_port=getattr(session.upstream, "port", None))
        verdict = result.at(self.level)
        clean = result.verdict is Verdict.PASS and result.at("compat") is Verdict.PASS
        message = target.redact("" if clean else render(result, statement(result.rule), reproduce, self.level))
        deviation = self.deviation(name, item_id)
        if deviation:
            if verdict is Verdict.FAIL:
                deviation["status"] = "expected-failure"
            elif verdict in (Verdict.PASS, Verdict.WARN):
                deviation["status"] = "unexpectedly-passing"
        record = record_of(result, message, time.monotonic() - started, target=name, deviation=deviation,
                           worker=self.worker)
        record = json.loads(target.redact(json.dumps(record)))
        return Judgement(record, verdict, message, deviation, target.redact(result.reason or result.verdict.value))

    def deviation(self, name: str, item_id: str) -> dict | None:
        known = self.deviations.get(name, {})
        found = known.get(item_id) or known.get(item_id.split("[")[0])
        return dict(found) if found else None

    def record(self, record: dict) -> None:
        """A judged item's record (from this process or a worker); its `target` names the target."""
        record = dict(record)
        name = record.pop("target", "")
        self.results.setdefault(name, {})[record["id"]] = record

    def record_outside(self, item_id: str, name: str, reason: str) -> None:
        """An item that failed outside its check: an error record, never a verdict on the target."""
        self.results.setdefault(name, {})[item_id] = outside_record(item_id, reason)

    # -- the end -----------------------------------------------------------------------------------------------------
    def finish(self) -> None:
        """The reports of every target, written where asked (the controller only)."""
        for name, target in self.targets.items():
            if target is not None:
                self.reports[name] = self.build(name, target)
        if self.settings.report and "" in self.reports:
            write_report(self.reports[""], self.settings.report)
        if self.reports_dir:
            from pathlib import Path

            Path(self.reports_dir).mkdir(parents=True, exist_ok=True)
            for name, report in self.reports.items():
                write_report(report, Path(self.reports_dir) / f"{name or 'target'}.json")

    def build(self, name: str, target: Target) -> dict:
        from conformance.selection import selected_items

        recorded = self.results.setdefault(name, {})
        for area, why in self.collect_errors.items():
            for item_id in selected_items(area, self.settings.keyword):
                recorded.setdefault(item_id, outside_record(item_id, f"harness error: the suite of {area} could "
                                                                     f"not be collected: {why[:300]}"))
        spent = TokenLedger(None, self.ledger_path).spent if self.ledger_path else None
        return build_report(target, self.settings.selection, list(recorded.values()), name=name,
                            budget_limit=self.budget_tokens, budget_reserved=spent, waited=self.waited(name))

    def waited(self, name: str) -> dict:
        """How long the run held requests to the target back, and why: summed by the workers in the shared folder
        under xdist, else this process's session (conformance.pacing.Pacer.waited)."""
        from conformance.pacing import Pacer

        if self.slots_root:
            return Pacer(folder=self.slots_folder(name)).waited()
        session = self._sessions.get(name)
        return session.pacer.waited() if session else Pacer().waited()

    def save_transcripts(self) -> None:
        """Every exchange of this process, normalised (ids, text and counts masked; never a credential)."""
        from pathlib import Path

        from conformance import transcripts

        if not self.settings.save_transcripts:
            return
        for name, session in self._sessions.items():
            folder = Path(self.settings.save_transcripts) / name if name else Path(self.settings.save_transcripts)
            folder.mkdir(parents=True, exist_ok=True)
            records = {key: transcripts.normalise(ex, session.target) for key, ex in session.exchanges.items()}
            transcripts.save(records, folder)

    def close(self) -> None:
        """Sessions closed, the embedded server stopped, the shared folder removed (every exit path)."""
        for session in self._sessions.values():
            session.close()
        self.stop_server()
        if self.slots_root and not self.worker:
            import shutil

            shutil.rmtree(self.slots_root, ignore_errors=True)

    def stop_server(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._upstream_server is not None:
            self._upstream_server.stop()

    def redact(self, text: str) -> str:
        """Every credential of every target of the run (the embedded server's too) masked in text."""
        for target in self.targets.values():
            if target is not None:
                text = target.redact(text)
        if self._server is not None:
            text = redact(text, [self._server.api_key])
        return text

    def failing(self, report: dict) -> int:
        """The report's failures at the run's level (known deviations that still fail excepted)."""
        from conformance.report import failing

        return failing(report, self.level)
