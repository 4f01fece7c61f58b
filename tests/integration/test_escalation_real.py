"""Escalation on the real server: a task the 0.5B model gets wrong goes up to the 1.5B model.

The task is the one the integration suite already gives the 1.5B model because the 0.5B model
does not do it (counting files with the shell: it answered "1" on 2026-11-25). Its own check
fails, which is a signal (`checks_failed`); the larger model answers and both models' tokens and
energy are in the result.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from smallagent.cli import app

TASKS = """\
defaults:
  tools: [read_file, shell]
  max_steps: 6
tasks:
  - id: count-md
    prompt: How many .md files are in the notes folder, including subfolders?
    checks:
      regex: '\\b(4|four)\\b'
"""


def test_a_task_the_small_model_fails_is_answered_by_the_larger_one(
    ollama_host: str, test_model: str, capable_model: str, tmp_path: Path
) -> None:
    notes = tmp_path / "notes"
    (notes / "sub").mkdir(parents=True)
    for name in ("one.md", "two.md", "three.md", "sub/four.md", "readme.txt", "sub/data.csv"):
        (notes / name).write_text("x\n")
    (tmp_path / "tasks.yaml").write_text(TASKS)
    outcome = CliRunner().invoke(
        app,
        ["--ollama-host", ollama_host, "--index-dir", str(tmp_path / "indexes"),
         "run", str(tmp_path / "tasks.yaml"), "--model", test_model,
         "--escalate", capable_model, "--json"],
    )  # fmt: skip
    lines = [json.loads(line) for line in outcome.stdout.splitlines() if line.startswith("{")]
    task = next(line for line in lines if line["type"] == "task")
    small, large = task["attempts"]
    assert small["model"] == test_model and not small["passed"] and small["escalated"]
    assert any(signal.startswith("checks_failed") for signal in small["signals"])
    assert large["model"] == capable_model and large["passed"]
    assert task["answered_by"] == capable_model and task["status"] == "pass", task["answer"]
    assert re.search(r"\b(4|four)\b", task["answer"], re.I)
    for attempt in (small, large):
        assert attempt["prompt_tokens"] > 0 and attempt["generated_tokens"] > 0
        assert attempt["wh"] > 0
    assert task["prompt_tokens"] == small["prompt_tokens"] + large["prompt_tokens"]
    assert task["generated_tokens"] == small["generated_tokens"] + large["generated_tokens"]
    assert abs(task["wh"] - (small["wh"] + large["wh"])) < 1e-9
    assert task["larger_source"] == "measured: its attempt in this run"
    assert task["larger_wh"] == large["wh"]
    assert outcome.exit_code == 0, outcome.output
