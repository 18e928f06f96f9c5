"""Running each real client's scenarios against one base URL and judging each against what the clean server gives.

A scenario is `ok` (as against the clean reference server), `differs` (the client returned, but something a program
reads differs: a stop_reason, an error class, an event sequence) or `failed` (the client raised, exited non-zero,
timed out, or returned the wrong text). Every prompt carries fresh random words, so a right answer cannot be stale.
The SDKs run every scenario in one probe process per target (python_sdk_probe.py / ts_sdk_probe.mjs, `matrix`);
Claude Code runs `claude -p` once per scenario, with a throwaway HOME and project folder.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .install import CLAUDE_CODE_QUIET, Client, ProcessTimeout, client_env, run_process, tail

MODEL = "reference-model"  # the target's model: the reference server's
MAX_TOKENS = 256
OK, DIFFERS, FAILED = "ok", "differs", "failed"
EVIDENCE_LIMIT = 400
# Claude Code retries 401, 429, 5xx and 529 about ten times over minutes by default; every reference fault is
# deterministic, so more retries change the time a run takes, not its outcome. The SDKs keep their default (2).
CLAUDE_CODE_RETRIES = {"CLAUDE_CODE_MAX_RETRIES": "2"}

SDK_SCENARIOS = {
    "create": "messages.create with a plain prompt: the exact words back, stop_reason end_turn",
    "stream": "messages.create(stream=True): message_start ... message_stop, the words in text deltas, end_turn",
    "stream_helper": "messages.stream() iterated, then get_final_message() / finalMessage(): the same words",
    "tools": "a tool round trip: tool_use with the requested input, tool_result sent back, the result in the answer",
    "wrong_key": "a wrong API key raises AuthenticationError",
    "bad_request": "messages: [] raises BadRequestError",
}
CLAUDE_SCENARIOS = {
    "prompt": "claude -p with a plain prompt: exit 0 and the exact words printed",
    "tool": "claude -p asking it to Read a file: it calls Read, and prints the words that are only in the file",
}


@dataclass(frozen=True)
class Column:
    """One column of the matrix: a client, and for Claude Code which model it is run with."""

    id: str
    client: str  # a key of install.INSTALLERS
    label: str
    scenarios: dict[str, str]
    main: str
    model: str | None = None  # Claude Code: None = its own default model


COLUMNS = [
    Column("claude-code", "claude-code", "Claude Code, its default model", CLAUDE_SCENARIOS, "prompt"),
    Column("claude-code-model", "claude-code", f"Claude Code, --model {MODEL} (the target's model)",
           CLAUDE_SCENARIOS, "prompt", MODEL),
    Column("python-sdk-2", "python-sdk-2", "Python SDK 2.x", SDK_SCENARIOS, "create"),
    Column("python-sdk-1", "python-sdk-1", "Python SDK 1.x", SDK_SCENARIOS, "create"),
    Column("typescript-sdk", "typescript-sdk", "TypeScript SDK", SDK_SCENARIOS, "create"),
]


@dataclass
class ScenarioResult:
    scenario: str
    status: str  # ok | differs | failed
    evidence: str = ""
    seconds: float = 0.0


# ---------------------------------------------------------------------------------------------------------------
# Random words and prompts (the reference server's directives: see reference_server/directives.py)


def random_word() -> str:
    syllables = "".join(secrets.choice("bdfgklmnprstvz") + secrets.choice("aeiou") for _ in range(3))
    return f"{syllables}{10 + secrets.randbelow(90)}"


def random_words(count: int = 3) -> list[str]:
    return [random_word() for _ in range(count)]


def reply_prompt(words: list[str]) -> str:
    return "Reply with exactly: " + " ".join(words)


def tool_prompt(name: str, tool_input: dict) -> str:
    return f"Call the tool {name} with input {json.dumps(tool_input)}\nThen reply with exactly the tool result."


def trim(text: str, limit: int = EVIDENCE_LIMIT) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Redactor:
    """Takes the key, the base URL and throwaway paths out of evidence (none of them belongs in a committed file)."""

    def __init__(self, *secrets_and_paths: tuple[str, str]) -> None:
        self.pairs = [(value, mark) for value, mark in secrets_and_paths if value]

    def __call__(self, text: str) -> str:
        for value, mark in self.pairs:
            text = text.replace(value, mark)
        return text


# ---------------------------------------------------------------------------------------------------------------
# The SDKs: one probe process, every scenario


def sdk_spec(timeout: float, model: str = MODEL) -> tuple[dict, dict]:
    """The probe's SPEC_JSON and what each scenario must give back."""
    words, key, answer = random_words(), random_word(), " ".join(random_words())
    name = f"lookup_{random_word()}"
    tool = {"name": name, "description": "Looks a key up in the probe's table and returns its value.",
            "input_schema": {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]}}
    spec = {"model": model, "max_tokens": MAX_TOKENS, "timeout": timeout, "prompt": reply_prompt(words),
            "tool": tool, "table": {key: answer}, "tool_prompt": tool_prompt(name, {"key": key})}
    return spec, {"text": " ".join(words), "tool": name, "key": key, "answer": answer}


