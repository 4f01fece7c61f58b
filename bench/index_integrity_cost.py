"""What the index's integrity checks cost on the search and ingest paths (issue 14).

Builds synthetic indexes (random unit vectors, ~150-word chunks) of the sizes in
docs/benchmarks.md: 10,900 chunks (every library page) and 100,000 chunks. For each, the medians
of several rounds, page cache warm (the case every search after the first is in):

- load: the vectors file loaded as a reader does it now (size, CRC-32, then FAISS), against
  `faiss.read_index` on the path alone (before issue 14). The CRC-32 is paid once per process
  and file; a fresh `smallagent search` process pays it once. CRC-32 and SHA-256 of the file's
  bytes alone, for the choice between them.
- search: hybrid search latency (query embedding excluded) with `cell_size_check` on, as every
  connection now sets it, against off.
- quick_check: `PRAGMA quick_check`, run by every writer when it opens (every ingest).

    .venv/bin/python bench/index_integrity_cost.py [--sizes 10900 100000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(directory: Path, chunks: int) -> None:
    import numpy as np

    from smallagent.chunking import Chunk
    from smallagent.index import IndexSpec, open_writer

    rng = np.random.default_rng(0)
    words = [f"w{n}" for n in range(20_000)]
    with open_writer(directory, IndexSpec("synthetic", 384, 256, 32)) as writer:
        per_document = 100
        for document in range(chunks // per_document):
            texts = [" ".join(rng.choice(words, 150)) for _ in range(per_document)]
            batch = [Chunk(text, "", None, 0, len(text), 200) for text in texts]
            vectors = rng.standard_normal((per_document, 384)).astype("float32")
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            writer.add_document(f"/doc{document}", 1, 1, "x", "text", batch, vectors)
        writer.commit()


def median_ms(samples: list[float]) -> float:
    return round(1000 * statistics.median(samples), 1)


def measure(directory: Path, rounds: int) -> dict[str, float]:
    import faiss
    import numpy as np

    import smallagent.index as index
    from smallagent.index import IndexReader
    from smallagent.retrieval import Retriever

    vectors_file = next(directory.glob("vectors-*.faiss"))
    verified, plain, crc, sha = [], [], [], []
    for _ in range(rounds):
        index._VERIFIED.clear()  # as in a fresh process
        started = time.perf_counter()
        with IndexReader(directory) as reader:
            reader.vectors  # noqa: B018
        verified.append(time.perf_counter() - started)
        started = time.perf_counter()
        with IndexReader(directory) as reader:
            faiss.read_index(str(vectors_file))
        plain.append(time.perf_counter() - started)
        data = vectors_file.read_bytes()
        started = time.perf_counter()
        zlib.crc32(data)
        crc.append(time.perf_counter() - started)
        started = time.perf_counter()
        hashlib.sha256(data).hexdigest()
        sha.append(time.perf_counter() - started)

    rng = np.random.default_rng(1)
    queries = [" ".join(f"w{n}" for n in rng.integers(0, 20_000, 6)) for _ in range(50)]
    vectors = rng.standard_normal((50, 384)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    class Fixed:
        position = 0

        def embed(self, texts: list[str]) -> object:
            Fixed.position = (Fixed.position + 1) % 50
            return vectors[Fixed.position : Fixed.position + 1]

    search: dict[str, list[float]] = {"ON": [], "OFF": []}
    with IndexReader(directory) as reader:
        retriever = Retriever(reader, Fixed())
        for query in queries:  # warm up: vectors loaded, pages cached
            retriever.search(query, k=5)
        for _ in range(max(1, rounds // 2)):
            for query in queries:  # each query both ways, back to back
                for setting in ("OFF", "ON"):
                    reader._db.execute(f"PRAGMA cell_size_check={setting}")
                    started = time.perf_counter()
                    retriever.search(query, k=5)
                    search[setting].append(time.perf_counter() - started)

    checks = []
    for _ in range(rounds):
        connection = sqlite3.connect(directory / index.DATABASE)
        started = time.perf_counter()
        connection.execute("PRAGMA quick_check(5)").fetchall()
        checks.append(time.perf_counter() - started)
        connection.close()
    return {
        "vectors_mb": round(vectors_file.stat().st_size / 1e6, 1),
        "database_mb": round((directory / index.DATABASE).stat().st_size / 1e6, 1),
        "load_verified_ms": median_ms(verified),
        "load_plain_ms": median_ms(plain),
        "crc32_alone_ms": median_ms(crc),
        "sha256_alone_ms": median_ms(sha),
        "search_cell_size_check_on_p50_ms": median_ms(search["ON"]),
        "search_cell_size_check_off_p50_ms": median_ms(search["OFF"]),
        "quick_check_ms": median_ms(checks),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_900, 100_000])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = {}
    for chunks in args.sizes:
        with tempfile.TemporaryDirectory() as scratch:
            directory = Path(scratch) / "synthetic"
            started = time.perf_counter()
            build(directory, chunks)
            print(f"{chunks} chunks built in {time.perf_counter() - started:.0f} s", flush=True)
            results[str(chunks)] = measure(directory, args.rounds)
            print(json.dumps(results[str(chunks)]), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
