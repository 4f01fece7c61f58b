#!/usr/bin/env python3
"""Inference speed of the Ollama build smallagent ships, side by side with its peers, in one run.

Engines, each given the same GGUF, the same prompt and the same thread count, interleaved round by
round so that a noisy neighbour hits all of them alike:
- `ollama (shipped)`: the build `ollama_dev.py` makes for this CPU (-O3 -march=native, no AMX);
- `ollama (x86-64-v3)`: the same source built for AVX2 CPUs (scripts/build_matrix.py makes it);
- `llama.cpp`: llama-cpp-python built from source on this machine with GGML_NATIVE=ON
  (its own, newer ggml), called in-process through its C API's perf counters.
Each round starts with a prompt that differs from every earlier one in its first tokens, so no
engine reuses a cached prefix. Reported: prompt-eval and generation tokens/s (medians), ratios to
the shipped build, and generation as a fraction of the memory-bandwidth limit (a decoder reads
every weight once per token: tokens/s <= bandwidth / model bytes; bandwidth: bench/native/stream.c).

  python3 bench/engine_speed.py [--rounds 5] [--json bench/results/engine-speed.json]
  python3 bench/engine_speed.py --bandwidth-into bench/results/engine-speed.json  # re-probe only

The limit uses the read-only probe (a decoder reads weights, it hardly writes): STREAM's copy
figure leaves out the write-allocate traffic and reads lower. The probe runs before the engines
start (and can be re-run alone, recorded with its time, when the first probe met a busy machine).

Set-up for the peer (once, ~10 min on 2 cores):
  python3 -m venv ~/.cache/smallagent/bench/llamacpp-venv
  CMAKE_ARGS="-DGGML_NATIVE=ON" ~/.cache/smallagent/bench/llamacpp-venv/bin/pip install \\
      llama-cpp-python==0.3.36
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import ollama_dev  # noqa: E402

MODEL = "qwen2.5-coder:1.5b"
LLAMACPP_PYTHON = ollama_dev.CACHE / "bench" / "llamacpp-venv" / "bin" / "python"
V3_BINARY = ollama_dev.CACHE / "build-matrix" / "x86-64-v3" / "ollama"

# The peer runs in its own interpreter (its venv), answering one JSON request per line.
LLAMACPP_WORKER = textwrap.dedent(
    """
    import json, sys
    import llama_cpp
    config = json.loads(sys.stdin.readline())
    llm = llama_cpp.Llama(model_path=config["model"], n_ctx=config["ctx"], n_batch=512,
                          n_threads=config["threads"], n_threads_batch=config["threads"],
                          verbose=False)
    print(json.dumps({"version": llama_cpp.__version__}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        llm.reset()
        llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
        llm.create_completion(request["prompt"], max_tokens=request["generate"], temperature=0.0,
                              seed=1)
        perf = llama_cpp.llama_perf_context(llm._ctx.ctx)
        print(json.dumps({"prompt_tokens": perf.n_p_eval, "prompt_s": perf.t_p_eval_ms / 1e3,
                          "generated": perf.n_eval, "generate_s": perf.t_eval_ms / 1e3}),
              flush=True)
    """
)


def prompt_for(round_number: int, words: int) -> str:
    """Real prose (the example docs), opened by a line unique to the round."""
    text = " ".join(
        path.read_text() for path in sorted((ROOT / "examples" / "docs").glob("*.md"))
    ).split()
    body = " ".join((text * (words // max(len(text), 1) + 1))[:words])
    return f"Round {round_number}: notes, continued.\n{body}\nIn short,"


def ollama_engine(host: str, threads: int) -> Callable[[str, int], dict[str, float]]:
    def measure(prompt: str, generate: int) -> dict[str, float]:
        payload = {
            "model": MODEL,
            "prompt": prompt,
            "raw": True,
            "stream": False,
            "keep_alive": "30m",
            "options": {
                "num_predict": generate,
                "temperature": 0,
                "seed": 1,
                "num_thread": threads,
                "num_ctx": 2048,
            },
        }
        request = urllib.request.Request(
            f"{host}/api/generate",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=600) as response:
            reply = json.load(response)
        return {
            "prompt_tokens": reply["prompt_eval_count"],
            "prompt_s": reply["prompt_eval_duration"] / 1e9,
            "generated": reply["eval_count"],
            "generate_s": reply["eval_duration"] / 1e9,
        }

    return measure


def llamacpp_engine(
    python: Path, gguf: Path, threads: int
) -> tuple[Callable[[str, int], dict[str, float]], subprocess.Popen[str], str]:
    worker = subprocess.Popen(
        [str(python), "-c", LLAMACPP_WORKER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert worker.stdin and worker.stdout
    worker.stdin.write(json.dumps({"model": str(gguf), "ctx": 2048, "threads": threads}) + "\n")
    worker.stdin.flush()
    version = json.loads(worker.stdout.readline())["version"]

    def measure(prompt: str, generate: int) -> dict[str, float]:
        assert worker.stdin and worker.stdout
        worker.stdin.write(json.dumps({"prompt": prompt, "generate": generate}) + "\n")
        worker.stdin.flush()
        return dict(json.loads(worker.stdout.readline()))

    return measure, worker, version


def bandwidth(threads: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        binary = Path(scratch) / "stream"
        source = ROOT / "bench" / "native" / "stream.c"
        subprocess.run(
            ["gcc", "-O3", "-march=native", "-fopenmp", str(source), "-o", str(binary)], check=True
        )
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        # 4 arrays of 256 MiB: far past any last-level cache.
        result = subprocess.run(
            [str(binary), str(32 << 20), "10"], env=env, capture_output=True, text=True, check=True
        )
    return dict(json.loads(result.stdout))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--words", type=int, default=400, help="prompt length in words")
    parser.add_argument("--generate", type=int, default=128, help="tokens to generate")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--v3-binary", type=Path, default=V3_BINARY)
    parser.add_argument("--llamacpp-python", type=Path, default=LLAMACPP_PYTHON)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--bandwidth-into", type=Path, help="only re-probe bandwidth and update this results file"
    )
    args = parser.parse_args()
    if args.bandwidth_into:
        return reprobe(args.bandwidth_into, args.threads)

    memory = bandwidth(args.threads)  # first, before any engine holds memory or CPU
    gguf = ollama_dev.assemble_gguf(MODEL, ollama_dev.CATALOGUE[MODEL])
    engines: dict[str, Callable[[str, int], dict[str, float]]] = {}
    servers: list[ollama_dev.Server] = []
    workers: list[subprocess.Popen[str]] = []
    versions: dict[str, str] = {}
    try:
        builds = {"ollama (shipped)": ollama_dev.ensure_binary()}
        if args.v3_binary.exists():
            builds["ollama (x86-64-v3)"] = str(args.v3_binary)
        else:
            print(f"note: no {args.v3_binary}; run scripts/build_matrix.py --only x86-64-v3")
        for name, binary in builds.items():
            server = ollama_dev.start_server(binary=binary)
            servers.append(server)
            ollama_dev.ensure_models(server.host, [MODEL])
            engines[name] = ollama_engine(server.host, args.threads)
            versions[name] = f"{ollama_dev.server_version(server.host)} {binary}"
        if args.llamacpp_python.exists():
            measure, worker, version = llamacpp_engine(args.llamacpp_python, gguf, args.threads)
            workers.append(worker)
            engines["llama.cpp"] = measure
            versions["llama.cpp"] = f"llama-cpp-python {version}"
        else:
            print(f"note: no {args.llamacpp_python}; see this script's docstring")

        for measure in engines.values():  # load each model once before timing anything
            measure(prompt_for(0, 20), 4)
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in engines}
        names = list(engines)
        for round_number in range(1, args.rounds + 1):
            order = names[round_number % len(names) :] + names[: round_number % len(names)]
            for name in order:
                sample = engines[name](prompt_for(round_number, args.words), args.generate)
                samples[name].append(sample)
                print(f"round {round_number} {name}: {json.dumps(sample)}", flush=True)
    finally:
        for server in servers:
            ollama_dev.stop_server(server.pid)
        for worker in workers:
            worker.kill()

    model_bytes = gguf.stat().st_size
    limit = memory["read_median_gbs"] * 1e9 / model_bytes
    rows = {}
    for name, runs in samples.items():
        prompt_speed = statistics.median(run["prompt_tokens"] / run["prompt_s"] for run in runs)
        generate_speed = statistics.median(run["generated"] / run["generate_s"] for run in runs)
        rows[name] = {
            "prompt_tokens": statistics.median(run["prompt_tokens"] for run in runs),
            "prompt_tok_s": round(prompt_speed, 1),
            "generate_tok_s": round(generate_speed, 2),
            "share_of_bandwidth_limit": round(generate_speed / limit, 3),
        }
    shipped = rows.get("ollama (shipped)")
    print(
        f"\nmodel {MODEL}: {model_bytes / 1e9:.2f} GB, {args.threads} threads, {args.rounds} rounds"
    )
    print(
        f"memory bandwidth (read, median): {memory['read_median_gbs']:.1f} GB/s "
        f"-> generation limit {limit:.1f} tok/s"
    )
    print(
        f"{'engine':<20} {'prompt tok/s':>13} {'gen tok/s':>10} {'of limit':>9} {'vs shipped':>18}"
    )
    for name, row in rows.items():
        ratio = ""
        if shipped:
            ratio = (
                f"{row['prompt_tok_s'] / shipped['prompt_tok_s']:.2f}x / "
                f"{row['generate_tok_s'] / shipped['generate_tok_s']:.2f}x"
            )
        print(
            f"{name:<20} {row['prompt_tok_s']:>13} {row['generate_tok_s']:>10} "
            f"{row['share_of_bandwidth_limit']:>9.0%} {ratio:>18}"
        )
    if args.json:
        machine = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model_name = next((line for line in machine.splitlines() if "Model name" in line), "")
        report = {
            "machine": model_name.split(":", 1)[-1].strip(),
            "model": MODEL,
            "model_bytes": model_bytes,
            "threads": args.threads,
            "rounds": args.rounds,
            "words": args.words,
            "generate": args.generate,
            "bandwidth": memory,
            "bandwidth_measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "generation_limit_tok_s": round(limit, 2),
            "versions": versions,
            "engines": rows,
            "samples": samples,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def reprobe(path: Path, threads: int) -> int:
    """Measure bandwidth again and recompute each engine's share of the limit in `path`."""
    report = json.loads(path.read_text())
    memory = bandwidth(threads)
    limit = memory["read_median_gbs"] * 1e9 / report["model_bytes"]
    report["bandwidth"] = memory
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report["bandwidth_measured"] = stamp + " (re-probe)"
    report["generation_limit_tok_s"] = round(limit, 2)
    for name, row in report["engines"].items():
        row["share_of_bandwidth_limit"] = round(row["generate_tok_s"] / limit, 3)
        share = row["share_of_bandwidth_limit"]
        print(f"{name:<20} {row['generate_tok_s']:>6} tok/s = {share:.0%}")
    print(f"read bandwidth {memory['read_median_gbs']:.1f} GB/s -> limit {limit:.1f} tok/s")
    path.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
