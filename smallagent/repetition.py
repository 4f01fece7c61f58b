"""Spotting a reply that has fallen into a loop, while it streams.

A small model at temperature 0 can lock into a cycle: the same sentence, call or token again and
again until the cap. A phrase of `n` tokens that recurs `times` times among the last `window` tokens
is that cycle; legitimate prose, lists and tables repeat shorter stretches, and n-grams made only of
punctuation (a table's `|---|---|`) never count.
"""

from __future__ import annotations

import re
from collections import Counter

_TOKEN = re.compile(r"\w+|[^\w\s]")
NGRAM = 8
TIMES = 4
WINDOW = 300
TAIL_CHARS = 4000  # more than WINDOW tokens of any text: only the tail is ever looked at


def repeated_phrase(
    text: str, n: int = NGRAM, times: int = TIMES, window: int = WINDOW
) -> str | None:
    """The phrase that keeps recurring at the end of `text`, or None.

    >>> repeated_phrase("Let me search for it. " * 6)
    'Let me search for it . Let me'
    >>> repeated_phrase("Step 1: open it. Step 2: close it. Step 3: done.") is None
    True
    """
    tokens = _TOKEN.findall(text[-TAIL_CHARS:])[-window:]
    grams = Counter(
        tuple(tokens[start : start + n])
        for start in range(len(tokens) - n + 1)
        if any(token[0].isalnum() or token[0] == "_" for token in tokens[start : start + n])
    )
    most = max(grams.values(), default=0)
    if most < times:
        return None
    looping = [gram for gram, count in grams.items() if count == most]
    gram = next((gram for gram in looping if gram[0][0].isalnum()), looping[0])  # reads better
    return " ".join(gram)
