"""The pytest side of a conformance run: hooks of a few lines that delegate to conformance.run.Run (markers, the
xdist hand-over, the fixtures, outcomes, and error records for items that fail outside their check)."""

from __future__ import annotations

import json
import warnings

import pytest

from conformance.run import Run, RunError
from conformance.settings import PLUGIN, Settings, SettingsError
from conformance.target import display_url
from conformance.verdicts import Verdict

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


class ConformanceRun:
    """Registered as a pytest plugin for one Run (the CLI makes the Run; plain pytest gets one from its options)."""

    def __init__(self, run: Run) -> None:
        self.run = run

    @classmethod
    def from_options(cls, config: pytest.Config) -> ConformanceRun:
        handed = getattr(config, "workerinput", {}).get(WORKER_KEY)
        if handed:  # an xdist worker: the controller hands over its targets (the embedded server's too) and settings
            return cls(Run.from_handover(handed))
        try:
            settings = Settings.from_pytest(config.option)
            settings.check()
            if settings.base_url and not settings.api_key:
                raise SettingsError("a real target needs an API key: --conformance-api-key, "
                                    "$ANTHROPIC_CONFORMANCE_API_KEY or $ANTHROPIC_API_KEY")
            return cls(Run(settings))
        except SettingsError as exc:
            raise pytest.UsageError(exc.in_place(PLUGIN)) from None

    # -- lifecycle -------------------------------------------------------------------------------------------------
    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        """xdist controller: hand the run to each worker (over its private channel, never printed)."""
        node.workerinput[WORKER_KEY] = self.run.handover()

    def pytest_configure(self, config: pytest.Config) -> None:
        from conformance import pytest_fixtures

        self.run.records.install()
        for tier, text in TIERS_HELP.items():
            config.addinivalue_line("markers", f"{tier}: {text}")
        if not config.pluginmanager.is_registered(pytest_fixtures):
            config.pluginmanager.register(pytest_fixtures, "anthropic-conformance-fixtures")
        if self.run.settings.upstream_port is not None and getattr(config.option, "numprocesses", None):
            raise pytest.UsageError("gateway mode (--conformance-upstream-port) runs in one process: the recording "
                                    "upstream's records live there; drop -n")

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.run.worker = getattr(session.config, "workerinput", {}).get("workerid", "")
        if not self.run.worker:
            try:
                self.run.start()
            except RunError as exc:
                raise pytest.UsageError(str(exc)) from None

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        lines = []
        for name, target in self.run.targets.items():
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
        if self.run.multi and "conformance_target" in metafunc.fixturenames:
            metafunc.parametrize("conformance_target", list(self.run.targets), ids=list(self.run.targets))

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Keep one target's checks together (one worker, one session, shared exchanges) under xdist."""
        if not self.run.multi:
            return
        for item in items:
            callspec = getattr(item, "callspec", None)
            if callspec is not None and "conformance_target" in callspec.params:
                item.add_marker(pytest.mark.xdist_group(callspec.params["conformance_target"]))
        order = {name: i for i, name in enumerate(self.run.targets)}
        items.sort(key=lambda i: order.get(getattr(i, "callspec", None) and i.callspec.params.get(
            "conformance_target"), 0))

    def session_for(self, name: str):
        return self.run.session_for(name)

    def check_runner(self, request: pytest.FixtureRequest, name: str = ""):
        """The function a suite item calls: judge one check, record it, and turn its verdict into an outcome."""

        def run(item_id: str) -> None:
            judged = self.run.judge(item_id, name)
            request.node.user_properties.append((USER_PROPERTY, json.dumps(judged.record)))
            verdict, message = judged.verdict, judged.message
            if judged.status == "expected-failure":
                pytest.xfail(f"known deviation: {judged.deviation['reason']}")
            if judged.status == "unexpectedly-passing":
                pytest.fail(f"XPASS(strict) {item_id}: listed as a known deviation ({judged.deviation['reason']}) but "
                            f"it now {verdict.value}es; remove it from the deviations file", pytrace=False)
            if verdict in (Verdict.FAIL, Verdict.ERROR):
                pytest.fail(message, pytrace=False)
            if verdict is Verdict.WARN or (verdict is Verdict.PASS and message):
                warnings.warn(ConformanceWarning(message), stacklevel=2)
            elif verdict in (Verdict.SKIPPED, Verdict.UNSUPPORTED):
                pytest.skip(judged.reason)

        return run

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
        rep.user_properties.append((OUTSIDE_PROPERTY, self.run.redact(json.dumps({
            "id": item_id, "target": params.get("conformance_target", ""),
            "reason": f"harness error: the item failed in {rep.when}, outside the check: {detail[:300]}"}))))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A suite module that cannot be collected: its area's checks are recorded as errors at the end."""
        if report.failed and report.nodeid:
            module = report.nodeid.split("::")[0].rsplit("/", 1)[-1]
            if module.startswith("test_") and module.endswith(".py"):
                lines = (report.longreprtext or "").strip().splitlines()
                self.run.collect_errors[module[5:-3].replace("_", "-")] = lines[-1].strip() if lines else "no detail"

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == OUTSIDE_PROPERTY:
                outside = json.loads(value)
                self.run.record_outside(outside["id"], outside["target"], outside["reason"])
            if key == USER_PROPERTY and report.when == "call":
                self.run.record(json.loads(value))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        try:
            self.run.save_transcripts()  # every process with sessions (xdist workers too)
            if not hasattr(session.config, "workerinput"):
                self.run.finish()
        finally:
            self.run.close()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.run.records.uninstall()
        self.run.stop_server()  # every exit path, also when the session never finished


def find_run(config: pytest.Config) -> ConformanceRun | None:
    """The ConformanceRun registered for this pytest run, if any."""
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, ConformanceRun):
            return plugin
    return None
