#!/usr/bin/env python3
"""Multi-step tasks (issue 15): smallagent with and without decomposition, on the same tasks.

    .venv/bin/python bench/multistep_bench.py --split dev --models qwen2.5-coder:1.5b
    .venv/bin/python bench/multistep_bench.py --split test --per-shape 2 --modes off,auto
    .venv/bin/python bench/multistep_bench.py --split dev-extra --modes auto  # 32 more dev compares
    .venv/bin/python bench/multistep_bench.py --prepare-only     # write the task files, no model

Reuses the question benchmark's corpus and index, read-only (run `bench/qa_bench.py
--prepare-only` first on a fresh clone): ~/.cache/smallagent/bench/qa/build/corpus and
~/.cache/smallagent/bench/qa/indexes/qa. The tasks (bench/qabench/multistep.py) are written as
`smallagent run` task files under ~/.cache/smallagent/bench/multistep/; each mode runs the same task
file through `smallagent run`, told the mode by SMALLAGENT_DECOMPOSE, on one private Ollama server
with a `num_ctx` alias per model (bench/qa_bench.py's). Figures come from smallagent's own results
file: Ollama's token counts and durations, seconds, and Wh as smallagent models it.

Writes bench/results/multistep-<split>[-sampleN].json: figures and ids only (the chain tasks quote
SQuAD-shifts questions, whose data asks to stay out of training corpora).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
import qa_bench  # noqa: E402
from qabench import fetch, multistep, questions  # noqa: E402

BUILD = fetch.CACHE / "multistep"
MODES = ("off", "auto", "always")
EXTRA = "dev-extra"  # more dev compare tasks (multistep.extra_dev_compare): tuning only


def say(message: str) -> None:
    print(f"[multistep-bench] {message}", file=sys.stderr, flush=True)


def prepare(
    max_steps: int, num_ctx: int, extra: bool = False
) -> dict[str, list[multistep.MultiTask]]:
    """The tasks of both splits (and with `extra`, the dev-extra set), and their task files
    (deterministic)."""
    from qabench.manual import read_manual

    corpus = qa_bench.BUILD / "corpus"
    if not (qa_bench.INDEX_DIR / qa_bench.INDEX_NAME).is_dir() or not corpus.is_dir():
        raise qa_bench.BenchError(
            "the question benchmark's corpus or index is missing: run "
            "`.venv/bin/python bench/qa_bench.py --prepare-only` first"
        )
    squad = fetch.squad_files()
    wiki = questions.items_of("new_wiki", json.loads(squad["new_wiki"].read_text("utf-8")))
    _, pages = read_manual(fetch.manual_pdf())
    document = f"{questions.MANUAL_FOLDER}/{fetch.manual_pdf().name}"
    by_split = multistep.build_tasks(corpus, pages, document, questions.MANUAL_TITLE, wiki)
    if extra:
        by_split[EXTRA] = multistep.extra_dev_compare(corpus, by_split["dev"])
    settings = {
        "index": qa_bench.INDEX_NAME,
        "workdir": str(corpus),
        "tools": qa_bench.TOOLS,
        "shell": "read-only",
        "max_steps": max_steps,
        "temperature": 0,
        "seed": 0,
        "num_ctx": num_ctx,
    }
    BUILD.mkdir(parents=True, exist_ok=True)
    for split, tasks in by_split.items():
        (BUILD / f"tasks-{split}.json").write_text(
            json.dumps(questions.task_file(tasks, settings), indent=1, ensure_ascii=False) + "\n"
        )
    return by_split


def rule_check(by_split: dict[str, list[multistep.MultiTask]]) -> str:
    """Which prompts `decompose = auto` would plan: every multi-step task, and no single-step
    question of the question benchmark (those then run exactly as without the planner)."""
    from smallagent.planner import looks_multi_step

    lines = [
        "| split | multi-step tasks planned | single-step questions planned |",
        "|---|---|---|",
    ]
    for split, tasks in by_split.items():
        path = qa_bench.BUILD / f"questions-{split}.json"
        single = questions.load_questions(path) if path.exists() else []
        planned = sum(looks_multi_step(task.prompt) for task in tasks)
        flagged = [question.id for question in single if looks_multi_step(question.prompt)]
        lines.append(
            f"| {split} | {planned} of {len(tasks)} | {len(flagged)} of {len(single)}"
            f"{' (' + ', '.join(flagged) + ')' if flagged else ''} |"
        )
    return "\n".join(lines)


def run_mode(
    task_file: Path, ids: Sequence[str], alias: str, host: str, mode: str, out: Path
) -> dict[str, dict[str, Any]]:
    """`smallagent run` on the task file, as the question benchmark runs it, in one mode."""
    out.mkdir(parents=True, exist_ok=True)
    os.environ["SMALLAGENT_DECOMPOSE"] = mode  # the run's environment is this one's
    try:
        return qa_bench.run_smallagent(task_file, list(ids), alias, host, out)
    finally:
        del os.environ["SMALLAGENT_DECOMPOSE"]


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Success overall and by shape; medians and means of tokens, seconds and Wh per task."""

    def median(key: str) -> float | None:
        values = [row[key] for row in rows if row["ran"]]
        return statistics.median(values) if values else None

    def mean(key: str) -> float | None:
        values = [row[key] for row in rows if row["ran"]]
        return statistics.fmean(values) if values else None

    passed = sum(row["passed"] for row in rows)
    by_shape = {}
    for shape in multistep.SHAPES:
        mine = [row for row in rows if row["shape"] == shape]
        if mine:
            hits = sum(row["passed"] for row in mine)
            by_shape[shape] = {"passed": hits, "tasks": len(mine)}
    return {
        "tasks": len(rows),
        "passed": passed,
        "success": passed / len(rows) if rows else 0.0,
        "by_shape": by_shape,
        "median_prompt_tokens": median("prompt_tokens"),
        "mean_prompt_tokens": mean("prompt_tokens"),
        "median_generated_tokens": median("generated_tokens"),
        "median_seconds": median("seconds"),
        "total_wh": sum(row["wh"] for row in rows if row["ran"]),
    }


