"""AnthropicFake: the reference server in-process, on a free loopback port, scripted by rules, recording requests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEV_KEY = "sk-ant-conformance-dev"  # public: accepted only by the local fake (as `serve`'s default)
RULES_SCHEMA = "fake-rules.schema.json"
REDACTED = "[redacted]"
SECRET_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization", "cookie"})


class RulesFileError(ValueError):
    """A rules file that cannot be read or is not valid (its message is one sentence)."""


@dataclass(frozen=True)
class RecordedRequest:
    """A request the app sent: method, path (the base URL's prefix included), headers (credentials redacted),
    and the parsed JSON body (None when there was none or it was not JSON)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any = None

    @property
    def prompt(self) -> str:
        """The text of the last user message (its text blocks joined with newlines), or ""."""
        from reference_server.conversation import text_of

        messages = self.body.get("messages") if isinstance(self.body, dict) else None
        users = [m for m in messages or [] if isinstance(m, dict) and m.get("role") == "user"]
        return text_of(users[-1].get("content")) if users else ""


def reply(text: str) -> dict[str, Any]:
    """A text answer, for `.sequence([...])`."""
    return {"reply": text}


def tool_call(name: str, tool_input: dict[str, Any] | None = None, text: str | None = None) -> dict[str, Any]:
    """A tool call answer (with an optional text before it), for `.sequence([...])`."""
    answer: dict[str, Any] = {"tool_call": {"name": name, "input": dict(tool_input or {})}}
    if text is not None:
        answer["reply"] = text
    return answer


def error(status: int, retry_after: int | None = None, message: str | None = None) -> dict[str, Any]:
    """An error answer (429 rate_limit_error, 529 overloaded_error, 500 api_error, ...), for `.sequence([...])`."""
    spec: dict[str, Any] = {"status": status}
    if retry_after is not None:
        spec["retry_after"] = retry_after
    if message is not None:
        spec["message"] = message
    return {"error": spec}


class ScriptedRule:
    """What `fake.on(...)` returns: say what the matching requests get; each method returns the rule again."""

    def __init__(self, fake: AnthropicFake, match: dict[str, Any]) -> None:
        self._fake = fake
        self.spec: dict[str, Any] = dict(match)
        self._added = False

    def _set(self, **answer: Any) -> ScriptedRule:
        for key in ("reply", "tool_call", "error", "sequence"):  # a new answer replaces the previous one
            self.spec.pop(key, None)
        self.spec.update(answer)
        return self._commit()

    def _commit(self) -> ScriptedRule:
        from reference_server.rules import check

        check(self.spec)
        if not self._added:
            self._fake.rules.add(self.spec)
            self._added = True
        return self

    def reply(self, text: str) -> ScriptedRule:
        """Answer with this text."""
        return self._set(reply=text)

    def tool_call(self, name: str, tool_input: dict[str, Any] | None = None, text: str | None = None) -> ScriptedRule:
        """Answer with a call of this tool (offered in the request) with this input."""
        return self._set(**tool_call(name, tool_input, text))

    def sequence(self, answers: list[Any]) -> ScriptedRule:
        """Answer the n-th turn since the matched prompt with answers[n] (a text, or reply()/tool_call()/error());
        the last one repeats."""
        return self._set(sequence=[reply(a) if isinstance(a, str) else a for a in answers])

    def error(self, status: int, retry_after: int | None = None, message: str | None = None) -> ScriptedRule:
        """Answer with an API error: 429 (retry-after: `retry_after`), 529, 500, 400..."""
        return self._set(**error(status, retry_after, message))

    def mid_stream_error(self, status: int = 529, message: str | None = None) -> ScriptedRule:
        """Cut a stream after its first delta with an `error` event (non-streaming requests get the error)."""
        self.spec["mid_stream_error"] = error(status, message=message)["error"]
        return self._commit()

    def fault(self, name: str) -> ScriptedRule:
        """Apply a named reference-server fault (or "a+b") to the answer, e.g. "sse-no-message-stop"."""
        self.spec["fault"] = name
        return self._commit()

    def latency(self, seconds: float) -> ScriptedRule:
        """Wait this long before answering."""
        self.spec["latency"] = float(seconds)
        return self._commit()

    def times(self, count: int) -> ScriptedRule:
        """Apply to the first `count` matching requests only; later ones fall through to the next rule."""
        self.spec["times"] = int(count)
        return self._commit()


@dataclass
class _Recorder:
    """An ASGI wrapper that records each HTTP request (redacted) before the app answers it."""

    app: Any
    requests: list[RecordedRequest] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        recorded = False

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            headers = {
                k.decode("latin-1"): (REDACTED if k.decode("latin-1").lower() in SECRET_HEADERS else v.decode("latin-1"))
                for k, v in scope["headers"]
            }
            try:
                body = json.loads(b"".join(chunks)) if chunks and b"".join(chunks) else None
            except ValueError:
                body = None
            self.requests.append(RecordedRequest(scope["method"], scope["path"], headers, body))

        async def recording_receive() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    record()
            return message

        async def recording_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                record()  # a request answered without its body being read (a GET, an early error)
            await send(message)

        await self.app(scope, recording_receive, recording_send)


class AnthropicFake:
    """`with AnthropicFake() as fake:` runs the reference server in a thread on a free loopback port.

    fake.base_url, fake.api_key, fake.client() / fake.async_client() (official SDK clients for it),
    fake.on(...) (scripted answers), fake.requests (what the app sent, credentials redacted).
    """

    def __init__(self, api_key: str | None = DEV_KEY, rules: list[dict[str, Any]] | str | Path | None = None,
                 startup_timeout: float = 10.0) -> None:
        from reference_server.rules import RuleBook

        self.api_key = api_key or DEV_KEY  # None: any non-empty key is accepted, the SDK clients get the dev key
        self._check_key = api_key
        specs = load_rules(rules) if isinstance(rules, (str, Path)) else rules
        self.rules = RuleBook(specs)
        self.startup_timeout = startup_timeout
        self.base_url = ""
        self._recorder: _Recorder | None = None
        self._served: Any = None  # reference_server.server.InThread

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first."""
        return list(self._recorder.requests) if self._recorder else []

    @property
    def messages_requests(self) -> list[RecordedRequest]:
        """The POST /v1/messages requests received so far (count_tokens and models left out)."""
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/v1/messages")]

    def on(self, *, text: str | None = None, regex: str | None = None, model: str | None = None,
           tools: list[str] | str | None = None, turn: int | None = None) -> ScriptedRule:
        """A rule for the Messages requests that match every condition given: the prompt (the last user text)
        contains `text` or matches `regex`, the model, the tools offered (names), the turn (1: the first request)."""
        match: dict[str, Any] = {}
        for key, value in (("text", text), ("regex", regex), ("model", model), ("turn", turn)):
            if value is not None:
                match[key] = value
        if tools is not None:
            match["tools"] = [tools] if isinstance(tools, str) else list(tools)
        return ScriptedRule(self, match)

    def reset(self) -> None:
        """Forget the rules and the recorded requests."""
        self.rules.clear()
        if self._recorder:
            self._recorder.requests.clear()

    def client(self, **options: Any) -> Any:
        """An `anthropic.Anthropic` client for the fake (options such as max_retries are passed on)."""
        import anthropic

        return anthropic.Anthropic(base_url=self.base_url, api_key=self.api_key, **options)

    def async_client(self, **options: Any) -> Any:
        """An `anthropic.AsyncAnthropic` client for the fake."""
        import anthropic

        return anthropic.AsyncAnthropic(base_url=self.base_url, api_key=self.api_key, **options)

    def start(self) -> AnthropicFake:
        """Bind a free loopback port and serve on it from a daemon thread; returns once it accepts connections."""
        from reference_server.app import create_app
        from reference_server.server import InThread

        app = create_app(self._check_key, self.rules)
        self._recorder = _Recorder(app)
        self._served = InThread(app, self._recorder, what="Anthropic fake", startup_timeout=self.startup_timeout)
        self.base_url = self._served.start().base_url
        return self

    def stop(self) -> None:
        """Stop serving (streams in flight finish at once) and wait for the thread."""
        if self._served is not None:
            self._served.stop()

    def __enter__(self) -> AnthropicFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def load_rules(source: str | Path) -> list[dict[str, Any]]:
    """The rules of a TOML or JSON file (`[[rules]]` / {"rules": [...]}), validated; RulesFileError otherwise."""
    path = Path(source)
    try:
        raw = path.read_bytes()
    except OSError as problem:
        raise RulesFileError(f"{path}: cannot read the rules file ({problem.strerror or problem}).") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(raw)
        else:
            import tomllib

            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as problem:
        raise RulesFileError(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'TOML'} "
                             f"({problem}).") from None
    if isinstance(data, list):
        data = {"rules": data}
    _validate(path, data)
    from reference_server.rules import check

    for index, spec in enumerate(data["rules"]):
        try:
            check(spec)
        except ValueError as problem:
            raise RulesFileError(f"{path}: rules[{index}]: {problem}.") from None
    return data["rules"]


def _validate(path: Path, data: Any) -> None:
    import jsonschema

    from conformance.data import load_json

    validator = jsonschema.Draft202012Validator(load_json("schemas", RULES_SCHEMA))
    problem = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if problem is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem.absolute_path).lstrip(".")
        raise RulesFileError(f"{path}: {where or 'the file'}: {problem.message}.")
