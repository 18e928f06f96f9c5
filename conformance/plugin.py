"""pytest entry point: the --conformance-* options and the anthropic_fake fixture; the rest loads only when used."""

from __future__ import annotations

import pytest

from conformance.settings import add_pytest_options, plugin_asked

RUN_PLUGIN_NAME = "anthropic-conformance-run"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_pytest_options(parser.getgroup("anthropic-conformance", "Anthropic Messages API conformance"))


def _wanted(config: pytest.Config) -> bool:
    """Active only when a --conformance-* option is given or the packaged suites are being run."""
    return plugin_asked(config.option) or any(_names_the_suites(str(arg)) for arg in config.args)


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
    from conformance.pytest_run import ConformanceRun, find_run

    if find_run(config) is None:  # the CLI registers its own run; plain pytest gets one from the options
        # pytest_configure is historic: the run's own (markers, fixtures) is called as it is registered
        config.pluginmanager.register(ConformanceRun.from_options(config), RUN_PLUGIN_NAME)


@pytest.fixture
def anthropic_fake():
    """An AnthropicFake (the reference server in-process): base_url, client(), on(...) rules, requests."""
    from conformance.fake import AnthropicFake

    with AnthropicFake() as fake:
        yield fake
