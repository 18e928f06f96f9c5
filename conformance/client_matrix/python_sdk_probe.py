"""Run one scenario with whichever official `anthropic` Python SDK is importable (1.x or 2.x); print JSON.

Usage: python python_sdk_probe.py BASE_URL SCENARIO SPEC_JSON, with the key in $PROBE_API_KEY.
Used by tests/integration (one scenario per process) and by conformance.client_matrix (`matrix`: every scenario in
one process, each bounded by SPEC_JSON's `timeout`, the client's own error recorded per scenario).

SCENARIO is `create` (messages.create), `stream` (messages.stream(), its events, then get_final_message())
or `tools` (a tool round trip: create with a tool, run the tool, send the tool_result, create again).
SPEC_JSON is {"model", "max_tokens", "prompt"} and, for `tools`, {"tool": <definition>, "table": {key: value}}:
the tool looks the value of its `key` input up in `table`.

Prints one JSON object: the SDK version, one record per HTTP exchange (which auth header was sent, never its
value; anthropic-version; the response status and content type) and the scenario's result, or `error`
(then the exit code is 1). Runs with the standard library and the SDK only, so any virtualenv can run it.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

import anthropic


def auth_dialect(headers) -> str:
    names = [name for name in ("x-api-key", "authorization") if headers.get(name)]
    return "+".join(names) or "none"


def block_dict(block) -> dict:
    """A response content block as a request content block (what a client replays in the next turn)."""
    data = block.to_dict() if hasattr(block, "to_dict") else block.model_dump(exclude_none=True)
    return {key: value for key, value in data.items() if value is not None and key != "parsed_output"}


def text_of(message) -> str:
    return "".join(getattr(block, "text", "") for block in message.content if block.type == "text")


def summary(message) -> dict:
    return {
        "id": message.id,
        "text": text_of(message),
        "stop_reason": message.stop_reason,
        "content_types": [block.type for block in message.content],
    }


def run_create(client, spec: dict) -> dict:
    message = client.messages.create(
        model=spec["model"], max_tokens=spec["max_tokens"], messages=[{"role": "user", "content": spec["prompt"]}]
    )
    return summary(message)


def run_stream(client, spec: dict) -> dict:
    event_types: list[str] = []
    deltas: list[str] = []
    with client.messages.stream(
        model=spec["model"], max_tokens=spec["max_tokens"], messages=[{"role": "user", "content": spec["prompt"]}]
    ) as stream:
        for event in stream:
            event_types.append(event.type)
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                deltas.append(event.delta.text)
        final = stream.get_final_message()
    return {**summary(final), "event_types": event_types, "streamed_text": "".join(deltas)}


def run_tools(client, spec: dict) -> dict:
    tool, table = spec["tool"], spec["table"]
    messages: list[dict] = [{"role": "user", "content": spec["prompt"]}]
    first = client.messages.create(model=spec["model"], max_tokens=spec["max_tokens"], tools=[tool], messages=messages)
    calls = [block for block in first.content if block.type == "tool_use"]
    result: dict = {"first": summary(first), "tool_calls": [{"id": c.id, "name": c.name, "input": c.input} for c in calls]}
    if not calls:
        return result
    messages.append({"role": "assistant", "content": [block_dict(block) for block in first.content]})
    tool_results = []
    for call in calls:
        key = call.input.get("key") if isinstance(call.input, dict) else None
        found = call.name == tool["name"] and key in table
        tool_results.append({
            "type": "tool_result",
            "tool_use_id": call.id,
            "content": table[key] if found else f"no entry for {key!r} in {call.name}",
            "is_error": not found,
        })
    messages.append({"role": "user", "content": tool_results})
    final = client.messages.create(model=spec["model"], max_tokens=spec["max_tokens"], tools=[tool], messages=messages)
    result["final"] = summary(final)
    return result


SCENARIOS = {"create": run_create, "stream": run_stream, "tools": run_tools}


# ---------------------------------------------------------------------------------------------------------------
# `matrix`: every scenario in one process, with the SDK's default retries, each bounded in time


def run_raw_stream(client, spec: dict) -> dict:
    """messages.create(stream=True): the raw events, without the SDK's accumulating helper."""
    event_types: list[str] = []
    deltas: list[str] = []
    stop_reason = None
    stream = client.messages.create(model=spec["model"], max_tokens=spec["max_tokens"], stream=True,
                                    messages=[{"role": "user", "content": spec["prompt"]}])
    with stream:
        for event in stream:
            event_types.append(event.type)
            if event.type == "content_block_delta" and getattr(event.delta, "type", None) == "text_delta":
                deltas.append(event.delta.text)
            if event.type == "message_delta":
                stop_reason = event.delta.stop_reason
    return {"event_types": event_types, "streamed_text": "".join(deltas), "text": "".join(deltas),
            "stop_reason": stop_reason}


