"""A recording proxy on loopback in front of Ollama: the one place every agent's tokens come from.

Each agent talks to the same Ollama server through its own proxy, native API (`/api/chat`) or
OpenAI-compatible (`/v1/chat/completions`), streamed or not. The proxy passes requests and responses
through unchanged (a streamed response is relayed chunk by chunk as it arrives) and records, per
model request: the seconds the server took, the prompt and generated token counts the server
reported, and the text of the request's messages, which the harness uses to attribute the request
to the question it served.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

MODEL_PATHS = ("/api/chat", "/api/generate", "/v1/chat/completions", "/v1/completions")
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
        "content-length",
    }
)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    generated_tokens: int = 0
    prompt_eval_s: float | None = None  # reported by Ollama's native API only
    eval_s: float | None = None


@dataclass(frozen=True)
class Exchange:
    path: str
    status: int
    started: float  # time.time()
    seconds: float  # request sent to last byte received
    usage: Usage
    request_text: str  # the messages' text (or the prompt), for attribution


def _json_objects(body: bytes) -> Iterator[dict[str, Any]]:
    """The JSON objects of a body: one document, NDJSON lines, or SSE `data:` lines."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        yield whole
        return
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("data:"):
            line = line[5:].strip()
        if not line or line == "[DONE]":
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            yield value


def usage_of(body: bytes) -> Usage:
    """Token counts from a native or OpenAI-compatible response, streamed or not.

    Native: the object with `done: true` carries prompt_eval_count / eval_count and durations in
    ns. OpenAI-compatible: `usage.prompt_tokens` / `usage.completion_tokens` (in the last chunk of a
    stream when the client asked for usage).
    """
    usage = Usage()
    for value in _json_objects(body):
        if value.get("done") is True or "eval_count" in value:
            ns = 1e9
            usage = Usage(
                int(value.get("prompt_eval_count") or 0),
                int(value.get("eval_count") or 0),
                (value.get("prompt_eval_duration") or 0) / ns,
                (value.get("eval_duration") or 0) / ns,
            )
        counts = value.get("usage")
        if isinstance(counts, dict) and counts:
            usage = Usage(
                int(counts.get("prompt_tokens") or 0), int(counts.get("completion_tokens") or 0)
            )
    return usage


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def request_text(body: bytes) -> str:
    """The text a model request carries: every message's content, or the prompt."""
    try:
        payload = json.loads(body or b"{}")
    except json.JSONDecodeError:
        return ""
    if not isinstance(payload, dict):
        return ""
    messages = payload.get("messages")
    if isinstance(messages, list):
        return "\n".join(_text_of(m.get("content")) for m in messages if isinstance(m, dict))
    return str(payload.get("prompt") or "")


class _QuietServer(ThreadingHTTPServer):
    """A client that drops its kept-alive connection is routine here, not an error to print."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class RecordingProxy:
    """`with RecordingProxy(upstream) as proxy:` then point the agent at `proxy.url`."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream if "://" in upstream else f"http://{upstream}")
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 11434
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive clients (httpx, openai) stay connected

            def log_message(self, *args: object) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {
                    key: value
                    for key, value in self.headers.items()
                    if key.lower() not in HOP_BY_HOP and key.lower() != "host"
                }
                started, clock = time.time(), time.perf_counter()
                upstream = http.client.HTTPConnection(
                    proxy.upstream_host, proxy.upstream_port, timeout=1800
                )
                received = bytearray()
                status = 0
                try:
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    response = upstream.getresponse()
                    status = response.status
                    self.send_response(response.status)
                    for key, value in response.getheaders():
                        if key.lower() not in HOP_BY_HOP:
                            self.send_header(key, value)
                    if self.command == "HEAD":
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    while chunk := response.read1(65536):
                        received += chunk
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                finally:
                    # Recorded even when the client gave up or the server failed: the server's
                    # time was spent all the same.
                    upstream.close()
                    if self.path.split("?")[0] in MODEL_PATHS:
                        exchange = Exchange(
                            path=self.path,
                            status=status,
                            started=started,
                            seconds=time.perf_counter() - clock,
                            usage=usage_of(bytes(received)),
                            request_text=request_text(body),
                        )
                        with proxy._lock:
                            proxy.exchanges.append(exchange)

            do_GET = do_POST = do_HEAD = do_DELETE = do_PUT = _relay

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def attribute(exchanges: list[Exchange], prompts: dict[str, str]) -> dict[str, list[Exchange]]:
    """Each exchange to the question whose prompt its messages contain (the longest such prompt,
    should one prompt contain another); those that carry no known prompt go under ""."""
    ordered = sorted(prompts.items(), key=lambda pair: -len(pair[1]))
    result: dict[str, list[Exchange]] = {key: [] for key in prompts}
    result[""] = []
    for exchange in exchanges:
        owner = next((key for key, prompt in ordered if prompt in exchange.request_text), "")
        result[owner].append(exchange)
    return result
