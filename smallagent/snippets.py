"""What the model is shown of a passage: the sentences that match the query, not its first lines.

A chunk is ~1,000-2,000 characters; showing each of four in full costs ~1,500 prompt tokens, and
showing the first 500 characters cut the answer off whenever it sat later in the chunk (on the
question benchmark's dev split the gold answer was inside the prefix for far fewer questions than
it was inside the chunk: bench/qa_recall.py). A snippet is the best-matching sentence with its
neighbours, grown to the character budget, so the cost stays the same and the answer stays in.
"""

from __future__ import annotations

import re

from smallagent.retrieval import STOPWORDS, exact_terms

# Sentence ends, and line breaks: a table row, a list item or a wrapped PDF line is a unit too.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|\s*\n\s*")
_WORD = re.compile(r"\w+")
GAP = " … "


def query_terms(query: str) -> dict[str, float]:
    """The query's topic words, lower-cased and stemmed crudely, with a weight each.

    Codes and identifiers weigh 3 (they name one thing); longer words 1.5; short ones 1.

    >>> query_terms("What does error E422 mean for the calibration?")
    {'error': 1.0, 'e422': 3.0, 'mean': 1.0, 'calibration': 1.5}
    """
    exact = {part.lower() for term in exact_terms(query) for part in _WORD.findall(term)}
    weights: dict[str, float] = {}
    for word in _WORD.findall(query):
        lowered = word.lower()
        if lowered in STOPWORDS or len(lowered) < 2:
            continue
        weight = 3.0 if lowered in exact else 1.5 if len(lowered) >= 7 else 1.0
        weights[_stem(lowered)] = max(weight, weights.get(_stem(lowered), 0.0))
    return weights


def _stem(word: str) -> str:
    """Enough stemming to match "leaks"/"leaking"/"leaked" with "leak"; nothing clever."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def sentences(text: str) -> list[str]:
    parts = (" ".join(part.split()) for part in _SENTENCE_END.split(text))
    return [part for part in parts if part]


def _score(sentence: str, terms: dict[str, float]) -> float:
    found = {_stem(word.lower()) for word in _WORD.findall(sentence)}
    return sum(weight for term, weight in terms.items() if term in found)


def passage_view(text: str, query: str, chars: int) -> str:
    """At most `chars` characters of `text`: the whole of it if it fits, else its best window.

    The window opens at the sentence that shares the most (weighted) query terms and grows by
    neighbours, the next sentence first, while it fits; a second window, if the budget allows, holds
    the next-best sentence. Gaps are marked with "…". With no term in common, the opening.

    >>> text = "Intro line here. The kettle leaked from the window. Nothing else. Outro."
    >>> passage_view(text, "Where did the kettle leak?", 40)
    '… The kettle leaked from the window. …'
    """
    flat = " ".join(text.split())
    if len(flat) <= chars:
        return flat
    parts = sentences(text)
    terms = query_terms(query)
    scores = [_score(part, terms) for part in parts]
    if not parts or max(scores, default=0.0) <= 0:
        return _cut(flat, chars)
    chosen: set[int] = set()
    budget = chars
    for best in sorted(range(len(parts)), key=lambda i: (-scores[i], i)):
        if scores[best] <= 0 or best in chosen:
            continue
        cost = len(parts[best]) + len(GAP)
        if cost > budget:
            if not chosen:  # one long sentence: cut it around its first matching word
                return _around(parts[best], terms, chars)
            break
        chosen.add(best)
        budget -= cost
        budget = _grow(parts, chosen, best, budget)
        if budget < 60:
            break
    return _join(parts, chosen)


def _grow(parts: list[str], chosen: set[int], centre: int, budget: int) -> int:
    """Add neighbours of `centre`, after then before, while they fit; the budget left."""
    after, before = centre + 1, centre - 1
    while True:
        grown = False
        for index in (after, before):
            if 0 <= index < len(parts) and index not in chosen and len(parts[index]) + 1 <= budget:
                chosen.add(index)
                budget -= len(parts[index]) + 1
                grown = True
        if not grown:
            return budget
        after, before = after + 1, before - 1


def _join(parts: list[str], chosen: set[int]) -> str:
    pieces: list[str] = []
    previous = -1
    for index in sorted(chosen):
        if index != previous + 1 or (previous == -1 and index > 0):
            pieces.append("…")
        pieces.append(parts[index])
        previous = index
    if previous != len(parts) - 1:
        pieces.append("…")
    return " ".join(pieces)


def _cut(flat: str, chars: int) -> str:
    return flat[:chars].rsplit(" ", 1)[0] + " …"


def _around(sentence: str, terms: dict[str, float], chars: int) -> str:
    words = sentence.split()
    first = next(
        (i for i, word in enumerate(words) if _stem(word.lower().strip(".,;:!?()\"'")) in terms), 0
    )
    start = max(0, first - 8)
    window = " ".join(words[start:])
    return ("… " if start else "") + _cut(window, chars - 2)
