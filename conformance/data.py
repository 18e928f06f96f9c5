"""Locate the packaged data folders (schemas/, fixtures/), in a wheel or in a repo checkout."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any


def data_dir(name: str) -> Path:
    """The folder `name` ("schemas" or "fixtures"): inside the installed wheel, else the checkout's."""
    packaged = resources.files("conformance").joinpath("_data", name)
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parent.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"the {name}/ data folder is missing from this installation")


@cache
def load_json(folder: str, filename: str) -> Any:
    """Parse a JSON file from a data folder (cached: these files never change during a run)."""
    return json.loads((data_dir(folder) / filename).read_text(encoding="utf-8"))


def rules() -> dict[str, dict[str, str]]:
    """Rule id -> {statement, source}."""
    return load_json("schemas", "rules.json")["rules"]
