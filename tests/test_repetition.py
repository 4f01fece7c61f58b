"""The loop detector: degenerate tails are caught, real replies are left alone."""

from __future__ import annotations

import pytest

from smallagent.repetition import repeated_phrase

REAL_REPLIES = [
    # The 1.5B model's plan and call, and its answer, from the README's trace.
    "To find the service code that unlocks the factory calibration menu of the Tidewater station, "
    "you can search the documents.\n```json\n"
    '{"name": "search", "arguments": {"query": "factory calibration menu", "k": 3}}\n```',
    "The service code that unlocks the factory calibration menu of the Tidewater station is "
    "**TW-8841**. Changing factory values voids the sensor accuracy guarantee.\n\n"
    "If you need further assistance, please let me know!",
    # A markdown table: its rule repeats, but it is punctuation only.
    "| file | lines |\n|---|---|\n" + "".join(f"| doc{n}.md | {n * 7} |\n" for n in range(30)),
    # A numbered list whose items share their opening.
    "".join(f"{n}. Check the sensor number {n} for dust.\n" for n in range(1, 12)),
    # Code with similar lines.
    "\n".join(f"    total += values[{n}] * weights[{n}]" for n in range(20)),
]


@pytest.mark.parametrize("text", REAL_REPLIES)
def test_real_replies_are_not_loops(text: str) -> None:
    assert repeated_phrase(text) is None


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("I will search again. " * 5, "I will search again . I will search"),
        ("ok " * 12, "ok ok ok ok ok ok ok ok"),
        ('{"name": "search", "arguments": {"query": "battery"}}\n' * 4,
         'name " : " search " , "'),
    ],
)  # fmt: skip
def test_a_phrase_that_keeps_coming_back_is_a_loop(text: str, phrase: str) -> None:
    assert repeated_phrase("The answer is below.\n" + text) == phrase


def test_only_the_tail_counts() -> None:
    loop_then_recovery = "Let me check. " * 4 + " ".join(f"word{n}" for n in range(400))
    assert repeated_phrase(loop_then_recovery) is None
    assert repeated_phrase("Let me check. " * 4) is None  # three recurrences and a bit: not yet
    assert repeated_phrase("Let me check. " * 8) == "Let me check . Let me check ."
