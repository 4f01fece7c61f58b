"""Signals that a small model's answer failed, so a larger model should try: each one a small pure
function of the question and the run's `Result`, with no extra model call.

- `no_answer`: the run stopped without an answer (steps, mistakes, energy or time ran out).
- `unsupported`: the answer states facts (names, numbers, codes) that the passages it cites do not
  contain; an answer that cites nothing is checked against every passage it was shown.
- `uncited`: the answer states facts and cites no passage (reported; see ESCALATING).
- `not_found_with_evidence`: the answer says "not found" while a passage it was shown shares most
  of the question's keywords.
- `restates_question`: the answer adds no word to the question's own ("sifter" for "What kind of
  sifter works?").
- `low_confidence`: the model was unsure of its answer: the geometric mean probability of the
  answer's own tokens, from the log-probabilities Ollama returns with the reply (a model that may
  be escalated from is asked for them), is below `Settings.escalate_below`.
- `checks_failed`: for a task, its own checks failed (`smallagent run`).

An answer the loop gave in the model's place (settled: a question naming what no document
mentions; reviewed: no passage is about the question) raises no signal: a larger model, shown the
same passages, would get the same verdict.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from smallagent.retrieval import STOPWORDS, exact_terms
from smallagent.types import TokenLogprob

if TYPE_CHECKING:
    from smallagent.agent import Result, Step

SIGNAL_NAMES = ("no_answer", "unsupported", "uncited", "not_found_with_evidence",
                "restates_question", "low_confidence", "checks_failed")  # fmt: skip
# The signals that send a question to the larger model. `uncited` is computed and reported but does
# not escalate: small models rarely write [n] even when the answer is in the passages, so on its
# own it would send nearly every question up (docs/benchmarks.md, "Escalation").
ESCALATING = frozenset(
    {"no_answer", "unsupported", "not_found_with_evidence", "restates_question", "low_confidence",
     "checks_failed"}
)  # fmt: skip
# An answer is unsupported when at least this share of its key terms is in no passage it rests on.
UNSUPPORTED_SHARE = 0.5
# "Strong keyword overlap": a passage holds at least this share of the question's content words,
# and at least two of them.
STRONG_OVERLAP = 0.6


@dataclass(frozen=True)
class Signal:
    name: str  # one of SIGNAL_NAMES
    detail: str  # what fired it, in words, for the trace

    @property
    def escalates(self) -> bool:
        return self.name in ESCALATING

    def __str__(self) -> str:
        return f"{self.name}: {self.detail}"


# ------------------------------------------------------------------ the words of an answer

_CITATION = re.compile(r"\[(\d+)\]")
_PASSAGE_LINE = re.compile(r"^\[(\d+)\] (.*)$")
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\n\s*)$")
_WORD = re.compile(r"[A-Za-z0-9][\w'\u2019-]*(?:[.,:/][\w'\u2019-]+)*")
_NUMBER = re.compile(r"^\d[\d,]*(?:\.\d+)?$")
# Words that open an answer's sentence without naming anything (beyond retrieval's stopwords).
_OPENER_TEXT = """based according yes however therefore thus answer note sorry unfortunately here
    sure firstly first finally overall additionally also see please"""
OPENERS = frozenset(_OPENER_TEXT.split())


def _normal(term: str) -> str:
    """A term as compared: lower case, no possessive, no thousands separators.

    >>> _normal("Tocqueville's"), _normal("1,488"), _normal("TW-8841")
    ('tocqueville', '1488', 'tw-8841')
    """
    term = term.lower().strip(".,;:!?()[]{}\"'`\u2019")
    term = re.sub(r"['\u2019]s$", "", term)
    return term.replace(",", "") if _NUMBER.match(term) else term


def key_terms(answer: str, question: str = "") -> list[str]:
    """The facts an answer states, as words: numbers, codes and names it does not take from the
    question. A capitalised word counts as a name unless it is a stopword or a sentence opener.

    >>> key_terms("The code is TW-8841, see Tidewater [2].", "What code unlocks Tidewater?")
    ['tw-8841']
    >>> key_terms("Based on [1], 1,488 files; Lisp and C both.", "How many files?")
    ['1488', 'lisp']
    """
    text = _CITATION.sub(" ", answer)
    asked = {_normal(word) for word in _WORD.findall(question)}
    codes = {_normal(term) for term in exact_terms(text)}
    found: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group(0)
        term = _normal(word)
        if len(term) < 2 and not term.isdigit():
            continue
        is_number = bool(_NUMBER.match(term))
        # A sentence's first word is capitalised anyway: a name there only if it is no opener.
        opener = term in OPENERS and bool(_SENTENCE_START.search(text[: match.start()]))
        is_name = word[0].isupper() and not opener and term not in STOPWORDS
        if (is_number or term in codes or is_name) and term not in asked and term not in found:
            found.append(term)
    return found


def supported(term: str, passage: str) -> bool:
    """Whether a passage holds a key term: a number as a whole number (thousands separators
    ignored), a word or code at a word's start (so plurals and possessives count).

    >>> supported("1488", "took 1,488 prompt tokens"), supported("148", "took 1,488 tokens")
    (True, False)
    >>> supported("tw-8841", "The code is TW-8841."), supported("tw-8841", "code TW-88410")
    (True, False)
    """
    text = re.sub(r"(?<=\d),(?=\d{3})", "", passage.lower())
    if _NUMBER.match(term):
        return re.search(rf"(?<![\d.]){re.escape(term)}(?!\.?\d)", text) is not None
    ending = r"(?![\w-]*\d)" if any(ch.isdigit() for ch in term) else ""
    return re.search(rf"(?<![\w-]){re.escape(term)}{ending}", text) is not None


def passages_shown(result: Result) -> dict[int, str]:
    """The numbered passages the run's tool results showed the model, by their [n].

    Read from the observations' `[n] path (heading): text` lines, so the check sees what the
    model saw (a passage's best sentences), whatever follows the results.
    """
    shown: dict[int, str] = {}
    for step in result.steps:
        if step.kind != "tool":
            continue
        for line in step.observation.splitlines():
            match = _PASSAGE_LINE.match(line.strip())
            if match:
                number = int(match.group(1))
                shown[number] = (shown.get(number, "") + " " + match.group(2)).strip()
    return shown


def other_results(result: Result) -> str:
    """What the tools showed that is not a numbered passage: file-system facts, command output,
    file contents. Nothing there can be cited as [n], so it supports an answer cited or not."""
    return "\n".join(
        line
        for step in result.steps
        if step.kind == "tool"
        for line in step.observation.splitlines()
        if not _PASSAGE_LINE.match(line.strip())
    )


def cited_numbers(answer: str) -> list[int]:
    """The [n] an answer cites.

    >>> cited_numbers("TW-8841 [2], see also [1][2].")
    [1, 2]
    """
    return sorted({int(number) for number in _CITATION.findall(answer)})


# The loop's own verdicts, given without the model or in place of its answer: "none mentions X"
# (settled) and "no passage is about what the question asks" (reviewed). A larger model, shown
# the same passages, would get the same verdict.
LOOP_VERDICTS = ("settled", "reviewed")


def _loop_answered(result: Result) -> bool:
    return any(step.form in LOOP_VERDICTS for step in result.steps)


# ------------------------------------------------------------------------------ the signals


def no_answer(result: Result, question: str) -> Signal | None:
    """The run stopped without an answer, or answered with nothing."""
    if not result.complete:
        return Signal("no_answer", f"the run stopped without an answer ({result.stop_reason})")
    if not result.answer.strip():
        return Signal("no_answer", "the answer is empty")
    return None


def unsupported(result: Result, question: str) -> Signal | None:
    """Most of the answer's key terms are in none of the passages it cites (or, citing none, in
    none of the passages it was shown), nor in what the tools showed outside passages."""
    if not result.complete or _loop_answered(result):
        return None
    terms = key_terms(result.answer, question)
    if not terms:
        return None
    shown = passages_shown(result)
    cited = [shown[number] for number in cited_numbers(result.answer) if number in shown]
    against, where = (cited, "in none of the passages it cites") if cited else (
        list(shown.values()), "in no tool result"
    )  # fmt: skip
    against.append(other_results(result))
    missing = [term for term in terms if not any(supported(term, text) for text in against)]
    if len(missing) >= UNSUPPORTED_SHARE * len(terms):
        return Signal("unsupported", f"{', '.join(missing)} {where}")
    return None


def uncited(result: Result, question: str) -> Signal | None:
    """The answer states facts and cites no passage it was shown."""
    if not result.complete or _loop_answered(result):
        return None
    terms = key_terms(result.answer, question)
    shown = passages_shown(result)
    if terms and not any(number in shown for number in cited_numbers(result.answer)):
        return Signal("uncited", f"states {', '.join(terms[:3])} and cites nothing")
    return None


_NOT_FOUND = re.compile(
    r"(?:\b(?:not|no|never|cannot|unable|without)|n['\u2019]t)\b(?:\W+\w+){0,4}?\W+"
    r"(?:found|find|finding|mention\w*|contain\w*|information|details?|available|determine\w*|"
    r"known|provided|specif\w*|say|says|state\w*)\b"
    r"|\bunknown\b|\bno (?:passage|document|result)s?\b",
    re.IGNORECASE,
)


def says_not_found(answer: str) -> bool:
    """Whether the answer says the information was not found, however phrased.

    >>> says_not_found("The documents do not mention it."), says_not_found("It is 42.")
    (True, False)
    """
    return _NOT_FOUND.search(answer) is not None


def content_words(text: str) -> set[str]:
    """The words of a text that carry its topic.

    >>> sorted(content_words("What is the service code of the Tidewater station?"))
    ['code', 'service', 'station', 'tidewater']
    """
    words = (_normal(word) for word in _WORD.findall(text))
    return {word for word in words if len(word) >= 3 and word not in STOPWORDS}


def overlap(question: str, passage: str) -> float:
    """The share of the question's content words that the passage holds (prefix match, so
    "stations" holds "station")."""
    wanted = content_words(question)
    if len(wanted) < 2:
        return 0.0
    held = [word for word in wanted if supported(word, passage)]
    return len(held) / len(wanted) if len(held) >= 2 else 0.0


def not_found_with_evidence(result: Result, question: str) -> Signal | None:
    """The answer says it was not found, yet a passage shown shares most of the question's words."""
    if not result.complete or _loop_answered(result) or not says_not_found(result.answer):
        return None
    best = max(
        ((overlap(question, text), number) for number, text in passages_shown(result).items()),
        default=(0.0, 0),
    )
    if best[0] >= STRONG_OVERLAP:
        return Signal(
            "not_found_with_evidence",
            f"says not found, but passage [{best[1]}] holds {best[0]:.0%} of the question's words",
        )
    return None


