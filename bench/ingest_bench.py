#!/usr/bin/env python3
"""Ingest and search benchmark: smallagent next to a LlamaIndex pipeline, in the same run.

    .venv/bin/python bench/ingest_bench.py [--rounds 2] [--every 4] [--skip-peer] [--out FILE]

Same corpus (bench/corpus.py), same model (all-MiniLM-L6-v2, offline), same machine, runs
alternated so that drift in machine load hits both sides alike. Every figure is a median.
Measured: first ingest (cold process, imports included), unchanged re-ingest, re-ingest after
changing 1% of files, peak RSS, recall@5 of a known-item query set, search latency at the corpus
size and at 100k chunks, and a cold `smallagent search` process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from corpus import prepare  # noqa: E402

SMALLAGENT = [str(ROOT / ".venv" / "bin" / "smallagent")]
PEER_SETUP = ROOT / "bench" / "peers" / "setup_llamaindex.sh"
PEER_SCRIPT = ROOT / "bench" / "peers" / "llamaindex_ingest.py"


def run_child(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB (this child alone, via wait4) and stdout."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {child.returncode}")
    return seconds, usage.ru_maxrss / 1024, output


def touch_one_percent(corpus: Path, round_number: int) -> int:
    """Change the content of 1% of the files (at least one), as an editor would."""
    files = sorted(path for path in corpus.rglob("*.html"))
    chosen = files[:: max(1, len(files) // max(1, len(files) // 100))][: max(1, len(files) // 100)]
    for path in chosen:
        with path.open("a") as handle:
            handle.write(f"\n<p>edited in round {round_number}</p>\n")
    return len(chosen)


def smallagent_ingest(index_dir: Path, corpus: Path, precision: str) -> dict[str, float]:
    seconds, rss, output = run_child(
        [*SMALLAGENT, "--index-dir", str(index_dir), "ingest", str(corpus), "--json",
         "--precision", precision]
    )  # fmt: skip
    report = json.loads(output)
    return {"seconds": seconds, "rss_mb": rss, "chunks": report["chunks_added"],
            "files": report["added"] + report["updated"]}  # fmt: skip


def peer_ingest(python: str, state: Path, corpus: Path) -> dict[str, float]:
    # --html-sections: LlamaIndex's HTMLTagReader keeps the visible text, as smallagent does. Its
    # default reader embeds raw HTML (tags, scripts, styles): about 6x the chunks on this corpus.
    seconds, rss, output = run_child(
        [python, str(PEER_SCRIPT), str(corpus), str(state), "--html-sections"]
    )
    report = json.loads(output.strip().splitlines()[-1])
    return {"seconds": seconds, "rss_mb": rss, "chunks": report["chunks"], "files": report["files"]}


def known_item_queries(corpus: Path) -> list[tuple[str, str]]:
    """(query, file) pairs from each library page's title: `json — JSON encoder and decoder`
    becomes the query `JSON encoder and decoder`, answered by json.html."""
    pairs = []
    for page in sorted((corpus / "python-library").glob("*.html")):
        title = re.search(r"<title>(.*?)</title>", page.read_text(errors="replace"), re.S)
        if title and "\u2014" in title.group(1):
            rest = title.group(1).split("\u2014", 1)[1]
            description = rest.split("&#8212;")[0].split("\u2014")[0].strip()
            if len(description.split()) >= 2:
                pairs.append((description, page.name))
    return pairs


def retrieval_figures(index: Path, corpus: Path) -> dict[str, float]:
    """recall@5 on the known-item set, and latency with and without the query embedding."""
    sys.path.insert(0, str(ROOT))
    from smallagent.embeddings import query_embedder
    from smallagent.index import IndexReader
    from smallagent.retrieval import Retriever

    pairs = known_item_queries(corpus)
    with IndexReader(index) as reader:
        embedder = query_embedder(reader.spec.embedder)
        retriever = Retriever(reader, embedder)
        retriever.search("warm up", k=5)
        found, with_embedding = 0, []
        for query, target in pairs:
            started = time.perf_counter()
            hits = retriever.search(query, k=5)
            with_embedding.append(time.perf_counter() - started)
            found += any(Path(hit.path).name == target for hit in hits)
        vectors = embedder.embed([query for query, _ in pairs])

        class Precomputed:
            def __init__(self) -> None:
                self.next = 0

            def embed(self, texts: list[str]) -> object:
                vector = vectors[self.next : self.next + 1]
                self.next += 1
                return vector

        fixed = Retriever(reader, Precomputed())
        without_embedding = []
        for query, _ in pairs:
            started = time.perf_counter()
            fixed.search(query, k=5)
            without_embedding.append(time.perf_counter() - started)
    return {
        "queries": len(pairs),
        "recall_at_5": found / len(pairs),
        **percentiles("search_ms", with_embedding),
        **percentiles("search_no_embed_ms", without_embedding),
    }


def percentiles(name: str, seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        f"{name}_p50": 1000 * statistics.median(ordered),
        f"{name}_p95": 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
    }


def large_index_latency(chunks: int = 100_000) -> dict[str, float]:
    """Hybrid search over a synthetic 100k-chunk index, the query embedding excluded."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from smallagent.chunking import Chunk
    from smallagent.index import IndexReader, IndexSpec, open_writer
    from smallagent.retrieval import Retriever

    rng = np.random.default_rng(0)
    words = [f"w{n}" for n in range(20_000)]
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch) / "big"
        spec = IndexSpec("synthetic", 384, 256, 32)
        with open_writer(directory, spec) as writer:
            per_document = 100
            for document in range(chunks // per_document):
                texts = [" ".join(rng.choice(words, 60)) for _ in range(per_document)]
                batch = [Chunk(text, "", None, 0, len(text), 80) for text in texts]
                vectors = rng.standard_normal((per_document, 384)).astype("float32")
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                writer.add_document(f"/doc{document}", 1, 1, "x", "text", batch, vectors)
            writer.commit()
        queries = [" ".join(rng.choice(words, 6)) for _ in range(50)]
        query_vectors = rng.standard_normal((50, 384)).astype("float32")
        query_vectors /= np.linalg.norm(query_vectors, axis=1, keepdims=True)
        with IndexReader(directory) as reader:
            reader.vectors  # noqa: B018 (load before timing)

            class Fixed:
                index = 0

                def embed(self, texts: list[str]) -> object:
                    Fixed.index += 1
                    return query_vectors[Fixed.index % 50 : Fixed.index % 50 + 1]

            retriever = Retriever(reader, Fixed())
            retriever.search(queries[0])
            timings = []
            for query in queries:
                started = time.perf_counter()
                retriever.search(query, k=5)
                timings.append(time.perf_counter() - started)
    return percentiles("search_100k_no_embed_ms", timings)


def cold_search(index_dir: Path, runs: int = 5) -> dict[str, float]:
    timings = [
        run_child([*SMALLAGENT, "--index-dir", str(index_dir), "search", "regular expressions"])[0]
        for _ in range(runs)
    ]
    return {"cold_search_s_p50": statistics.median(timings)}


def ingest_once(
    name: str, precision: str, state: Path, corpus: Path, peer_python: str | None
) -> dict[str, float]:
    if name == "llamaindex":
        assert peer_python is not None
        return peer_ingest(peer_python, state, corpus)
    return smallagent_ingest(state, corpus, precision)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--every", type=int, default=4, help="every Nth library page (1: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ingest.json")
    args = parser.parse_args()

    pristine = prepare(args.every)
    peer_python = None
    if not args.skip_peer:
        peer_python = (
            subprocess.run(["bash", str(PEER_SETUP)], check=True, capture_output=True, text=True)
            .stdout.strip()
            .splitlines()[-1]
        )
    results: dict[str, list[dict[str, float]]] = {}

    def record(name: str, figures: dict[str, float]) -> None:
        results.setdefault(name, []).append(figures)
        print(f"{name:28} " + "  ".join(f"{k}={v:.3g}" for k, v in figures.items()), flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        work = Path(scratch)
        for round_number in range(args.rounds):
            corpus = work / f"corpus-{round_number}"
            shutil.copytree(pristine, corpus)
            systems = [("smallagent-fp32", "fp32"), ("smallagent-int8", "int8")]
            if peer_python:
                systems.append(("llamaindex", ""))
            if round_number % 2:
                systems.reverse()
            for name, precision in systems:
                state = work / f"{name}-{round_number}"
                record(f"{name} first", ingest_once(name, precision, state, corpus, peer_python))
                record(
                    f"{name} unchanged", ingest_once(name, precision, state, corpus, peer_python)
                )
            touched = touch_one_percent(corpus, round_number)
            for name, precision in systems:
                state = work / f"{name}-{round_number}"
                figures = ingest_once(name, precision, state, corpus, peer_python)
                record(f"{name} 1% changed ({touched} files)", figures)
        for name in ("smallagent-fp32", "smallagent-int8"):
            index = work / f"{name}-0" / "default"
            record(f"{name} retrieval", retrieval_figures(index, pristine))
            record(f"{name} cold search", cold_search(work / f"{name}-0"))
    record("smallagent 100k chunks", large_index_latency())

    medians = {
        name: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        for name, runs in results.items()
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"medians": medians, "runs": results}, indent=2))
    print("\nmedians:")
    for name, figures in medians.items():
        print(f"  {name:28} " + "  ".join(f"{k}={v:.3g}" for k, v in figures.items()))
    if peer_python:
        for name in ("smallagent-fp32", "smallagent-int8"):
            for phase in ("first", "unchanged"):
                ratio = (
                    medians[f"llamaindex {phase}"]["seconds"]
                    / medians[f"{name} {phase}"]["seconds"]
                )
                print(f"{phase} ingest, llamaindex time / {name} time: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