def statuses(record: dict) -> str:
    codes = [str(r.get("status", "-")) for r in record.get("requests") or []]
    return f" [HTTP {', '.join(codes)}]" if codes else " [no HTTP response]"


def _text_status(result: dict, expect: dict, what: str) -> tuple[str, str]:
    if expect["text"] not in (result.get("text") or ""):
        return FAILED, f"wrong text from {what}: expected {expect['text']!r}, got {trim(result.get('text'), 120)!r}"
    if result.get("stop_reason") != "end_turn":
        return DIFFERS, f"stop_reason {result.get('stop_reason')!r}, expected 'end_turn'"
    return OK, ""


def judge_sdk(scenario: str, record: dict, expect: dict) -> tuple[str, str]:
    """(status, evidence) of one SDK scenario from the probe's record; pure, so that it is unit-tested."""
    if record.get("timeout"):
        return FAILED, record.get("error", "timed out") + statuses(record)
    expected_error = {"wrong_key": "AuthenticationError", "bad_request": "BadRequestError"}.get(scenario)
    if expected_error:
        if record.get("error_class") == expected_error:
            return OK, ""
        if "error" in record:
            return DIFFERS, f"expected {expected_error}, got {record['error']}" + statuses(record)
        return DIFFERS, f"expected {expected_error}, got no exception (the request succeeded)" + statuses(record)
    if "error" in record or "result" not in record:
        return FAILED, record.get("error", "no result") + statuses(record)
    result = record["result"]
    if scenario == "create":
        return _text_status(result, expect, "messages.create")
    if scenario in ("stream", "stream_helper"):
        events = result.get("event_types") or []
        if expect["text"] not in (result.get("streamed_text") or ""):
            return FAILED, (f"the text deltas do not carry the words: expected {expect['text']!r}, got "
                            f"{trim(result.get('streamed_text'), 120)!r} (events: {trim(','.join(events), 160)})")
        status, evidence = _text_status(result, expect, "the final message" if scenario == "stream_helper" else "the stream")
        if status != OK:
            return status, evidence
        if not events or events[0] != "message_start" or events[-1] != "message_stop":
            return DIFFERS, f"event sequence {trim(','.join(events), 200)}"
        return OK, ""
    if scenario == "tools":
        calls = [(c.get("name"), c.get("input")) for c in result.get("tool_calls") or []]
        if calls != [(expect["tool"], {"key": expect["key"]})]:
            first = result.get("first") or {}
            return FAILED, (f"expected one call {expect['tool']}({{'key': {expect['key']!r}}}), got {trim(calls, 160)} "
                            f"(stop_reason {first.get('stop_reason')!r})")
        first, final = result.get("first") or {}, result.get("final") or {}
        if expect["answer"] not in (final.get("text") or ""):
            return FAILED, f"the tool result is not in the answer: got {trim(final.get('text'), 120)!r}"
        if first.get("stop_reason") != "tool_use" or final.get("stop_reason") != "end_turn":
            return DIFFERS, f"stop_reason {first.get('stop_reason')!r} then {final.get('stop_reason')!r}"
        return OK, ""
    raise ValueError(f"unknown scenario {scenario}")


def run_sdk(client: Client, base_url: str, api_key: str, timeout: float, redact: Redactor,
            model: str = MODEL) -> list[ScenarioResult]:
    """Every SDK scenario in one probe process (with `model`); the process itself is bounded too."""
    spec, expect = sdk_spec(timeout, model)
    work = Path(tempfile.mkdtemp(prefix="cm-sdk-"))
    limit = timeout * len(SDK_SCENARIOS) + 30
    try:
        done = run_process([*client.command, base_url, "matrix", json.dumps(spec)], timeout=limit,
                           env=client_env(work / "home", PROBE_API_KEY=api_key), cwd=work)
    except ProcessTimeout:
        return [ScenarioResult(s, FAILED, f"the probe process timed out after {limit:.0f} s") for s in SDK_SCENARIOS]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    try:
        records = json.loads(done.stdout.strip().splitlines()[-1])["scenarios"]
    except (IndexError, ValueError, KeyError, TypeError):
        why = redact(trim(f"no JSON from the probe (exit {done.returncode}): {tail(done.stderr, 3)}"))
        return [ScenarioResult(s, FAILED, why) for s in SDK_SCENARIOS]
    out = []
    for scenario in SDK_SCENARIOS:
        record = records.get(scenario) or {"error": "not run by the probe"}
        status, evidence = judge_sdk(scenario, record, expect)
        out.append(ScenarioResult(scenario, status, redact(trim(evidence)), float(record.get("seconds") or 0)))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Claude Code: `claude -p`, one process per scenario


