"""The ceiling: a bare ASGI app answering a fixed Message (JSON or SSE) on the reference server's uvicorn stack."""

# python -m bench.bare_app --json FILE --sse FILE
#
# It binds a free loopback port, prints its base URL on the first stdout line (as `python -m reference_server`
# does) and serves with the settings of reference_server/server.py: uvicorn, loop and http "auto" (uvloop and
# httptools when installed), log level warning, no access log, no lifespan. Every POST reads the whole request body
# and parses it as JSON (the least a real server does), then answers the recorded JSON body, or, for
# "stream": true, the recorded SSE body one event per chunk (chunked transfer encoding), as the reference server
# writes it.

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import uvicorn

from reference_server.server import base_url, bind

REQUEST_ID = "req_011CbenchBareAsgiAppFixed"
JSON_HEADERS = [(b"content-type", b"application/json"), (b"request-id", REQUEST_ID.encode())]
SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
               (b"request-id", REQUEST_ID.encode())]


def split_events(body: bytes) -> list[bytes]:
    """An SSE body (LF line ends) cut into its events, each with its blank line."""
    return [part + b"\n\n" for part in body.split(b"\n\n") if part]


class BareApp:
    """A fixed answer for every request: the least an ASGI app on this stack can do per request."""

    def __init__(self, json_body: bytes, sse_body: bytes) -> None:
        self.json_body = json_body
        self.json_headers = [*JSON_HEADERS, (b"content-length", str(len(json_body)).encode())]
        self.sse_chunks = split_events(sse_body)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        try:
            request = json.loads(b"".join(chunks) or b"{}")
        except ValueError:
            request = {}
        if isinstance(request, dict) and request.get("stream") is True:
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            for chunk in self.sse_chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await send({"type": "http.response.start", "status": 200, "headers": self.json_headers})
        await send({"type": "http.response.body", "body": self.json_body})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_app", description=__doc__)
    parser.add_argument("--json", required=True, help="file holding the JSON body to answer")
    parser.add_argument("--sse", required=True, help="file holding the SSE body to answer to stream: true")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args(argv)
    app = BareApp(Path(options.json).read_bytes(), Path(options.sse).read_bytes())
    sock = bind(options.host, options.port)
    print(base_url(sock), flush=True)
    config = uvicorn.Config(app, loop="auto", http="auto", log_level="warning", access_log=False, lifespan="off")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()


if __name__ == "__main__":
    main()
