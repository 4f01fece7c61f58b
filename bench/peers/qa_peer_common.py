"""What both question-benchmark peers share: reading the task file, calling the harness's tool
server, writing one JSON line per question. Standard library only: it runs in the peers' venvs.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import traceback
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any


class ToolClient:
    """smallagent's tools, served by bench/qabench/toolserver.py."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _post(self, path: str, payload: object) -> Any:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(payload).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.load(response)

    def specs(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.url + "/specs", timeout=120) as response:
            return list(json.load(response))

    def reset(self) -> None:
        self._post("/reset", {})

    def call(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        """(observation, ok): an error is the text the peer shows its model."""
        reply = self._post("/call", {"name": name, "arguments": arguments})
        if "error" in reply:
            return str(reply["error"]), False
        return str(reply.get("output", "")), True


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=Path, required=True, help="the smallagent task file")
    parser.add_argument("--only", default="", help="comma-separated task ids (default: all)")
    parser.add_argument("--model", required=True)
    parser.add_argument("--ollama", required=True, help="base URL of the (recording) server")
    parser.add_argument("--tools", required=True, help="base URL of the tool server")
    parser.add_argument("--out", type=Path, required=True, help="JSONL, one line per question")
    parser.add_argument(
        "--question-seconds",
        type=float,
        default=0.0,
        help="stop a question after this many seconds (0: no limit); it counts as failed",
    )
    return parser.parse_args()


class OverTime(BaseException):
    """Raised by the alarm: a BaseException, so the peer library's own `except Exception` around
    a step cannot swallow it and go on to its next step."""


def _over_time(signum: int, frame: object) -> None:
    raise OverTime


def run_all(args: argparse.Namespace, answer: Callable[[str, int], tuple[str, str, int]]) -> int:
    """Calls `answer(prompt, max_steps)` -> (answer, stop, steps) for each task, in file order."""
    data = json.loads(args.tasks.read_text(encoding="utf-8"))
    defaults = data.get("defaults", {})
    wanted = {item for item in args.only.split(",") if item}
    tools = ToolClient(args.tools)
    with args.out.open("a", encoding="utf-8") as out:
        for task in data["tasks"]:
            if wanted and task["id"] not in wanted:
                continue
            max_steps = int(task.get("max_steps", defaults.get("max_steps", 6)))
            tools.reset()
            started = time.perf_counter()
            if args.question_seconds > 0:
                signal.signal(signal.SIGALRM, _over_time)
                signal.setitimer(signal.ITIMER_REAL, args.question_seconds)
            try:
                text, stop, steps = answer(task["prompt"], max_steps)
                error = ""
            except OverTime:
                text, stop, steps = "", "time_cap", 0
                error = f"stopped after {args.question_seconds:g} s (--question-seconds)"
            except Exception as exc:  # the peer failed on this question; record it and go on
                text, stop, steps = "", "error", 0
                error = f"{type(exc).__name__}: {exc}"
                traceback.print_exc(file=sys.stderr)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            row = {
                "id": task["id"],
                "answer": text,
                "stop": stop,
                "steps": steps,
                "seconds": time.perf_counter() - started,
                "error": error,
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
    return 0
