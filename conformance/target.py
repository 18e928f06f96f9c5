"""The target under test: base URL, credentials (in a self-redacting type), model and headers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from conformance.limits import Limits
from conformance.settings import DEFAULT_ANTHROPIC_VERSION

REDACTED = "<redacted>"


class Secret:
    """A credential that never shows itself: repr, str, format, pickling for logs all redact."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"Secret({REDACTED})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self):  # pragma: no cover - guards accidental serialisation
        raise TypeError("a Secret cannot be serialised")


def redact(text: str, secrets: Iterable[Secret | str | None]) -> str:
    """Replace every occurrence of each secret (and of its Bearer form) in text."""
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value and len(value) >= 4:
            text = text.replace(value, REDACTED)
    return text


@dataclass(frozen=True)
class Target:
    base_url: str
    api_key: Secret = field(repr=False)
    model: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    anthropic_version: str = DEFAULT_ANTHROPIC_VERSION
    embedded: bool = False  # the harness's own reference server: deterministic, everything may run
    limits: Limits = Limits()  # timeouts, size cap, breaker and concurrency cap of every request to it
    without: frozenset[str] = frozenset()  # optional features the target declares it does not offer
    model_profile: str = ""  # the row of fixtures/models.json to judge the model by ("": the row its id matches)
    retries: int = 6  # extra attempts of one request the target answers 429, 503 or 529 (conformance.pacing)
    retry_base: float = 1.0  # seconds of the first back-off when no retry-after is given, doubling each time

    def __repr__(self) -> str:
        return f"Target(base_url={self.base_url!r}, model={self.model!r}, api_key={REDACTED})"

    def url(self, path: str) -> str:
        """The URL the SDK would call: base path + path (e.g. /v1/messages)."""
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    @property
    def deterministic(self) -> bool:
        return self.embedded

    @property
    def model_row(self):
        """The row of fixtures/models.json that says what the model accepts (conformance.model_table)."""
        from conformance.model_table import row_for

        return row_for(self.model, self.model_profile or None)

    def handover(self) -> dict:
        """The target as JSON-able data for a pytest-xdist worker, over its private channel (the key revealed)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**data, "api_key": self.api_key.reveal(), "headers": [list(pair) for pair in self.headers],
                "limits": self.limits.as_dict(), "without": sorted(self.without)}

    @classmethod
    def from_handover(cls, data: dict) -> Target:
        return cls(**{**data, "api_key": Secret(data["api_key"]), "headers": tuple(tuple(p) for p in data["headers"]),
                      "without": frozenset(data["without"]), "limits": Limits(**data["limits"])})

    def redact(self, text: str) -> str:
        from urllib.parse import urlsplit

        secrets: list[Secret | str | None] = [self.api_key, urlsplit(self.base_url).password]
        secrets += [value for name, value in self.headers if _is_credential_header(name)]
        return redact(text, secrets)


def _is_credential_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in {"authorization", "x-api-key", "proxy-authorization", "cookie"} or "key" in lowered or (
        "token" in lowered
    )


def display_url(url: str) -> str:
    """A URL fit to print: no user:password part, and the values of credential-like query parameters masked."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    query = [(k, REDACTED if any(w in k.lower() for w in ("key", "token", "secret", "auth", "sig")) else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, host, parts.path, urlencode(query, safe="<>"), ""))
