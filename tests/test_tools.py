from __future__ import annotations

import os
from pathlib import Path

import pytest

from smallagent.retrieval import SourceRegistry
from smallagent.tools import (
    ToolArgumentError,
    coerce,
    make_read_file_tool,
    make_tool,
)


def good(query: str, k: int = 3, exact: bool = False) -> str:
    """Find things.

    Args:
        query: what to find
        k: how many
        exact: match exactly
    """
    return f"{query}|{k}|{exact}"


def test_schema_is_derived_from_hints_and_docstring() -> None:
    tool = make_tool(good)
    assert tool.spec.name == "good"
    assert tool.spec.description == "Find things."
    assert tool.parameters == {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "what to find"},
            "k": {"type": "integer", "description": "how many", "default": 3},
            "exact": {"type": "boolean", "description": "match exactly", "default": False},
        },
        "required": ["query"],
    }
    assert tool({"query": 5, "k": "2", "exact": "yes"}) == "5|2|True"


def test_incomplete_tools_fail_at_definition() -> None:
    def no_hint(query) -> str:  # type: ignore[no-untyped-def]
        """Doc.

        Args:
            query: q
        """
        return ""

    def no_description(query: str) -> str:
        """Doc."""
        return ""

    def no_doc(query: str) -> str:
        return ""

    with pytest.raises(TypeError, match="needs a type hint"):
        make_tool(no_hint)
    with pytest.raises(TypeError, match="describe query under Args"):
        make_tool(no_description)
    with pytest.raises(TypeError, match="needs a docstring"):
        make_tool(no_doc)


@pytest.mark.parametrize(
    ("value", "target", "expected"),
    [
        ("3", int, 3),
        ("3.0", int, 3),
        (2.0, int, 2),
        ("0.5", float, 0.5),
        ("no", bool, False),
        (1, bool, True),
        (42, str, "42"),
        (["a", "b"], str, "a b"),
        ({"type": "string", "description": "Paris"}, str, "Paris"),
        ({"command": "ls"}, str, "ls"),
    ],
)
def test_coercion_of_what_small_models_send(value: object, target: type, expected: object) -> None:
    name = "command" if isinstance(value, dict) and "command" in value else "x"
    assert coerce(value, target, name) == expected


@pytest.mark.parametrize(
    ("value", "target"), [("three", int), (2.5, int), ("maybe", bool), ({"a": {}}, str)]
)
def test_bad_arguments_say_what_was_wrong(value: object, target: type) -> None:
    with pytest.raises(ToolArgumentError, match="argument x should be"):
        coerce(value, target, "x")


def test_missing_argument_lists_what_the_tool_takes() -> None:
    with pytest.raises(ToolArgumentError, match=r"good needs query; it takes query \(string\)"):
        make_tool(good)({"k": 1})


def test_read_file_is_bounded_and_confined(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("".join(f"line {n}\n" for n in range(1, 301)))
    outside = tmp_path.parent / "outside-secret.txt"
    outside.write_text("secret\n")
    indexed = tmp_path.parent / "indexed.txt"
    indexed.write_text("indexed\n")
    read = make_read_file_tool([tmp_path], {str(indexed)}, max_lines=50)
    assert read({"path": "f.txt", "start_line": 2, "end_line": 3}) == "2: line 2\n3: line 3"
    assert len(read({"path": "f.txt", "start_line": 1, "end_line": 300}).splitlines()) == 50
    assert "outside the working directory" in read({"path": str(outside)})
    assert "outside the working directory" in read({"path": "../outside-secret.txt"})
    assert read({"path": str(indexed)}) == "1: indexed"
    assert read({"path": "."}) == ". is not a file."


def test_sources_are_numbered_once_and_attributed_by_exact_terms() -> None:
    sources = SourceRegistry()
    first = sources.number("/d/a.md", None, "A")
    assert sources.number("/d/b.pdf", 3, "") == 2
    assert sources.number("/d/a.md", None, "A") == first == 1
    sources.remember(1, "The code is TW-8841.")
    sources.remember(2, "Nothing here.")
    assert [s.label for s in sources.cited("See [2] and [9].")] == ["/d/b.pdf:page 3"]
    assert [s.number for s in sources.cited("The code is TW-8841.")] == [1]
    assert sources.cited("No idea.") == []


def test_read_file_resolves_before_matching_an_indexed_document(tmp_path: Path) -> None:
    workdir, corpus, outside = tmp_path / "work", tmp_path / "corpus", tmp_path / "outside"
    for folder in (workdir, corpus, outside):
        folder.mkdir()
    document = corpus / "doc.md"
    document.write_text("indexed text\n")
    (outside / "secret.txt").write_text("SECRET-7731\n")
    read = make_read_file_tool([workdir], {str(document)}, max_lines=50)
    assert read({"path": str(document)}) == "1: indexed text"
    document.unlink()
    document.symlink_to(outside / "secret.txt")  # swapped in after the run started
    observation = read({"path": str(document)})
    assert "SECRET-7731" not in observation
    assert "outside the working directory and the indexed documents" in observation


def test_read_file_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")  # opening it for reading would block until a writer came
    read = make_read_file_tool([tmp_path], set(), max_lines=50)
    assert read({"path": "pipe"}) == "pipe is not a file."
    assert read({"path": "missing.txt"}) == "missing.txt is not a file."


def test_read_file_reads_at_most_what_it_returns(tmp_path: Path) -> None:
    one_line = tmp_path / "one-line.txt"
    with one_line.open("w") as handle:  # 20 MB on a single line
        handle.write("x" * 20_000_000)
    (tmp_path / "after.txt").write_text("y" * 300_000 + "\nsecond line\n")
    read = make_read_file_tool([tmp_path], set(), max_lines=50, max_bytes=1000)
    observation = read({"path": "one-line.txt"})
    assert observation == "1: " + "x" * 1000 + " [cut: read_file returns at most 1000 bytes]"
    assert read({"path": "after.txt", "start_line": 2}) == "2: second line"
    assert read({"path": "after.txt", "start_line": 3}) == "after.txt has fewer than 3 lines."


def test_a_number_and_its_unit_is_no_unknown_name() -> None:
    """ "60-minute" looked like a code, and no document holds it as written ("60 minutes"): the
    example docs' question about a 60-minute interval was answered "none mentions 60-minute"."""
    from smallagent.retrieval import Retriever

    class Index:
        def contains_word(self, word: str) -> bool:
            return word in {"reporting", "interval"}

        def exact(self, phrases: list[str], k: int) -> list[tuple[int, float]]:
            return []

    retriever = Retriever(Index(), None)  # type: ignore[arg-type]
    question = "How long does it last at a 60-minute or 2.5-hour reporting interval, or QX-60?"
    assert retriever.unknown_names(question) == ["QX-60"]
