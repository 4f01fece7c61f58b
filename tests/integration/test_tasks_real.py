"""`smallagent run` on the real server with the 0.5B model: every check kind, report and resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smallagent.cli import app

runner = CliRunner()

TASKS = """\
defaults:
  index: manual
  workdir: docs
  max_steps: 4
tasks:
  - id: calibration-code
    prompt: What is the service code that unlocks the factory calibration menu?
    checks:
      contains: [TW-8841]
      regex: 'TW-\\d{4}'
      cites: calibration.md
  - id: error-e422
    prompt: What does error code E422 mean?
    checks:
      contains:
        any: [battery, deep sleep, "3.3"]
      command: grep -q -i -E "battery|sleep|3\\.3"
  - id: plain-reply
    prompt: Reply with exactly the word OK and nothing else.
    tools: []
    max_steps: 2
    checks:
      equals: OK
"""

SUMMED = ("steps", "tool_calls", "prompt_tokens", "generated_tokens", "seconds", "wh", "gco2e")


def test_a_task_file_runs_with_every_check_kind_and_the_totals_add_up(
    ollama_host: str, test_model: str, tmp_path: Path, onnx_ready: None
) -> None:
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "docs", tmp_path / "docs")
    (tmp_path / "tasks.yaml").write_text(TASKS)
    common = ["--ollama-host", ollama_host, "--index-dir", str(tmp_path / "indexes")]
    ingested = runner.invoke(app, [*common, "--index", "manual", "ingest", str(tmp_path / "docs")])
    assert ingested.exit_code == 0, ingested.output
    report, results = tmp_path / "report.json", tmp_path / "results.jsonl"
    arguments = [*common, "run", str(tmp_path / "tasks.yaml"), "--model", test_model,
                 "--report", str(report), "--results", str(results)]  # fmt: skip

    first = runner.invoke(app, arguments)
    assert first.exit_code in (0, 1), first.output  # a check may fail; the run itself must not
    document = json.loads(report.read_text())
    rows = document["tasks"]
    assert [row["task_id"] for row in rows] == ["calibration-code", "error-e422", "plain-reply"]
    assert {row["status"] for row in rows} <= {"pass", "fail"}, rows  # no task errored
    kinds = {check["kind"] for row in rows for check in row["checks"]}
    assert kinds == {"contains", "contains_any", "regex", "equals", "cites", "command"}
    summary = document["summary"]
    for name in SUMMED:
        assert summary[name] == pytest.approx(sum(row[name] for row in rows)), name
    assert summary["passed"] == sum(row["status"] == "pass" for row in rows)
    assert summary["prompt_tokens"] > 0 and summary["wh"] > 0 and summary["reference_wh"] > 0
    assert first.exit_code == (0 if summary["passed"] == 3 else 1)
    recorded = [json.loads(line) for line in results.read_text().splitlines()]
    assert sorted(row["task_id"] for row in recorded) == sorted(row["task_id"] for row in rows)
    assert "summary" in first.output and test_model in first.output

    again = runner.invoke(app, [*arguments, "--resume"])  # everything recorded: nothing reruns
    assert again.exit_code == first.exit_code, again.output
    assert "resuming: 3 task(s) already recorded, 0 to run" in again.output
    assert json.loads(report.read_text())["summary"] == summary
    assert len(results.read_text().splitlines()) == 3
