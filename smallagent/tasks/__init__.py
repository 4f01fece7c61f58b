"""Scripted runs (`smallagent run`): a task file, each task through the agent, its checks, the
results log and the report.

  taskfile  read and validate a task file, in full, before anything runs
  checks    what each kind of check asks of an answer
  runlog    one record per finished task: the JSONL results file, and what --resume skips
  runner    which (task, model) pairs run, and running them, one or several at a time
  report    totals, and the report as JSON or Markdown

The names below are for scripts outside the package (bench/); code inside imports the modules.
"""

from smallagent.tasks.checks import Check, evaluate
from smallagent.tasks.taskfile import load_task_file

__all__ = ["Check", "evaluate", "load_task_file"]
