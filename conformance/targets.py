"""The targets file (TOML) of `compare`: named targets, keys taken from named environment variables, deviations;
checked against schemas/targets.schema.json."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from conformance.inputs import InputError, check_base_url, check_targets
from conformance.settings import TARGETS, Settings, options
from conformance.target import Target


class TargetsError(Exception):
    """The targets file is unreadable or wrong; the message says where."""


@dataclass(frozen=True)
class TargetSpec:
    name: str
    target: Target | None  # None: the embedded reference server
    deviations: str | None  # path of a deviations file, resolved against the targets file's folder
    upstream_port: int | None = None  # gateway mode: target is a gateway, the harness its upstream on this port
    wait: float = 60.0  # gateway mode: seconds to wait for the gateway to answer


def load_targets(path: str | os.PathLike, environ: dict[str, str] | None = None) -> list[TargetSpec]:
    """Read a targets file. A target without base_url is the embedded reference server. The key is never in the
    file: `api_key_env` names the environment variable that holds it. TargetsError says where and why."""
    environ = dict(os.environ if environ is None else environ)
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TargetsError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not data.get("targets"):
        raise TargetsError(f"{path}: no [targets.<name>] tables")
    for name, entry in data["targets"].items() if isinstance(data["targets"], dict) else ():
        if isinstance(entry, dict) and "api_key" in entry:
            raise TargetsError(f"{path}: [targets.{name}] holds a key; keys never go in a committed file: name the "
                               "environment variable that holds it with api_key_env")
    try:
        check_targets(data)
    except InputError as exc:
        raise TargetsError(f"{path}: {exc}") from None
    specs = []
    for name, entry in data["targets"].items():
        deviations = entry.get("deviations")
        deviations = str((path.parent / deviations).resolve()) if deviations else None
        if "base_url" not in entry:
            specs.append(TargetSpec(name, None, deviations))
            continue
        variable = entry["api_key_env"]
        if not environ.get(variable):
            raise TargetsError(f"{path}: [targets.{name}] needs api_key_env naming a set environment variable "
                               f"(${variable} is not set)")
        try:
            check_base_url(entry["base_url"], f"[targets.{name}] base_url")
        except InputError as exc:
            raise TargetsError(f"{path}: {exc}") from None
        # the run's settings table makes the target, as for `run` (the schema held each value to its range)
        values = {option.name: entry.get(option.name) for option in options(TARGETS) if option.name != "deviations"}
        settings = Settings({**values, "header": entry.get("headers"), "api_key": environ[variable]})
        if settings.upstream_port is not None and not settings.model:
            from conformance.gateway.command import DEFAULT_MODEL

            settings = settings.replace(model=DEFAULT_MODEL)  # the models the harness's upstream serves
        specs.append(TargetSpec(name, settings.target(), deviations, settings.upstream_port, settings.wait))
    ports = [spec.upstream_port for spec in specs if spec.upstream_port]
    if len(ports) != len(set(ports)):
        twice = sorted({port for port in ports if ports.count(port) > 1})
        raise TargetsError(f"{path}: upstream_port {twice[0]} is given to more than one target; each gateway needs "
                           "an upstream of its own (0 picks a free port)")
    return specs
