"""The settings table: every option of run, compare, gateway, plain pytest and a targets file comes from one row."""

from __future__ import annotations

import argparse

import pytest

from conformance.settings import (
    BY_NAME,
    COMPARE,
    GATEWAY,
    OPTIONS,
    PLUGIN,
    RUN,
    TARGETS,
    Settings,
    SettingsError,
    add_arguments,
    add_pytest_options,
    options,
)


def flags_of(place: str) -> set[str]:
    parser = argparse.ArgumentParser()
    add_arguments(parser, place)
    return {flag for action in parser._actions for flag in action.option_strings} - {"-h", "--help"}


def test_every_row_makes_its_flag_wherever_it_is_offered_and_nowhere_else():
    for place in (RUN, COMPARE, GATEWAY):
        assert flags_of(place) == {o.cli_flag for o in options(place)}, place


def test_every_plugin_row_makes_a_conformance_option():
    parser = argparse.ArgumentParser()

    class Group:  # pytest's option group, as add_pytest_options uses it
        def addoption(self, *flags, **kwargs):
            parser.add_argument(*flags, **kwargs)

    add_pytest_options(Group())
    made = {flag for action in parser._actions for flag in action.option_strings} - {"-h", "--help"}
    assert made == {o.plugin_flag for o in options(PLUGIN) if not o.pytest_dest}
    assert all(flag.startswith("--conformance-") for flag in made)


def test_a_targets_file_offers_exactly_the_rows_of_its_place():
    from conformance.inputs import targets_schema

    keys = set(targets_schema()["$defs"]["target"]["properties"])
    assert keys == {o.name for o in options(TARGETS)} | {"api_key_env", "headers"}


def test_values_come_from_the_flag_then_the_environment_then_the_default():
    environ = {"ANTHROPIC_CONFORMANCE_API_KEY": "first", "ANTHROPIC_API_KEY": "second"}
    assert Settings.from_values(lambda name: None, environ).api_key == "first"
    assert Settings.from_values(lambda name: None, {"ANTHROPIC_API_KEY": "second"}).api_key == "second"
    given = Settings.from_values(lambda name: "flag" if name == "api_key" else None, environ)
    assert given.api_key == "flag"
    assert given.anthropic_version == BY_NAME["anthropic_version"].default and given.level == "strict"


def test_a_place_reads_only_its_rows_and_their_variables():
    environ = {"ANTHROPIC_BASE_URL": "https://elsewhere.invalid", "ANTHROPIC_API_KEY": "k"}
    compare = Settings.from_values(lambda name: None, environ, COMPARE)
    assert compare.base_url is None and compare.api_key is None  # a targets file names its own
    assert Settings.from_values(lambda name: None, environ, RUN).base_url == "https://elsewhere.invalid"


def test_the_settings_cross_to_a_worker_unchanged_and_never_show_the_key():
    settings = Settings({"base_url": "https://api.example.invalid", "api_key": "sk-secret-value", "model": "m",
                         "header": ["x-team:blue"], "timeout": 5.0})
    assert Settings.from_dict(settings.to_dict()) == settings
    assert "sk-secret-value" not in repr(settings)
    target = settings.target()
    assert target.headers == (("x-team", "blue"),) and target.limits.request_timeout == 5.0


@pytest.mark.parametrize(("values", "run_says", "plugin_says"), [
    ({"timeout": 0}, "--timeout must be a number > 0", "--conformance-timeout must be a number > 0"),
    ({"without": "teleportation"}, "--without: unknown feature(s) teleportation",
     "--conformance-without: unknown feature(s) teleportation"),
    ({"header": ["no-colon"]}, "--header 'no-colon': expected NAME:VALUE",
     "--conformance-header 'no-colon': expected NAME:VALUE"),
    ({"model_profile": "nope"}, "--model-profile 'nope' is not a row", "--conformance-model-profile 'nope' is not"),
])
def test_a_bad_value_is_one_sentence_naming_the_option_as_the_user_wrote_it(values, run_says, plugin_says):
    with pytest.raises(SettingsError) as caught:
        Settings(values).check()
    assert str(caught.value).startswith(run_says) and caught.value.in_place(PLUGIN).startswith(plugin_says)


def test_an_unknown_setting_is_refused():
    with pytest.raises(SettingsError, match="unknown settings"):
        Settings({"colour": "blue"})


def test_rows_have_unique_names_and_flags():
    assert len({o.name for o in OPTIONS}) == len(OPTIONS)
    assert len({o.cli_flag for o in OPTIONS}) == len(OPTIONS)
