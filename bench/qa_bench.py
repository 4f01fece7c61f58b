#!/usr/bin/env python3
"""Question benchmark: smallagent, smolagents and LangGraph on the same questions, side by side.

    .venv/bin/python bench/qa_bench.py --split test --models qwen2.5-coder:0.5b,qwen2.5-coder:1.5b
    .venv/bin/python bench/qa_bench.py --split dev --quick        # 4 questions, a smoke run

End to end: fetches the inputs (bench/qabench/fetch.py), lays out the corpus and the questions
(bench/qabench/questions.py), ingests the corpus with smallagent, builds the peers' virtualenvs
(bench/peers/setup_qa_peer.sh), starts a private Ollama server (scripts/ollama_dev.py) unless
--ollama-host names one, registers a model alias per model with `PARAMETER num_ctx` so every client
gets the same context, and runs each agent on each model:

- smallagent through `smallagent run` on the split's task file (the benchmark dogfoods the runner);
- the peers through their runners (bench/peers/qa_*.py), with smallagent's own search, read_file
  and read-only shell served to them on loopback (bench/qabench/toolserver.py).

Every agent reaches the server through its own recording proxy (bench/qabench/proxy.py): prompt and
generated tokens and the server's seconds per request come from that one place for all agents. Wh
is modeled from those seconds at smallagent's CPU power model (cores x 4.4 W). Every answer is
judged by the same regex check with the same function (smallagent.tasks.evaluate).

Writes bench/results/qa-<split>[-quick].json (figures and ids only: the SQuAD-shifts data carries a
"never in training corpora" canary, so no question or answer text goes into the repository) and,
under ~/.cache/smallagent/bench/qa/runs/, everything including the answers.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from qabench import fetch, questions, report  # noqa: E402
from qabench.proxy import RecordingProxy, attribute  # noqa: E402
from qabench.toolserver import ToolServer, smallagent_tools  # noqa: E402

AGENTS = ("smallagent", "smolagents", "langgraph")
PEER_SCRIPTS = {
    "smolagents": ROOT / "bench" / "peers" / "qa_smolagents.py",
    "langgraph": ROOT / "bench" / "peers" / "qa_langgraph.py",
}
PEER_SETUP = ROOT / "bench" / "peers" / "setup_qa_peer.sh"
SMALLAGENT = ROOT / ".venv" / "bin" / "smallagent"
DEFAULT_MODELS = "qwen2.5-coder:0.5b,qwen2.5-coder:1.5b"
QUICK_MODELS = "qwen2.5-coder:1.5b"
# smolagents took 92-1,069 s a question on the 1.5B model (Part 2 of docs/benchmarks.md): four of
# those would not fit a quick run; smallagent and LangGraph take 5-20 s.
QUICK_QUESTION_SECONDS = 120.0
BUILD = fetch.QA_CACHE / "build"
INDEX_DIR = fetch.QA_CACHE / "indexes"
INDEX_NAME = "qa"
TOOLS = ["search", "read_file", "shell"]


class BenchError(Exception):
    """The run cannot go on; the message says why (printed as one line, exit 2)."""


def say(message: str) -> None:
    print(f"[qa-bench] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- preparing


def prepare(max_steps: int, num_ctx: int) -> dict[str, list[questions.Question]]:
    """Inputs fetched, corpus laid out, questions and task files written (deterministic)."""
    from qabench.manual import read_manual

    squad = fetch.squad_files()
    manual = fetch.manual_pdf()
    sources = {name: json.loads(path.read_text(encoding="utf-8")) for name, path in squad.items()}
    outline, pages = read_manual(manual)
    corpus = BUILD / "corpus"
    by_split = questions.build_question_set(sources, outline, pages, manual, corpus)
    settings = {
        "index": INDEX_NAME,
        "workdir": "corpus",
        "tools": TOOLS,
        "shell": "read-only",
        "max_steps": max_steps,
        "temperature": 0,
        "seed": 0,
        "num_ctx": num_ctx,
    }
    for split, items in by_split.items():
        questions.save_questions(items, BUILD / f"questions-{split}.json")
        task_path = BUILD / f"tasks-{split}.json"
        task_path.write_text(json.dumps(questions.task_file(items, settings), indent=1) + "\n")
    return by_split


def ingest(corpus: Path) -> None:
    """smallagent's index of the corpus; incremental, so a second run costs under a second."""
    say(f"ingesting {corpus} (first time: a few minutes on 2 cores)")
    result = subprocess.run(
        [
            str(SMALLAGENT),
            "--index-dir",
            str(INDEX_DIR),
            "--index",
            INDEX_NAME,
            "ingest",
            str(corpus),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    if result.returncode != 0:
        raise BenchError(f"smallagent ingest failed: {result.stderr.strip()[-400:]}")


def peer_python(name: str) -> str:
    say(f"setting up the {name} virtualenv (first time: pip install)")
    result = subprocess.run(
        ["bash", str(PEER_SETUP), name], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BenchError(f"{PEER_SETUP.name} {name} failed: {result.stderr.strip()[-400:]}")
    return result.stdout.strip().splitlines()[-1]


# ---------------------------------------------------------------- the server and the models


def load_ollama_dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ollama_dev", ROOT / "scripts" / "ollama_dev.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["ollama_dev"] = module
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def ollama_server(host: str | None, models: Sequence[str]) -> Iterator[str]:
    if host:
        yield host if "://" in host else f"http://{host}"
        return
    ollama_dev = load_ollama_dev()
    say("starting a private Ollama server")
    with ollama_dev.running_server(list(models)) as server:
        yield server.host


def _post(host: str, path: str, payload: dict[str, Any], timeout: float = 900) -> dict[str, Any]:
    request = urllib.request.Request(
        host + path,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return dict(json.load(response))
    except urllib.error.HTTPError as error:
        raise BenchError(f"{path} {payload.get('model')}: {error.read().decode()[:300]}") from None
    except OSError as error:
        raise BenchError(f"cannot reach Ollama at {host}: {error}") from None


def model_alias(host: str, base: str, num_ctx: int, num_predict: int | None = None) -> str:
    """`<base>-ctx<N>`: the base model with PARAMETER num_ctx N, so that OpenAI-compatible
    clients, which cannot pass num_ctx, get the same context as the native ones. With
    `num_predict`, also a cap on every reply of every agent (`-ctx<N>-max<M>`): a guard against a
    runaway reply, which otherwise runs until the client's timeout."""
    name, _, tag = base.partition(":")
    alias = f"{name}:{tag or 'latest'}-ctx{num_ctx}"
    parameters = {"num_ctx": num_ctx}
    if num_predict:
        alias += f"-max{num_predict}"
        parameters["num_predict"] = num_predict
    _post(
        host,
        "/api/create",
        {"model": alias, "from": base, "parameters": parameters, "stream": False},
    )
    shown = " ".join(str(_post(host, "/api/show", {"model": alias}).get("parameters", "")).split())
    for key, value in parameters.items():
        if f"{key} {value}" not in shown:
            raise BenchError(f"{alias} was created without {key} {value}: {shown}")
    return alias


def warm_up(host: str, alias: str) -> None:
    """Load the model before an agent's batch, so no agent pays the load inside a question."""
    _post(host, "/api/generate", {"model": alias, "prompt": "", "keep_alive": "30m"})


def server_version(host: str) -> str:
    try:
        with urllib.request.urlopen(host + "/api/version", timeout=10) as response:
            return str(json.load(response).get("version"))
    except OSError:
        return "unknown"


# ---------------------------------------------------------------- running the agents


def run_smallagent(
    task_file: Path,
    ids: list[str],
    alias: str,
    proxy_url: str,
    out: Path,
    extra: Sequence[str] = (),
    settings: Mapping[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """`extra`: more `smallagent run` flags (the escalation mode: `--escalate ALIAS ...`);
    `settings`: SMALLAGENT_* variables for it (the low-confidence threshold)."""
    results = out / "smallagent.jsonl"
    results.unlink(missing_ok=True)
    command = [
        str(SMALLAGENT),
        "--ollama-host",
        proxy_url,
        "--index-dir",
        str(INDEX_DIR),
        "run",
        str(task_file),
        "--model",
        alias,
        "--results",
        str(results),
        "--only",
        ",".join(ids),
        *extra,
    ]
    completed = subprocess.run(
        command,
        cwd=task_file.parent,
        capture_output=True,
        text=True,
        check=False,
        # The peers wait up to 1800 s for one model request; so does smallagent here (default 600:
        # on a busy machine one request of the 0.5B model took over 10 minutes).
        env={
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "SMALLAGENT_REQUEST_TIMEOUT": "1800",
            **(settings or {}),
        },
    )
    (out / "smallagent.stdout").write_text(completed.stdout + completed.stderr)
    if completed.returncode not in (0, 1):
        # The run stopped early (exit 2: e.g. the server timed out): keep what it finished; the
        # questions it never reached are recorded as errors, and the other agents still run.
        say(f"smallagent run exited {completed.returncode}: {completed.stderr.strip()[-300:]}")
    if not results.exists():
        return {}
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    return {
        row["task_id"]: {
            "answer": row["answer"],
            "passed": row["status"] == "pass",
            "status": row["status"],
            "stop": row["stop_reason"] or row["status"],
            "seconds": row["seconds"],
            "steps": row["steps"],
            "error": row["error"],
            "own_wh": row["wh"],
            "own_prompt_tokens": row["prompt_tokens"],
            "own_generated_tokens": row["generated_tokens"],
            "answered_by": row.get("answered_by", ""),
            "attempts": row.get("attempts", []),
        }
        for row in rows
    }


def over_time(answer: dict[str, Any] | None, limit: float) -> dict[str, Any] | None:
    """The answer as scored under a per-question time limit (0: none): one that came later
    fails, whichever agent gave it (the peers are stopped at the limit; smallagent is not).

    >>> over_time({"passed": True, "seconds": 130.0, "stop": "answer"}, 120)["stop"]
    'time_cap'
    >>> over_time({"passed": True, "seconds": 30.0, "stop": "answer"}, 120)["passed"]
    True
    """
    if answer is None or limit <= 0 or float(answer["seconds"]) <= limit:
        return answer
    return {**answer, "passed": False, "stop": "time_cap"}


def run_peer(
    name: str, python: str, task_file: Path, ids: list[str], alias: str, proxy_url: str,
    tools_url: str, out: Path, by_id: dict[str, questions.Question], question_seconds: float = 0.0,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    from smallagent.tasks import Check, evaluate

    results = out / f"{name}.jsonl"
    results.unlink(missing_ok=True)
    command = [
        python,
        str(PEER_SCRIPTS[name]),
        "--tasks",
        str(task_file),
        "--only",
        ",".join(ids),
        "--model",
        alias,
        "--ollama",
        proxy_url,
        "--tools",
        tools_url,
        "--out",
        str(results),
        "--question-seconds",
        str(question_seconds),
    ]
    with (out / f"{name}.stderr").open("w") as log:
        completed = subprocess.run(command, stdout=log, stderr=log, check=False)
    if completed.returncode != 0:
        say(f"the {name} peer exited {completed.returncode} (log: {log.name}); keeping its answers")
    if not results.exists():
        return {}

    def no_commands(command: str, stdin: str) -> int | None:
        raise AssertionError("the benchmark's checks run no commands")

    found = {}
    for line in results.read_text().splitlines():
        row = json.loads(line)
        question = by_id[row["id"]]
        outcome = evaluate(Check("regex", (question.pattern,)), row["answer"], [], no_commands)
        found[row["id"]] = {**row, "passed": outcome.passed}
    return found


def _sample_suffix(args: argparse.Namespace) -> str:
    if args.per_kind:
        return f"-sample{args.per_kind}"
    return "-quick" if args.quick else ""


def run_all(
    args: argparse.Namespace,
    by_split: dict[str, list[questions.Question]],
    save: Callable[[dict[str, Any], bool], None],
) -> dict[str, Any]:
    """Runs every agent on every model; `save(outcome, complete)` after each batch, so a long run
    that is stopped keeps what it finished."""
    chosen = by_split[args.split]
    if args.quick or args.per_kind:
        chosen = questions.quick_sample(chosen, args.per_kind or 1)
    if args.only:
        wanted = set(args.only.split(","))
        chosen = [question for question in chosen if question.id in wanted]
    if not chosen:
        raise BenchError("no question selected")
    ids = [question.id for question in chosen]
    by_id = {question.id: question for question in chosen}
    prompts = {question.id: question.prompt for question in chosen}
    task_file = BUILD / f"tasks-{args.split}.json"
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = fetch.QA_CACHE / "runs" / f"{stamp}-{args.split}{_sample_suffix(args)}"
    run_dir.mkdir(parents=True, exist_ok=True)
    agents = [agent for agent in AGENTS if agent in args.agents.split(",")]
    pythons = {agent: peer_python(agent) for agent in agents if agent != "smallagent"}

    from smallagent.energy import default_energy_settings

    energy = default_energy_settings()
    rows: list[report.Row] = []
    details: list[dict[str, Any]] = []
    unattributed: dict[str, int] = {}
    aliases: dict[str, str] = {}
    version = "unknown"

    def _outcome() -> dict[str, Any]:
        summaries = report.summaries_of(rows)
        (run_dir / "details.json").write_text(json.dumps(details, indent=1, ensure_ascii=False))
        return {
            "rows": rows,
            "summaries": summaries,
            "unattributed": unattributed,
            "run_dir": run_dir,
            "aliases": aliases,
            "ollama_version": version,
            "energy": energy,
            "chosen": chosen,
        }

    escalate = [args.escalate] if args.escalate else []
    with ollama_server(args.ollama_host, [*args.models, *escalate]) as host:
        aliases.update(
            {
                model: model_alias(host, model, args.num_ctx, args.num_predict)
                for model in [*args.models, *escalate]
            }
        )
        extra: list[str] = []
        if args.escalate:  # the cascade, judged by the answer's own signals, never the gold
            extra = ["--escalate", aliases[args.escalate], "--no-escalate-on-checks"]
            extra += ["--seed-escalation"] if args.escalate_seeded else []
        cascade_settings = {  # the escalation settings given; else smallagent's defaults
            name: str(value)
            for name, value in (
                ("SMALLAGENT_ESCALATE_BELOW", args.escalate_below),
                ("SMALLAGENT_ESCALATE_WITHIN", args.escalate_within),
            )
            if args.escalate and value is not None
        }
        version = server_version(host)
        factory = smallagent_tools(INDEX_DIR, INDEX_NAME, BUILD / "corpus")
        with ToolServer(factory) as tool_server:
            for position, model in enumerate(args.models):
                alias = aliases[model]
                # Agents take turns first, model by model, so drift in machine load spreads.
                order = agents[position % len(agents) :] + agents[: position % len(agents)]
                for agent in order:
                    out = run_dir / f"{agent}-{model.replace(':', '_')}"
                    out.mkdir(parents=True, exist_ok=True)
                    warm_up(host, alias)
                    say(f"{agent} on {model}: {len(ids)} questions")
                    started = time.perf_counter()
                    with RecordingProxy(host) as proxy:
                        if agent == "smallagent":
                            answers = run_smallagent(
                                task_file, ids, alias, proxy.url, out, extra, cascade_settings
                            )
                        else:
                            answers = run_peer(
                                agent,
                                pythons[agent],
                                task_file,
                                ids,
                                alias,
                                proxy.url,
                                tool_server.url,
                                out,
                                by_id,
                                args.question_seconds,
                            )
                    say(f"{agent} on {model}: done in {time.perf_counter() - started:.0f} s")
                    owned = attribute(proxy.exchanges, prompts)
                    unattributed[f"{agent} {model}"] = len(owned[""])
                    (out / "exchanges.jsonl").write_text(
                        "".join(json.dumps(asdict(e)) + "\n" for e in proxy.exchanges)
                    )
                    for question in chosen:
                        answer = over_time(answers.get(question.id), args.question_seconds)
                        exchanges = owned[question.id]
                        model_seconds = sum(e.seconds for e in exchanges)
                        row = report.Row(
                            agent=agent,
                            model=f"{model}→{args.escalate}" if extra else model,
                            id=question.id,
                            kind=question.kind,
                            source=question.source,
                            passed=bool(answer and answer["passed"]),
                            stop=answer["stop"] if answer else "missing",
                            requests=len(exchanges),
                            prompt_tokens=sum(e.usage.prompt_tokens for e in exchanges),
                            generated_tokens=sum(e.usage.generated_tokens for e in exchanges),
                            model_seconds=model_seconds,
                            wall_seconds=float(answer["seconds"]) if answer else 0.0,
                            wh=model_seconds * energy.device_watts / 3600,
                            error=(answer or {}).get("error", "") or "",
                        )
                        rows.append(row)
                        details.append(
                            {
                                **asdict(row),
                                "prompt": question.prompt,
                                "answers": question.answers,
                                "answer": (answer or {}).get("answer", ""),
                                "agent_record": answer,
                            }
                        )
                    save(_outcome(), False)
        version = server_version(host)
    outcome = _outcome()
    save(outcome, True)
    return outcome


# ---------------------------------------------------------------- the record


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, IndexError):
        memory = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
    }


def git_revision() -> str:
    result = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return result.stdout.strip() + ("+dirty" if dirty else "")


def peer_pins() -> dict[str, str]:
    pins = {}
    for line in PEER_SETUP.read_text().splitlines():
        line = line.strip()
        if line.startswith("PINS=("):
            packages = line.removeprefix("PINS=(").removesuffix(")").split()
            pins[packages[0].split("==")[0]] = " ".join(packages)
    return pins


def write_record(
    out: Path,
    args: argparse.Namespace,
    argv: Sequence[str] | None,
    by_split: dict[str, list[questions.Question]],
    outcome: dict[str, Any],
    began: float,
    complete: bool,
) -> None:
    chosen = outcome["chosen"]
    command = [".venv/bin/python", "bench/qa_bench.py", *(sys.argv[1:] if argv is None else argv)]
    record = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "complete": complete,
        "command": " ".join(shlex.quote(part) for part in command),
        "machine": machine(),
        "duration_s": round(time.perf_counter() - began, 1),
        "split": args.split,
        "quick": args.quick,
        "per_kind": args.per_kind,
        "question_set": {
            "split_fingerprint": questions.fingerprint(by_split[args.split]),
            "asked": len(chosen),
            "by_kind": {kind: sum(q.kind == kind for q in chosen) for kind in questions.KINDS},
        },
        "settings": {
            "max_steps": args.max_steps,
            "question_seconds": args.question_seconds or None,
            "num_ctx": args.num_ctx,
            "num_predict": args.num_predict,
            "temperature": 0,
            "seed": 0,
            "tools": TOOLS,
            "aliases": outcome["aliases"],
            "energy": f"modeled: {outcome['energy'].device_label} x the server's seconds per "
            "request, measured by the recording proxy",
        },
        "versions": {
            "smallagent": git_revision(),
            "ollama": outcome["ollama_version"],
            **peer_pins(),
        },
        "summary": outcome["summaries"],
        "ratios_to_smallagent": report.ratios(outcome["summaries"]),
        "unattributed_requests": outcome["unattributed"],
        "questions": [asdict(row) for row in outcome["rows"]],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    partial.write_text(json.dumps(record, indent=1) + "\n")
    partial.replace(out)


def resummarise(path: Path, quiet: Sequence[str] = ()) -> int:
    """The summary and ratios of a results file, recomputed from its rows by this code; with
    `quiet` (MODEL=PROMPT_TOK_S,GENERATE_TOK_S), also each agent's energy at those speeds."""
    try:
        record = json.loads(path.read_text())
        rows = [report.Row(**row) for row in record["questions"]]
        # the device's watts, as the run modeled them: Wh = the server's seconds x watts
        timed = next(row for row in rows if row.model_seconds > 0)
        watts = timed.wh * 3600 / timed.model_seconds
        rates = {}
        for spec in quiet:
            model, speeds = spec.split("=", 1)
            prompt, generate = (float(part) for part in speeds.split(","))
            rates[model] = report.QuietRates(prompt, generate, watts)
    except (OSError, ValueError, KeyError, TypeError, StopIteration) as error:
        say(f"error: {path} is not a results file of this benchmark, or --quiet-rates is not "
            f"MODEL=PROMPT_TOK_S,GENERATE_TOK_S ({error})")  # fmt: skip
        return 2
    record["summary"] = report.summaries_of(rows, rates)
    record["ratios_to_smallagent"] = report.ratios(record["summary"])
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(report.markdown(record["summary"]))
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=questions.SPLITS, default="dev")
    parser.add_argument(
        "--models",
        help="comma-separated (default: qwen2.5-coder:0.5b,qwen2.5-coder:1.5b; with --quick, "
        "qwen2.5-coder:1.5b)",
    )
    parser.add_argument("--agents", default=",".join(AGENTS))
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"one question of each kind (4), the 1.5B model, {QUICK_QUESTION_SECONDS:g} s a "
        "question at most: a sample in under 15 minutes",
    )
    parser.add_argument(
        "--question-seconds",
        type=float,
        help="a question that takes longer fails (stop time_cap), for every agent alike; a peer "
        f"is stopped there (default: no limit; {QUICK_QUESTION_SECONDS:g} with --quick)",
    )
    parser.add_argument(
        "--per-kind", type=int, default=0, help="the first N questions of each kind (a sample)"
    )
    parser.add_argument("--only", default="", help="only these question ids (comma-separated)")
    parser.add_argument(
        "--max-steps", type=int, default=6, help="model calls per question, all agents"
    )
    parser.add_argument("--num-ctx", type=int, default=8192, help="context of the model alias")
    parser.add_argument(
        "--num-predict",
        type=int,
        help="also cap every reply of every agent at this many tokens (alias PARAMETER); "
        "default: no cap, as each agent ships",
    )
    parser.add_argument("--ollama-host", help="use this server (default: start a private one)")
    parser.add_argument(
        "--quiet-rates",
        action="append",
        default=[],
        metavar="MODEL=PROMPT_TOK_S,GENERATE_TOK_S",
        help="with --summarise: also the energy of each agent's tokens at these speeds "
        "(bench/engine_speed.py on a quiet machine), for runs that met other load",
    )
    parser.add_argument(
        "--escalate",
        metavar="MODEL",
        help="smallagent escalates to MODEL when a signal fires on the answer (issue 12)",
    )
    parser.add_argument(
        "--escalate-below",
        type=float,
        metavar="P",
        help="with --escalate: escalate an answer whose tokens' geometric mean probability is "
        "below P (smallagent's escalate_below, default 0.7; 0: off; a tiny P, e.g. 1e-9, "
        "records each first answer's confidence without escalating on it)",
    )
    parser.add_argument(
        "--escalate-within",
        type=int,
        metavar="N",
        help="with --escalate: the first model gets N requests at most, the last for its answer "
        "alone (smallagent's escalate_within, default 1; 0: no limit)",
    )
    parser.add_argument(
        "--escalate-seeded",
        action="store_true",
        help="with --escalate: the larger model starts from what the first found (not kept)",
    )
    parser.add_argument(
        "--summarise",
        type=Path,
        metavar="RESULTS_JSON",
        help="recompute the summary and ratios of a results file from its rows, and print them",
    )
    parser.add_argument(
        "--prepare-only", action="store_true", help="fetch, build and ingest; no run"
    )
    parser.add_argument(
        "--out", type=Path, help="results JSON (default bench/results/qa-<split>[-quick].json)"
    )
    args = parser.parse_args(argv)
    if args.models is None:
        args.models = QUICK_MODELS if args.quick else DEFAULT_MODELS
    if args.question_seconds is None:
        args.question_seconds = QUICK_QUESTION_SECONDS if args.quick else 0.0
    args.models = [model.strip() for model in args.models.split(",") if model.strip()]
    unknown = set(args.agents.split(",")) - set(AGENTS)
    if unknown or not args.models:
        parser.error(f"unknown agent(s) {sorted(unknown)}" if unknown else "no model given")
    if args.max_steps < 1 or args.num_ctx < 1024:
        parser.error("--max-steps must be >= 1 and --num-ctx >= 1024")
    if args.question_seconds < 0:
        parser.error("--question-seconds must be >= 0 (0: no limit)")
    if args.summarise:
        return resummarise(args.summarise, args.quiet_rates)
    began = time.perf_counter()
    # `kill` or `timeout` must still stop the private server and the agent being run: turn
    # SIGTERM into the KeyboardInterrupt that unwinds every `with` (subprocess.run kills its child).
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if not SMALLAGENT.exists():
            raise BenchError(f"{SMALLAGENT} is missing; run `make setup` first")
        by_split = prepare(args.max_steps, args.num_ctx)
        ingest(BUILD / "corpus")
        counts = {split: len(items) for split, items in by_split.items()}
        say(f"questions: {counts}; task files in {BUILD}")
        if args.prepare_only:
            return 0
        out = args.out or ROOT / "bench" / "results" / (
            f"qa-{args.split}{_sample_suffix(args)}.json"
        )

        def save(outcome: dict[str, Any], complete: bool) -> None:
            write_record(out, args, argv, by_split, outcome, began, complete)

        outcome = run_all(args, by_split, save)
    except (BenchError, fetch.FetchError, ValueError) as error:
        say(f"error: {error}")
        return 2
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    print(report.markdown(outcome["summaries"]))
    say(f"results: {out}; answers and traces: {outcome['run_dir']}")
    say(f"took {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
