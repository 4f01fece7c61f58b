"""A stand-in Ollama server on loopback, for what the real one will not do on demand.

The real server is in tests/integration; this one streams forever, stalls, or ignores
`num_predict`, so that the ways smallagent ends a request can be tested in a second. It speaks just
enough of Ollama's HTTP API (stdlib http.server, one thread per connection): /api/version,
/api/tags, /api/show, a streamed /api/chat whose chunks come from a `Script`, and an /api/pull
that fails as it does when the registry cannot be reached.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

MODEL = "standin:1b"
PULL_FAILURE = "dial tcp: lookup registry.ollama.ai: no such host"
Script = Callable[[dict[str, Any]], Iterator[dict[str, Any] | float]]  # chunks, or seconds to wait


def chunk(content: str = "", **message: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": content, **message},
        "done": False,
    }


def final(reason: str = "stop", prompt_tokens: int = 50, generated: int = 1) -> dict[str, Any]:
    return {
        **chunk(),
        "done": True,
        "done_reason": reason,
        "total_duration": 2_000_000_000,
        "load_duration": 100_000_000,
        "prompt_eval_count": prompt_tokens,
        "prompt_eval_duration": 500_000_000,
        "eval_count": generated,
        "eval_duration": 1_000_000_000,
    }


def distinct_words(
    request: dict[str, Any], delay_s: float = 0.0
) -> Iterator[dict[str, Any] | float]:
    """Never the same word twice and never done: only a cap or a clock can end it."""
    number = 0
    while True:
        number += 1
        yield chunk(f"w{number} ")
        if delay_s:
            yield delay_s


def slow_words(request: dict[str, Any]) -> Iterator[dict[str, Any] | float]:
    return distinct_words(request, delay_s=0.02)


def looping(request: dict[str, Any]) -> Iterator[dict[str, Any] | float]:
    """A model caught in a loop: the same sentence, a token at a time, forever."""
    while True:
        for token in ("Let", " me", " look", " that", " up", ".", " "):
            yield chunk(token)


def stalled(request: dict[str, Any]) -> Iterator[dict[str, Any] | float]:
    """Accepts the request and sends nothing, as a server still reading a long prompt does."""
    while True:
        yield 0.05


def honours_the_cap(request: dict[str, Any]) -> Iterator[dict[str, Any] | float]:
    """What Ollama does with num_predict: stops there, done_reason "length", its own counters."""
    cap = int(request.get("options", {}).get("num_predict", 10))
    for number in range(cap):
        yield chunk(f"w{number} ")
    yield final("length", generated=cap)


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up between requests is the client's business, not a test's output.

    socketserver prints a traceback to sys.stderr for an error in a handler thread, and under
    CliRunner sys.stderr is the command's captured output: a reset read of the next keep-alive
    request would land in a test's assertion on that output.
    """

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class StandInOllama:
    """Use as a context manager; `host` is its URL. `script` answers each /api/chat request."""

    def __init__(self, script: Script, tools: bool = True) -> None:
        self.script = script
        self.capabilities = ["completion", "tools"] if tools else ["completion"]
        self.chats: list[dict[str, Any]] = []  # every /api/chat body received
        self.disconnects: list[float] = []  # when a client was found gone mid-stream
        self.stopping = threading.Event()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> StandInOllama:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _json(self, body: Any, status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/api/version":
                    self._json({"version": "0.0.0-standin"})
                elif self.path == "/api/tags":
                    self._json({"models": [{"model": MODEL, "name": MODEL}]})
                else:
                    self._json({"error": "not found"}, 404)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/api/show":
                    self._json(
                        {
                            "capabilities": standin.capabilities,
                            "details": {"family": "qwen2", "parameter_size": "1.5B",
                                        "quantization_level": "Q4_K_M"},
                            "model_info": {"qwen2.context_length": 32768},
                        }
                    )  # fmt: skip
                elif self.path == "/api/chat":
                    standin.chats.append(body)
                    self._stream(standin.script(body))
                elif self.path == "/api/pull":  # what a server says when its registry is offline
                    self._json({"error": f"pull model manifest: {PULL_FAILURE}"}, 500)
                else:
                    self._json({"error": "not found"}, 404)

            def _stream(self, parts: Iterator[dict[str, Any] | float]) -> None:
                headers_sent = False
                started = time.monotonic()
                try:
                    for part in parts:
                        if standin.stopping.is_set() or time.monotonic() - started > 60:
                            return  # a bound for the stand-in itself, should a client never leave
                        if isinstance(part, float):
                            time.sleep(part)
                            continue
                        if not headers_sent:
                            self.send_response(200)
                            self.send_header("Content-Type", "application/x-ndjson")
                            self.send_header("Transfer-Encoding", "chunked")
                            self.end_headers()
                            headers_sent = True
                        line = json.dumps(part).encode() + b"\n"
                        self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                        self.wfile.flush()
                        if part.get("done"):
                            break
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    standin.disconnects.append(time.monotonic())
                    self.close_connection = True

        return Handler
