"""Real clients against the unmodified reference server, as their base URL.

Four clients, three scenarios each (a plain prompt, a streamed prompt, a tool round trip):
- the official Python SDK 2.x (the project's own dependency; Authorization: Bearer, anthropic-version 2026-10-21),
- the official Python SDK 1.x (installed into a throwaway virtualenv; x-api-key, 2023-06-01),
- the TypeScript SDK `@anthropic-ai/sdk` (a 1.x release, else the latest; installed with npm),
- Claude Code (`@anthropic-ai/claude-code`, headless `claude -p`).

The SDKs run `python_sdk_probe.py` / `ts_sdk_probe.mjs` (in conformance/client_matrix, shared with the clients x
faults matrix) in a subprocess and answer in JSON.
Every prompt carries fresh random words. Installs happen once per session; an install that fails or times out
skips that client's tests with the reason. Every subprocess has a timeout (installs 300 s, runs 120 s).
Marked `clients`: run with `python -m pytest tests/integration -m clients -p no:cacheprovider -v`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from conformance.client_matrix.install import (  # shared with the clients x faults matrix
    CLAUDE_CODE_QUIET,
    PYTHON_PROBE,
    TS_PROBE,
    Completed,
    ProcessTimeout,
    client_env,
    failure_summary,
    install_env,
    run_process,
    tail,
)
from conformance.client_matrix.scenarios import random_word, random_words, reply_prompt, tool_prompt
from conformance.vocabulary import KNOWN_EVENTS

INSTALL_TIMEOUT = 300.0
RUN_TIMEOUT = 120.0
MODEL = "reference-model"
MAX_TOKENS = 256
SSE_TYPE = "text/event-stream"
STREAM_EVENTS = KNOWN_EVENTS - {"ping", "error"}  # the events of a message, as the clients see them

pytestmark = pytest.mark.clients


# ---------------------------------------------------------------------------------------------------------------
# Installs and redaction


def install_or_skip(what: str, args: list, cwd: Path | None = None) -> Completed:
    """Run an install step; any failure (missing tool, no network, refusal, timeout) skips with the reason."""
    try:
        done = run_process(args, timeout=INSTALL_TIMEOUT, env=install_env(), cwd=cwd)
    except ProcessTimeout as timeout:
        pytest.skip(f"{what} could not be installed: {timeout}")
    except OSError as error:
        pytest.skip(f"{what} could not be installed: {Path(str(args[0])).name}: {error.strerror or error}")
    if done.returncode != 0:
        summary = failure_summary(done.stderr + "\n" + done.stdout)
        pytest.skip(f"{what} could not be installed (exit {done.returncode}): {summary}")
    return done


def redact(text: str, server) -> str:
    return text.replace(server.api_key.reveal(), "[key redacted]")


# ---------------------------------------------------------------------------------------------------------------
# Installed clients (session fixtures)


@dataclass(frozen=True)
class ProbeRunner:
    """How to run a probe script: `command + [BASE_URL, SCENARIO, SPEC_JSON]`; the SDK version it found."""

    name: str
    command: tuple[str, ...]
    version: str


def recorded(versions: dict[str, str], client: str, install):
    """install() -> a client; its version (or why it was skipped) goes into the run summary."""
    try:
        installed = install()
    except pytest.skip.Exception as skipped:
        versions[client] = f"skipped: {skipped.msg}"
        raise
    versions[client] = installed.version
    return installed


@pytest.fixture(scope="session")
def python_sdk_2(client_versions) -> ProbeRunner:
    return recorded(client_versions, "Python SDK 2.x (anthropic)", find_python_sdk_2)


@pytest.fixture(scope="session")
def python_sdk_1(client_versions, tmp_path_factory) -> ProbeRunner:
    return recorded(client_versions, "Python SDK 1.x (anthropic)", partial(install_python_sdk_1, tmp_path_factory))


@pytest.fixture(scope="session")
def typescript_sdk(client_versions, tmp_path_factory) -> ProbeRunner:
    return recorded(client_versions, "TypeScript SDK (@anthropic-ai/sdk)", partial(install_typescript_sdk, tmp_path_factory))


@pytest.fixture(scope="session")
def claude_code(client_versions, tmp_path_factory) -> ClaudeCode:
    install = partial(install_claude_code, tmp_path_factory)
    return recorded(client_versions, "Claude Code (@anthropic-ai/claude-code)", install)


def find_python_sdk_2() -> ProbeRunner:
    done = install_or_skip("the Python SDK 2.x (the project's dependency)",
                           [sys.executable, "-c", "import anthropic; print(anthropic.__version__)"])
    version = done.stdout.strip()
    if not version.startswith("2."):
        pytest.skip(f"the project's virtualenv has anthropic {version}, not 2.x")
    return ProbeRunner("Python SDK 2.x", (sys.executable, str(PYTHON_PROBE)), version)


def install_python_sdk_1(tmp_path_factory) -> ProbeRunner:
    venv = tmp_path_factory.mktemp("python-sdk-1") / "venv"
    install_or_skip("a virtualenv for the Python SDK 1.x", [sys.executable, "-m", "venv", venv])
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    install_or_skip("the Python SDK 1.x", [python, "-m", "pip", "install", "--quiet", "anthropic>=1,<2"])
    done = install_or_skip("the Python SDK 1.x", [python, "-c", "import anthropic; print(anthropic.__version__)"])
    return ProbeRunner("Python SDK 1.x", (str(python), str(PYTHON_PROBE)), done.stdout.strip())


def npm_install(what: str, directory: Path, *specs: str) -> Completed:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"{what} could not be installed: npm is not on PATH")
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "package.json").exists():
        (directory / "package.json").write_text(json.dumps({"name": directory.name, "private": True}) + "\n")
    return install_or_skip(what, [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", *specs], cwd=directory)


def installed_version(directory: Path, package: str) -> str:
    manifest = directory / "node_modules" / package / "package.json"
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        pytest.skip(f"npm reported success but {package} is not in node_modules")


def install_typescript_sdk(tmp_path_factory) -> ProbeRunner:
    node = shutil.which("node")
    if node is None:
        pytest.skip("the TypeScript SDK cannot run: node is not on PATH")
    directory = tmp_path_factory.mktemp("typescript-sdk")
    npm = shutil.which("npm") or "npm"
    # A 1.x release when the registry has one, else the latest.
    view = install_or_skip("the TypeScript SDK", [npm, "view", "@anthropic-ai/sdk@>=1 <2", "version", "--json"])
    spec = "@anthropic-ai/sdk@^1" if view.stdout.strip() not in ("", "[]") else "@anthropic-ai/sdk@latest"
    npm_install("the TypeScript SDK", directory, spec)
    shutil.copyfile(TS_PROBE, directory / TS_PROBE.name)  # so that its import resolves to this node_modules
    version = installed_version(directory, "@anthropic-ai/sdk")
    return ProbeRunner("TypeScript SDK", (node, str(directory / TS_PROBE.name)), version)


@dataclass(frozen=True)
class ClaudeCode:
    command: tuple[str, ...]
    version: str


def install_claude_code(tmp_path_factory) -> ClaudeCode:
    directory = tmp_path_factory.mktemp("claude-code")
    npm_install("Claude Code", directory, "@anthropic-ai/claude-code@latest")
    package = directory / "node_modules" / "@anthropic-ai" / "claude-code"
    candidates = [(str(directory / "node_modules" / ".bin" / "claude"),)]
    if (package / "cli-wrapper.cjs").exists() and shutil.which("node"):  # the package's fallback launcher
        candidates.append((shutil.which("node"), str(package / "cli-wrapper.cjs")))
    problems = []
    for command in candidates:
        try:
            done = run_process([*command, "--version"], timeout=RUN_TIMEOUT,
                               env=client_env(tmp_path_factory.mktemp("claude-home"), **CLAUDE_CODE_QUIET))
        except (ProcessTimeout, OSError) as error:
            problems.append(str(error))
            continue
        if done.returncode == 0 and done.stdout.strip():
            return ClaudeCode(command, done.stdout.strip().split()[0])
        problems.append(f"exit {done.returncode}: {tail(done.stderr or done.stdout, 3)}")
    pytest.skip(f"Claude Code {installed_version(directory, '@anthropic-ai/claude-code')} was installed "
                f"but does not run: {'; '.join(problems)}")


# ---------------------------------------------------------------------------------------------------------------
# Running the SDK probes


def run_probe(runner: ProbeRunner, server, scenario: str, spec: dict, tmp_path: Path) -> dict:
    """The probe's JSON for one scenario against the reference server; fails with the client's own error."""
    args = [*runner.command, server.base_url, scenario, json.dumps({"model": MODEL, "max_tokens": MAX_TOKENS, **spec})]
    env = client_env(tmp_path / "home", PROBE_API_KEY=server.api_key.reveal())
    try:
        done = run_process(args, timeout=RUN_TIMEOUT, env=env, cwd=tmp_path)
    except ProcessTimeout as timeout:
        pytest.fail(f"{runner.name} {runner.version} {scenario}: {timeout}")
    try:
        output = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        pytest.fail(f"{runner.name} {runner.version} {scenario}: no JSON from the probe (exit {done.returncode})\n"
                    f"stdout: {redact(tail(done.stdout), server)}\nstderr: {redact(tail(done.stderr), server)}")
    if "error" in output or done.returncode != 0:
        pytest.fail(f"{runner.name} {output.get('sdk_version')} {scenario} raised: "
                    f"{redact(str(output.get('error')), server)}\nrequests: {output.get('requests')}")
    return output


def assert_dialect(output: dict, auth: str, version: str) -> None:
    """Every request used the client's documented dialect and was answered 200."""
    assert output["requests"], "the client sent no request"
    for request in output["requests"]:
        assert (request["auth"], request["anthropic_version"], request["status"]) == (auth, version, 200), request