def restates_question(result: Result, question: str) -> Signal | None:
    """The answer adds no word to the question's own: "What kind of sifter works?" - "sifter"."""
    if not result.complete or _loop_answered(result) or says_not_found(result.answer):
        return None
    added = content_words(_CITATION.sub(" ", result.answer)) - content_words(question)
    if result.answer.strip() and not added and not re.search(r"\d", result.answer):
        return Signal("restates_question", "the answer adds no word to the question's own")
    return None


# ------------------------------------------------------------------- how sure the model was

# The key of a constrained reply's answer: {"tool": "final_answer", "input": "<the answer>"}, or
# the answer-only request's {"answer": "<the answer>"}.
_ANSWER_VALUE = re.compile(r'"(?:input|answer)"\s*:\s*"')


def answer_logprobs(tokens: Sequence[TokenLogprob]) -> list[float]:
    """The log-probabilities of the tokens that spell the answer itself: inside the reply's
    `"input": "..."` value when it has one (the JSON around it is forced by the reply's schema
    and says nothing of the answer), else every token; whitespace-only tokens left out.

    >>> reply = [TokenLogprob(t, p) for t, p in [('{"tool": "final_answer", "input": "', -0.1),
    ...     ("Paris", -0.2), (" [1]", -1.5), ('"}', -0.01)]]
    >>> answer_logprobs(reply)
    [-0.2, -1.5]
    """
    text, starts = "", []
    for token in tokens:
        starts.append(len(text))
        text += token.token
    value = _ANSWER_VALUE.search(text)
    begin = value.end() if value else 0
    end = text.rfind('"') if value else len(text)
    end = end if end >= begin else len(text)
    return [
        token.logprob
        for token, start in zip(tokens, starts, strict=True)
        if begin <= start < end and token.token.strip()
    ]


