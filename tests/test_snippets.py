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
    (corpus / "foot.txt").write_text("Edelman broke his foot on day 1. Error QX-7731 was logged.\n")
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
        # nor one that opens a line or a clause: a planner's sub-goal, with what came before it,
        # was settled "not found" on "Found" and "Find" before the model saw it
        subgoal = (
            "Count the lines of the file from step 1 with wc -l\n\nFound by earlier steps:\n"
            "step 1 (Find the file that says 'broke his foot'): foot.txt"
        )
        assert retriever.unknown_names(subgoal) == []
        assert retriever.unknown_names("Lines of foot.txt. Then: did Haliburton log it?") == [
            "Haliburton"
        ]


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
        "notes/: a folder of 2 files (3 counting sub-folders); the largest is notes/big.txt "
        "(5,000 bytes), the smallest notes/a.txt (8 bytes).",
        "notes/a.txt: a file of 8 bytes and 2 lines.",
    ]
    assert named_paths("What is in `../` or '/etc/passwd'?", tmp_path) == []
    # a quoted sentence far longer than a file name may be is no path, and no error
    quoted = "'" + "With peace in Europe from 1815 the navy turned " * 8 + "' notes/a.txt"
    assert named_paths(f"wc -l {quoted}", tmp_path) == [tmp_path / "notes" / "a.txt"]


def test_a_huge_file_gets_its_size_without_a_line_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smallagent import tools

    (tmp_path / "big.log").write_bytes(b"x\n" * 100)
    monkeypatch.setattr(tools, "MAX_COUNTED_BYTES", 50)
    assert tools.path_facts(tmp_path / "big.log", tmp_path) == (
        "big.log: a file of 200 bytes (lines not counted: over 50 bytes)."
    )


def test_coverage_weighs_the_rare_words_of_the_question_found_in_one_passage(
    tmp_path: Path, embedder
) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "foot.txt").write_text("Edelman was injured: he broke his foot in practice.\n")
    for n in range(4):  # "practice" is common in this index, "Edelman" and "foot" are rare
        (corpus / f"team{n}.txt").write_text(f"Team {n} held a long practice on Monday.\n")
    ingest(tmp_path / "idx", embedder, IngestOptions(roots=(corpus,)))
    with IndexReader(tmp_path / "idx") as reader:
        assert reader.chunks_containing("practice") == 5
        assert reader.chunks_containing("injury") == 1  # matched as contains_word matches it
        assert reader.chunks_containing("two words") == 0
        retriever = Retriever(reader, embedder)
        question = "What injury did Edelman get in practice?"
        share, best = retriever.coverage(question, retriever.search(question, k=4))
        assert share == pytest.approx(1.0) and best is not None and best.path.endswith("foot.txt")
        # the nearest passages to a question they cannot answer share a common word at most
        other = "Which striker scored in practice on Sunday?"
        share, best = retriever.coverage(other, retriever.search(other, k=4))
        assert share < 0.4 and best is not None and "practice" in best.text
        assert retriever.coverage("What is it?", retriever.search("What is it?", k=4)) == (
            0.0,
            None,
        )


