"""The per-model table: it validates against its meta-schema, ids find their rows, unknown ids get the conservative
default, the request fragments follow the row, and docs/models.md is in sync."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from conformance import model_table
from conformance.data import data_dir, load_json
from conformance.model_table import row_for, sampling_fragment, thinking_fragment

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _validator():
    schema = json.loads((data_dir("schemas") / "fixtures" / "models.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_the_table_validates_against_its_meta_schema():
    errors = list(_validator().iter_errors(load_json("fixtures", "models.json")))
    assert not errors, [f"{e.json_path}: {e.message}" for e in errors]


@pytest.mark.parametrize("breakage", [
    lambda t: t["models"]["opus-4-7"]["thinking"]["modes"].__setitem__("adaptive", "sometimes"),
    lambda t: t["models"]["opus-4-7"].__setitem__("temperature", "rejected"),
    lambda t: t["models"]["sonnet-5"]["effort"].__setitem__("levels", ["turbo"]),
    lambda t: t["models"]["haiku-4-5"]["sampling"].pop("source"),
    lambda t: t["default"]["limits"].__setitem__("context_window", -1),
])
def test_a_broken_table_is_caught(breakage):
    broken = copy.deepcopy(load_json("fixtures", "models.json"))
    breakage(broken)
    assert list(_validator().iter_errors(broken))


def test_every_known_fact_cites_a_source():
    table = load_json("fixtures", "models.json")
    for name, row in table["models"].items():
        for part in ("thinking", "effort", "system_messages", "limits"):
            facts = {k: v for k, v in row[part].items() if k not in ("source", "note", "display_source")}
            known = any(v not in (None, {}) for v in facts.values() if not isinstance(v, dict)) or any(
                v is not None for d in facts.values() if isinstance(d, dict) for v in d.values())
            assert not known or row[part]["source"], (name, part)
        assert row["thinking"]["display_default"] is None or row["thinking"]["display_source"], name


def test_ids_are_unique_across_rows_and_each_finds_its_own_row():
    ids = model_table.model_ids()
    assert len(ids) == len(set(ids))
    for name, row in load_json("fixtures", "models.json")["models"].items():
        for model_id in row["ids"]:
            assert row_for(model_id).name == name, model_id


@pytest.mark.parametrize(("model_id", "row"), [
    ("claude-sonnet-4-5-20250929", "sonnet-4-5"), ("claude-sonnet-4-5", "sonnet-4-5"),
    ("claude-haiku-4-5-20251001", "haiku-4-5"), ("claude-haiku-4-5@20251001", "haiku-4-5"),
    ("anthropic.claude-haiku-4-5", "haiku-4-5"), ("us.anthropic.claude-opus-4-6-v1:0", "opus-4-6"),
    ("claude-opus-4-5-20251101", "opus-4-5"), ("claude-fable-5", "fable-5"), ("claude-fable-5-1", "fable-5-1"),
    ("claude-opus-5", "opus-5"), ("claude-opus-5-5", "opus-5-5"), ("CLAUDE-OPUS-4-8", "opus-4-8"),
])
def test_aliases_dated_and_platform_ids_find_their_row(model_id, row):
    found = row_for(model_id)
    assert (found.name, found.fallback) == (row, False)


@pytest.mark.parametrize("model_id", ["claude-opus-9", "gpt-4o", "", None, "claude-fable-5-9", "claude-3-opus-20240229"])
def test_an_unknown_id_gets_the_conservative_default(model_id):
    row = row_for(model_id)
    assert (row.name, row.fallback) == ("default", True)
    assert "conservative" in row.describe()
    assert row.thinking_mode is None and thinking_fragment(row, 4096, "high") is None
    assert row.accepts_temperature is None and sampling_fragment(row, 0.5, 0.9) == {}
    assert row.system_messages is None and row.display_default is None


def test_an_override_names_a_row_and_a_bad_one_is_refused():
    assert row_for("gpt-4o", override="opus-4-8").name == "opus-4-8"
    assert row_for("claude-opus-4-8", override="default").name == "default"
    assert not row_for("claude-opus-4-8", override="default").fallback
    with pytest.raises(KeyError, match="no model row named 'opus-9'"):
        row_for("claude-opus-4-8", override="opus-9")


def test_adaptive_only_models_get_adaptive_and_effort():
    row = row_for("claude-opus-4-8")
    assert row.accepts_thinking("enabled") is False and "thinking.type.adaptive" in row.thinking_rejection("enabled")
    assert thinking_fragment(row, 4096, "xhigh") == {"thinking": {"type": "adaptive"}, "output_config": {"effort": "xhigh"}}
    assert thinking_fragment(row, 4096) == {"thinking": {"type": "adaptive"}}
    assert thinking_fragment(row_for("claude-opus-4-6"), 4096, "xhigh") == {"thinking": {"type": "adaptive"}}


def test_extended_only_models_get_enabled_with_a_budget():
    row = row_for("claude-haiku-4-5")
    assert row.accepts_thinking("adaptive") is False
    assert row.thinking_rejection("adaptive") == "adaptive thinking is not supported on this model"
    assert thinking_fragment(row, 2048, "high") == {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    with pytest.raises(ValueError):
        thinking_fragment(row, 1024)


def test_sampling_is_omitted_where_rejected_and_the_pair_where_unsure():
    assert sampling_fragment(row_for("claude-opus-4-7"), 0.0, 0.9) == {}
    assert row_for("claude-opus-4-7").accepts_temperature is False
    assert sampling_fragment(row_for("claude-haiku-4-5"), 0.0, 0.9) == {"temperature": 0.0}  # the pair is unknown
    assert sampling_fragment(row_for("claude-haiku-4-5"), None, 0.9) == {"top_p": 0.9}
    assert sampling_fragment(row_for("claude-sonnet-4-5"), 0.0, 0.9) == {"temperature": 0.0}
    assert sampling_fragment(row_for("claude-sonnet-4-5"), None, 0.9) == {"top_p": 0.9}


def test_system_messages_per_model():
    assert row_for("claude-opus-4-8").system_messages is True
    haiku = row_for("claude-haiku-4-5")
    assert (haiku.system_messages, haiku.system_rejection) == (False, "role 'system' is not supported on this model")
    assert row_for("claude-sonnet-5").system_rejects_with_400 is None
    assert "never at messages[0]" in model_table.placement()["rules"]


def test_the_models_page_is_in_sync():
    assert (DOCS / "models.md").read_text(encoding="utf-8") == model_table.models_page(), \
        "run: python -m conformance.model_table"