def confidence(logprobs: Sequence[float]) -> float | None:
    """The geometric mean probability of the tokens: exp of their mean log-probability.

    >>> round(confidence([math.log(0.9), math.log(0.4)]), 3)
    0.6
    """
    return math.exp(sum(logprobs) / len(logprobs)) if logprobs else None


def answer_step(result: Result) -> Step | None:
    """The step whose reply gave the run's answer, when a model gave it (not the loop)."""
    for step in reversed(result.steps):
        if step.kind == "answer":
            return step if step.form not in LOOP_VERDICTS and step.logprobs else None
    return None


def answer_confidence(result: Result) -> float | None:
    """How sure the model was of its answer; None when it gave no log-probabilities."""
    step = answer_step(result)
    return confidence(answer_logprobs(step.logprobs)) if step is not None else None


def low_confidence(result: Result, question: str, below: float) -> Signal | None:
    """The model gave its answer with a geometric mean token probability under `below`."""
    if below <= 0 or not result.complete or _loop_answered(result):
        return None
    sure = answer_confidence(result)
    if sure is not None and sure < below:
        return Signal("low_confidence", f"its answer's tokens averaged p={sure:.2f} (< {below})")
    return None


ANSWER_SIGNALS = (no_answer, unsupported, uncited, not_found_with_evidence, restates_question)


