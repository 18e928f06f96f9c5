"""pytest entry point: the --conformance-* options and the anthropic_fake fixture; the rest loads only when used."""

from __future__ import annotations

import pytest

from conformance.transport import limit_options

RUN_PLUGIN_NAME = "anthropic-conformance-run"
LIMIT_PREFIX = "conformance-"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("anthropic-conformance", "Anthropic Messages API conformance")
    group.addoption("--conformance-base-url", default=None,
                    help="base URL of the target (the SDK's base_url); default: the embedded reference server")
    group.addoption("--conformance-api-key", default=None,
                    help="API key for the target (default: $ANTHROPIC_CONFORMANCE_API_KEY, then $ANTHROPIC_API_KEY)")
    group.addoption("--conformance-model", default=None, help="model name (default: the first model listed)")
    group.addoption("--conformance-header", action="append", default=[], metavar="NAME:VALUE",
                    help="extra header sent with every request (repeatable)")
    group.addoption("--conformance-anthropic-version", default=None,
                    help="anthropic-version for general probes (default 2023-06-01)")
    group.addoption("--conformance-expensive", action="store_true", default=False,
                    help="also run expensive checks against a real target")
    group.addoption("--conformance-report", default=None, metavar="PATH", help="write the JSON report here")
    for flag, dest, kind, text in limit_options(LIMIT_PREFIX):  # conformance.transport: stdlib only, light
        group.addoption(flag, dest=dest, type=kind, default=None, help=text)
    group.addoption("--conformance-level", choices=("strict", "compat"), default="strict",
                    help="which verdicts decide the outcome: strict (the real API) or compat (the clients)")
    group.addoption("--conformance-budget-tokens", type=int, default=None, metavar="N",
                    help="cap the output tokens the run may request (the sum of max_tokens); beyond it checks are skipped")
    group.addoption("--conformance-deviations", default=None, metavar="FILE",
                    help="known deviations (TOML): listed checks are expected to fail (strict xfail)")
    group.addoption("--conformance-save-transcripts", default=None, metavar="DIR",
                    help="save every exchange, normalised (ids, text and counts masked), one JSON file each")
    group.addoption("--conformance-without", default=None, metavar="FEATURES",
                    help="comma-separated optional features the target does not offer (e.g. thinking,images)")


def _wanted(config: pytest.Config) -> bool:
    """Active only when a --conformance-* option is given or the packaged suites are being run."""
    opt = config.option
    if any(getattr(opt, name, None) for name in (
        "conformance_base_url", "conformance_api_key", "conformance_model", "conformance_header",
        "conformance_anthropic_version", "conformance_expensive", "conformance_report", "conformance_timeout",
        "conformance_without", "conformance_save_transcripts", "conformance_budget_tokens", "conformance_deviations",
        *(dest for _, dest, _, _ in limit_options(LIMIT_PREFIX)),
    )):
        return True
    return any(_names_the_suites(str(arg)) for arg in config.args)


def _names_the_suites(arg: str) -> bool:
    """The argument is the packaged suites (as a module name, or a path inside the installed package)."""
    if arg.split("::")[0] == "conformance.suites" or arg.startswith("conformance.suites."):
        return True
    from importlib.util import find_spec
    from pathlib import Path

    spec = find_spec("conformance")
    if spec is None or not spec.submodule_search_locations:
        return False
    suites = Path(next(iter(spec.submodule_search_locations))).resolve() / "suites"
    path = Path(arg.split("::")[0]).resolve()
    return path == suites or suites in path.parents


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if not _wanted(config):
        return
    from conformance import pytest_fixtures
    from conformance.pytest_run import ConformanceRun, find_run

    if find_run(config) is None:  # the CLI registers its own run; plain pytest gets one from the options
        config.pluginmanager.register(ConformanceRun.from_options(config), RUN_PLUGIN_NAME)
    if not config.pluginmanager.is_registered(pytest_fixtures):
        config.pluginmanager.register(pytest_fixtures, "anthropic-conformance-fixtures")


@pytest.fixture
def anthropic_fake():
    """An AnthropicFake (the reference server in-process): base_url, client(), on(...) rules, requests."""
    from conformance.fake import AnthropicFake

    with AnthropicFake() as fake:
        yield fake
