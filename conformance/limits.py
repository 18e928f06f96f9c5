"""The limits of every request to a target: their ranges and the options that set them (rows of conformance.settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """How long and how much the harness waits for and reads from a target. Defaults suit a real API."""

    connect_timeout: float = 10.0  # to open a connection
    read_timeout: float = 60.0  # the longest silence while waiting for the next bytes
    request_timeout: float = 120.0  # one request in total: connect, headers and the whole body
    check_timeout: float = 300.0  # one check in total, all its requests
    max_response_bytes: int = 16 * MiB  # one response body, after decoding
    max_failures: int = 3  # consecutive transport failures after which the run stops sending (0: never stops)
    max_concurrency: int = 4  # requests in flight to the target at once, across pytest-xdist workers
    max_rps: float = 0.0  # requests a second to the target, across pytest-xdist workers; 0: unpaced
    max_backoff: float = 180.0  # seconds the whole run may hold requests back for a target's busy answers

    def __post_init__(self) -> None:
        for name, (least, allowed) in LEAST.items():
            value = getattr(self, name)
            kinds = (int,) if whole(name) else (int, float)
            if isinstance(value, bool) or not isinstance(value, kinds) or not (
                    value >= least if allowed else value > least):  # NaN is refused too
                raise LimitError(name)

    @classmethod
    def given(cls, **values: Any) -> Limits:
        """Limits from options, the defaults where a value is None; a bad value raises ValueError with a sentence."""
        fields = {name for name in cls.__dataclass_fields__}
        unknown = set(values) - fields
        if unknown:
            raise ValueError(f"unknown limits {sorted(unknown)}; known: {sorted(fields)}")
        return cls(**{name: value for name, value in values.items() if value is not None})

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


# The least value of each limit, and whether that value itself is allowed (the schema of a targets file says the same).
LEAST = {"connect_timeout": (0, False), "read_timeout": (0, False), "request_timeout": (0, False),
         "check_timeout": (0, False), "max_response_bytes": (1024, True), "max_failures": (0, True),
         "max_concurrency": (1, True), "max_rps": (0, True), "max_backoff": (0, True)}


def whole(name: str) -> bool:
    """The limit is a whole number (its default is an int), not any number."""
    return type(Limits.__dataclass_fields__[name].default) is int


def requirement(name: str) -> str:
    """What the limit must be: "must be a number > 0", "must be a whole number >= 1024"."""
    least, allowed = LEAST[name]
    return f"must be a {'whole ' if whole(name) else ''}number {'>=' if allowed else '>'} {least}"


class LimitError(ValueError):
    """A limit out of its range; str() names it by its bare option name (`timeout must be a number > 0`)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.option = next(option for field, option, _ in LIMIT_OPTIONS if field == name)  # `timeout`
        super().__init__(f"{self.option} {requirement(name)}")


# Each limit's option: (Limits field, name, what it bounds); conformance.settings makes a row of each (`--NAME` for
# `run`, `--conformance-NAME` for the pytest plugin, NAME with underscores in a targets file).
LIMIT_OPTIONS = (
    ("request_timeout", "timeout", "total seconds per request, headers and whole body"),
    ("connect_timeout", "connect-timeout", "seconds to connect"),
    ("read_timeout", "read-timeout", "longest silence while waiting for bytes"),
    ("check_timeout", "check-timeout", "total seconds per check, all its requests"),
    ("max_response_bytes", "max-response-bytes", "largest response body read, after decoding"),
    ("max_failures", "max-failures", "consecutive transport failures (timeouts, refused or reset connections) after "
                                     "which the run stops sending to the target; 0 never stops"),
    ("max_concurrency", "max-concurrency", "requests in flight to the target at once, across pytest-xdist workers"),
    ("max_rps", "max-rps", "requests a second to the target, across pytest-xdist workers; 0 sends unpaced"),
    ("max_backoff", "max-backoff", "total seconds the run may hold requests back for a target that answers 429, "
                                   "503 or 529 (then such answers are errors)"),
)


def requests_per_second(text: str) -> float:
    """The type of --max-rps: a float that is a rate, not seconds (its metavar is N, not S)."""
    return float(text)


KINDS = {"max_rps": requests_per_second}
