"""The PDF manual's outline (bookmarks) and page texts, read with pypdf."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qabench.questions import OutlineNode


def read_manual(path: Path) -> tuple[list[OutlineNode], list[str]]:
    """(outline as (title, 0-based page, children) trees, the text of every page)."""
    from pypdf import PdfReader

    reader = PdfReader(str(path))

    def convert(entries: list[Any]) -> list[OutlineNode]:
        nodes: list[OutlineNode] = []
        for entry in entries:
            if isinstance(entry, list):  # the children of the entry before it
                if nodes:
                    title, start, children = nodes[-1]
                    nodes[-1] = (title, start, children + convert(entry))
                continue
            number = reader.get_destination_page_number(entry)
            nodes.append((str(entry.title), -1 if number is None else number, []))
        return nodes

    pages = [page.extract_text() or "" for page in reader.pages]
    return convert(reader.outline), pages
