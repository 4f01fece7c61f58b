"""What the model is shown of a passage, and which words of a question no document holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from smallagent.index import IndexReader
from smallagent.ingest import IngestOptions, ingest
from smallagent.retrieval import Retriever
from smallagent.snippets import passage_view, query_terms, sentences

KETTLE = (
    "I bought this kettle for my office. It looked great on the counter and boiled fast. "
    "After two weeks it started leaking from around the plastic window. The seller replaced "
    "it once. The second one did the same thing within a month. I would not buy it again, "
    "although the price was fair and delivery was quick."
)


def test_a_short_passage_is_shown_whole() -> None:
    assert passage_view("One line.\n\nTwo  lines.", "anything", 300) == "One line. Two lines."


def test_the_answer_sentence_is_shown_where_a_prefix_would_cut_it() -> None:
    view = passage_view(KETTLE, "Where did the kettle start leaking from?", 120)
    assert "around the plastic window" in view
    assert KETTLE[:120].find("plastic window") == -1  # a prefix would have missed it
    assert len(view) <= 120 + 4
    assert view.startswith("…") and view.endswith("…")


def test_neighbours_fill_the_budget_in_order_and_gaps_are_marked() -> None:
    view = passage_view(KETTLE, "leaking plastic window", 200)
    parts = sentences(KETTLE)
    shown = [part for part in parts if part in view]
    assert shown == [part for part in parts if part in shown]  # document order kept
    assert "started leaking" in view
    assert len(view) <= 200 + 4


def test_table_rows_and_list_items_are_units() -> None:
    table = (
        "| Code | Meaning |\n|------|---------|\n| E101 | Wi-Fi network not found |\n"
        "| E204 | Sensor out of range |\n| E422 | Battery voltage below 3.3 V |\n"
        "| E509 | Clock drift over 30 seconds |\n"
    )
    view = passage_view(table * 3, "What does E422 mean?", 90)
    assert "E422 | Battery voltage below 3.3 V" in view


def test_no_word_in_common_gives_the_opening() -> None:
    assert passage_view(KETTLE, "zebra migration", 60).startswith("I bought this kettle")


def test_one_long_sentence_is_cut_around_its_first_match() -> None:
    long = "word " * 200 + "the calibration code is TW-8841 " + "filler " * 100
    view = passage_view(long, "calibration code", 100)
    assert "calibration code is TW-8841" in view and view.startswith("…")


def test_query_terms_weigh_codes_over_words_and_drop_stopwords() -> None:
    assert query_terms("What is the code QX-7731 for the thermostats?") == {
        "code": 1.0,
        "qx": 3.0,  # the parts of a code, as the word splitter sees them
        "7731": 3.0,
        "thermostat": 1.5,  # stemmed: "thermostats" matches "thermostat"
    }


def test_absent_words_name_what_no_document_holds(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "foot.txt").write_text("Edelman was injured: he broke his foot in practice.\n")
    (corpus / "tea.txt").write_text("Green tea is made from unoxidised leaves.\n")
    ingest(tmp_path / "idx", embedder, IngestOptions(roots=(corpus,)))
    with IndexReader(tmp_path / "idx") as reader:
        retriever = Retriever(reader, embedder)
        # "injury" finds "injured" by its prefix; stopwords and short words are never reported
        assert retriever.absent_words("What injury does Edelman have?") == []
        assert retriever.absent_words("Where did Haliburton go to school?") == [
            "Haliburton",
            "school",
        ]
        assert retriever.absent_words("What is it?") == []


def test_unknown_names_are_names_and_codes_no_document_holds(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "foot.txt").write_text("Edelman broke his foot. Error QX-7731 was logged.\n")
    ingest(tmp_path / "idx", embedder, IngestOptions(roots=(corpus,)))
    with IndexReader(tmp_path / "idx") as reader:
        retriever = Retriever(reader, embedder)
        assert retriever.unknown_names("Did Edelman log QX-7731?") == []
        assert retriever.unknown_names("Did Haliburton log QX-9999 before Edelman?") == [
            "Haliburton",
            "QX-9999",
        ]
        # a capital that opens the sentence is not a name, and common words are not names
        assert retriever.unknown_names("Rattling organizers: what keeps them still?") == []


def test_paths_the_query_names_get_facts_from_the_file_system(tmp_path: Path) -> None:
    from smallagent.tools import named_paths, path_facts

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("one\ntwo\n")
    (tmp_path / "notes" / "big.txt").write_text("x" * 5000)
    (tmp_path / "notes" / "deep").mkdir()
    (tmp_path / "notes" / "deep" / "c.txt").write_text("c\n")
    (tmp_path / "notes" / "link.txt").symlink_to(tmp_path / "notes" / "big.txt")
    query = "How many files are in `notes`, and how big is notes/a.txt? Not ../etc or 'nope'."
    paths = named_paths(query, tmp_path)
    assert paths == [tmp_path / "notes", tmp_path / "notes" / "a.txt"]
    assert [path_facts(path, tmp_path) for path in paths] == [
        "notes/: a folder of 2 files (3 counting sub-folders); largest big.txt (5,000 bytes), "
        "smallest a.txt (8 bytes).",
        "notes/a.txt: a file of 8 bytes and 2 lines.",
    ]
    assert named_paths("What is in `../` or '/etc/passwd'?", tmp_path) == []


def test_a_huge_file_gets_its_size_without_a_line_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smallagent import tools

    (tmp_path / "big.log").write_bytes(b"x\n" * 100)
    monkeypatch.setattr(tools, "MAX_COUNTED_BYTES", 50)
    assert tools.path_facts(tmp_path / "big.log", tmp_path) == (
        "big.log: a file of 200 bytes (lines not counted: over 50 bytes)."
    )