def run_wrong_key(client, spec: dict) -> dict:
    wrong = client.with_options(api_key="sk-ant-wrong-" + "0" * 24)
    message = wrong.messages.create(model=spec["model"], max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    return {"no_exception": True, **summary(message)}


def run_bad_request(client, spec: dict) -> dict:
    message = client.messages.create(model=spec["model"], max_tokens=16, messages=[])
    return {"no_exception": True, **summary(message)}


def run_matrix_tools(client, spec: dict) -> dict:
    return run_tools(client, dict(spec, prompt=spec["tool_prompt"]))


MATRIX = {"create": run_create, "stream": run_raw_stream, "stream_helper": run_stream, "tools": run_matrix_tools,
          "wrong_key": run_wrong_key, "bad_request": run_bad_request}


def error_text(exc: BaseException) -> dict:
    status = getattr(exc, "status_code", None)
    text = str(exc)
    if not text:  # a bare assertion inside the SDK: say where it was raised
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        text = f"(raised at {frame.filename.replace(os.sep, '/').rsplit('site-packages/', 1)[-1]}:{frame.lineno})"
    return {"error_class": type(exc).__name__, "error": f"{type(exc).__name__}: {text}"[:600], "status": status}


def run_matrix(base_url: str, spec: dict) -> dict:
    import threading
    import time

    limit = float(spec.get("timeout", 20))
    results: dict = {}
    for name, scenario in MATRIX.items():
        requests: list[dict] = []
        box: dict = {}

        def on_request(request, requests=requests) -> None:
            requests.append({"method": request.method, "path": request.url.path, "auth": auth_dialect(request.headers)})

        def on_response(response, requests=requests) -> None:
            if requests:
                requests[-1].update(status=response.status_code, content_type=response.headers.get("content-type"))

        def work(scenario=scenario, requests=requests, box=box) -> None:
            try:
                http_client = anthropic.DefaultHttpxClient(event_hooks={"request": [on_request], "response": [on_response]})
                client = anthropic.Anthropic(api_key=os.environ["PROBE_API_KEY"], base_url=base_url, timeout=limit,
                                             http_client=http_client)
                box["result"] = scenario(client, spec)
            except Exception as exc:  # the client's own error is the evidence
                box.update(error_text(exc))

        started = time.monotonic()
        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        thread.join(limit)
        record = dict(box) if not thread.is_alive() else {"timeout": True, "error": f"timed out after {limit:.0f} s"}
        record.update(requests=list(requests), seconds=round(time.monotonic() - started, 2))
        results[name] = record
    return results


def main(argv: list[str]) -> int:
    base_url, scenario, spec = argv[1], argv[2], json.loads(argv[3])
    if scenario == "matrix":
        print(json.dumps({"sdk_version": anthropic.__version__, "scenarios": run_matrix(base_url, spec)}), flush=True)
        os._exit(0)  # a scenario thread that timed out may still hold a connection: do not wait for it
    requests: list[dict] = []

    def on_request(request) -> None:
        requests.append({
            "method": request.method,
            "path": request.url.path,
            "auth": auth_dialect(request.headers),
            "anthropic_version": request.headers.get("anthropic-version"),
        })

    def on_response(response) -> None:
        if requests:
            requests[-1].update(status=response.status_code, content_type=response.headers.get("content-type"))

    http_client = anthropic.DefaultHttpxClient(event_hooks={"request": [on_request], "response": [on_response]})
    output: dict = {"sdk_version": anthropic.__version__, "requests": requests}
    try:
        with anthropic.Anthropic(
            api_key=os.environ["PROBE_API_KEY"], base_url=base_url, max_retries=0, timeout=60.0, http_client=http_client
        ) as client:
            output["result"] = SCENARIOS[scenario](client, spec)
    except Exception as exc:  # reported to the test as JSON, with where the SDK raised it
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{frame.filename.replace(os.sep, '/').rsplit('site-packages/', 1)[-1]}:{frame.lineno}"
        output["error"] = f"{type(exc).__module__}.{type(exc).__name__}: {exc} (raised at {where})"
        print(json.dumps(output))
        return 1
    print(json.dumps(output))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