def answer_signals(result: Result, question: str, confidence_below: float = 0.0) -> list[Signal]:
    """Every answer signal that fires on this run, escalating or not."""
    fired = [signal(result, question) for signal in ANSWER_SIGNALS]
    fired.append(low_confidence(result, question, confidence_below))
    return [signal for signal in fired if signal is not None]


class CheckVerdict(Protocol):
    """What `checks_failed` reads of a task check's outcome (tasks.checks.CheckOutcome)."""

    @property
    def kind(self) -> str: ...
    @property
    def passed(self) -> bool: ...
    @property
    def detail(self) -> str: ...


def checks_failed(outcomes: Iterable[CheckVerdict]) -> Signal | None:
    """A task's own checks, judged on the answer: any that failed.

    >>> from types import SimpleNamespace as Outcome
    >>> print(checks_failed([Outcome(kind="regex", passed=False, detail="no match")]))
    checks_failed: regex: no match
    """
    failed = [f"{outcome.kind}: {outcome.detail}" for outcome in outcomes if not outcome.passed]
    return Signal("checks_failed", "; ".join(failed)) if failed else None


def escalating(signals: Sequence[Signal]) -> list[Signal]:
    return [signal for signal in signals if signal.escalates]


def count_signals(signals: Iterable[Iterable[str]]) -> Mapping[str, int]:
    """How often each signal fired over several questions (names of the signals per question)."""
    counts = dict.fromkeys(SIGNAL_NAMES, 0)
    for names in signals:
        for name in set(names):
            counts[name] = counts.get(name, 0) + 1
    return counts