def markdown(summaries: dict[str, dict[str, Any]]) -> str:
    head = "| model · decompose | success | " + " | ".join(multistep.SHAPES)
    head += " | median prompt tok | mean prompt tok | median gen tok | median s | Wh all |"
    lines = [head, "|" + "---|" * (10 + len(multistep.SHAPES) - 4)]
    for name, summary in summaries.items():
        shapes = " | ".join(
            f"{summary['by_shape'][shape]['passed']}/{summary['by_shape'][shape]['tasks']}"
            if shape in summary["by_shape"]
            else "-"
            for shape in multistep.SHAPES
        )

        def figure(key: str, digits: int = 0, summary: dict[str, Any] = summary) -> str:
            value = summary[key]
            return "-" if value is None else f"{value:,.{digits}f}"

        lines.append(
            f"| {name} | {summary['passed']}/{summary['tasks']} ({summary['success']:.0%}) | "
            f"{shapes} | {figure('median_prompt_tokens')} | {figure('mean_prompt_tokens')} | "
            f"{figure('median_generated_tokens')} | {figure('median_seconds', 1)} | "
            f"{summary['total_wh']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--split",
        choices=(*multistep.SPLITS, EXTRA),
        default="dev",
        help=f"{EXTRA}: {multistep.EXTRA_DEV_COMPARE} more compare tasks from dev files",
    )
    parser.add_argument("--models", default="qwen2.5-coder:1.5b")
    parser.add_argument("--modes", default="off,auto", help=f"of {', '.join(MODES)}")
    parser.add_argument("--per-shape", type=int, default=0, help="the first N tasks per shape")
    parser.add_argument("--only", default="", help="only these task ids (comma-separated)")
    parser.add_argument("--max-steps", type=int, default=6, help="model calls per (sub-)run")
    parser.add_argument("--num-ctx", type=int, default=8192)
    parser.add_argument("--ollama-host", help="use this server (default: start a private one)")
    parser.add_argument("--prepare-only", action="store_true", help="write the task files only")
    parser.add_argument(
        "--rule-check",
        action="store_true",
        help="no model: how many tasks, and how many of the question benchmark's single-step "
        "questions, the planner's rule calls multi-step",
    )
    parser.add_argument("--out", type=Path, help="results JSON (default bench/results/...)")
    args = parser.parse_args(argv)
    models = [model.strip() for model in args.models.split(",") if model.strip()]
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if not models or not modes or set(modes) - set(MODES):
        parser.error(f"give at least one model, and modes from {', '.join(MODES)}")
    began = time.perf_counter()
    try:
        by_split = prepare(args.max_steps, args.num_ctx, extra=args.split == EXTRA)
        say(f"tasks: { {split: len(tasks) for split, tasks in by_split.items()} } in {BUILD}")
        if args.rule_check:
            print(rule_check(by_split))
            return 0
        if args.prepare_only:
            return 0
        chosen = by_split[args.split]
        if args.per_shape:
            chosen = multistep.sample(chosen, args.per_shape)
        if args.only:
            chosen = [task for task in chosen if task.id in set(args.only.split(","))]
        if not chosen:
            raise qa_bench.BenchError("no task selected")
        ids = [task.id for task in chosen]
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = BUILD / "runs" / f"{stamp}-{args.split}"
        run_dir.mkdir(parents=True, exist_ok=True)
        rows: list[dict[str, Any]] = []
        summaries: dict[str, dict[str, Any]] = {}
        with qa_bench.ollama_server(args.ollama_host, models) as host:
            for model in models:
                alias = qa_bench.model_alias(host, model, args.num_ctx)
                for mode in modes:
                    qa_bench.warm_up(host, alias)
                    say(f"{model}, decompose {mode}: {len(ids)} tasks")
                    out = run_dir / f"{model.replace(':', '_')}-{mode}"
                    found = run_mode(
                        BUILD / f"tasks-{args.split}.json", ids, alias, host, mode, out
                    )
                    mine = []
                    for task in chosen:
                        row = found.get(task.id, {})
                        mine.append(
                            {
                                "model": model,
                                "mode": mode,
                                "id": task.id,
                                "shape": task.shape,
                                "ran": bool(row),
                                "passed": bool(row.get("passed")),
                                "stop": row.get("stop", "missing"),
                                "steps": row.get("steps", 0),
                                "prompt_tokens": row.get("own_prompt_tokens", 0),
                                "generated_tokens": row.get("own_generated_tokens", 0),
                                "seconds": row.get("seconds", 0.0),
                                "wh": row.get("own_wh", 0.0),
                                "error": row.get("error", ""),
                            }
                        )
                    rows += mine
                    summaries[f"{model} · {mode}"] = summarise(mine)
                    say(
                        f"{model}, decompose {mode}: {summaries[f'{model} · {mode}']['passed']}"
                        f"/{len(ids)} passed"
                    )
        record = {
            "date": dt.datetime.now().isoformat(timespec="seconds"),
            "command": " ".join(
                shlex.quote(part)
                for part in [
                    ".venv/bin/python",
                    "bench/multistep_bench.py",
                    *(sys.argv[1:] if argv is None else argv),
                ]
            ),
            "machine": qa_bench.machine(),
            "duration_s": round(time.perf_counter() - began, 1),
            "split": args.split,
            "task_set": {
                "split_fingerprint": questions.fingerprint(by_split[args.split]),
                "asked": len(chosen),
            },
            "settings": {"max_steps": args.max_steps, "num_ctx": args.num_ctx, "modes": modes},
            "versions": {"smallagent": qa_bench.git_revision()},
            "summary": summaries,
            "tasks": rows,
        }
        suffix = f"-sample{args.per_shape}" if args.per_shape else ""
        out = args.out or ROOT / "bench" / "results" / f"multistep-{args.split}{suffix}.json"
        out.write_text(json.dumps(record, indent=1) + "\n")
    except (qa_bench.BenchError, fetch.FetchError, ValueError) as error:
        say(f"error: {error}")
        return 2
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    print(markdown(summaries))
    say(f"results: {out}; answers and traces: {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
