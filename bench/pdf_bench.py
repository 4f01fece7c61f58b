#!/usr/bin/env python3
"""PDF extraction before and after issue 16: pypdf (old) next to PDFium with outline headings (new).

    .venv/bin/python bench/pdf_bench.py [--rounds 5] [--skip-recall] [--out FILE]

On real manuals from Debian packages (bench/corpus.py, `prepare_pdfs`), for each file and both
extractions: tokens, the share of tokens of 20+ characters (words run together), the share the
ingest warning counts, whether that warning fires, and seconds per page (median of `--rounds`,
old and new alternated). Then the outline read by pypdf and by PDFium (same entries? how fast?),
a check that every page holds the same letters under both (so page numbers did not move), and
recall@5 of known-item queries made mechanically from the files themselves:

- sentence: from each page, the middle sentence of 10-40 mostly alphabetic words, cut to its first
  12 words, kept when its letters occur on that page alone; the hit must be that page.
- title: each outline title of 4+ words that is unique in its file; the hit must be the page the
  bookmark points at. The new chunks carry these titles as headings, so this set also measures
  the headings: "new, no headings" indexes the same text with the headings left out.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from corpus import prepare_pdfs  # noqa: E402

from smallagent.documents import (  # noqa: E402
    Document,
    Section,
    pdf_sections,
    run_together_tokens,
    run_together_warning,
)

LONG_TOKEN = 20
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
WORD = re.compile(r"[A-Za-z][a-z]*[,.;:!?)]?|\(?[a-z]+")


def old_sections(data: bytes) -> tuple[Section, ...]:
    """What smallagent did before issue 16: pypdf's extract_text, one section per page."""
    from pypdf import PdfReader

    sections, offset = [], 0
    for number, page in enumerate(PdfReader(io.BytesIO(data)).pages, start=1):
        text = page.extract_text() or ""
        if text.strip():
            sections.append(Section(text, page=number, start=offset))
            offset += len(text) + 1
    return tuple(sections)


