"""What importing a module costs `smallagent` at start-up: the figures behind its lazy imports.

Two measurements, each the median of --runs fresh interpreters:
- `smallagent --help` as it is, and with every command's modules imported first (as they would be
  if cli.py imported them at the top);
- for each module named, the time to import it after `--help` has run, i.e. what one command pays
  on top of the start every command pays.

    .venv/bin/python scripts/startup_cost.py --runs 15
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMAND_MODULES = [
    "smallagent.assistant",
    "smallagent.doctor",
    "smallagent.ingest",
    "smallagent.retrieval",
    "smallagent.tasks.runner",
    "smallagent.tasks.report",
    "smallagent.trace",
]
LIBRARIES = ["numpy", "faiss", "onnxruntime", "tokenizers", "httpx", "ollama", "yaml",
             "pathspec", "bs4", "pypdfium2", "platformdirs"]  # fmt: skip
HELP = "import sys\nsys.argv = ['smallagent', '--help']\n"
RUN = "from smallagent.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"


def wall_ms(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def import_ms(module: str, runs: int) -> float:
    code = (
        f"{HELP}import io, contextlib, time\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n"
        + "".join(f"    {line}\n" for line in RUN.splitlines())
        + f"started = time.perf_counter()\nimport {module}\n"
        "print((time.perf_counter() - started) * 1000)\n"
    )
    argv = [sys.executable, "-c", code]
    times = [
        float(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    eager = "".join(f"import {module}\n" for module in COMMAND_MODULES)
    lazy_ms = wall_ms(HELP + RUN, runs)
    eager_ms = wall_ms(HELP + eager + RUN, runs)
    print(f"smallagent --help, median of {runs}: {lazy_ms:.0f} ms as it is, {eager_ms:.0f} ms with "
          f"the command modules imported first (+{eager_ms - lazy_ms:.0f} ms)")  # fmt: skip
    print(f"\nimport after --help, median of {runs}:")
    for module in COMMAND_MODULES + LIBRARIES:
        print(f"  {module:28} {import_ms(module, runs):6.1f} ms")


if __name__ == "__main__":
    main()
