"""`smallagent ingest | search | index` through the CLI, and the ONNX query embedder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smallagent.cli import app
from smallagent.config import user_data_dir
from smallagent.embeddings import OnnxEmbedder, onnx_cache_path
from smallagent.index import IndexReader
from smallagent.ingest import IngestOptions, ingest
from smallagent.retrieval import Retriever, reciprocal_rank_fusion
from tests.conftest import make_pdf

runner = CliRunner()


def test_onnx_vectors_match_sentence_transformers(onnx_cache: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    texts = [
        "x",
        "How do I undo the last commit?",
        "Zebras are African equines with black-and-white striped coats. " * 12,
        "Caf\u00e9, na\u00efve r\u00e9sum\u00e9 \u2014 \u00fcber",
    ]
    onnx = OnnxEmbedder("all-MiniLM-L6-v2", onnx_cache_path("all-MiniLM-L6-v2"))
    fast, reference = onnx.embed(texts), embedder.embed(texts)
    assert fast.shape == reference.shape == (4, 384)
    cosines = (fast * reference).sum(axis=1)
    assert cosines.min() > 1 - 1e-4


def test_rrf_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 4]])
    assert [item for item, _ in fused] == [3, 1, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 63 + 1 / 61)


def test_keyword_match_wins_where_embeddings_blur(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "docs"
    corpus.mkdir()
    topics = ["disk", "network", "memory", "printer", "battery", "screen", "keyboard", "sound"]
    for number, topic in enumerate(topics):
        (corpus / f"{topic}.txt").write_text(
            f"Troubleshooting {topic} errors: when the {topic} fails, the system shows an error "
            f"code such as ZR-{1000 + number}. Restart and check the {topic} settings.\n"
        )
    (corpus / "garden.txt").write_text(
        "Tomatoes need six hours of sun. Our greenhouse controller logged QX-7731 once.\n"
    )
    ingest(tmp_path / "idx", embedder, IngestOptions(roots=(corpus,)))
    with IndexReader(tmp_path / "idx") as reader:
        hits = Retriever(reader, embedder).search("error code QX-7731", k=3)
    assert hits[0].path.endswith("garden.txt")
    assert hits[0].keyword_rank == 1
    assert hits[0].dense_rank != 1, "dense search alone finds it; the test proves nothing"


@pytest.fixture
def docs(isolated_env: Path) -> Path:
    folder = isolated_env / "docs"
    folder.mkdir()
    (folder / "etna.md").write_text("# Etna\n\nMount Etna is an active volcano in Sicily.\n")
    (folder / "tea.txt").write_text("Green tea is made from unoxidised leaves.\n")
    (folder / "empty.txt").write_text("")
    return folder


def test_cli_ingest_search_and_index_commands(docs: Path, onnx_cache: Path) -> None:
    result = runner.invoke(app, ["ingest", str(docs)])
    assert result.exit_code == 0, result.output
    assert re.search(r"files added\s*│\s*2\s*│", result.output)
    assert re.search(r"files skipped\s*│\s*1\s*│", result.output)
    assert "empty.txt: empty file" in result.output

    strict = runner.invoke(app, ["ingest", str(docs), "--strict"])
    assert strict.exit_code == 1

    found = runner.invoke(app, ["search", "volcano in Sicily", "-k", "1", "--json"])
    assert found.exit_code == 0, found.output
    hits = json.loads(found.output)
    assert len(hits) == 1
    assert hits[0]["path"] == str(docs / "etna.md")
    assert hits[0]["heading"] == "Etna"
    assert {"score", "page", "text", "dense_rank", "keyword_rank"} <= set(hits[0])

    text = runner.invoke(app, ["search", "green tea"])
    assert text.exit_code == 0
    assert text.output.startswith("1. docs/tea.txt")

    listing = runner.invoke(app, ["index", "list"])
    assert listing.output.startswith("default\t2 documents\t2 chunks")
    info = runner.invoke(app, ["index", "info", "default"])
    assert "embedder   all-MiniLM-L6-v2+int8 (384 dims)" in info.output  # the default precision

    kept = runner.invoke(app, ["index", "rm", "default"], input="n\n")
    assert kept.exit_code == 1
    # issue 13: with no indexes/ folder holding indexes nearby, they live in the user data dir
    assert (user_data_dir() / "indexes" / "default").is_dir()
    removed = runner.invoke(app, ["index", "rm", "default", "--yes"])
    assert removed.exit_code == 0
    assert not (user_data_dir() / "indexes" / "default").exists()


def test_cli_ingest_lists_a_run_together_pdf_and_strict_fails(docs: Path, onnx_cache: Path) -> None:
    (docs / "empty.txt").unlink()
    make_pdf(docs / "glued.pdf", ["Debianprovidesacomplete,binarydistribution. " * 8])
    result = runner.invoke(app, ["ingest", str(docs)])
    assert result.exit_code == 0, result.output
    assert re.search(r"files with warnings\s*│\s*1\s*│", result.output)
    assert "warning docs/glued.pdf: words look run together (100% of 8 words" in result.output
    again = json.loads(runner.invoke(app, ["ingest", str(docs), "--json"]).output)
    assert again["unchanged"] == 3 and again["warnings"] == []  # text is checked when indexed
    strict = runner.invoke(app, ["ingest", str(docs), "--rebuild", "--strict", "--json"])
    assert strict.exit_code == 1
    assert [item["path"] for item in json.loads(strict.output)["warnings"]] == [
        str(docs / "glued.pdf")
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["ingest", "nowhere"], "nothing to ingest: nowhere does not exist"),
        (["ingest", "docs", "--chunk-tokens", "8"], "bad chunking options"),
        (["ingest", "docs", "--max-file-mb", "0"], "--max-file-mb must be positive"),
        (["search", "volcano"], "no index at"),
        (["search", "  "], "the query is empty"),
        (["--index", "../escape", "search", "x"], "bad index name"),
        (["index", "info", "ghost"], "no index at"),
        (["index", "rm", "ghost", "--yes"], "no index named ghost"),
    ],
)
def test_cli_bad_input_is_one_clean_error(docs: Path, arguments: list[str], message: str) -> None:
    result = runner.invoke(app, arguments)
    assert result.exit_code in (1, 2)
    assert message in result.output
    assert "Traceback" not in result.output


def test_new_indexes_are_int8_and_an_existing_index_keeps_its_precision(
    docs: Path, onnx_cache: Path
) -> None:
    def embedder_of(name: str) -> str:
        info = runner.invoke(app, ["--index", name, "index", "info", name])
        assert info.exit_code == 0, info.output
        return next(line for line in info.output.splitlines() if line.startswith("embedder"))

    assert runner.invoke(app, ["--index", "quick", "ingest", str(docs)]).exit_code == 0
    assert "all-MiniLM-L6-v2+int8" in embedder_of("quick")
    full = runner.invoke(app, ["--index", "full", "ingest", str(docs), "--precision", "fp32"])
    assert full.exit_code == 0, full.output
    assert "+int8" not in embedder_of("full")

    (docs / "new.md").write_text("# Lava\n\nBasalt lava flows from Etna's flanks.\n")
    again = runner.invoke(app, ["--index", "full", "ingest", str(docs)])  # no flag: stays fp32
    assert again.exit_code == 0, again.output
    assert re.search(r"files added\s*│\s*1\s*│", again.output)
    found = runner.invoke(app, ["--index", "full", "search", "basalt lava", "-k", "1", "--json"])
    assert json.loads(found.output)[0]["path"] == str(docs / "new.md")

    switched = runner.invoke(app, ["--index", "full", "ingest", str(docs), "--precision", "int8"])
    assert switched.exit_code != 0
    assert "--rebuild" in switched.output and "Traceback" not in switched.output
    rebuilt = runner.invoke(
        app, ["--index", "full", "ingest", str(docs), "--precision", "int8", "--rebuild"]
    )
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "all-MiniLM-L6-v2+int8" in embedder_of("full")