def check_plain_prompt(runner: ProbeRunner, server, tmp_path: Path, auth: str, version: str) -> None:
    words = random_words()
    output = run_probe(runner, server, "create", {"prompt": reply_prompt(words)}, tmp_path)
    assert_dialect(output, auth, version)
    assert output["requests"][0]["content_type"].startswith("application/json")
    result = output["result"]
    assert result["text"] == " ".join(words)
    assert result["stop_reason"] == "end_turn"


def check_streamed_prompt(runner: ProbeRunner, server, tmp_path: Path, auth: str, version: str) -> None:
    words = random_words()
    output = run_probe(runner, server, "stream", {"prompt": reply_prompt(words)}, tmp_path)
    assert_dialect(output, auth, version)
    assert output["requests"][0]["content_type"].startswith(SSE_TYPE)
    result = output["result"]
    assert STREAM_EVENTS <= set(result["event_types"]), result["event_types"]
    assert result["event_types"][0] == "message_start" and result["event_types"][-1] == "message_stop"
    assert result["streamed_text"] == " ".join(words)
    assert result["text"] == " ".join(words)
    assert result["stop_reason"] == "end_turn"


def check_tool_round_trip(runner: ProbeRunner, server, tmp_path: Path, auth: str, version: str) -> None:
    name = f"lookup_{random_word()}"
    key, answer = random_word(), " ".join(random_words())
    tool = {
        "name": name,
        "description": "Looks a key up in the probe's table and returns its value.",
        "input_schema": {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]},
    }
    spec = {"prompt": tool_prompt(name, {"key": key}), "tool": tool, "table": {key: answer}}
    output = run_probe(runner, server, "tools", spec, tmp_path)
    assert_dialect(output, auth, version)
    result = output["result"]
    assert result["first"]["stop_reason"] == "tool_use"
    assert [(call["name"], call["input"]) for call in result["tool_calls"]] == [(name, {"key": key})]
    assert result["tool_calls"][0]["id"].startswith("toolu_")
    assert len(output["requests"]) == 2, "the client did not send the tool_result back"
    assert answer in result["final"]["text"]
    assert result["final"]["stop_reason"] == "end_turn"


