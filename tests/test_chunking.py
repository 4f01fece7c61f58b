from __future__ import annotations

import itertools
import random
import string
from pathlib import Path

import pytest

from smallagent.chunking import ChunkingConfig, chunk_document
from smallagent.documents import (
    Document,
    Section,
    _split_by_headings,
    load_document,
    markdown_headings,
    markdown_sections,
)
from smallagent.index import IndexReader, IndexSpec, open_writer
from smallagent.retrieval import Hit, Retriever


def _prose(words: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    vocabulary = ["alpha", "retrieval", "energy", "agent", "tokenizer", "Paris", "2024", "E42"]
    sentences, sentence = [], []
    for index in range(words):
        sentence.append(rng.choice(vocabulary))
        if index % 11 == 10:
            sentences.append(" ".join(sentence) + ".")
            sentence = []
        if index % 97 == 96:
            sentences.append("\n\n")
    return " ".join([*sentences, " ".join(sentence)])


def test_chunks_never_exceed_the_limit_by_the_models_own_tokenizer(
    tmp_path: Path,
    counter,
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    path = tmp_path / "long.md"
    path.write_text("# A fairly long heading about many things\n\n" + _prose(6000))
    config = ChunkingConfig(max_tokens=256, overlap_tokens=32)
    chunks = chunk_document(load_document(path), counter, config)
    assert len(chunks) > 20
    st_tokenizer = embedder._loaded().tokenizer
    for chunk in chunks:
        assert chunk.token_count <= 256
        assert len(st_tokenizer(chunk.embedding_text)["input_ids"]) == chunk.token_count
        assert chunk.embedding_text.startswith("A fairly long heading about many things\n")


def test_no_text_is_lost_and_neighbours_overlap(counter) -> None:  # type: ignore[no-untyped-def]
    text = _prose(3000, seed=7)
    document = Document(Path("x.txt"), "text", (Section(text),))
    chunks = chunk_document(document, counter, ChunkingConfig(max_tokens=128, overlap_tokens=16))
    assert chunks[0].start == text.index(text.strip()[0])
    assert chunks[-1].end == len(text.rstrip())
    for before, after in itertools.pairwise(chunks):
        assert after.start <= before.end, "a gap between chunks would drop text"
        assert after.start > before.start
        assert text[after.start : before.end].strip(), "neighbours should share some text"
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text


def test_zero_overlap_tiles_the_text(counter) -> None:  # type: ignore[no-untyped-def]
    text = _prose(2000, seed=3)
    document = Document(Path("x.txt"), "text", (Section(text),))
    chunks = chunk_document(document, counter, ChunkingConfig(max_tokens=64, overlap_tokens=0))
    assert len(chunks) > 10
    assert all(after.start >= before.end for before, after in itertools.pairwise(chunks))
    covered = "".join(chunk.text for chunk in chunks)
    assert "".join(covered.split()) == "".join(text.split())


def test_a_giant_unbroken_token_run_is_still_bounded(counter) -> None:  # type: ignore[no-untyped-def]
    blob = "".join(random.Random(5).choice(string.ascii_letters + "+/") for _ in range(20000))
    document = Document(Path("blob.txt"), "text", (Section(blob),))
    chunks = chunk_document(document, counter, ChunkingConfig(max_tokens=256, overlap_tokens=0))
    assert all(chunk.token_count <= 256 for chunk in chunks)
    assert "".join(chunk.text for chunk in chunks) == blob


def test_pdf_chunks_keep_their_page(tmp_path: Path, counter) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import make_pdf

    path = make_pdf(tmp_path / "p.pdf", ["First page words.", "Second page words."])
    chunks = chunk_document(load_document(path), counter, ChunkingConfig())
    assert [(chunk.page, chunk.text.strip()) for chunk in chunks] == [
        (1, "First page words."),
        (2, "Second page words."),
    ]


@pytest.mark.parametrize(("max_tokens", "overlap"), [(8, 0), (256, 128), (256, -1)])
def test_bad_chunking_config_is_refused(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        ChunkingConfig(max_tokens, overlap)


TIDEWATER = (
    "# Tidewater station\n\nTidewater is a solar-powered weather station for gardens, boats and "
    "schools.\n\n## Calibration\n\n### Service code\n\nService engineers unlock the factory "
    "menu with the code TW-8841.\n\n## Power\n\nThe station runs on a small solar panel and a "
    "LiFePO4 battery.\n"
)


def _best_hit(directory: Path, sections: tuple[Section, ...], query: str, embedder, counter) -> Hit:  # type: ignore[no-untyped-def]
    """Index one document cut into `sections`, then the hybrid search's first hit for `query`."""
    document = Document(Path("/docs/tidewater.md"), "markdown", sections)
    chunks = chunk_document(document, counter, ChunkingConfig())
    vectors = embedder.embed([chunk.embedding_text for chunk in chunks])
    with open_writer(directory, IndexSpec(embedder.name, embedder.dimension, 256, 32)) as writer:
        writer.add_document(str(document.path), 1, 1, "0" * 64, "markdown", chunks, vectors)
        writer.commit()
    with IndexReader(directory) as reader:
        return Retriever(reader, embedder).search(query, k=3)[0]


def test_a_heading_query_ranks_the_passage_under_the_heading_first(
    tmp_path: Path,
    embedder,  # type: ignore[no-untyped-def]
    counter,  # type: ignore[no-untyped-def]
) -> None:
    """`## Calibration` has nothing under it but `### Service code`. Cut at every heading (as
    chunker 1 did), the title alone is a chunk, and it ranks first for a question about it;
    joined to the text under the next heading, the passage with the answer ranks first."""
    cut_at_every_heading = _split_by_headings(
        TIDEWATER,
        [(start, level, title) for start, _, level, title in markdown_headings(TIDEWATER)],
    )
    query = "calibration code"
    before = _best_hit(tmp_path / "v1", cut_at_every_heading, query, embedder, counter)
    assert before.text.strip() == "## Calibration"
    after = _best_hit(tmp_path / "v2", markdown_sections(TIDEWATER), query, embedder, counter)
    assert after.heading == "Tidewater station > Calibration > Service code"
    assert after.text.startswith("## Calibration\n\n### Service code\n") and "TW-8841" in after.text


def test_no_chunk_holds_a_heading_alone(tmp_path: Path, counter) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "guide.md"
    path.write_text(
        "Guide\n=====\n\nSetup\n-----\n\n### Linux\n\n"
        + _prose(400)
        + "\n\n# Use\n## Ask\n\nAsk.\n"
    )
    chunks = chunk_document(load_document(path), counter, ChunkingConfig(128, 16))
    assert len(chunks) > 3
    assert chunks[0].heading == "Guide > Setup > Linux"
    assert chunks[-1].heading == "Use > Ask" and chunks[-1].text == "# Use\n## Ask\n\nAsk."
    for chunk in chunks:
        words = [line for line in chunk.text.splitlines() if line.strip()]
        assert not all(line.startswith("#") or set(line) <= set("=-") for line in words), chunk
