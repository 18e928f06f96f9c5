"""Input checked before anything runs: base URLs, output paths, and a targets file against its published schema."""

from __future__ import annotations

import json
import re
import tempfile
from argparse import Namespace
from pathlib import Path
from typing import Any

from conformance.settings import at_least, port  # noqa: F401  (the argparse types, where the CLI finds them)

SCHEMA_FILE = "targets.schema.json"
SCHEMA_ID = "https://anthropic-conformance.invalid/schemas/" + SCHEMA_FILE
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class InputError(Exception):
    """Input that cannot be used; the message is one sentence that says which and why."""


# -- base URLs --------------------------------------------------------------------------------------------------------

def check_base_url(url: str, option: str = "--base-url") -> None:
    """An http:// or https:// URL with a host and a valid port, else InputError naming `option`."""
    from urllib.parse import urlsplit

    from conformance.target import display_url

    if any(char.isspace() for char in url):
        raise InputError(f"{option} contains white space; a URL has none (write spaces in a path as %20)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range or not a number)
    except ValueError as exc:  # the URL is not printed: it may hold a password the parser could not find
        raise InputError(f"{option} is not a valid URL: {str(exc)[:1].lower()}{str(exc)[1:]}") from None
    if not _SCHEME.match(url):
        shown = url.rsplit("@", 1)[-1]  # never a user:password part
        raise InputError(f"{option} {shown} has no scheme: write http://{shown} or https://{shown}")
    if parts.scheme.lower() not in ("http", "https"):
        raise InputError(f"{option} {display_url(url)}: the scheme {parts.scheme}:// is not http:// or https://")
    if not parts.hostname:
        raise InputError(f"{option} {display_url(url)} has no host")


# -- output paths -----------------------------------------------------------------------------------------------------

def check_outputs(files: dict[str, str | None], folders: dict[str, str | None] | None = None) -> None:
    """Every output (option -> path; None: not asked for) can be written, checked before a run starts so that its
    results are never lost to a typo. A file's folder must exist and take the file (an existing file is left as it
    is); a folder is made when missing. InputError names the option, the path and why."""
    seen: dict[Path, str] = {}
    for option, path in files.items():
        if not path:
            continue
        target = Path(path)
        if target.resolve() in seen:
            raise InputError(f"{option} and {seen[target.resolve()]} name the same file {path}: one would overwrite "
                             "the other")
        seen[target.resolve()] = option
        if target.is_dir():
            raise InputError(f"{option} {path} is a folder, not a file")
        if not target.parent.is_dir():
            raise InputError(f"{option} {path} cannot be written: the folder {target.parent} does not exist")
        existed = target.exists()
        try:
            with open(target, "ab"):  # appends nothing: an existing file keeps its content until the run writes it
                pass
        except OSError as exc:
            raise InputError(f"{option} {path} cannot be written: {exc.strerror or exc}") from None
        if not existed:
            target.unlink(missing_ok=True)
    for option, path in (folders or {}).items():
        if not path:
            continue
        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            raise InputError(f"{option} {path} is a file, not a folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=folder).close()
        except OSError as exc:
            raise InputError(f"{option} {path} cannot be written: {exc.strerror or exc}") from None


# -- run's options ---------------------------------------------------------------------------------------------------

def check_keyword(keyword: str | None) -> None:
    """InputError unless `-k`'s expression is one pytest can read (checked before anything starts)."""
    if not keyword:
        return
    from _pytest.mark.expression import Expression

    try:
        Expression.compile(keyword)
    except Exception as exc:  # pytest raises SyntaxError (9.x) or its own ParseError (8.x), with the column
        why = getattr(exc, "msg", None) or getattr(exc, "message", None) or str(exc)
        raise InputError(f"-k {keyword!r} is not a selection pytest can read: {why}; "
                         "e.g. -k 'streaming and not tool'") from None


def run_inputs(settings, args: Namespace) -> None:
    """What `run` is given, checked before anything is started or sent; InputError with one sentence (a run's
    results are never lost to an output path that cannot be written)."""
    from conformance.settings import SettingsError

    try:
        settings.check()
    except SettingsError as exc:
        raise InputError(str(exc)) from None
    check_keyword(settings.keyword)
    if settings.base_url:
        check_base_url(settings.base_url, "--base-url" if getattr(args, "base_url", None) else "$ANTHROPIC_BASE_URL")
        if not settings.api_key:
            raise InputError("a real target needs an API key: pass --api-key or set ANTHROPIC_API_KEY.")
    check_outputs({"--report": settings.report, "--junit": settings.junit, "--markdown": settings.markdown,
                   "--html": settings.html}, {"--save-transcripts": settings.save_transcripts})


# -- the targets file -------------------------------------------------------------------------------------------------

def targets_schema() -> dict[str, Any]:
    """The JSON Schema of a targets file, built from the tables it must agree with (the settings offered in a targets
    file, the limits' ranges, the optional features); schemas/targets.schema.json is this, written out
    (`python -m conformance.inputs`)."""
    from conformance.engine import FEATURES
    from conformance.limits import LEAST, Limits, whole
    from conformance.settings import TARGETS, options

    defaults = Limits()
    described = {  # each row offered in a targets file, as the file writes it
        "base_url": {"type": "string", "description": "the SDK's base_url: an http:// or https:// URL"},
        "model": {"type": "string", "description": "the model (default: the first one the target lists)"},
        "without": {"type": "array", "items": {"enum": list(FEATURES)},
                    "description": "optional features the target does not offer"},
        "deviations": {"type": "string", "description": "a known-deviations file (TOML), relative to the targets file"},
        "anthropic_version": {"type": "string", "description": "anthropic-version of the general probes"},
        "upstream_port": {"type": "integer", "minimum": 0, "maximum": 65535,
                          "description": "gateway mode: base_url is a gateway, and the harness is its upstream on "
                                         "127.0.0.1 at this port (0: a free one, printed first); the gateway/* checks "
                                         "compare both sides"},
        "wait": {"type": "number", "exclusiveMinimum": 0,
                 "description": "gateway mode: seconds to wait for the gateway to answer before the run (default 60)"},
    }
    properties: dict[str, Any] = {
        "api_key_env": {"type": "string", "minLength": 1,
                        "description": "the environment variable that holds the key (a key never goes in the file)"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"},
                    "description": "extra request headers, name = value"},
    }
    for option in options(TARGETS):
        if option.limit:
            least, allowed = LEAST[option.limit]
            text = option.help.rsplit(" (default", 1)[0]
            properties[option.name] = {
                "type": "integer" if whole(option.limit) else "number", "minimum" if allowed else "exclusiveMinimum":
                least, "description": f"{text} (default {getattr(defaults, option.limit)}; {option.cli_flag} of run)"}
        else:
            properties[option.name] = described.get(option.name, {"type": "string", "description": option.help})
    order = ["base_url", "api_key_env", "model", "headers", "without", "deviations", "anthropic_version"]
    properties = {name: properties[name] for name in sorted(properties, key=lambda n: (
        order.index(n) if n in order else len(order)))}
    target = {
        "type": "object",
        "description": "One target. Without base_url it is the embedded reference server.",
        "additionalProperties": False,
        "dependentRequired": {"base_url": ["api_key_env"], "upstream_port": ["base_url"], "wait": ["upstream_port"]},
        "properties": properties,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "anthropic-conformance targets file (compare), TOML read as JSON",
        "type": "object",
        "required": ["targets"],
        "additionalProperties": False,
        "properties": {"targets": {"type": "object", "minProperties": 1,
                                   "additionalProperties": {"$ref": "#/$defs/target"}}},
        "$defs": {"target": target},
    }


def check_targets(data: dict[str, Any]) -> None:
    """A parsed targets file against schemas/targets.schema.json; InputError says where and why in one sentence."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    from conformance.data import load_json

    error = best_match(Draft202012Validator(load_json("schemas", SCHEMA_FILE)).iter_errors(data))
    if error is not None:
        raise InputError(_sentence(error))


def _where(path: list) -> str:
    """`[targets.a] timeout`, `[targets."a.b"] headers.x`, `[targets.a]`, or `the file` for the top."""
    names = [name if isinstance(name, int) or _BARE_KEY.fullmatch(name) else json.dumps(name) for name in path]
    if not names:
        return "the file"
    if names[0] != "targets" or len(names) == 1:
        return ".".join(map(str, names))
    table = f"[targets.{names[1]}]"
    rest = "".join(f"[{n}]" if isinstance(n, int) else f".{n}" for n in names[2:]).lstrip(".")
    return f"{table} {rest}" if rest else table


_TYPES = {"object": "a table", "array": "an array", "string": "a string", "number": "a number",
          "integer": "a whole number", "boolean": "true or false"}


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    try:
        return json.dumps(value)
    except TypeError:  # a TOML date or time
        return str(value)


def _sentence(error) -> str:
    path, value, schema, kind = list(error.absolute_path), error.instance, error.schema, error.validator
    where = _where(path)
    if kind == "type":
        return f"{where} must be {_TYPES.get(error.validator_value, error.validator_value)}, not {_shown(value)}"
    if kind == "additionalProperties":
        unknown = sorted(set(value) - set(schema.get("properties", {})))
        known = ", ".join(schema.get("properties", {}))
        return f"{where} has unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} (known: {known})"
    if kind == "enum":
        where = _where(path[:-1]) if path and isinstance(path[-1], int) else where
        return f"{where}: {_shown(value)} is not one of {', '.join(map(str, error.validator_value))}"
    if kind in ("minimum", "exclusiveMinimum"):
        sign = ">" if kind == "exclusiveMinimum" else ">="
        return f"{where} must be {sign} {error.validator_value}, not {_shown(value)}"
    if kind == "minLength":
        return f"{where} must not be empty"
    if kind == "minProperties":
        return f"{where} has no entries"
    if kind == "required":
        missing = [key for key in error.validator_value if key not in value]
        return f"{where} needs {', '.join(missing)}"
    if kind == "dependentRequired":
        having = next(key for key, needs in error.validator_value.items() if key in value and
                      any(n not in value for n in needs))
        return f"{where} has {having}, so it needs {', '.join(error.validator_value[having])}"
    return f"{where}: {error.message}"


if __name__ == "__main__":  # pragma: no cover - regenerates the published schema
    print(json.dumps(targets_schema(), indent=2))