def pypdf_outline(data: bytes) -> list[tuple[int, str, int]]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    entries: list[tuple[int, str, int]] = []

    def walk(items: list[Any], level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
            else:
                entries.append((level, item.title, reader.get_destination_page_number(item)))

    walk(reader.outline, 0)
    return entries


def pdfium_outline(data: bytes) -> list[tuple[int, str, int]]:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    try:
        entries = []
        for bookmark in document.get_toc():
            destination = bookmark.get_dest()
            page = destination.get_index() if destination is not None else -1
            entries.append((bookmark.level, bookmark.get_title(), page))
        return entries
    finally:
        document.close()


def seconds(function: Callable[[bytes], object], data: bytes) -> float:
    started = time.perf_counter()
    function(data)
    return time.perf_counter() - started


def page_count(data: bytes) -> int:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    try:
        return len(document)
    finally:
        document.close()


def letters(text: str) -> str:
    return "".join(char for char in text.lower() if char.isalnum())


def same_letters(old: str, new: str, size: int = 8) -> float:
    """Jaccard similarity of the pages' letter 8-grams: spacing does not count, content does."""
    old_letters, new_letters = letters(old), letters(new)
    if len(old_letters) < size or len(new_letters) < size:
        return float(old_letters == new_letters)  # a page that holds only "viii"
    old_grams, new_grams = (
        {skeleton[index : index + size] for index in range(len(skeleton) - size + 1)}
        for skeleton in (old_letters, new_letters)
    )
    return len(old_grams & new_grams) / len(old_grams | new_grams)


def page_texts(sections: tuple[Section, ...]) -> dict[int, str]:
    pages: dict[int, str] = {}
    for section in sections:
        assert section.page is not None
        pages[section.page] = pages.get(section.page, "") + section.text
    return pages


def extraction_figures(path: Path, sections: tuple[Section, ...]) -> dict[str, float]:
    text = "\n".join(section.text for section in sections)
    tokens = text.split()
    _, run_together = run_together_tokens(text)
    return {
        "tokens": len(tokens),
        "long_share": sum(len(token) >= LONG_TOKEN for token in tokens) / max(1, len(tokens)),
        "run_together_share": run_together / max(1, len(tokens)),
        "warned": float(run_together_warning(Document(path, "pdf", sections)) is not None),
    }


def sentence_queries(pages: dict[int, str]) -> list[tuple[str, int]]:
    skeletons = {number: letters(text) for number, text in pages.items()}
    queries = []
    for number, text in sorted(pages.items()):
        candidates = []
        for sentence in SENTENCE.split(" ".join(text.split())):
            words = sentence.split()
            alphabetic = sum(bool(WORD.fullmatch(word)) for word in words)
            if 10 <= len(words) <= 40 and alphabetic >= 0.8 * len(words):
                candidates.append(" ".join(words[:12]))
        if not candidates:
            continue
        query = candidates[len(candidates) // 2]
        where = [page for page, skeleton in skeletons.items() if letters(query) in skeleton]
        if where == [number]:
            queries.append((query, number))
    return queries


def title_queries(outline: list[tuple[int, str, int]]) -> list[tuple[str, int]]:
    titles = [" ".join(title.split()) for _, title, _ in outline]
    return [
        (title, page + 1)
        for (_, _, page), title in zip(outline, titles, strict=True)
        if len(title.split()) >= 4 and titles.count(title) == 1 and page >= 0
    ]


def recall(
    documents: dict[str, dict[Path, tuple[Section, ...]]],
    queries: dict[Path, dict[str, list[tuple[str, int]]]],
) -> dict[str, dict[str, dict[str, float]]]:
    """recall@5 per variant, per query set, per file (and "all"), on one index per variant."""
    from smallagent.chunking import ChunkingConfig, WordPieceCounter, chunk_document
    from smallagent.embeddings import (
        DEFAULT_EMBEDDING_MODEL,
        index_embedder,
        resolve_model_location,
    )
    from smallagent.index import IndexReader, IndexSpec, open_writer
    from smallagent.retrieval import Retriever

    embedder = index_embedder(DEFAULT_EMBEDDING_MODEL, "int8")
    counter = WordPieceCounter(resolve_model_location(DEFAULT_EMBEDDING_MODEL))
    config = ChunkingConfig()
    spec = IndexSpec(embedder.name, embedder.dimension, config.max_tokens, config.overlap_tokens)
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="pdf-bench-") as scratch:
        for variant, by_path in documents.items():
            directory = Path(scratch) / variant.replace(" ", "-").replace(",", "")
            started = time.perf_counter()
            chunk_count, whole = 0, 0  # whole: sentence queries lying whole inside one chunk
            with open_writer(directory, spec) as writer:
                for path, sections in by_path.items():
                    chunks = chunk_document(Document(path, "pdf", sections), counter, config)
                    vectors = embedder.embed([chunk.embedding_text for chunk in chunks])
                    writer.add_document(str(path), 1, 1, variant, "pdf", chunks, vectors)
                    chunk_count += len(chunks)
                    on_page: dict[int | None, list[str]] = {}
                    for chunk in chunks:
                        on_page.setdefault(chunk.page, []).append(letters(chunk.text))
                    whole += sum(
                        any(letters(query) in text for text in on_page.get(page, []))
                        for query, page in queries[path]["sentence"]
                    )
                writer.commit()
            took = time.perf_counter() - started
            asked = sum(len(sets["sentence"]) for sets in queries.values())
            print(
                f"  indexed {variant}: {chunk_count} chunks in {took:.0f} s; "
                f"{whole} of {asked} sentence queries lie whole in a chunk of their page",
                flush=True,
            )
            with IndexReader(directory) as reader:
                retriever = Retriever(reader, embedder)
                found: dict[str, dict[str, tuple[int, int]]] = {}  # set -> file -> (hits, asked)
                for path, sets in queries.items():
                    for name, pairs in sets.items():
                        hits = 0
                        for query, page in pairs:
                            top = retriever.search(query, k=5)
                            hits += any(hit.path == str(path) and hit.page == page for hit in top)
                        found.setdefault(name, {})[path.name] = (hits, len(pairs))
                results[variant] = {
                    name: {
                        **{file: hits / max(1, n) for file, (hits, n) in by_file.items()},
                        "all": sum(hits for hits, _ in by_file.values())
                        / max(1, sum(n for _, n in by_file.values())),
                    }
                    for name, by_file in found.items()
                }
                results[variant]["sentence_whole_in_a_chunk"] = {"all": whole / max(1, asked)}
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-recall", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "pdf.json")
    args = parser.parse_args()

    corpus = prepare_pdfs()
    files = sorted(corpus.glob("*.pdf"))
    report: dict[str, Any] = {"files": {}, "rounds": args.rounds}
    documents: dict[str, dict[Path, tuple[Section, ...]]] = {
        "old (pypdf)": {},
        "new, no headings": {},
        "new (PDFium + outline)": {},
    }
    queries: dict[Path, dict[str, list[tuple[str, int]]]] = {}
    print(
        f"{'file':26} {'pages':>5} | {'tokens old/new':>15} | {'20+ chars old/new':>17} | "
        f"{'run-together':>13} | {'warned':>6} | {'ms/page old/new':>15} | outline ms old/new"
    )
    for path in files:
        data = path.read_bytes()
        old, new = old_sections(data), pdf_sections(data)
        old_seconds, new_seconds, old_outline_s, new_outline_s = [], [], [], []
        for round_number in range(args.rounds):  # alternated, so load drift hits both alike
            order = [(old_sections, old_seconds), (pdf_sections, new_seconds)]
            for function, timings in order if round_number % 2 == 0 else order[::-1]:
                timings.append(seconds(function, data))
            old_outline_s.append(seconds(pypdf_outline, data))
            new_outline_s.append(seconds(pdfium_outline, data))
        outline_old, outline_new = pypdf_outline(data), pdfium_outline(data)
        pages = page_count(data)
        old_pages, new_pages = page_texts(old), page_texts(new)
        similarity = [
            same_letters(old_pages[number], new_pages[number])
            for number in sorted(set(old_pages) & set(new_pages))
        ]
        figures = {
            "pages": pages,
            "old": extraction_figures(path, old),
            "new": extraction_figures(path, new),
            "old_ms_per_page": 1000 * statistics.median(old_seconds) / pages,
            "new_ms_per_page": 1000 * statistics.median(new_seconds) / pages,
            "outline_entries": len(outline_new),
            "outline_same_entries": [(lvl, " ".join(t.split()), p) for lvl, t, p in outline_old]
            == [(lvl, " ".join(t.split()), p) for lvl, t, p in outline_new],
            "outline_old_ms": 1000 * statistics.median(old_outline_s),
            "outline_new_ms": 1000 * statistics.median(new_outline_s),
            "pages_with_text_old_new": [len(old_pages), len(new_pages)],
            "page_letters_jaccard_min": min(similarity),
            "page_letters_jaccard_median": statistics.median(similarity),
            "new_sections": len(new),
            "new_sections_with_heading": sum(bool(section.heading) for section in new),
        }
        report["files"][path.name] = figures
        documents["old (pypdf)"][path] = old
        documents["new, no headings"][path] = tuple(
            Section(section.text, "", section.page, section.start) for section in new
        )
        documents["new (PDFium + outline)"][path] = new
        queries[path] = {
            "sentence": sentence_queries(new_pages),
            "title": title_queries(outline_new),
        }
        o, n = figures["old"], figures["new"]
        print(
            f"{path.name:26} {pages:5} | {o['tokens']:>7,}/{n['tokens']:<7,} | "
            f"{o['long_share']:>7.1%}/{n['long_share']:<7.1%}  | "
            f"{o['run_together_share']:>5.1%}/{n['run_together_share']:<5.1%} | "
            f"{'yes' if o['warned'] else 'no':>3}/{'yes' if n['warned'] else 'no':<3}| "
            f"{figures['old_ms_per_page']:>6.2f}/{figures['new_ms_per_page']:<6.2f}  | "
            f"{figures['outline_old_ms']:.1f}/{figures['outline_new_ms']:.1f} "
            f"({len(outline_new)} entries, same: {figures['outline_same_entries']})",
            flush=True,
        )
        print(
            f"{'':26} pages with text old/new {len(old_pages)}/{len(new_pages)}, same letters "
            f"per page (8-gram Jaccard) min {min(similarity):.2f} median "
            f"{statistics.median(similarity):.2f}; {figures['new_sections']} sections, "
            f"{figures['new_sections_with_heading']} with a heading",
            flush=True,
        )
    report["queries"] = {
        path.name: {name: len(pairs) for name, pairs in sets.items()}
        for path, sets in queries.items()
    }
    if not args.skip_recall:
        print("\nrecall@5 (known-item queries):", flush=True)
        report["recall_at_5"] = recall(documents, queries)
        for variant, by_set in report["recall_at_5"].items():
            for name, by_file in by_set.items():
                cells = "  ".join(f"{file}={value:.2f}" for file, value in by_file.items())
                print(f"  {variant:24} {name:8} {cells}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nqueries: {report['queries']}\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
