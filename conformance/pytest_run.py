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
from conformance.redaction import RedactingRecords
from conformance.report import build_report, result_dict, write_report
from conformance.target import Secret, Target, display_url, redact
from conformance.transport import Limits, limits_from
from conformance.verdicts import Verdict, render, reproduce_command

USER_PROPERTY = "conformance_result"
OUTSIDE_PROPERTY = "conformance_outside"  # an item that failed outside its check (setup, teardown): an error record
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


def limits_from_options(opt) -> Limits:
    from conformance.plugin import LIMIT_PREFIX

    try:
        return limits_from(lambda dest: getattr(opt, dest, None), LIMIT_PREFIX)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def parse_headers(values: list[str]) -> tuple[tuple[str, str], ...]:
    headers = []
    for value in values:
        name, sep, rest = value.partition(":")
        if not sep or not name.strip():
            raise pytest.UsageError(f"--header {value!r}: expected NAME:VALUE")
        headers.append((name.strip(), rest.strip()))
    return tuple(headers)


class ConformanceRun:
    """Registered as a pytest plugin for one run against one or more named targets (compare runs several)."""

    def __init__(self, target: Target | None = None, *, expensive: bool = False, report_path: str | None = None,
                 selection: dict | None = None, seed: int | None = None, level: str = "strict",
                 transcripts_dir: str | None = None, budget_tokens: int | None = None,
                 targets: dict[str, Target | None] | None = None, deviations: dict[str, dict] | None = None,
                 reports_dir: str | None = None, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()  # of the embedded reference server's targets (a real target has its own)
        # name -> target; None: the embedded reference server, started once by the controller
        self.targets: dict[str, Target | None] = dict(targets) if targets else {"": target}
        self.deviations = deviations or {}  # target name -> {check id -> {reason, link}}
        self.expensive = expensive
        self.level = level
        self.transcripts_dir = transcripts_dir
        self.budget_tokens = budget_tokens
        self.ledger_path: str | None = None  # the shared ledger file, made by the controller, read by workers
        self.slots_root: str | None = None  # lock files of each target's concurrency cap, shared with the workers
        self.report_path = report_path
        self.reports_dir = reports_dir
        self.selection = dict(selection or {})
        self.seed = seed
        self.results: dict[str, dict[str, dict]] = {name: {} for name in self.targets}
        self.worker = ""
        self.reports: dict[str, dict] = {}
        self._server: EmbeddedServer | None = None
        self._sessions: dict[str, Session] = {}
        self._config: pytest.Config | None = None
        self._records = RedactingRecords(self.redact)  # what the clients log (headers at DEBUG) is redacted too
        self.collect_errors: dict[str, str] = {}  # area -> why its suite module could not be collected

    def prepare(self) -> None:
        """Boot the embedded reference server (if a target needs it) while pytest starts; sessionstart waits for it.
        Called by the CLI just before pytest.main; the server is stopped on every exit path."""
        if None in self.targets.values() and self._server is None:
            self._server = EmbeddedServer().launch()

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

    @classmethod
    def from_options(cls, config: pytest.Config) -> ConformanceRun:
        opt = config.option
        handed = getattr(config, "workerinput", {}).get(WORKER_KEY)
        selection = {"keyword": opt.keyword or None, "expensive": opt.conformance_expensive,
                     "level": opt.conformance_level, "budget_tokens": opt.conformance_budget_tokens}
        common = {"expensive": opt.conformance_expensive, "report_path": opt.conformance_report,
                  "level": opt.conformance_level, "transcripts_dir": opt.conformance_save_transcripts,
                  "budget_tokens": opt.conformance_budget_tokens, "selection": selection}
        if handed:  # an xdist worker: the controller hands over its targets (the embedded server included) and
            # the run's settings, which the CLI gives the controller's plugin object rather than as options
            targets = {name: Target(api_key=Secret(t.pop("api_key")), **{
                **t, "headers": tuple(tuple(pair) for pair in t["headers"]), "without": frozenset(t["without"]),
                "limits": Limits(**t["limits"])}) for name, t in handed["targets"].items()}
            run = cls(targets=targets, deviations=handed["deviations"], **{**common, **handed["settings"]})
            run.ledger_path = handed["ledger_path"]
            run.slots_root = handed["slots_root"]
            return run
        target = None
        if opt.conformance_base_url:
            key = opt.conformance_api_key or os.environ.get("ANTHROPIC_CONFORMANCE_API_KEY") or os.environ.get(
                "ANTHROPIC_API_KEY", "")
            if not key:
                raise pytest.UsageError("a real target needs an API key: --conformance-api-key, "
                                        "$ANTHROPIC_CONFORMANCE_API_KEY or $ANTHROPIC_API_KEY")
            target = Target(
                base_url=opt.conformance_base_url, api_key=Secret(key), model=opt.conformance_model or "",
                headers=parse_headers(opt.conformance_header),
                anthropic_version=opt.conformance_anthropic_version or "2023-06-01",
                limits=limits_from_options(opt), without=parse_features(opt.conformance_without),
            )
        deviations = {"": load_deviations(opt.conformance_deviations)} if opt.conformance_deviations else {}
        return cls(target, deviations=deviations, limits=limits_from_options(opt), **common)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        """xdist controller: hand the targets to each worker (over its private channel, never printed)."""
        node.workerinput[WORKER_KEY] = {
            "targets": {name: {"base_url": t.base_url, "api_key": t.api_key.reveal(), "model": t.model,
                               "headers": list(t.headers), "anthropic_version": t.anthropic_version,
                               "embedded": t.embedded, "limits": t.limits.as_dict(), "without": sorted(t.without)}
                        for name, t in self.targets.items()},
            "deviations": self.deviations, "ledger_path": self.shared_ledger_path(),
            "slots_root": self.shared_slots_root(),
            "settings": {"expensive": self.expensive, "level": self.level, "budget_tokens": self.budget_tokens,
                         "transcripts_dir": self.transcripts_dir, "seed": self.seed},
        }

    # -- lifecycle ---------------------------------------------------------------------------------
    def pytest_configure(self, config: pytest.Config) -> None:
        self._config = config
        self._records.install()
        for tier, text in TIERS_HELP.items():
            config.addinivalue_line("markers", f"{tier}: {text}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.worker = getattr(session.config, "workerinput", {}).get("workerid", "")
        if self.worker:
            return
        for name, target in list(self.targets.items()):
            if target is None:
                if self._server is None:
                    self._server = EmbeddedServer()
                if not self._server.base_url:
                    self._server.start()
                target = Target(base_url=self._server.base_url, api_key=self._server.api_key,
                                model="reference-model", embedded=True, limits=self.limits)
            if not target.model:
                from conformance.discovery import first_model

                target = first_model(target)
                if not target.model:
                    label = f" {name}" if name else ""
                    raise pytest.UsageError(f"the target{label} lists no model at GET /v1/models: pass a model")
            self.targets[name] = target

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        lines = []
        for name, target in self.targets.items():
            label = f"conformance target {name}:" if name else "conformance target:"
            if target is None:
                lines.append(f"{label} the embedded reference server")
                continue
            kind = " (embedded reference server)" if target.embedded else ""
            url = target.redact(display_url(target.base_url))
            lines.append(f"{label} {url}{kind}  model={target.model}  anthropic-version={target.anthropic_version}"
                         "  key redacted")
        return lines

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Several targets: every check item runs once per target (node ids end in -<target>)."""
        if self.multi and "conformance_target" in metafunc.fixturenames:
            metafunc.parametrize("conformance_target", list(self.targets), ids=list(self.targets))

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Keep one target's checks together (one worker, one session, shared exchanges) under xdist."""
        if not self.multi:
            return
        for item in items:
            callspec = getattr(item, "callspec", None)
            if callspec is not None and "conformance_target" in callspec.params:
                item.add_marker(pytest.mark.xdist_group(callspec.params["conformance_target"]))
        order = {name: i for i, name in enumerate(self.targets)}
        items.sort(key=lambda i: order.get(getattr(i, "callspec", None) and i.callspec.params.get(
            "conformance_target"), 0))

    def session_for(self, name: str) -> Session:
        if name not in self._sessions:
            ledger = TokenLedger(self.budget_tokens, self.shared_ledger_path() if self.budget_tokens else None)
            slots = self.slots_folder(name) if self.slots_root else None
            self._sessions[name] = Session(self.targets[name], expensive=self.expensive, seed=self.seed,
                                           ledger=ledger, slots_dir=slots)
            self._sessions[name].upstream = getattr(self, "upstream", None)  # gateway mode (conformance.gateway)
        return self._sessions[name]

    @property
    def session(self) -> Session:
        return self.session_for("")

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

    def check_runner(self, request: pytest.FixtureRequest, name: str = ""):
        """The function a suite item calls: run one check, record it, and turn its verdict into an outcome."""
        session = self.session_for(name)

        def run(item_id: str) -> None:
            started = time.monotonic()
            result = run_check(session, item_id)
            target = session.target
            reproduce = reproduce_command(target, item_id, expensive=self.expensive, level=self.level)
            verdict = result.at(self.level)
            clean = result.verdict is Verdict.PASS and result.at("compat") is Verdict.PASS
            message = "" if clean else render(result, statement(result.rule), reproduce, self.level)
            message = target.redact(message)
            record = result_dict(result, message, time.monotonic() - started)
            record["target"] = name
            deviation = self.deviation(name, item_id)
            if deviation:
                record["deviation"] = deviation
                if verdict is Verdict.FAIL:
                    record["deviation"]["status"] = "expected-failure"
                elif verdict in (Verdict.PASS, Verdict.WARN):
                    record["deviation"]["status"] = "unexpectedly-passing"
            if self.worker:  # each xdist worker sends its own copy of a shared exchange: count each copy
                for exchange in record["exchanges"]:
                    exchange["name"] = f"{self.worker}:{exchange['name']}"
            request.node.user_properties.append((USER_PROPERTY, target.redact(json.dumps(record))))
            status = (deviation or {}).get("status")
            if status == "expected-failure":
                pytest.xfail(f"known deviation: {deviation['reason']}")
            if status == "unexpectedly-passing":
                pytest.fail(f"XPASS(strict) {item_id}: listed as a known deviation ({deviation['reason']}) but it now "
                            f"{verdict.value}es; remove it from the deviations file", pytrace=False)
            if verdict in (Verdict.FAIL, Verdict.ERROR):
                pytest.fail(message, pytrace=False)
            if verdict is Verdict.WARN or (verdict is Verdict.PASS and message):
                warnings.warn(ConformanceWarning(message), stacklevel=2)
            elif verdict in (Verdict.SKIPPED, Verdict.UNSUPPORTED):
                pytest.skip(target.redact(result.reason or result.verdict.value))

        return run

    def deviation(self, name: str, item_id: str) -> dict | None:
        known = self.deviations.get(name, {})
        found = known.get(item_id) or known.get(item_id.split("[")[0])
        return dict(found) if found else None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call):
        """An item that failed outside its check (a missing fixture, a setup or teardown error, a call that never
        reached the check) becomes an error record: nothing that did not run is missing from the report."""
        outcome = yield
        rep = outcome.get_result()
        params = getattr(getattr(item, "callspec", None), "params", {})
        item_id = params.get("check_id")
        recorded = rep.when == "call" and any(key == USER_PROPERTY for key, _ in item.user_properties)
        if not rep.failed or not isinstance(item_id, str) or recorded:
            return
        lines = (rep.longreprtext or "").strip().splitlines()
        detail = next((line.strip()[1:].strip() for line in reversed(lines) if line.strip().startswith("E ")),
                      lines[-1].strip() if lines else "no detail")
        rep.user_properties.append((OUTSIDE_PROPERTY, self.redact(json.dumps({
            "id": item_id, "target": params.get("conformance_target", ""),
            "reason": f"harness error: the item failed in {rep.when}, outside the check: {detail[:300]}"}))))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A suite module that cannot be collected: its area's checks are recorded as errors at the end."""
        if report.failed and report.nodeid:
            module = report.nodeid.split("::")[0].rsplit("/", 1)[-1]
            if module.startswith("test_") and module.endswith(".py"):
                lines = (report.longreprtext or "").strip().splitlines()
                self.collect_errors[module[5:-3].replace("_", "-")] = lines[-1].strip() if lines else "no detail"

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == OUTSIDE_PROPERTY:
                outside = json.loads(value)
                name = outside["target"]
                self.results.setdefault(name, {})[outside["id"]] = outside_record(outside["id"], outside["reason"])
            if key == USER_PROPERTY and report.when == "call":
                record = json.loads(value)
                name = record.pop("target", "")
                self.results.setdefault(name, {})[record["id"]] = record

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        try:
            if self.transcripts_dir:  # every process with sessions (xdist workers too)
                self.save_transcripts()
            if hasattr(session.config, "workerinput"):
                return
            for name, target in self.targets.items():
                if target is not None:
                    self.reports[name] = self.build(name, target)
            if self.report_path and "" in self.reports:
                write_report(self.reports[""], self.report_path)
            if self.reports_dir:
                from pathlib import Path

                Path(self.reports_dir).mkdir(parents=True, exist_ok=True)
                for name, report in self.reports.items():
                    write_report(report, Path(self.reports_dir) / f"{name or 'target'}.json")
        finally:
            for item in self._sessions.values():
                item.close()
            if self._server is not None:
                self._server.stop()
            if self.slots_root and not self.worker:
                import shutil

                shutil.rmtree(self.slots_root, ignore_errors=True)

    def build(self, name: str, target: Target) -> dict:
        recorded = self.results.setdefault(name, {})
        for area, why in self.collect_errors.items():
            for item_id in selected_items(area, self.selection.get("keyword")):
                recorded.setdefault(item_id, outside_record(item_id, f"harness error: the suite of {area} could "
                                                                     f"not be collected: {why[:300]}"))
        results = list(recorded.values())
        exchanges: dict[str, dict] = {}  # each exchange once, however many checks (and workers) read it
        for record in results:
            for ex in record.get("exchanges", []):
                exchanges.setdefault(ex["name"], ex)
        tokens = (sum(ex["tokens_requested"] for ex in exchanges.values()),
                  sum(ex["tokens_used"] for ex in exchanges.values()))
        report = build_report(target, self.selection, results, tokens)
        if name:
            report["target"]["name"] = name
        report["budget"] = {"limit": self.budget_tokens,
                            "reserved": TokenLedger(None, self.ledger_path).spent if self.ledger_path
                            else report["tokens"]["requested"]}
        report["waited"] = self.waited(name)
        statuses = [r.get("deviation", {}).get("status") for r in results]
        report["summary"]["expected_failures"] = statuses.count("expected-failure")
        report["summary"]["unexpectedly_passing"] = statuses.count("unexpectedly-passing")
        return report

    def waited(self, name: str) -> dict:
        """How long the run held requests to the target back, and why: summed by the workers in the shared folder
        under xdist, else this process's session (conformance.pacing.Pacer.waited)."""
        from conformance.pacing import Pacer

        if self.slots_root:
            return Pacer(folder=self.slots_folder(name)).waited()
        session = self._sessions.get(name)
        return session.pacer.waited() if session else Pacer().waited()

    def save_transcripts(self) -> None:
        """Every exchange of the run, normalised (ids, text and counts masked; never a credential), one file each."""
        from pathlib import Path

        from conformance import transcripts

        for name, session in self._sessions.items():
            folder = Path(self.transcripts_dir) / name if name else Path(self.transcripts_dir)
            folder.mkdir(parents=True, exist_ok=True)
            records = {key: transcripts.normalise(ex, session.target) for key, ex in session.exchanges.items()}
            transcripts.save(records, folder)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self._records.uninstall()
        self.stop_server()  # every exit path, also when the session never finished

    def stop_server(self) -> None:
        if self._server is not None:
            self._server.stop()

    def redact(self, text: str) -> str:
        """Every credential of every target of the run (the embedded server's too) masked in text."""
        for target in self.targets.values():
            if target is not None:
                text = target.redact(text)
        if self._server is not None:
            text = redact(text, [self._server.api_key])
        return text


def outside_record(item_id: str, reason: str) -> dict:
    """The report record of an item that failed outside its check: an error, never a verdict on the target."""
    from conformance.engine import all_checks, split_item_id
    from conformance.verdicts import CheckResult

    check = all_checks().get(split_item_id(item_id)[0])
    result = CheckResult(item_id, Verdict.ERROR, check.rule if check else "HARNESS", check.tier if check else "free",
                         reason=reason)
    return result_dict(result, f"ERROR {item_id}: {reason}")


def selected_items(area: str, keyword: str | None) -> list[str]:
    """The check items of `area` that `-k keyword` selects (pytest's rule: case-insensitive substrings)."""
    from _pytest.mark.expression import Expression

    from conformance.engine import all_checks

    items = [i for c in all_checks().values() if c.area == area for i in c.item_ids()]
    if not keyword:
        return items
    expression = Expression.compile(keyword)
    return [i for i in items if expression.evaluate(lambda sub, i=i: sub.lower() in i.lower())]


def load_deviations(path: str) -> dict[str, dict]:
    """A deviations file (TOML): [deviations."check/id"] reason = "...", link = "..." -> {check id: {reason, link}}."""
    import tomllib

    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise pytest.UsageError(f"cannot read the deviations file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise pytest.UsageError(f"the deviations file {path} is not TOML: {exc}") from None
    out = {}
    for check_id, entry in data.get("deviations", {}).items():
        if not isinstance(entry, dict) or not entry.get("reason"):
            raise pytest.UsageError(f"{path}: deviation {check_id!r} needs a reason")
        out[check_id] = {"reason": str(entry["reason"]), "link": str(entry.get("link", ""))}
    return out


def find_run(config: pytest.Config) -> ConformanceRun | None:
    """The ConformanceRun registered for this pytest run, if any."""
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, ConformanceRun):
            return plugin
    return None
