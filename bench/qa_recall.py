#!/usr/bin/env python3
"""Retrieval on the question benchmark: is the gold passage found, and does the model see it?

No model is called. For every crowd-written question of a split (its paragraph is in the corpus
and its gold answers are known), the question itself is the query, as smallagent's first search
uses it:

- recall@k: a passage of the question's own document that contains a gold answer
  (SQuAD-normalised, the benchmark's own check) is among the top k, for dense (FAISS), keyword
  (FTS5/BM25) and hybrid (smallagent's fused ranking) retrieval;
- visible@k: the gold answer is inside what the search tool shows the model for the top k
  passages (a prefix of each passage, or the snippet around the query's words), and what that
  costs in characters.

    .venv/bin/python bench/qa_recall.py --split dev [--json bench/results/qa-recall-dev.json]

With `--coverage`, instead: for every question of the split (all kinds), how much of it the best
of the top 4 passages holds (`Retriever.coverage`, what the "not found" review compares with
`not_found_below`), by kind, and whether it names a file or folder (then the review stays out).

Needs the benchmark's corpus and index (`bench/qa_bench.py --prepare-only` builds them).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from qabench import fetch  # noqa: E402

from smallagent.snippets import passage_view  # noqa: E402

BUILD = fetch.QA_CACHE / "build"
INDEX_DIR = fetch.QA_CACHE / "indexes"
KS = (1, 3, 5, 8)
POOL = 50


def load_questions(split: str) -> list[dict[str, Any]]:
    items = json.loads((BUILD / f"questions-{split}.json").read_text())
    return [item for item in items if item["kind"] == "squad"]


def rankings(retriever: Any, query: str) -> dict[str, list[int]]:
    """Chunk ids per method, best first, as the Retriever computes them."""
    reader = retriever.reader
    vector = retriever.embedder.embed([query])[0]
    return {
        "dense": [chunk_id for chunk_id, _ in reader.dense(vector, POOL)],
        "keyword": [chunk_id for chunk_id, _ in reader.keyword(query, POOL)],
        "hybrid": [hit.chunk_id for hit in retriever.search(query, k=max(KS), candidates=POOL)],
    }


def measure(split: str, view_chars: int) -> dict[str, Any]:
    from smallagent.embeddings import query_embedder
    from smallagent.index import IndexReader, index_directory
    from smallagent.retrieval import Retriever

    reader = IndexReader(index_directory(INDEX_DIR, "qa"))
    retriever = Retriever(reader, query_embedder(reader.spec.embedder))
    corpus = BUILD / "corpus"
    questions = load_questions(split)
    hits_at: dict[str, dict[int, int]] = {
        m: dict.fromkeys(KS, 0) for m in ("dense", "keyword", "hybrid")
    }
    visible: dict[str, dict[int, int]] = {v: dict.fromkeys(KS, 0) for v in ("prefix", "snippet")}
    cost: dict[str, list[int]] = {"prefix": [], "snippet": []}
    ranks: list[int | None] = []
    for item in questions:
        gold = re.compile(item["pattern"])
        document = str(corpus / item["document"])
        by_method = rankings(retriever, item["prompt"])
        wanted = {
            chunk_id
            for ids in by_method.values()
            for chunk_id, chunk in reader.chunks(ids).items()
            if chunk.path == document and gold.search(chunk.text)
        }
        for method, ids in by_method.items():
            for k in KS:
                hits_at[method][k] += any(chunk_id in wanted for chunk_id in ids[:k])
        hybrid = by_method["hybrid"]
        ranks.append(next((n for n, c in enumerate(hybrid, 1) if c in wanted), None))
        stored = reader.chunks(hybrid)
        for view_name, view in _views(view_chars).items():
            shown = [view(stored[c].text, item["prompt"]) for c in hybrid if c in stored]
            for k in KS:
                visible[view_name][k] += any(gold.search(text) for text in shown[:k])
            cost[view_name].append(sum(len(text) for text in shown[:4]))
    reader.close()
    total = len(questions)
    return {
        "split": split,
        "questions": total,
        "query": "the question itself",
        "recall_at_k": {
            m: {k: round(v / total, 3) for k, v in by.items()} for m, by in hits_at.items()
        },
        "hybrid_rank_median_when_found": statistics.median([r for r in ranks if r] or [0]),
        "hybrid_not_in_top8": sum(r is None for r in ranks),
        "visible_at_k": {
            v: {k: round(n / total, 3) for k, n in by.items()} for v, by in visible.items()
        },
        "chars_shown_top4_median": {v: statistics.median(c) for v, c in cost.items()},
        "view_chars": view_chars,
    }


def coverage_by_kind(split: str) -> dict[str, Any]:
    """The coverage of each question by its best passage (top 4), by kind: where the kinds
    overlap decides which `not_found_below` can tell answerable from unanswerable."""
    from smallagent.embeddings import query_embedder
    from smallagent.index import IndexReader, index_directory
    from smallagent.retrieval import Retriever
    from smallagent.tools import named_paths

    reader = IndexReader(index_directory(INDEX_DIR, "qa"))
    retriever = Retriever(reader, query_embedder(reader.spec.embedder))
    items = json.loads((BUILD / f"questions-{split}.json").read_text())
    by_kind: dict[str, list[float]] = {}
    names_a_path: dict[str, int] = {}
    for item in items:
        share, _ = retriever.coverage(item["prompt"], retriever.search(item["prompt"], k=4))
        by_kind.setdefault(item["kind"], []).append(round(share, 3))
        names_a_path[item["kind"]] = names_a_path.get(item["kind"], 0) + bool(
            named_paths(item["prompt"], BUILD / "corpus")
        )
    reader.close()
    return {
        "split": split,
        "coverage_top4": {
            kind: {
                "questions": len(shares),
                "naming_a_file_or_folder": names_a_path[kind],
                "median": statistics.median(shares),
                "below": {
                    str(limit): sum(share < limit for share in shares)
                    for limit in (0.3, 0.35, 0.4, 0.45, 0.5)
                },
                "sorted": sorted(shares),
            }
            for kind, shares in sorted(by_kind.items())
        },
    }


def _views(chars: int) -> dict[str, Callable[[str, str], str]]:
    def prefix(text: str, query: str) -> str:
        flat = " ".join(text.split())
        return flat if len(flat) <= chars else flat[:chars].rsplit(" ", 1)[0] + " …"

    def snippet(text: str, query: str) -> str:
        return passage_view(text, query, chars)

    return {"prefix": prefix, "snippet": snippet}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--chars", type=int, default=500, help="characters shown per passage")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--coverage", action="store_true", help="coverage of each question by kind, instead"
    )
    args = parser.parse_args(argv)
    if not (BUILD / f"questions-{args.split}.json").exists():
        print("no benchmark corpus: run bench/qa_bench.py --prepare-only first", file=sys.stderr)
        return 2
    figures = coverage_by_kind(args.split) if args.coverage else measure(args.split, args.chars)
    print(json.dumps(figures, indent=1))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