def result_line(stdout: str) -> dict | None:
    """The `--output-format json` result object (the last JSON object on stdout with type result)."""
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and value.get("type") == "result":
            return value
    return None


def judge_claude(returncode: int | None, stdout: str, stderr: str, expected: str, seconds: float,
                 timeout: float) -> tuple[str, str, list[str]]:
    """(status, evidence, models used) of one `claude -p` run; pure, so that it is unit-tested."""
    if returncode is None:
        return FAILED, f"timed out after {timeout:.0f} s", []
    result = result_line(stdout)
    models = sorted((result or {}).get("modelUsage") or {})
    said = trim(tail(stderr, 4), 200)
    said = f" | stderr: {said}" if said else ""
    if result is None:
        return FAILED, f"exit {returncode}, no result: {trim(tail(stdout, 4), 200)}{said}", models
    text = str(result.get("result") or "")
    if returncode != 0 or result.get("is_error"):
        return FAILED, f"exit {returncode}: {trim(text, 300)}{said}", models
    if expected not in text:
        return FAILED, f"wrong text: expected {expected!r}, got {trim(text, 160)!r}", models
    return OK, "", models


def with_exchanges(status: str, evidence: str, statuses: list[int]) -> tuple[str, str]:
    """A Claude Code run judged with the statuses of its POST /v1/messages: the clean server answers every one 200,
    so a run that got the right answer only after a rejected request (Claude Code resends it without what was
    rejected: a role: system message, context_management) differs; a failed run names the statuses it got."""
    seen = f"[POST /v1/messages: HTTP {', '.join(map(str, statuses))}]" if statuses else "[no POST /v1/messages]"
    if status == OK and any(code != 200 for code in statuses):
        return DIFFERS, f"right answer, but only after a rejected request: Claude Code resent it {seen}"
    if status == OK:
        return OK, ""
    return status, f"{evidence} {seen}"


def run_claude_code(client: Client, base_url: str, api_key: str, model: str | None, timeout: float,
                    redact: Redactor, exchanges=None) -> tuple[list[ScenarioResult], list[str]]:
    """`claude -p` for each scenario; `exchanges`, when given, is a callable `() -> read` where `read()` gives the
    statuses of the POST /v1/messages the server answered since the call (see server.RecordingApp)."""
    out, models = [], set()
    for scenario in CLAUDE_SCENARIOS:
        if out and out[0].evidence.startswith("timed out"):  # the same requests again would only time out again
            out.append(ScenarioResult(scenario, FAILED, f"not run: the plain prompt {out[0].evidence}"))
            continue
        work = Path(tempfile.mkdtemp(prefix="cm-claude-"))
        project = work / "project"
        project.mkdir()
        words = random_words()
        expected = " ".join(words)
        if scenario == "prompt":
            prompt = reply_prompt(words)
        else:  # the words are only in the file, not in the prompt
            note = project / f"{random_word()}.txt"
            note.write_text(expected + "\n", encoding="utf-8")
            prompt = tool_prompt("Read", {"file_path": str(note)})
        env = client_env(work / "home", ANTHROPIC_BASE_URL=base_url, ANTHROPIC_API_KEY=api_key, **CLAUDE_CODE_QUIET,
                         **CLAUDE_CODE_RETRIES)
        args = [*client.command, "-p", prompt, "--output-format", "json", *(["--model", model] if model else [])]
        local = Redactor((str(project), "<project>"), (str(work), "<tmp>"))
        read = exchanges() if exchanges else None
        try:
            done = run_process(args, timeout=timeout, env=env, cwd=project)
            status, evidence, used = judge_claude(done.returncode, done.stdout, done.stderr, expected, done.seconds,
                                                  timeout)
            seconds = done.seconds
        except ProcessTimeout:
            status, evidence, used, seconds = FAILED, f"timed out after {timeout:.0f} s", [], timeout
        finally:
            shutil.rmtree(work, ignore_errors=True)
        models.update(used)
        if read is not None:
            status, evidence = with_exchanges(status, evidence, read())
        out.append(ScenarioResult(scenario, status, redact(local(evidence)), round(seconds, 2)))
    return out, sorted(models)
