from __future__ import annotations

import itertools
import random
import string
from pathlib import Path

import pytest

from smallagent.chunking import ChunkingConfig, chunk_document
from smallagent.documents import Document, Section, load_document


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
