"""smallagent's own tools, served on loopback to the peers: the adapter that makes work identical.

The peers run in their own virtualenvs, without smallagent's dependencies. Their tools are thin
HTTP clients of this server, which runs smallagent's search (the same hybrid Retriever over the
same index, the same passage formatting), read_file and read-only shell (the same ShellPolicy,
confined to the corpus folder): the observations a peer gets are the ones smallagent's loop would
get for the same call.

    GET  /specs  -> [{"name", "description", "parameters"}]  (smallagent's derived JSON schemas)
    POST /reset  -> {}  (a new question: passage numbers restart)
    POST /call   {"name", "arguments"} -> {"output": str} or {"error": str}, plus "seconds"
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

PEER_TOOLS = ("search", "read_file", "shell")


def smallagent_tools(
    index_dir: Path, index_name: str, workdir: Path
) -> Callable[[], dict[str, Any]]:
    """A factory of fresh tool sets (one per question), wired as build_assistant wires them."""
    from smallagent.embeddings import query_embedder
    from smallagent.index import IndexReader, index_directory
    from smallagent.retrieval import Retriever
    from smallagent.shell import ShellPolicy
    from smallagent.tools import (
        SourceRegistry,
        make_read_file_tool,
        make_search_tool,
        make_shell_tool,
    )

    policy = ShellPolicy(workdir, "read-only", None)
    from smallagent.config import load_settings

    search_chars = load_settings(cwd=workdir).passage_chars  # what `smallagent run` gets
    opened: dict[str, Any] = {}

    def fresh() -> dict[str, Any]:
        # Opened on first use, in the server's thread: SQLite connections stay in their thread.
        if not opened:
            reader = IndexReader(index_directory(index_dir, index_name))
            opened["retriever"] = Retriever(reader, query_embedder(reader.spec.embedder))
            opened["allowed"] = {document.path for document in reader.documents()}
        return {
            "search": make_search_tool(
                opened["retriever"], SourceRegistry(), workdir, search_chars
            ),
            "read_file": make_read_file_tool([workdir], opened["allowed"], max_lines=120),
            "shell": make_shell_tool(policy),
        }

    return fresh


class ToolServer:
    """`with ToolServer(factory) as server:` then give the peers `server.url`."""

    def __init__(self, factory: Callable[[], dict[str, Any]]) -> None:
        self.factory = factory
        self.tools: dict[str, Any] = {}  # built in the server's thread, on the first request
        self.calls = 0
        self.tool_seconds = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, payload: object, status: int = 200) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                outer.tools = outer.tools or outer.factory()
                if self.path != "/specs":
                    self._reply({"error": "not found"}, 404)
                    return
                specs = [
                    {
                        "name": tool.spec.name,
                        "description": tool.spec.description,
                        "parameters": dict(tool.spec.parameters),
                    }
                    for tool in outer.tools.values()
                ]
                self._reply(specs)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    request = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    self._reply({"error": "the request is not JSON"}, 400)
                    return
                outer.tools = outer.tools or outer.factory()
                if self.path == "/reset":
                    outer.tools = outer.factory()
                    self._reply({})
                elif self.path == "/call":
                    self._reply(outer.call(request.get("name", ""), request.get("arguments") or {}))
                else:
                    self._reply({"error": "not found"}, 404)

        # One thread serves every request, in order: the peers call one tool at a time, and the
        # index's SQLite connection must stay in the thread that opened it.
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """One tool call the way smallagent's loop makes it: arguments coerced, unknown keys
        dropped; a refusal or a bad argument comes back as an error for the peer to show."""
        from smallagent.tools import ToolArgumentError, ToolRefused

        started = time.perf_counter()
        tool = self.tools.get(name)
        try:
            if tool is None:
                raise ToolArgumentError(f"unknown tool {name!r}; tools: {', '.join(self.tools)}")
            prepared, _ = tool.prepare(arguments if isinstance(arguments, dict) else {})
            result: dict[str, Any] = {"output": tool.function(**prepared)}
        except ToolRefused as refusal:
            result = {"error": f"Refused: {refusal}."}
        except ToolArgumentError as error:
            result = {"error": f"Error: {error}."}
        except Exception as error:  # a failing tool is an observation, as in smallagent's loop
            result = {"error": f"Error: {name} failed ({type(error).__name__}: {error})."}
        seconds = time.perf_counter() - started
        self.calls += 1
        self.tool_seconds += seconds
        return {**result, "seconds": seconds}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> ToolServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