def test_review_says_not_found_for_an_answer_copied_from_a_passage_not_about_the_question(
    tmp_path: Path,
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    from smallagent.agent import AgentConfig, Step
    from smallagent.assistant import Assistant
    from smallagent.config import AskOptions
    from smallagent.retrieval import SourceRegistry
    from smallagent.types import ToolCall, Usage

    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "kettle.txt").write_text(KETTLE + "\n")
    (corpus / "tea.txt").write_text("Green tea is made from unoxidised leaves.\n")
    ingest(tmp_path / "idx", embedder, IngestOptions(roots=(corpus,)))
    with IndexReader(tmp_path / "idx") as reader:
        assistant = Assistant(
            model=None,  # type: ignore[arg-type]
            tools={},
            sources=SourceRegistry(),
            system_prompt="system",
            config=AgentConfig(search_tool="search"),  # as build_assistant names it
            options=AskOptions(workdir=tmp_path),
            params_billion=1.5,
            notes=[],
            reader=reader,
            retriever=Retriever(reader, embedder),
            not_found_below=0.4,
        )
        searched = [Step(0, "tool", "", ToolCall("search", {"query": "q"}), "retrieve_first",
                         "[1] ...", Usage(), 0.0)]  # fmt: skip
        # an unanswerable question, answered from the nearest passage: replaced
        verdict = assistant.review(
            "What colour was the kettle the reviewer returned?",
            "The seller replaced the kettle once.",
            searched,
        )
        assert verdict.startswith("Not found in the documents: no passage is about")
        assert "docs/kettle.txt" in verdict
        # answered from a passage about the question: kept
        assert assistant.review("Where did the kettle start leaking from?",
                                "Around the plastic window.", searched) == ""  # fmt: skip
        # ... and so is one the model made up: no passage supports its words either
        assert assistant.review(
            "What colour was the kettle the reviewer returned?",
            "It was bright red, 1994.",
            searched,
        ).startswith("Not found in the documents")
        # a task spread over two passages (a comparison) is not one passage's to judge: kept
        assert (
            assistant.review(
                "Which is longer, the review that says 'leaking kettle' or the one "
                "that says 'green tea'? Answer with its file name.",
                "docs/kettle.txt",
                searched,
            )
            == ""
        )
        # an answer that only echoes the question ("OK") asserts nothing: kept
        assert assistant.review("Reply with the word OK.", "OK", searched) == ""
        # a question naming a file: the file-system facts answer it, not passages
        assert (
            assistant.review("What colour is docs/tea.txt?", "The seller replaced it.", searched)
            == ""
        )
        # the shell answered: the passages are not what the answer rests on
        shell = Step(1, "tool", "", ToolCall("shell", {"command": "ls"}), "native", "a b",
                     Usage(), 0.0)  # fmt: skip
        assert assistant.review("What colour was the blender?", "kettle", [*searched, shell]) == ""
        # off
        off = Assistant(**{**assistant.__dict__, "not_found_below": 0.0})
        assert off.review("What colour was the blender?", "The seller replaced it.", searched) == ""


