"""AnthropicFake: an app's test program against it, scripted rules, the request log, rules files, serve --rules."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import anthropic
import httpx
import pytest

from conformance import AnthropicFake
from conformance.fake import DEV_KEY, RulesFileError, error, load_rules, tool_call
from conformance.schemas import validate

pytest_plugins = ["pytester"]

MODEL = "claude-sonnet-4-5"
CALCULATE = {
    "name": "calculate",
    "description": "Evaluate an arithmetic expression.",
    "input_schema": {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]},
}
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "unit"],
    },
}


@pytest.fixture(scope="module")
def fake():
    with AnthropicFake() as running:
        yield running


@pytest.fixture(autouse=True)
def clean(fake):
    fake.reset()
    yield


def run_app(client: anthropic.Anthropic) -> dict:
    """A typical app: a basic message, a tool round trip (the result fed back), a stream."""
    basic = client.messages.create(model=MODEL, max_tokens=200, messages=[{"role": "user", "content": "Say hello."}])
    assert basic.stop_reason == "end_turn" and basic.content[0].text

    messages = [{"role": "user", "content": "Use the calculate tool to compute 12 * 7"}]
    first = client.messages.create(model=MODEL, max_tokens=200, tools=[CALCULATE], messages=messages)
    assert first.stop_reason == "tool_use"
    call = next(block for block in first.content if block.type == "tool_use")
    assert call.name == "calculate" and call.input == {"expression": "12 * 7"}
    messages += [{"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "84"}]}]
    second = client.messages.create(model=MODEL, max_tokens=200, tools=[CALCULATE], messages=messages)
    assert second.stop_reason == "end_turn" and second.content[0].type == "text"

    with client.messages.stream(model=MODEL, max_tokens=200, messages=[{"role": "user", "content": "Tell a story"}]) as s:
        streamed = "".join(s.text_stream)
        final = s.get_final_message()
    assert streamed and final.content[0].text == streamed and final.stop_reason == "end_turn"
    return {"basic": basic, "tool": first, "after": second, "streamed": streamed}


def test_a_typical_app_runs_to_completion_without_any_rule(fake):
    run_app(fake.client())
    sent = fake.messages_requests
    assert len(sent) == 4
    assert sent[2].body["messages"][-1]["content"][0]["type"] == "tool_result"
    assert sent[3].body["stream"] is True


def test_the_async_client_works_too(fake):
    async def main():
        async with fake.async_client() as client:
            message = await client.messages.create(model=MODEL, max_tokens=50,
                                                   messages=[{"role": "user", "content": "Hi"}])
            return message.content[0].text

    assert asyncio.run(main())


def test_the_request_log_redacts_credentials_and_parses_the_body(fake):
    fake.client().messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "Hi there"}])
    httpx.get(fake.base_url + "/v1/models", headers={"x-api-key": DEV_KEY, "anthropic-version": "2023-06-01"})
    post, get = fake.requests
    assert (post.method, post.path, get.method, get.path) == ("POST", "/v1/messages", "GET", "/v1/models")
    assert post.body["model"] == MODEL and post.prompt == "Hi there" and get.body is None
    assert post.headers["authorization"] == "[redacted]" and get.headers["x-api-key"] == "[redacted]"
    assert DEV_KEY not in repr(fake.requests)


def test_a_rule_answers_with_text_streamed_or_not(fake):
    fake.on(text="capital of france").reply("Paris.")
    client = fake.client()
    message = client.messages.create(model=MODEL, max_tokens=50,
                                     messages=[{"role": "user", "content": "What is the capital of France?"}])
    assert message.content[0].text == "Paris."
    raw = httpx.post(fake.base_url + "/v1/messages", headers={"x-api-key": DEV_KEY, "anthropic-version": "2023-06-01"},
                     json={"model": MODEL, "max_tokens": 50, "messages": [{"role": "user", "content": "capital of France"}]})
    assert validate("message", raw.json()) == []
    with client.messages.stream(model=MODEL, max_tokens=50,
                                messages=[{"role": "user", "content": "The capital of France?"}]) as stream:
        assert "".join(stream.text_stream) == "Paris."
    other = client.messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "Hi"}])
    assert other.content[0].text != "Paris."  # unmatched: the responder answers


def test_a_sequence_scripts_a_tool_round_trip(fake):
    fake.on(text="weather", tools=["get_weather"]).sequence(
        [tool_call("get_weather", {"city": "Paris", "unit": "celsius"}), "It is sunny in Paris."])
    client = fake.client()
    messages = [{"role": "user", "content": "What's the weather like?"}]
    first = client.messages.create(model=MODEL, max_tokens=100, tools=[WEATHER], messages=messages)
    call = first.content[-1]
    assert first.stop_reason == "tool_use" and call.input == {"city": "Paris", "unit": "celsius"}
    messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "22C"}]}]
    second = client.messages.create(model=MODEL, max_tokens=100, tools=[WEATHER], messages=messages)
    assert second.content[0].text == "It is sunny in Paris."
    without_tool = client.messages.create(model=MODEL, max_tokens=100, messages=messages[:1])
    assert without_tool.content[0].type == "text"  # the rule asks for get_weather to be offered


def test_rules_match_on_model_regex_and_turn_in_order(fake):
    fake.on(model="claude-opus-4-1").reply("opus")
    fake.on(regex=r"order #\d+").reply("order found")
    fake.on(turn=2).reply("second turn")
    client = fake.client()

    def ask(content, model=MODEL, history=()):
        messages = [*history, {"role": "user", "content": content}]
        return client.messages.create(model=model, max_tokens=50, messages=messages).content[0].text

    assert ask("where is order #42", model="claude-opus-4-1") == "opus"
    assert ask("where is order #42") == "order found"
    assert ask("hi", history=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]) == "second turn"


def test_errors_carry_their_status_type_and_retry_after(fake):
    fake.on(text="rate").error(429, retry_after=2)
    fake.on(text="overload").error(529)
    fake.on(text="boom").error(500, message="It broke.")
    client = fake.client(max_retries=0)

    def ask(content):
        return client.messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": content}])

    with pytest.raises(anthropic.RateLimitError) as limited:
        ask("rate limit me")
    assert limited.value.response.headers["retry-after"] == "2"
    assert limited.value.body["error"]["type"] == "rate_limit_error"
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        ask("overload")
    assert overloaded.value.status_code == 529 and overloaded.value.body["error"]["type"] == "overloaded_error"
    with pytest.raises(anthropic.InternalServerError) as broken:
        ask("boom")
    assert broken.value.body["error"]["message"] == "It broke."
    assert broken.value.response.headers.get("request-id")


def test_an_error_once_then_the_sdk_retry_succeeds(fake):
    fake.on(text="flaky").error(429, retry_after=0).times(1)
    message = fake.client(max_retries=2).messages.create(
        model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "flaky"}])
    assert message.content[0].text and len(fake.messages_requests) == 2


def test_a_mid_stream_error_cuts_the_stream_with_an_error_event(fake):
    fake.on(text="long story").reply("Once upon a time there was a fake server.").mid_stream_error()
    client = fake.client(max_retries=0)
    received = []
    with pytest.raises(anthropic.APIStatusError) as cut:
        with client.messages.stream(model=MODEL, max_tokens=100,
                                    messages=[{"role": "user", "content": "a long story"}]) as stream:
            received.extend(stream.text_stream)
    assert received and "".join(received) != "Once upon a time there was a fake server."
    assert "overloaded_error" in str(cut.value)
    with pytest.raises(anthropic.APIStatusError):
        client.messages.create(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "long story"}])


def test_latency_delays_the_answer(fake):
    fake.on(text="slow").reply("finally").latency(0.4)
    start = time.monotonic()
    message = fake.client().messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "slow"}])
    assert message.content[0].text == "finally" and time.monotonic() - start >= 0.4


def test_a_rule_can_apply_a_named_stream_fault(fake):
    fake.on(text="broken").fault("sse-no-message-stop")
    body = {"model": MODEL, "max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": "broken"}]}
    headers = {"x-api-key": DEV_KEY, "anthropic-version": "2023-06-01"}
    text = httpx.post(fake.base_url + "/v1/messages", json=body, headers=headers).text
    assert "message_start" in text and "message_stop" not in text


def test_the_fake_checks_the_key():
    with AnthropicFake() as fake:
        with pytest.raises(anthropic.AuthenticationError):
            anthropic.Anthropic(base_url=fake.base_url, api_key="sk-wrong").messages.create(
                model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    with AnthropicFake(api_key=None) as anyone:
        anthropic.Anthropic(base_url=anyone.base_url, api_key="sk-whatever").messages.create(
            model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "hi"}])


def test_a_malformed_rule_is_refused_in_one_sentence(fake):
    with pytest.raises(ValueError, match="no fault 'no-such-fault'"):
        fake.on(text="x").fault("no-such-fault")
    with pytest.raises(ValueError, match="regex"):
        fake.on(regex="(").reply("x")


RULES_TOML = """
[[rules]]
text = "ping"
reply = "pong"

