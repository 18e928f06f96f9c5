"""The targets file (TOML) of `compare`: named targets, keys taken from named environment variables, deviations."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from conformance.target import Secret, Target
from conformance.transport import LIMIT_OPTIONS, limits_from

LIMIT_KEYS = {name.replace("-", "_") for _, name, _ in LIMIT_OPTIONS}  # timeout, connect_timeout, ...
KNOWN_KEYS = {"base_url", "api_key_env", "model", "headers", "without", "deviations", "anthropic_version", *LIMIT_KEYS}


class TargetsError(Exception):
    """The targets file is unreadable or wrong; the message says where."""


@dataclass(frozen=True)
class TargetSpec:
    name: str
    target: Target | None  # None: the embedded reference server
    deviations: str | None  # path of a deviations file, resolved against the targets file's folder


def load_targets(path: str | os.PathLike, environ: dict[str, str] | None = None) -> list[TargetSpec]:
    """Read a targets file. A target without base_url is the embedded reference server. The key is never in the
    file: `api_key_env` names the environment variable that holds it."""
    from conformance.engine import FEATURES

    environ = dict(os.environ if environ is None else environ)
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TargetsError(f"cannot read {path}: {exc}") from None
    specs = []
    for name, entry in data.get("targets", {}).items():
        if not isinstance(entry, dict):
            raise TargetsError(f"{path}: [targets.{name}] must be a table")
        if "api_key" in entry:
            raise TargetsError(f"{path}: [targets.{name}] holds a key; keys never go in a committed file: name the "
                               "environment variable that holds it with api_key_env")
        unknown = set(entry) - KNOWN_KEYS
        if unknown:
            raise TargetsError(f"{path}: [targets.{name}] has unknown keys {sorted(unknown)}")
        without = frozenset(entry.get("without", []))
        if without - set(FEATURES):
            raise TargetsError(f"{path}: [targets.{name}] without: unknown features {sorted(without - set(FEATURES))}")
        deviations = entry.get("deviations")
        deviations = str((path.parent / deviations).resolve()) if deviations else None
        if "base_url" not in entry:
            specs.append(TargetSpec(name, None, deviations))
            continue
        variable = entry.get("api_key_env")
        if not variable or not environ.get(variable):
            raise TargetsError(f"{path}: [targets.{name}] needs api_key_env naming a set environment variable"
                               + (f" (${variable} is not set)" if variable else ""))
        try:
            limits = limits_from(entry.get)
        except (ValueError, TypeError) as exc:
            raise TargetsError(f"{path}: [targets.{name}] {exc}") from None
        target = Target(base_url=entry["base_url"], api_key=Secret(environ[variable]), model=entry.get("model", ""),
                        headers=tuple((str(k), str(v)) for k, v in entry.get("headers", {}).items()),
                        anthropic_version=entry.get("anthropic_version", "2023-06-01"), limits=limits,
                        without=without)
        specs.append(TargetSpec(name, target, deviations))
    if not specs:
        raise TargetsError(f"{path}: no [targets.<name>] tables")
    return specs
