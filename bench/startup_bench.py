#!/usr/bin/env python3
"""Start-up benchmark: how long a user waits before smallagent does anything useful.

    python3 scripts/ollama_dev.py start --model qwen2.5-coder:1.5b   # prints OLLAMA_HOST=...
    export OLLAMA_HOST=...
    .venv/bin/python bench/startup_bench.py [--runs 10] [--model qwen2.5-coder:1.5b]
    python3 scripts/ollama_dev.py stop

    .venv/bin/python bench/startup_bench.py --help-only [--runs 20]   # no server needed

Measures, each as the median of cold processes:
- `smallagent --help`, next to a bare `python -c pass` (the interpreter's own floor);
- `smallagent ask` on an existing index, from process start to the moment its first chat request
  reaches the server (a local proxy in front of the real Ollama notes the arrival), next to the
  naive alternative's floor: a process that only imports sentence-transformers to embed the query.
Then one `ask --json` run split per step: retrieval / tool seconds, prompt-eval, generation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
SMALLAGENT = str(VENV_BIN / "smallagent")
PYTHON = str(VENV_BIN / "python")
QUESTION = "What is the calibration code of the Tidewater sensor?"
STATE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "smallagent"


class ArrivalProxy:
    """Forwards every request to the real server and notes when the first /api/chat arrives."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.first_chat: float | None = None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                if self.path.startswith("/api/chat") and proxy.first_chat is None:
                    proxy.first_chat = time.perf_counter()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                request = urllib.request.Request(
                    proxy.upstream + self.path, data=body, method=self.command
                )
                request.add_header(
                    "Content-Type", self.headers.get("Content-Type", "application/json")
                )
                try:
                    with urllib.request.urlopen(request, timeout=600) as response:
                        status, payload = response.status, response.read()
                        kind = response.headers.get("Content-Type", "application/json")
                except urllib.error.HTTPError as error:
                    status, payload, kind = error.code, error.read(), "application/json"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_HEAD = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def cold_seconds(argv: list[str], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - started)
    return samples


def first_request_seconds(proxy: ArrivalProxy, argv: list[str], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        proxy.first_chat = None
        started = time.perf_counter()
        # The answer itself is not timed: the child is stopped once the first request is in.
        child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proxy.first_chat is None and child.poll() is None:
            time.sleep(0.002)
        if proxy.first_chat is None:
            raise RuntimeError(
                f"{' '.join(argv)} exited {child.returncode} before asking the model"
            )
        samples.append(proxy.first_chat - started)
        child.wait()  # let it finish so the server is idle for the next sample
    return samples


def summary(samples: list[float]) -> str:
    low, high = min(samples), max(samples)
    middle = statistics.median(samples)
    return f"median {middle:.3f} s  (min {low:.3f}, max {high:.3f}, n={len(samples)})"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--model", default="qwen2.5-coder:1.5b")
    parser.add_argument(
        "--ollama-host",
        default=os.environ.get("OLLAMA_HOST"),
        help="the server ollama_dev.py started (default: $OLLAMA_HOST)",
    )
    parser.add_argument(
        "--help-only",
        action="store_true",
        help="time `smallagent --help` and the interpreter's floor only (no server, no model)",
    )
    args = parser.parse_args()
    if args.help_only:
        print(f"smallagent --help       {summary(cold_seconds([SMALLAGENT, '--help'], args.runs))}")
        print(f"python -c pass (floor)  {summary(cold_seconds([PYTHON, '-c', 'pass'], args.runs))}")
        return 0
    if not args.ollama_host:
        parser.error(
            "no server: pass --ollama-host or set OLLAMA_HOST (ollama_dev.py start prints it)"
        )
    upstream = args.ollama_host if "://" in args.ollama_host else f"http://{args.ollama_host}"

    with tempfile.TemporaryDirectory() as scratch:
        index_dir = Path(scratch) / "indexes"
        environment = {**os.environ, "HF_HUB_OFFLINE": "1"}
        subprocess.run(
            [SMALLAGENT, "--index-dir", str(index_dir), "ingest", str(ROOT / "examples" / "docs")],
            stdout=subprocess.DEVNULL, check=True, env=environment,
        )  # fmt: skip
        proxy = ArrivalProxy(upstream)
        ask = [
            SMALLAGENT, "--ollama-host", proxy.host, "--model", args.model,
            "--index-dir", str(index_dir), "ask", "--quiet",
            "--workdir", str(ROOT / "examples" / "docs"), QUESTION,
        ]  # fmt: skip
        subprocess.run(
            ask, stdout=subprocess.DEVNULL, check=True
        )  # warm: model loaded, pages cached

        help_runs = cold_seconds([SMALLAGENT, "--help"], args.runs)
        python_runs = cold_seconds([PYTHON, "-c", "pass"], args.runs)
        ask_runs = first_request_seconds(proxy, ask, args.runs)
        naive_runs = cold_seconds(
            [PYTHON, "-c", "import sentence_transformers"], max(3, args.runs // 3)
        )
        print(f"smallagent --help                      {summary(help_runs)}")
        print(f"python -c pass (floor)                 {summary(python_runs)}")
        print(f"ask: start -> first chat request       {summary(ask_runs)}")
        print(f"naive floor: import sentence_transformers {summary(naive_runs)}")
        ratio = statistics.median(naive_runs) / statistics.median(ask_runs)
        print(f"naive import alone / smallagent time to first request: {ratio:.1f}x")

        completed = subprocess.run(
            [*(part for part in ask[:-1] if part != "--quiet"), "--json", QUESTION],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        events = [json.loads(line) for line in completed.stdout.splitlines()]
        print("\nper step (one run):  tool s   prompt-eval s  generation s  prompt tokens  call")
        for event in events:
            if event["type"] != "step":
                continue
            usage, call = event["usage"], event["call"]
            name = call["name"] if call else event["kind"]
            print(
                f"  step {event['number']}          {event['tool_seconds']:7.3f}"
                f"  {usage['prompt_eval_s']:13.2f}  {usage['eval_s']:12.2f}"
                f"  {usage['prompt_tokens']:13d}  {name}"
            )
        result = events[-1]
        print(f"answer: {result['answer']!r}  kv-cache reuse: {result['kv_cache_reuse']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
