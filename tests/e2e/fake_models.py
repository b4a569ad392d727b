"""Fake model APIs on 127.0.0.1 for the real coding-agent CLIs: Anthropic, OpenAI Responses and Gemini.

One stdlib HTTP server answers all three (their paths don't overlap), just enough for one headless turn
each (what the CLIs ask is in ../shared/real-clis.md):

* `POST /v1/messages` (Claude Code): Messages SSE;
* `POST /v1/responses` (Codex): Responses SSE;
* `POST /v1beta/models/<model>:streamGenerateContent` (Gemini CLI, `?alt=sse`), `:generateContent` (its
  router and other JSON-schema side calls) and `:countTokens`.

Mode "ok": the first answer of a turn is one shell tool call (`command`); once the *last* message is that
tool's result, a text answer (`answer`). A request that offers no tools gets text (side calls).
Mode "fail": every model call gets `status` (500 or 401) with that API's error body.

`command` is read again on every request, so a test can change it between turns (a fresh tool call id each
time); `escalate=True` makes Codex's call ask to leave its sandboxes (`sandbox_permissions: require_escalated`),
which is what shows the interactive TUI's approval prompt and fires its PermissionRequest hook.

    with FakeModels(mode="ok", command="echo hi", answer="hi") as fake:
        ...  # point the CLI at fake.url; fake.requests lists (path, parsed JSON body)

Also runnable by hand: `python tests/e2e/fake_models.py --port 18081 [--fail 500]`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES = ("ok", "fail")
USAGE_ANTHROPIC = {"input_tokens": 12, "output_tokens": 6}
USAGE_OPENAI = {
    "input_tokens": 12,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 6,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 18,
}
USAGE_GEMINI = {"promptTokenCount": 12, "candidatesTokenCount": 6, "totalTokenCount": 18}


class FakeModels:
    """The three fake APIs on one free port of 127.0.0.1, served from a thread; a context manager."""

    def __init__(
        self,
        mode: str = "ok",
        *,
        status: int = 500,
        command: str = "echo hi",
        answer: str = "hi",
        port: int = 0,
        escalate: bool = False,
    ) -> None:
        assert mode in MODES, f"mode is one of {MODES}"
        assert status in (401, 500), "a failure is 401 or 500"
        self.mode, self.status, self.command, self.answer = mode, status, command, answer
        self.escalate = escalate
        self.requests: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        with self._lock:
            return [path for path, _ in self.requests]

    def start(self) -> FakeModels:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeModels:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, path: str, body: Any) -> int:
        """Keep the request; its number (1, 2, …), for ids that differ from one answer to the next."""
        with self._lock:
            self.requests.append((path, body))
            return len(self.requests)


# -- what each API answers ---------------------------------------------------------------------------
Reply = tuple[int, str, bytes]  # status, content type, body


def _sse(events: list[tuple[str | None, dict[str, Any]]]) -> bytes:
    frames = []
    for name, data in events:
        head = f"event: {name}\n" if name else ""
        frames.append(f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n")
    return "".join(frames).encode()


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


# Anthropic Messages --------------------------------------------------------------------------------
def anthropic(fake: FakeModels, body: dict[str, Any], number: int = 1) -> Reply:
    if fake.mode == "fail":
        kind = "authentication_error" if fake.status == 401 else "api_error"
        return (
            fake.status,
            "application/json",
            _json({"type": "error", "error": {"type": kind, "message": "fake failure"}}),
        )
    messages = body.get("messages") or [{}]
    last = messages[-1].get("content")
    answered = isinstance(last, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in last)
    if answered or not body.get("tools"):
        block: dict[str, Any] = {"type": "text", "text": ""}
        delta = {"type": "text_delta", "text": fake.answer}
        content: dict[str, Any] = {"type": "text", "text": fake.answer}
        stop = "end_turn"
    else:
        block = {"type": "tool_use", "id": f"toolu_fake_{number}", "name": "Bash", "input": {}}
        arguments = {"command": fake.command, "description": "Run a command"}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(arguments)}
        content = {**block, "input": arguments}
        stop = "tool_use"
    message = {
        "id": "msg_fake_1",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "fake"),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": USAGE_ANTHROPIC,
    }
    if not body.get("stream"):
        done = {**message, "content": [content], "stop_reason": stop}
        return 200, "application/json", _json(done)
    return (
        200,
        "text/event-stream",
        _sse(
            [
                ("message_start", {"type": "message_start", "message": message}),
                ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}),
                ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
                ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                (
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": stop, "stop_sequence": None},
                        "usage": {"output_tokens": 6},
                    },
                ),
                ("message_stop", {"type": "message_stop"}),
            ]
        ),
    )


# OpenAI Responses ----------------------------------------------------------------------------------
def openai(fake: FakeModels, body: dict[str, Any], number: int = 1) -> Reply:
    if fake.mode == "fail":
        kind = "invalid_api_key" if fake.status == 401 else "server_error"
        return (
            fake.status,
            "application/json",
            _json({"error": {"message": "fake failure", "type": kind, "code": kind}}),
        )
    items = body.get("input") or [{}]
    last = items[-1] if isinstance(items[-1], dict) else {}
    response = {
        "id": "resp_fake_1",
        "object": "response",
        "status": "in_progress",
        "model": body.get("model"),
        "output": [],
    }
    events: list[tuple[str | None, dict[str, Any]]] = [
        ("response.created", {"type": "response.created", "response": response}),
    ]
    if last.get("type") == "function_call_output" or not body.get("tools"):
        item: dict[str, Any] = {
            "type": "message",
            "id": "msg_fake_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": fake.answer, "annotations": []}],
        }
        events += [
            (
                "response.output_item.added",
                {
                    "type": "response.output_item.added",
                    "output_index": 0,
                    "item": {**item, "status": "in_progress", "content": []},
                },
            ),
            (
                "response.output_text.delta",
                {
                    "type": "response.output_text.delta",
                    "item_id": "msg_fake_1",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": fake.answer,
                },
            ),
        ]
    else:
        arguments: dict[str, str] = {"cmd": fake.command}
        if fake.escalate:
            arguments |= {"sandbox_permissions": "require_escalated", "justification": "Allow creating a file?"}
        item = {
            "type": "function_call",
            "id": f"fc_fake_{number}",
            "call_id": f"call_fake_{number}",
            "name": "exec_command",
            "arguments": json.dumps(arguments),
            "status": "completed",
        }
    events += [
        ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}),
        (
            "response.completed",
            {
                "type": "response.completed",
                "response": {**response, "status": "completed", "output": [item], "usage": USAGE_OPENAI},
            },
        ),
    ]
    return 200, "text/event-stream", _sse(events)


# Gemini --------------------------------------------------------------------------------------------
def _example(schema: Any) -> Any:
    """The simplest value a JSON schema accepts (the router and other side calls want schema-shaped JSON)."""
    if not isinstance(schema, dict):
        return None
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    kind = (kind[0] if kind else None) if isinstance(kind, list) else kind
    kind = kind.lower() if isinstance(kind, str) else kind
    if kind == "object" or "properties" in schema:
        return {name: _example(sub) for name, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return False
    return "simple"


def _candidate(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": USAGE_GEMINI,
    }


def gemini(fake: FakeModels, path: str, body: dict[str, Any]) -> Reply:
    if path.endswith(":countTokens"):
        return 200, "application/json", _json({"totalTokens": 12})
    if fake.mode == "fail":
        status = "UNAUTHENTICATED" if fake.status == 401 else "INTERNAL"
        return (
            fake.status,
            "application/json",
            _json({"error": {"code": fake.status, "message": "fake failure", "status": status}}),
        )
    config = body.get("generationConfig") or {}
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    if config.get("responseMimeType") == "application/json" or schema:
        parts = [{"text": json.dumps(_example(schema) if schema else {})}]
    else:
        contents = body.get("contents") or [{}]
        last_parts = contents[-1].get("parts") or []
        answered = any(isinstance(p, dict) and "functionResponse" in p for p in last_parts)
        declared = {fn.get("name") for tool in body.get("tools") or [] for fn in tool.get("functionDeclarations") or []}
        if answered or "run_shell_command" not in declared:
            parts = [{"text": fake.answer}]
        else:
            parts = [{"functionCall": {"name": "run_shell_command", "args": {"command": fake.command}}}]
    if ":streamGenerateContent" in path:
        return 200, "text/event-stream", _sse([(None, _candidate(parts))])
    return 200, "application/json", _json(_candidate(parts))


# -- HTTP --------------------------------------------------------------------------------------------
def _handler(fake: FakeModels) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            path = self.path.partition("?")[0]
            number = fake.record(self.path, body)
            if path == "/v1/messages":
                reply = anthropic(fake, body, number)
            elif path == "/v1/responses":
                reply = openai(fake, body, number)
            elif path.startswith("/v1beta/models/"):
                reply = gemini(fake, path, body)
            else:
                reply = 404, "application/json", _json({"error": {"message": f"no fake for {path}"}})
            self._send(*reply)

        def do_GET(self) -> None:
            fake.record(self.path, None)
            self._send(404, "application/json", _json({"error": {"message": "no GET here"}}))

        def _send(self, status: int, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            if kind == "text/event-stream":
                self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Anthropic / OpenAI Responses / Gemini APIs on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fail", type=int, choices=(401, 500), help="answer every model call with this status")
    parser.add_argument("--command", default="echo hi", help="the shell command of the tool call")
    parser.add_argument("--answer", default="hi", help="the text answer after the tool result")
    args = parser.parse_args(argv)
    fake = FakeModels(
        "fail" if args.fail else "ok", status=args.fail or 500, command=args.command, answer=args.answer, port=args.port
    )
    print(f"fake models on {fake.url} (mode {fake.mode})", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        fake._server.serve_forever()


if __name__ == "__main__":
    _main()