# ---------------------------------------------------------------------------------------------------------------
# 1. The official Python SDK 2.x: Authorization: Bearer, anthropic-version 2026-10-21


BEARER_2026 = ("authorization", "2026-10-21")
X_API_KEY_2023 = ("x-api-key", "2023-06-01")


def test_the_python_sdk_2_gets_the_exact_words_from_messages_create(python_sdk_2, reference_server, tmp_path):
    check_plain_prompt(python_sdk_2, reference_server, tmp_path, *BEARER_2026)


def test_the_python_sdk_2_streams_the_exact_words_through_messages_stream(python_sdk_2, reference_server, tmp_path):
    check_streamed_prompt(python_sdk_2, reference_server, tmp_path, *BEARER_2026)


def test_the_python_sdk_2_completes_a_tool_round_trip(python_sdk_2, reference_server, tmp_path):
    check_tool_round_trip(python_sdk_2, reference_server, tmp_path, *BEARER_2026)


# ---------------------------------------------------------------------------------------------------------------
# 2. The official Python SDK 1.x: x-api-key, anthropic-version 2023-06-01


def test_the_python_sdk_1_gets_the_exact_words_from_messages_create(python_sdk_1, reference_server, tmp_path):
    check_plain_prompt(python_sdk_1, reference_server, tmp_path, *X_API_KEY_2023)