def test_quoted_words_and_a_query_found_as_written_rank_first(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "docs"
    corpus.mkdir()
    # Many short files hold every word of the phrase, often; one long file holds it as written.
    for n in range(8):
        (corpus / f"near{n}.txt").write_text(
            f"Review {n}: wonderful addition! Our wonderful blender is an addition to our "
            "kitchen, a wonderful addition to the kitchen of our family.\n"
        )
    filler = " ".join(f"The hall has lamp number {n} on the wall." for n in range(40))
    (corpus / "target.txt").write_text(f"{filler} It is a wonderful addition to our hall.\n")
    ingest(tmp_path / "idx", embedder, IngestOptions(roots=(corpus,)))
    with IndexReader(tmp_path / "idx") as reader:
        retriever = Retriever(reader, embedder)
        for query in (
            "the file that says 'wonderful addition to our'",
            'Find the file that contains "a wonderful addition to our"',
            "a wonderful addition to our",  # the model dropped the quotes
        ):
            assert retriever.search(query, k=3)[0].path.endswith("target.txt"), query
        # a quoted phrase no document holds changes nothing: the usual ranking stands
        plain = retriever.search("wonderful blender kitchen", k=3)
        quoted = retriever.search("wonderful blender kitchen 'no such words here'", k=3)
        assert {hit.path for hit in plain} == {hit.path for hit in quoted}


def test_quoted_words_name_a_document_and_the_rest_picks_its_passage(
    tmp_path: Path, embedder
) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "docs"
    corpus.mkdir()
    sections = "\n\n".join(
        f"## {n}.{m} Topic {n}{m}\n\n"
        + " ".join(f"Item {n} {m} {i} is listed here." for i in range(30))
        for n in range(1, 7)
        for m in range(1, 4)
    )
    (corpus / "manual.md").write_text(
        "# The Kettle Handbook\n\nThe Kettle Handbook: notes on kettles, cups and tea.\n\n"
        f"{sections}\n\n## 5.6 Descaling the element\n\nSoak the element in vinegar overnight.\n"
        "\n### 5.6.1 Vinegar strength\n\nFor 5.6 use white vinegar; see 5.6 and 5.6.2.\n"
    )
    (corpus / "other.md").write_text(
        "# Descaling\n\nDescaling the element of a boiler: use acid.\n"
    )
    ingest(tmp_path / "idx", embedder, IngestOptions(roots=(corpus,)))
    with IndexReader(tmp_path / "idx") as reader:
        retriever = Retriever(reader, embedder)
        # The title names the manual: its section, not its title page nor the other document,
        # nor the subsection whose heading path (and text) also holds "5.6".
        hits = retriever.search("In 'The Kettle Handbook', what is the title of section 5.6?", k=3)
        assert hits[0].heading.endswith("5.6 Descaling the element"), [h.heading for h in hits]
        assert all(hit.path.endswith("manual.md") for hit in hits)
        assert reader.places_holding("handbook") == {str((corpus / "manual.md").resolve()): []}
        query = "boiler acid 'The Kettle Handbook'"
        named = retriever.search(query, k=1)
        unnamed = retriever.search(query, k=1, not_text=["The Kettle Handbook"])
        # Quoted words the caller knows to name a file or folder are not looked for in the text.
        assert named[0].path.endswith("manual.md")
        assert unnamed[0].path.endswith("other.md")


def test_the_search_tool_names_the_files_holding_quoted_words(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    from smallagent.retrieval import SourceRegistry
    from smallagent.tools import make_search_tool

    for folder, texts in {
        "reviews": ["The onions were chopped fine.", "It chops well.", "Chopped nuts, again."],
        "posts": ["I chopped wood all day.", "Nothing here."],
    }.items():
        (tmp_path / folder).mkdir()
        for n, text in enumerate(texts):
            (tmp_path / folder / f"{n}.txt").write_text(text + "\n")
    ingest(
        tmp_path / "idx", embedder, IngestOptions(roots=(tmp_path / "reviews", tmp_path / "posts"))
    )
    with IndexReader(tmp_path / "idx") as reader:
        tool = make_search_tool(Retriever(reader, embedder), SourceRegistry(), tmp_path, chars=200)
        within = tool.function(
            query="How many files in the folder `reviews` contain the word `chopped`?"
        )
        everywhere = tool.function(query="Which files say 'chopped'?")
    lines = within.splitlines()
    assert lines[0].startswith("From the file system (exact): reviews/: a folder of 3 files")
    # whole words as search matches them: "chops" is not "chopped"; case is ignored
    assert lines[1] == (
        'From the index (exact): "chopped" is in 2 files in reviews/: reviews/0.txt, reviews/2.txt.'
    )
    assert not any('"reviews"' in line for line in lines)  # the folder's name is not looked for
    assert (
        'From the index (exact): "chopped" is in 3 files: posts/0.txt, reviews/0.txt' in everywhere
    )


def test_the_holding_line_names_the_pages_of_a_pdf(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    from smallagent.retrieval import SourceRegistry
    from smallagent.tools import make_search_tool
    from tests.conftest import make_pdf

    (tmp_path / "manuals").mkdir()
    make_pdf(
        tmp_path / "manuals" / "guide.pdf",
        ["Kettles are recorded here.", "Nothing on this page.", "Cups, RECORDED in full."],
    )
    ingest(tmp_path / "idx", embedder, IngestOptions(roots=(tmp_path / "manuals",)))
    with IndexReader(tmp_path / "idx") as reader:
        tool = make_search_tool(Retriever(reader, embedder), SourceRegistry(), tmp_path, chars=200)
        found = tool.function(query="On which pages of manuals/guide.pdf is `recorded` used?")
    # the file named is not a folder to look within; the pages are the PDF's own, from 1
    expected = 'From the index (exact): "recorded" is in 1 file: manuals/guide.pdf (pages 1, 3).'
    assert expected in found.splitlines()