[[rules]]
text = "weather"
tools = ["get_weather"]
sequence = [
  { tool_call = { name = "get_weather", input = { city = "Oslo", unit = "celsius" } } },
  "Cold in Oslo.",
]

[[rules]]
text = "busy"
error = { status = 429, retry_after = 3 }
"""


def test_a_rules_file_in_toml_or_json_scripts_the_fake(tmp_path):
    toml = tmp_path / "rules.toml"
    toml.write_text(RULES_TOML)
    rules = load_rules(toml)
    as_json = tmp_path / "rules.json"
    as_json.write_text(json.dumps({"rules": rules}))
    assert load_rules(as_json) == rules
    with AnthropicFake(rules=as_json) as fake:
        client = fake.client(max_retries=0)
        assert client.messages.create(model=MODEL, max_tokens=9,
                                      messages=[{"role": "user", "content": "ping"}]).content[0].text == "pong"
        with pytest.raises(anthropic.RateLimitError) as limited:
            client.messages.create(model=MODEL, max_tokens=9, messages=[{"role": "user", "content": "busy"}])
        assert limited.value.response.headers["retry-after"] == "3"


@pytest.mark.parametrize(("content", "says"), [
    ("[[rules]]\ntext = 'x'\n", "rules[0]"),
    ("[[rules]]\ntext = 'x'\nreply = 'y'\ncolour = 'red'\n", "colour"),
    ("[[rules]]\nerror = 999\nreply = 'y'\n", "rules[0].error"),
    ("[[rules]]\nfault = 'no-such-fault'\n", "no fault 'no-such-fault'"),
    ("[[rules]]\nregex = '('\nreply = 'y'\n", "regex"),
    ("rules = [", "not valid TOML"),
])
def test_a_bad_rules_file_is_one_sentence(tmp_path, content, says):
    path = tmp_path / "rules.toml"
    path.write_text(content)
    with pytest.raises(RulesFileError) as refused:
        load_rules(path)
    message = str(refused.value)
    assert says in message and str(path) in message and "\n" not in message and message.endswith(".")


@contextlib.contextmanager
def serving(*args: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    proc = subprocess.Popen([sys.executable, "-m", "conformance", "serve", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read()
        yield url
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_serve_with_rules_answers_from_the_file_and_the_app_runs_without_one(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(RULES_TOML)
    with serving("--rules", str(path)) as url:
        client = anthropic.Anthropic(base_url=url, api_key=DEV_KEY)
        assert client.messages.create(model=MODEL, max_tokens=9,
                                      messages=[{"role": "user", "content": "ping"}]).content[0].text == "pong"
    with serving() as url:
        run_app(anthropic.Anthropic(base_url=url, api_key=DEV_KEY))


def test_serve_with_a_bad_rules_file_exits_2_in_one_sentence(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"rules": [{"text": "x", "error": {"status": 200}}]}))
    proc = subprocess.run([sys.executable, "-m", "conformance", "serve", "--port", "0", "--rules", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: {path}: rules[0].error") and proc.stderr.count("\n") == 1
    missing = subprocess.run([sys.executable, "-m", "conformance", "serve", "--rules", str(tmp_path / "none.toml")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "cannot read the rules file" in missing.stderr


def test_error_helper_builds_a_sequence_step(fake):
    fake.on(text="retry me").sequence([error(529), "ok"])
    with pytest.raises(anthropic.APIStatusError):
        fake.client(max_retries=0).messages.create(model=MODEL, max_tokens=9,
                                                   messages=[{"role": "user", "content": "retry me"}])


README = Path(__file__).resolve().parent.parent / "README.md"


def readme_block(language: str) -> str:
    """The first `language` code block of the README's section on testing an app against the fake."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Testing your app against the fake"):]
    return re.search(rf"```{language}\n(.*?)```", section, re.S).group(1)


def test_the_readme_pytest_example_passes(pytester: pytest.Pytester):
    pytester.makepyfile(test_readme_example=readme_block("python"))
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)


def test_the_readme_rules_file_is_valid(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(readme_block("toml"))
    assert [rule["text"] for rule in load_rules(path)] == ["weather", "busy"]