def test_the_python_sdk_1_streams_the_exact_words_through_messages_stream(python_sdk_1, reference_server, tmp_path):
    check_streamed_prompt(python_sdk_1, reference_server, tmp_path, *X_API_KEY_2023)


def test_the_python_sdk_1_completes_a_tool_round_trip(python_sdk_1, reference_server, tmp_path):
    check_tool_round_trip(python_sdk_1, reference_server, tmp_path, *X_API_KEY_2023)


# ---------------------------------------------------------------------------------------------------------------
# 3. The TypeScript SDK (1.x: Authorization: Bearer, anthropic-version 2026-10-21)


def typescript_dialect(runner: ProbeRunner) -> tuple[str, str]:
    return BEARER_2026 if runner.version.startswith("1.") else X_API_KEY_2023  # 0.x sent x-api-key, 2023-06-01


def test_the_typescript_sdk_gets_the_exact_words_from_messages_create(typescript_sdk, reference_server, tmp_path):
    check_plain_prompt(typescript_sdk, reference_server, tmp_path, *typescript_dialect(typescript_sdk))


def test_the_typescript_sdk_streams_the_exact_words_through_final_message(typescript_sdk, reference_server, tmp_path):
    check_streamed_prompt(typescript_sdk, reference_server, tmp_path, *typescript_dialect(typescript_sdk))


def test_the_typescript_sdk_completes_a_tool_round_trip(typescript_sdk, reference_server, tmp_path):
    check_tool_round_trip(typescript_sdk, reference_server, tmp_path, *typescript_dialect(typescript_sdk))


# ---------------------------------------------------------------------------------------------------------------
# 4. Claude Code, headless (`claude -p`): x-api-key from ANTHROPIC_API_KEY, streams by default


def run_claude(claude: ClaudeCode, server, tmp_path: Path, prompt: str, *options: str) -> Completed:
    """`claude -p PROMPT OPTIONS...` in a fresh project folder with a throwaway HOME; fails on a non-zero exit."""
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    env = client_env(tmp_path / "home", ANTHROPIC_BASE_URL=server.base_url, ANTHROPIC_API_KEY=server.api_key.reveal(),
                     **CLAUDE_CODE_QUIET)
    try:
        done = run_process([*claude.command, "-p", prompt, *options], timeout=RUN_TIMEOUT, env=env, cwd=project)
    except ProcessTimeout as timeout:
        pytest.fail(f"Claude Code {claude.version}: {timeout}")
    if done.returncode != 0:
        pytest.fail(f"Claude Code {claude.version} exited {done.returncode}\n"
                    f"stdout: {redact(tail(done.stdout), server)}\nstderr: {redact(tail(done.stderr), server)}")
    return done


