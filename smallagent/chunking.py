"""Documents -> chunks that never exceed the embedder's token limit, measured by its own tokenizer.

Each section is tokenized once; chunks are windows over its tokens, cut at the best boundary in the
window's last half (paragraph > line > sentence > word), so no text is silently truncated by the
embedder. A chunk's heading path is embedded with it and counted against the limit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from smallagent.documents import Document

# What an index records about how its chunks were cut (with the token sizes), so that chunks cut
# one way are never mixed with chunks cut another. Bump it whenever the same document would be
# cut differently. 1: Markdown headings found by regex, ATX only, a heading with nothing under it
# a chunk of its own. 2: Markdown parsed by markdown-it (setext headings, front matter), and such a
# heading joined to the text under the next one.
CHUNKER_VERSION = 2


@dataclass(frozen=True)
class ChunkingConfig:
    max_tokens: int = 256  # all-MiniLM-L6-v2's max_seq_length, special tokens included
    overlap_tokens: int = 32

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ValueError("max_tokens must be at least 16")
        if not 0 <= self.overlap_tokens < self.max_tokens // 2:
            raise ValueError("overlap_tokens must be between 0 and half of max_tokens")


@dataclass(frozen=True)
class Chunk:
    text: str
    heading: str
    page: int | None
    start: int  # character span in the document's text
    end: int
    token_count: int  # of `embedding_text`, special tokens included

    @property
    def embedding_text(self) -> str:
        return f"{self.heading}\n{self.text}" if self.heading else self.text


class WordPieceCounter:
    """The embedder's own fast tokenizer (tokenizer.json), without truncation or padding."""

    def __init__(self, model_location: str | Path) -> None:
        from tokenizers import Tokenizer  # only an ingest counts tokens; a search does not

        self._tokenizer = Tokenizer.from_file(str(Path(model_location) / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.special_tokens = len(self._tokenizer.encode("").ids)

    def count(self, text: str) -> int:
        """Tokens the embedder sees for `text`, [CLS] and [SEP] included."""
        return len(self._tokenizer.encode(text).ids)

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each token of `text`, special tokens excluded."""
        encoding: Any = self._tokenizer.encode(text, add_special_tokens=False)
        return [(int(start), int(end)) for start, end in encoding.offsets]


def _boundary_score(text: str, offsets: Sequence[tuple[int, int]], index: int) -> int:
    """How good a cut before token `index` is: 4 paragraph, 3 line, 2 sentence, 1 word, 0 none."""
    gap = text[offsets[index - 1][1] : offsets[index][0]]
    if "\n\n" in gap:
        return 4
    if "\n" in gap:
        return 3
    previous = text[offsets[index - 1][0] : offsets[index - 1][1]]
    if gap and previous in {".", "!", "?", ":", ";"}:
        return 2
    return 1 if gap else 0


def _windows(
    text: str,
    offsets: Sequence[tuple[int, int]],
    budget: int,
    overlap: int,
    fits: Callable[[int, int], bool],
) -> list[tuple[int, int]]:
    """Token windows [first, last) covering every token; `fits` has the final word on length."""
    windows: list[tuple[int, int]] = []
    start, count = 0, len(offsets)
    while start < count:
        end = min(start + budget, count)
        if end < count:
            lowest = start + max(1, budget // 2)
            best, best_score = end, -1
            for candidate in range(end, lowest - 1, -1):
                score = _boundary_score(text, offsets, candidate)
                if score > best_score:
                    best, best_score = candidate, score
                if score == 4:
                    break
            end = best
        while end - start > 1 and not fits(start, end):
            end -= 1  # a slice can tokenize a little longer than its share of the whole
        windows.append((start, end))
        if end >= count:
            break
        next_start = max(end - overlap, start + 1)
        while next_start < end and _boundary_score(text, offsets, next_start) == 0:
            next_start += 1  # never start inside a word
        start = next_start
    return windows


def chunk_document(
    document: Document, counter: WordPieceCounter, config: ChunkingConfig
) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in document.sections:
        heading = section.heading
        heading_tokens = counter.count(heading) - counter.special_tokens if heading else 0
        if heading_tokens > config.max_tokens // 4:
            heading = heading.rsplit(" > ", 1)[-1][:80]  # keep the innermost title, shortened
            heading_tokens = counter.count(heading) - counter.special_tokens
        budget = config.max_tokens - counter.special_tokens - heading_tokens
        text, offsets = section.text, counter.offsets(section.text)
        fits = partial(_fits, counter, config.max_tokens, text, offsets, heading)
        for first, last in _windows(text, offsets, budget, config.overlap_tokens, fits):
            begin, finish = offsets[first][0], offsets[last - 1][1]
            body = text[begin:finish]
            chunks.append(
                Chunk(
                    text=body,
                    heading=heading,
                    page=section.page,
                    start=section.start + begin,
                    end=section.start + finish,
                    token_count=counter.count(f"{heading}\n{body}" if heading else body),
                )
            )
    return chunks


def _fits(
    counter: WordPieceCounter,
    max_tokens: int,
    text: str,
    offsets: Sequence[tuple[int, int]],
    heading: str,
    first: int,
    last: int,
) -> bool:
    body = text[offsets[first][0] : offsets[last - 1][1]]
    return counter.count(f"{heading}\n{body}" if heading else body) <= max_tokens
