"""Every setting of a run in one table: the flags of `run` and `compare`, the `--conformance-*` options of plain
pytest, the keys of a targets file and the environment variables are all generated from OPTIONS. `Settings` holds
one run's values, builds its Target, and crosses to pytest-xdist workers as a dict. A new setting is one row.

Stdlib only (the pytest plugin imports this module in every pytest run, related or not)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from conformance.limits import LIMIT_OPTIONS, LimitError, Limits, requirement

DEFAULT_ANTHROPIC_VERSION = "2023-06-01"  # the only place it is written for a run's probes
PLUGIN_PREFIX = "conformance-"
RUN, COMPARE, PLUGIN, TARGETS, GATEWAY = "run", "compare", "plugin", "targets", "gateway"  # where a row is offered


class SettingsError(ValueError):
    """A setting that cannot be used; str() is one sentence naming the option by its flag of `run`, and
    `in_place(PLUGIN)` the same sentence naming its `--conformance-*` option."""

    def __init__(self, text: str, option: str | None = None) -> None:
        self.text, self.option = text, option
        super().__init__(self.in_place(RUN))

    def in_place(self, place: str) -> str:
        if not self.option:
            return self.text
        flag = BY_NAME[self.option].plugin_flag if place == PLUGIN else BY_NAME[self.option].cli_flag
        return flag + ("" if self.text.startswith(":") else " ") + self.text


@dataclass(frozen=True)
class Option:
    """One setting. `name` is the attribute of Settings and the key of a targets file; the flag is `--NAME` (dashes
    for underscores) for run and compare, `--conformance-NAME` for pytest."""

    name: str
    help: str
    default: Any = None
    kind: Callable[[str], Any] | None = None  # how a flag's text becomes the value (None: kept as text)
    action: str = "store"  # store, store_true or append
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    env: tuple[str, ...] = ()  # read in order when the option is not given
    places: frozenset[str] = frozenset({RUN, PLUGIN, GATEWAY})
    required: bool = False  # the flag must be given (where the row is offered, the plugin and targets file excepted)
    flag: str | None = None  # another flag for run and compare (e.g. -k)
    pytest_dest: str | None = None  # the plain pytest run reads pytest's own option instead (e.g. keyword for -k)
    limit: str | None = None  # the Limits field it sets

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def plugin_flag(self) -> str:
        return "--" + PLUGIN_PREFIX + self.name.replace("_", "-")

    @property
    def plugin_dest(self) -> str:
        return self.pytest_dest or (PLUGIN_PREFIX + self.name).replace("-", "_")


def at_least(least: int):
    """An argparse type: a whole number >= least (--budget-tokens, --workers, -n)."""

    def whole_number(text: str) -> int:
        from argparse import ArgumentTypeError

        try:
            value = int(text)
        except ValueError:
            value = least - 1
        if value < least:
            raise ArgumentTypeError(f"a whole number >= {least} is needed, not {text}")
        return value

    return whole_number


def port(text: str) -> int:
    """The type of a port option: 0 to 65535."""
    from argparse import ArgumentTypeError

    if not text.isdigit() or int(text) > 65535:
        raise ArgumentTypeError(f"a port is a number from 0 to 65535 (0: a free one), not {text}")
    return int(text)


def _limit_rows() -> Iterator[Option]:
    from conformance.limits import KINDS

    defaults = Limits()
    for field_name, name, text in LIMIT_OPTIONS:
        default = getattr(defaults, field_name)
        shown = f"{default:g}" if isinstance(default, float) else str(default)
        kind = KINDS.get(field_name, type(default))
        yield Option(name.replace("-", "_"), f"{text} (default {shown})", kind=kind,
                     metavar="S" if kind is float else "N", places=frozenset({RUN, PLUGIN, TARGETS, GATEWAY}),
                     limit=field_name)


_EVERYWHERE = frozenset({RUN, COMPARE, PLUGIN, GATEWAY})
_PER_TARGET = frozenset({RUN, PLUGIN, TARGETS, GATEWAY})
OPTIONS: tuple[Option, ...] = (
    Option("base_url", "the SDK's base_url (default $ANTHROPIC_BASE_URL; none: the embedded reference server)",
           env=("ANTHROPIC_BASE_URL",), places=frozenset({RUN, PLUGIN, TARGETS})),
    Option("gateway_url", "the gateway's base URL, as a client would use it (its /v1/messages is called)",
           metavar="URL", places=frozenset({GATEWAY}), required=True),
    Option("upstream_port", "gateway mode: the port of the recording upstream on 127.0.0.1 that the gateway sends to "
           "(0: a free one, printed first); the gateway/* checks compare both sides", kind=port, metavar="PORT",
           places=frozenset({GATEWAY, PLUGIN, TARGETS}), required=True),
    Option("wait", "seconds to wait for the gateway to answer before the run (default 60)", default=60.0, kind=float,
           metavar="S", places=frozenset({GATEWAY, TARGETS})),
    Option("api_key", "API key (default $ANTHROPIC_CONFORMANCE_API_KEY, then $ANTHROPIC_API_KEY); never printed",
           env=("ANTHROPIC_CONFORMANCE_API_KEY", "ANTHROPIC_API_KEY")),
    Option("model", "model name (default: the first model the target lists)", places=_PER_TARGET),
    Option("model_profile", "the row of fixtures/models.json that says what the model accepts (default: the row its "
           "id matches; an unknown model gets the row `default`, whose unknown facts fail nothing)", metavar="NAME",
           places=_PER_TARGET),
    Option("header", "extra request header (repeatable)", action="append", metavar="NAME:VALUE"),
    Option("anthropic_version", f"anthropic-version for general probes (default {DEFAULT_ANTHROPIC_VERSION})",
           default=DEFAULT_ANTHROPIC_VERSION, places=_PER_TARGET),
    Option("expensive", "also run the expensive checks", default=False, action="store_true", places=_EVERYWHERE),
    Option("budget_tokens", "cap the output tokens requested (sum of max_tokens); checks beyond it are skipped",
           kind=at_least(0), metavar="N", places=_EVERYWHERE),
    Option("level", "which verdicts set the exit code: strict (like the real API, default) or compat (clients work)",
           default="strict", choices=("strict", "compat"), places=_EVERYWHERE),
    Option("without", "optional features the target does not offer, comma-separated (e.g. thinking,images)",
           metavar="FEATURES", places=_PER_TARGET),
    Option("report", "write the JSON report", metavar="PATH"),
    Option("junit", "write JUnit XML", metavar="PATH", places=frozenset({RUN, GATEWAY})),
    Option("markdown", "write the results as Markdown (a step summary)", metavar="PATH",
           places=frozenset({RUN, GATEWAY})),
    Option("html", "write the results as a self-contained HTML page", metavar="PATH", places=frozenset({RUN, GATEWAY})),
    Option("deviations", "known deviations (TOML): listed checks are expected to fail; one that passes fails the run",
           metavar="FILE", places=_PER_TARGET),
    Option("save_transcripts", "save every exchange, normalised (ids, text and token counts masked), one JSON file "
           "each", metavar="DIR"),
    Option("keyword", "select checks (pytest -k syntax)", metavar="EXPR", flag="-k", pytest_dest="keyword",
           places=frozenset({RUN, COMPARE, GATEWAY})),
    *_limit_rows(),
)
BY_NAME = {option.name: option for option in OPTIONS}


def options(place: str) -> list[Option]:
    return [option for option in OPTIONS if place in option.places]


# -- generated option sets --------------------------------------------------------------------------------------------

def add_arguments(parser, place: str = RUN) -> None:
    """The argparse flags of `run` or `compare` (the limits in their own group, as `run --help` shows them)."""
    limits = None
    for option in options(place):
        target = parser
        if option.limit:
            limits = limits or parser.add_argument_group(
                "limits (a broken or hostile target never hangs or floods the run)")
            target = limits
        flags = (option.cli_flag,)
        extra: dict[str, Any] = {"dest": option.name, "help": option.help}
        if option.required and place != PLUGIN:
            extra["required"] = True
        if option.action == "store_true":
            target.add_argument(*flags, action="store_true", **extra)
            continue
        extra["default"] = [] if option.action == "append" else None
        if option.action == "append":
            extra["action"] = "append"
        for key in ("kind", "choices", "metavar"):
            value = getattr(option, key)
            if value is not None:
                extra["type" if key == "kind" else key] = value
        target.add_argument(*flags, **extra)


def add_pytest_options(group) -> None:
    """The `--conformance-*` options of plain pytest (pytest's own -k is read as it is)."""
    for option in options(PLUGIN):
        if option.pytest_dest:
            continue
        extra: dict[str, Any] = {"dest": option.plugin_dest, "help": option.help}
        if option.action == "store_true":
            group.addoption(option.plugin_flag, action="store_true", default=False, **extra)
            continue
        extra["default"] = [] if option.action == "append" else None
        if option.action == "append":
            extra["action"] = "append"
        if option.kind is not None:
            extra["type"] = option.kind
        for key in ("choices", "metavar"):
            if getattr(option, key) is not None:
                extra[key] = getattr(option, key)
        group.addoption(option.plugin_flag, **extra)


def plugin_asked(opt) -> bool:
    """A `--conformance-*` option was given on pytest's command line."""
    return any(getattr(opt, o.plugin_dest, None) for o in options(PLUGIN) if not o.pytest_dest)


# -- one run's values -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    """One run's settings: a value (or its default) for every row of OPTIONS. Read with attributes (`s.model`)."""

    values: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.values) - set(BY_NAME)
        if unknown:
            raise SettingsError(f"unknown settings {', '.join(sorted(unknown))}")
        full = {o.name: ([] if o.action == "append" else o.default) for o in OPTIONS}
        full.update({k: v for k, v in self.values.items() if v is not None})
        object.__setattr__(self, "values", full)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        shown = {k: ("<redacted>" if k == "api_key" and v else v) for k, v in self.values.items()
                 if v != BY_NAME[k].default and v != []}
        return f"Settings({shown})"

    @classmethod
    def from_values(cls, given: Callable[[str], Any], environ: Mapping[str, str] | None = None,
                    place: str | None = None) -> Settings:
        """Settings from the options (`given(name)`, None or empty where not given), then each row's environment
        variables, then its default. With a place, only the rows offered there are read (and their variables)."""
        environ = os.environ if environ is None else environ
        values = {}
        for option in OPTIONS:
            if place is not None and place not in option.places:
                continue
            value = given(option.name)
            if value in (None, []) and option.env:
                value = next((environ[v] for v in option.env if environ.get(v)), None)
            values[option.name] = value
        return cls(values)

    @classmethod
    def from_args(cls, args, place: str = RUN, environ: Mapping[str, str] | None = None) -> Settings:
        """From the parsed flags of `run`, `compare` or `gateway` (the place)."""
        return cls.from_values(lambda name: getattr(args, name, None), environ, place)

    @classmethod
    def from_pytest(cls, opt, environ: Mapping[str, str] | None = None) -> Settings:
        """From plain pytest's `--conformance-*` options and its own -k."""
        return cls.from_values(lambda name: getattr(opt, BY_NAME[name].plugin_dest, None), environ, PLUGIN)

    def replace(self, **changes: Any) -> Settings:
        return Settings({**self.values, **changes})

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values for the xdist hand-over (the key included: it goes over the worker's private channel)."""
        return dict(self.values)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Settings:
        return cls(dict(data))

    # -- derived values, each made in one place --------------------------------------------------------------------
    @property
    def limits(self) -> Limits:
        try:
            return Limits.given(**{o.limit: self.values[o.name] for o in OPTIONS if o.limit})
        except LimitError as exc:
            raise SettingsError(requirement(exc.name), exc.option.replace("-", "_")) from None

    @property
    def features_without(self) -> frozenset[str]:
        return parse_features(self.without)

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        return parse_headers(self.header)

    @property
    def selection(self) -> dict[str, Any]:
        """What the report says was selected."""
        return {"keyword": self.keyword, "expensive": self.expensive, "level": self.level,
                "budget_tokens": self.budget_tokens}

    def target(self):
        """The Target of base_url (None: the embedded reference server, started by the run)."""
        from conformance.target import Secret, Target

        if not self.base_url:
            return None
        return Target(base_url=self.base_url, api_key=Secret(self.api_key or ""), model=self.model or "",
                      headers=self.headers, anthropic_version=self.anthropic_version, limits=self.limits,
                      without=self.features_without, model_profile=self.model_profile or "")

    def check(self) -> None:
        """Every value that can be judged before anything starts; SettingsError with one sentence."""
        self.limits, self.features_without, self.headers  # noqa: B018  (each raises SettingsError when bad)
        if self.model_profile:
            from conformance.model_table import row_names

            if self.model_profile not in row_names():
                raise SettingsError(f"{self.model_profile!r} is not a row of fixtures/models.json; rows: "
                                    f"{', '.join(row_names())}", "model_profile")
        if self.deviations:
            load_deviations(self.deviations)


def parse_features(value: str | list | None) -> frozenset[str]:
    """`thinking,images` (or a targets file's array) -> the declared unsupported features (a closed list)."""
    from conformance.engine import FEATURES

    parts = value if isinstance(value, (list, tuple, frozenset, set)) else (value or "").split(",")
    names = frozenset(part.strip() for part in parts if part.strip())
    unknown = names - set(FEATURES)
    if unknown:
        raise SettingsError(f": unknown feature(s) {', '.join(sorted(unknown))}; known: {', '.join(FEATURES)}",
                            "without")
    return names


def parse_headers(values: list | Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """`NAME:VALUE` flags (or a targets file's headers table) -> header pairs."""
    if isinstance(values, Mapping):
        return tuple((str(k), str(v)) for k, v in values.items())
    headers = []
    for value in values or ():
        if isinstance(value, (list, tuple)):  # already a pair (the xdist hand-over)
            headers.append((str(value[0]), str(value[1])))
            continue
        name, sep, rest = value.partition(":")
        if not sep or not name.strip():
            raise SettingsError(f"{value!r}: expected NAME:VALUE", "header")
        headers.append((name.strip(), rest.strip()))
    return tuple(headers)


def load_deviations(path: str) -> dict[str, dict]:
    """A deviations file (TOML): [deviations."check/id"] reason = "...", link = "..." -> {check id: {reason, link}}."""
    import tomllib

    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise SettingsError(f"cannot read the deviations file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"the deviations file {path} is not TOML: {exc}") from None
    out = {}
    for check_id, entry in data.get("deviations", {}).items():
        if not isinstance(entry, dict) or not entry.get("reason"):
            raise SettingsError(f"{path}: deviation {check_id!r} needs a reason")
        out[check_id] = {"reason": str(entry["reason"]), "link": str(entry.get("link", ""))}
    return out