def stream_json(done: Completed) -> list[dict]:
    """The JSON lines of `--output-format stream-json` (anything else on stdout is left out)."""
    lines = []
    for line in done.stdout.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            lines.append(value)
    return lines


def final_result(lines: list[dict]) -> dict:
    results = [line for line in lines if line.get("type") == "result"]
    assert results, f"no result line in the stream-json output: {[line.get('type') for line in lines]}"
    assert results[-1].get("is_error") is False, results[-1]
    return results[-1]


def tool_exchanges(lines: list[dict]) -> tuple[list[dict], list[dict]]:
    """The tool_use blocks the model sent and the tool_result blocks Claude Code answered with."""
    uses, results = [], []
    for line in lines:
        content = (line.get("message") or {}).get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and line.get("type") == "assistant" and block.get("type") == "tool_use":
                uses.append(block)
            if isinstance(block, dict) and line.get("type") == "user" and block.get("type") == "tool_result":
                results.append(block)
    return uses, results


def block_text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(block.get("text", "")) for block in content if isinstance(block, dict))
    return ""


def test_claude_code_prints_the_exact_words_of_a_plain_prompt(claude_code, reference_server, tmp_path):
    words = random_words()
    done = run_claude(claude_code, reference_server, tmp_path, reply_prompt(words), "--output-format", "text")
    assert " ".join(words) in done.stdout, redact(tail(done.stdout), reference_server)


def test_claude_code_streams_the_exact_words_as_text_deltas(claude_code, reference_server, tmp_path):
    words = random_words()
    done = run_claude(claude_code, reference_server, tmp_path, reply_prompt(words),
                      "--output-format", "stream-json", "--verbose", "--include-partial-messages")
    lines = stream_json(done)
    events = [line["event"] for line in lines if line.get("type") == "stream_event" and isinstance(line.get("event"), dict)]
    event_types = [event.get("type") for event in events]
    assert STREAM_EVENTS <= set(event_types), f"Claude Code saw no SSE stream from the server: {event_types}"
    deltas = "".join(event["delta"].get("text", "") for event in events
                     if event.get("type") == "content_block_delta" and event["delta"].get("type") == "text_delta")
    assert " ".join(words) in deltas
    assert " ".join(words) in final_result(lines)["result"]


def test_claude_code_runs_its_bash_tool_and_replies_with_the_output(claude_code, reference_server, tmp_path):
    words = random_words()
    command = f"echo {' '.join(words)} | tr a-z A-Z"  # upper case: text the prompt does not contain
    prompt = tool_prompt("Bash", {"command": command, "description": "Print the probe words in upper case"})
    done = run_claude(claude_code, reference_server, tmp_path, prompt, "--allowedTools", "Bash(echo:*),Bash(tr:*)",
                      "--output-format", "stream-json", "--verbose")
    lines = stream_json(done)
    uses, results = tool_exchanges(lines)
    expected = " ".join(words).upper()
    assert [(use["name"], use["input"].get("command")) for use in uses] == [("Bash", command)]
    assert len(results) == 1 and not results[0].get("is_error"), results
    assert expected in block_text(results[0].get("content"))
    assert expected in final_result(lines)["result"]


def test_claude_code_reads_a_file_with_its_read_tool_and_replies_with_the_content(claude_code, reference_server,
                                                                                  tmp_path):
    words = random_words()
    note = tmp_path / "project" / f"{random_word()}.txt"
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text(" ".join(words) + "\n", encoding="utf-8")  # the words are only in the file, not the prompt
    done = run_claude(claude_code, reference_server, tmp_path, tool_prompt("Read", {"file_path": str(note)}),
                      "--output-format", "text")
    assert " ".join(words) in done.stdout, redact(tail(done.stdout), reference_server)

