"""The points where a fault changes the server's behaviour, and how a set of faults composes at each."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from .errors import ApiError
from .models import ModelsSettings
from .responder import ResponderSettings
from .streaming import Framing, SseEvent
from .validation_common import RELAXABLE


@dataclass(frozen=True)
class RequestInfo:
    """What the early hooks see of a request: method, endpoint name, query string and headers."""

    method: str
    endpoint: str
    query: str
    headers: Mapping[str, str]


Check = Callable[[RequestInfo], ApiError | None]
Auth = Callable[[Mapping[str, str], str | None], ApiError | None]


@dataclass(frozen=True)
class Fault:
    """A named fault (a defect) or variant (legal but unusual); each hook is applied at one point."""

    name: str
    description: str
    kind: Literal["fault", "variant"]
    relax: frozenset[str] = frozenset()  # standard rules switched off (validation_common.RELAXABLE)
    # a layer in front of this model (a fixtures/models.json id): the self-test judges the fault on it (None: on the
    # permissive reference-model), so per-model defects (adaptive thinking refused, signature-only blocks lost) show
    model: str | None = None
    request_id: Callable[[], str] | None = None  # makes the request id (header and error bodies)
    route: Check | None = None  # before auth: may answer with an error
    auth: Auth | None = None  # replaces the credential check
    auth_endpoints: frozenset[str] | None = None  # where `auth` applies (None: every endpoint)
    headers: Check | None = None  # after auth, before the version check
    beta: Callable[[str | None], str | None] | None = None  # the anthropic-beta header as the layer forwards it
    bad_json: ApiError | None = None  # the error for an unparsable body
    request: Callable[[dict[str, Any], str], dict[str, Any]] | None = None  # before validation
    validate: Callable[[dict[str, Any], str], ApiError | None] | None = None  # before the standard rules
    responder: Callable[[ResponderSettings], ResponderSettings] | None = None
    message: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # the Message, streamed or not
    json_message: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # the non-stream Message only
    stream_message: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # the streamed Message only
    events: Callable[[list[SseEvent]], list[SseEvent]] | None = None
    framing: Callable[[Framing], Framing] | None = None
    count_tokens: Callable[[Any, dict[str, Any]], Any] | None = None  # (input_tokens, body) -> input_tokens
    models: Callable[[ModelsSettings], ModelsSettings] | None = None
    error: Callable[[ApiError], ApiError] | None = None  # every error, before its body is built
    error_body: Callable[[dict[str, Any], ApiError], dict[str, Any]] | None = None
    response_headers: Callable[[dict[str, str], str], dict[str, str]] | None = None  # "json" | "sse" | "raw"

    def __post_init__(self) -> None:
        unknown = self.relax - RELAXABLE
        if unknown:
            raise ValueError(f"{self.name}: unknown rules in relax: {sorted(unknown)}")


@dataclass(frozen=True)
class FaultSet:
    """The faults a request runs under, applied in registry order at every hook."""

    faults: tuple[Fault, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(fault.name for fault in self.faults)

    @cached_property
    def relaxed(self) -> frozenset[str]:
        """The standard rules the faults switch off."""
        return frozenset().union(*(fault.relax for fault in self.faults))

    def auth(self, endpoint: str) -> Auth | None:
        """The last fault's credential check that applies to `endpoint`, or None (the standard check)."""
        for fault in reversed(self.faults):
            if fault.auth is not None and (fault.auth_endpoints is None or endpoint in fault.auth_endpoints):
                return fault.auth
        return None

    def _hooks(self, point: str) -> list[Any]:
        return [hook for fault in self.faults if (hook := getattr(fault, point)) is not None]

    def first_error(self, point: str, *args: Any) -> ApiError | None:
        """The first error a `route`, `headers` or `validate` hook answers with."""
        for hook in self._hooks(point):
            if (error := hook(*args)) is not None:
                return error
        return None

    def pipe(self, point: str, value: Any, *args: Any) -> Any:
        """`value` passed through every hook at `point` in turn."""
        for hook in self._hooks(point):
            value = hook(value, *args)
        return value

    def replacement(self, point: str) -> Any:
        """The last fault's replacement at `point` (`auth`, `bad_json`), or None."""
        hooks = self._hooks(point)
        return hooks[-1] if hooks else None
