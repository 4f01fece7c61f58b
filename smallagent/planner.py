"""Decomposition above the loop: a short plan, one small run per sub-goal, a cheap check of each.

A task that needs several tools in sequence ("how many lines does the file that says X have?")
asks a small model to hold a search result, a file name and a command in one growing transcript.
Here the model first writes a numbered plan (a JSON list of at most four sub-goals, held to that
form by Ollama's `format`); each sub-goal then runs as its own `AgentRun`, whose question is the
sub-goal and what the earlier sub-goals found, nothing else. Each sub-goal's answer must pass a
check that costs no model call (a number that a tool printed, a file that exists, words that the
passages hold); a sub-goal that fails is run once more, rephrased with what to do differently.
The findings are then composed into the answer by one small request.

Only a task that a cheap rule calls multi-step is planned (`looks_multi_step`), unless the mode
says `always`; and a plan of one step runs the task as it was asked (the model judged it one step).
Everything here is seen as `Step`s (the plan, each sub-goal, each check, the composed answer), so
the trace, `--json` and the task runner show them without knowing about plans.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from smallagent.agent import ANSWER_SCHEMA, AgentRun, Result, Step, StepKind, StopReason
from smallagent.config import DecomposeMode
from smallagent.retrieval import STOPWORDS, SourceRegistry, quoted_phrases
from smallagent.tools import line_count, path_facts
from smallagent.types import Message, Model, ToolCall, Usage

if TYPE_CHECKING:
    from smallagent.assistant import Assistant

CheckKind = Literal["number", "file", "passage"]
Figure = Literal["lines", "bytes", "time"]  # what the file system tells of a file
MAX_SUBGOALS = 4
NO_USAGE = Usage()  # the planner's own steps that ask no model: a check, a sub-goal's start
# Forms of the steps the planner adds around the loop's own: shown in the trace, counted apart.
PLANNER_FORMS = ("plan", "subgoal", "lookup", "measure", "check", "composed")

PLAN_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "steps": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "maxItems": MAX_SUBGOALS,
        }
    },
    "required": ["steps"],
}

# The planner's prompts live here, not in prompts.py, while issue 11 moves that module into the
# agent package; they join it then.
PLAN_SYSTEM = (
    "Split the user's task into the fewest steps, each done with one tool: one search of the "
    "documents, one read-only shell command (wc, ls, grep, find), or reading one file.\n"
    'Reply with one JSON object: {"steps": ["<step 1>", "<step 2>"]}. Each step is one short '
    'instruction; a later step names what it uses as "the file from step 1".\n'
    "Copy quoted words exactly, and the task's own words for what it asks (bytes, lines). "
    "A task that one search answers is one step: the task itself.\n"
    "Example: \"How many words does the file that mentions 'red kite' have?\" -> "
    '{"steps": ["Find the file that mentions \'red kite\'", '
    '"Count the words of the file from step 1 with wc -w"]}\n'
    "Example: \"Which is older, the note that says 'first frost' or the one that says 'late "
    "bloom'?\" -> "
    '{"steps": ["Find the file that says \'first frost\'", '
    "\"Find the file that says 'late bloom'\", "
    '"Show the dates of the files from steps 1 and 2 with ls -l"]}'
)
COMPOSE_SYSTEM = (
    "Answer the task from the findings of its steps. Reply with the answer itself in one "
    "sentence, answer first, keeping the file names, numbers and [n] citations the findings "
    "give. Name a file by its path as the findings give it (docs/a.txt), never by the words "
    "it holds. If a finding needed for the answer says it was not found, say so."
)

# What a sub-goal asks for decides its check: a number (a count, a size), a file, or a fact.
# A sub-goal's words outside quotes: a quoted phrase says what to look for, not what to answer.
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'|`[^`]*`|\u201c[^\u201d]*\u201d")
_NUMBER_GOAL = re.compile(
    r"\b(how many|count|number of|numbers|lines?|bytes|sizes?|words|pages?|longer|larger|"
    r"bigger|shorter|smaller|wc)\b",
    re.IGNORECASE,
)
_FILE_NOUN = r"(?:files?|documents?|reviews?|posts?|articles?|paths?)"
_FILE_GOAL = re.compile(
    rf"^\s*(?:find|locate|identify|get|search for|look for|look up)\s+(?:the\s+|a\s+|which\s+)?"
    rf"(?:name\s+of\s+the\s+|path\s+of\s+the\s+)?{_FILE_NOUN}\b|\bwhich\s+{_FILE_NOUN}\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?![\w])")
_PATH = re.compile(r"[\w.-]*[\w-]/[\w./-]*[\w]|[\w-]+\.[A-Za-z0-9]{1,5}\b")
_NOT_FOUND = re.compile(
    r"\bnot (?:been )?(?:found|mentioned|available)|\bno (?:information|passage|document)|"
    r"\bcould ?n[o']t find|\bunable to\b|^What was found so far",
    re.IGNORECASE,
)
# A thing named by its words: "the file that says ...". On its own that is one search (quoted
# words demand the documents holding them, and the rest of the task picks the passage); it takes
# steps when the task then asks what only a tool can tell of that file: its lines, bytes, words.
_NAMED_BY_WORDS = re.compile(
    r"\bthe (?:file|document|review|post|article|one|page)s? (?:that|which|where) "
    r"(?:says?|mentions?|contains?|talks?|discuss\w*|holds?|has|is about)\b",
    re.IGNORECASE,
)
_FILE_MEASURE = re.compile(r"\b(?:lines?|bytes|sizes?|words|wc)\b", re.IGNORECASE)
# What the file system states of a file (`path_facts`): its bytes and lines, and so which of two
# is longer. Words, pages and dates it does not state: a sub-goal asking those is the model's.
_STATED_MEASURE = re.compile(
    r"\b(?:lines?|bytes|sizes?|longer|larger|bigger|shorter|smaller|wc -[lc])\b", re.IGNORECASE
)
# (By its words, not its command: "Count the bytes of the file with wc -w" asks bytes.)
_UNSTATED_MEASURE = re.compile(
    r"\b(?:words?|pages?|characters?|dates?|times?|older|newer|modified)\b", re.IGNORECASE
)
_STATED_FIGURES: tuple[Figure, ...] = ("lines", "bytes")
_DIGITS = re.compile(r"\d+")
_STEP_NUMBERS = re.compile(r"\bsteps?\s+(\d+(?:\s*(?:,|and|&)\s*\d+)*)", re.IGNORECASE)
# Tasks that need two things found and compared, or steps done in order.
_MULTI_STEP = [
    re.compile(
        r"\bwhich (?:is|one is|of (?:them|the two) is) (?:longer|larger|bigger|shorter|smaller|"
        r"older|newer)\b",
        re.IGNORECASE,
    ),
    re.compile(r"\bcompare\b", re.IGNORECASE),
    re.compile(r"\b(?:and )?then\b.+\?", re.IGNORECASE),
]


def looks_multi_step(task: str) -> bool:
    """The cheap rule: the task compares two things, or asks a file's measure of a file it
    names by its words.

    A question about what such a file says is left to the loop: planned, the 1.5B model
    paraphrased it into "find information about Oxford's buildings" and answered with the
    city's shops; asked as written, one search found the passage (dev: 3 of 3 unplanned,
    2 of 3 planned, twice). So is collecting the pages of a manual that hold a word: planned,
    it was right no more often than the loop in three dev runs (1/3, 3/3, 3/3 both ways) for
    ~300 more prompt tokens; one search shows the pages that hold the word.

    >>> looks_multi_step("How many lines does the file that says 'blue heron' have?")
    True
    >>> looks_multi_step("How many lines does the file `wiki/Oxford.md` have?")
    False
    >>> looks_multi_step("In the file that says 'blue heron': who saw it?")
    False
    """
    if any(pattern.search(task) for pattern in _MULTI_STEP):
        return True
    return bool(_NAMED_BY_WORDS.search(task) and _FILE_MEASURE.search(_QUOTED.sub(" ", task)))


def names_by_words(task: str) -> bool:
    """Whether the task names a file by words it holds: no single passage holds such a task
    (the words and the answer are in different paragraphs), planned or not."""
    return bool(_NAMED_BY_WORDS.search(task))


def check_kind(goal: str) -> CheckKind:
    """What a sub-goal's answer must show.

    >>> check_kind("Count the lines of the file from step 1"), check_kind("List the pages")
    ('number', 'number')
    >>> check_kind("Find the file that says 'two lines of bytes'")
    'file'
    >>> check_kind("Find who founded the abbey in the document from step 1")
    'passage'
    """
    unquoted = _QUOTED.sub(" ", goal)
    if _NUMBER_GOAL.search(unquoted):
        return "number"
    if _FILE_GOAL.search(unquoted):
        return "file"
    return "passage"


@dataclass(frozen=True)
class Verdict:
    passed: bool
    detail: str
    # What later sub-goals are told this one found, where the check pins it down better than
    # the answer does (the file's path, not the passage the model quoted around it).
    finding: str = field(default="", compare=False)


def _tool_text(steps: Sequence[Step]) -> str:
    return "\n".join(step.observation for step in steps if step.kind == "tool")


def check_number(answer: str, steps: Sequence[Step]) -> Verdict:
    """A number in the answer that a tool printed: a command's output or the file system's facts.

    >>> tool = Step(1, "tool", "", ToolCall("shell", {}), "json", "  42 a.txt", Usage(), 0.0)
    >>> check_number("It has 42 lines.", [tool]).passed, check_number("41", [tool]).passed
    (True, False)
    """
    numbers = _numbers_in(answer)
    if not numbers:
        return Verdict(False, "the answer holds no number")
    printed = set(_numbers_in(_tool_text(steps)))
    for number in numbers:
        if number in printed:
            return Verdict(True, f"{number} came back from a tool")
    return Verdict(False, f"no tool printed {', '.join(dict.fromkeys(numbers))}")


def _numbers_in(text: str) -> list[str]:
    """The numbers a text states, not the digits of the paths it names: "1445 came back from
    a tool" passed a sizes sub-goal on the name reviews/review-1445-2.txt."""
    return [number.replace(",", "") for number in _NUMBER.findall(_PATH.sub(" ", text))]


# The files (resolved paths) the index holds a phrase in, word for word: how a file that is not
# plain text (a PDF) is checked, and how a sub-goal that only looks for such a file is done.
FilesHolding = Callable[[str], Sequence[Path]]


def check_file(
    answer: str,
    workdir: Path,
    sources: SourceRegistry | None = None,
    phrases: Sequence[str] = (),
    holding: FilesHolding | None = None,
) -> Verdict:
    """A file the answer names (as a path, or by citing its passage [n]) exists, and holds the
    words the sub-goal quoted: read as text, or asked of the index (`holding`) when it is not.

    Shown files that shared some of a quoted phrase's words, the 1.5B model named one of them
    (or a manual from the file system's facts): a file that exists is not yet the file asked for.
    A PDF was given the benefit of the doubt and so passed for a review's phrase.
    """
    root = workdir.resolve()
    named = [(root / candidate).resolve() for candidate in _PATH.findall(answer)]
    if sources is not None:
        named += [Path(source.path) for source in sources.cited(answer)]
    existing = [path for path in named if path.is_file() and path.is_relative_to(root)]
    for path in existing:
        missing = [phrase for phrase in phrases if not _holds_phrase(path, phrase, holding)]
        if not missing:
            shown = str(path.relative_to(root))
            held = " and holds the quoted words" if phrases else ""
            return Verdict(True, f"{shown} exists{held}", finding=shown)
    if existing:
        shown = existing[0].relative_to(root)
        return Verdict(False, f"{shown} does not hold the words in quotes")
    return Verdict(False, "the answer names no file that exists in the working directory")


def _holds_phrase(path: Path, phrase: str, holding: FilesHolding | None = None) -> bool:
    """Whether a text file holds the phrase (case and spacing aside); a file that is not text
    (a PDF) is asked of the index, and without one given the benefit of the doubt."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return path in holding(phrase) if holding is not None else True
    return _folded(phrase) in _folded(text)


def _folded(text: str) -> str:
    """Text as phrases are compared here: lower case, runs of spaces and newlines as one."""
    return " ".join(text.lower().split())


def content_words(text: str) -> list[str]:
    """Words that carry meaning: no stopwords, numbers, citations or short words.

    >>> content_words("The abbey was founded by Bishop Odo [2].")
    ['abbey', 'founded', 'bishop', 'odo']
    """
    words = re.findall(r"[^\W\d_]+", re.sub(r"\[\d+\]", " ", text).lower())
    return list(dict.fromkeys(w for w in words if len(w) >= 3 and w not in STOPWORDS))


def check_passage(answer: str, steps: Sequence[Step]) -> Verdict:
    """The passages the sub-goal saw hold most of the answer's words: it was taken from them."""
    words = content_words(answer)
    if not words:
        return Verdict(False, "the answer is empty")
    seen = set(content_words(_tool_text(steps)))
    held = [word for word in words if word in seen]
    if len(held) * 2 >= len(words):
        return Verdict(True, f"the passages hold {len(held)} of its {len(words)} words")
    return Verdict(False, f"the passages hold only {len(held)} of its {len(words)} words")


def check_subgoal(
    goal: str,
    result: Result,
    workdir: Path,
    sources: SourceRegistry | None = None,
    holding: FilesHolding | None = None,
) -> Verdict:
    """The cheap check of one sub-goal's result: no model call."""
    if not result.complete:
        return Verdict(False, f"it stopped without an answer ({result.stop_reason})")
    if _NOT_FOUND.search(result.answer):
        return Verdict(False, "it found nothing")
    kind = check_kind(goal)
    if kind == "number":
        return check_number(result.answer, result.steps)
    if kind == "file":
        return check_file(result.answer, workdir, sources, quoted_phrases(goal), holding)
    return check_passage(result.answer, result.steps)


RETRY_HINTS: Mapping[CheckKind, str] = {
    "number": "Run one shell command such as wc -l PATH or wc -c PATH and answer with the "
    "number it prints.",
    "file": "Search for the exact words and answer with the path of the file that holds them.",
    "passage": "Search with other words and answer only from the passages found.",
}


def rephrase(goal: str, verdict: Verdict) -> str:
    """The sub-goal again, with why the first try failed and what to do instead."""
    return f"{goal}\n(A first try failed: {verdict.detail}. {RETRY_HINTS[check_kind(goal)]})"


def subgoal_prompt(goal: str, findings: Sequence[tuple[str, str]]) -> str:
    """A sub-goal's whole question: the sub-goal, then what the earlier ones found. Only that:
    not the task, not their transcripts, not even their wording: labelled "step 1 (Find the
    document that mentions 'space underground car park and')", the 1.5B model answered a
    question about the document's buildings with its car park.

    >>> print(subgoal_prompt("Count the lines of the file from step 1", [("Find it", "a/b.md")]))
    Count the lines of the file from step 1
    <BLANKLINE>
    Found by earlier steps:
    step 1: a/b.md
    """
    if not findings:
        return goal
    lines = [f"step {number}: {found}" for number, (_, found) in enumerate(findings, 1)]
    return goal + "\n\nFound by earlier steps:\n" + "\n".join(lines)


def subgoal_search(goal: str, findings: Sequence[tuple[str, str]]) -> str:
    """What a sub-goal's first search looks for: the sub-goal and the files earlier sub-goals
    found (for their file-system facts), not their words. Searched with the whole sub-goal
    prompt, the 1.5B model was shown the earlier sub-goal's phrase and its file again, and
    answered the second "find the file" with neither of the files found.

    >>> subgoal_search("Count the lines of the file from step 1", [("Find it", "a/b.md")])
    'Count the lines of the file from step 1 a/b.md'
    """
    paths = [path for _, found in findings for path in _PATH.findall(found)]
    return " ".join([goal, *dict.fromkeys(paths)])


def lost_phrases(task: str, goals: Sequence[str]) -> list[str]:
    """The task's quoted words that no sub-goal copies as written (case and spacing aside).

    The plan is checked like a sub-goal, for free: the 1.5B model planned "Find the file named
    'post_important.txt'" for a post that says "it has been deemed important", and every later
    sub-goal looked for a file that does not exist.

    >>> lost_phrases("Which says 'blue heron'?", ["Find the file that says 'Blue  heron'"])
    []
    >>> lost_phrases("Which says 'blue heron'?", ["Find the file named 'heron.txt'"])
    ['blue heron']
    """
    planned = _folded(" ".join(goals))
    return [phrase for phrase in quoted_phrases(task) if _folded(phrase) not in planned]


# The measures a task can ask of a file, each with the words a plan may carry it by.
_MEASURES: Mapping[str, re.Pattern[str]] = {
    "lines": re.compile(r"\blines?\b|\bwc -l\b", re.IGNORECASE),
    "bytes": re.compile(r"\bbytes?\b|\bsizes?\b|\bwc -c\b|\bls -l\b|\bdu\b", re.IGNORECASE),
    "words": re.compile(r"\bwords?\b|\bwc -w\b", re.IGNORECASE),
}
_TASK_MEASURES: Mapping[str, re.Pattern[str]] = {
    "lines": re.compile(r"\blines?\b", re.IGNORECASE),
    "bytes": re.compile(r"\bbytes?\b|\bsize\b", re.IGNORECASE),
    "words": re.compile(r"\bwords\b", re.IGNORECASE),
}


def lost_measures(task: str, goals: Sequence[str]) -> list[str]:
    """The measures the task asks (its lines, bytes, words; outside quotes) that no sub-goal
    carries: the 0.5B model planned "Count the words of the file from step 1 with wc -w" for
    "what is the size in bytes of the file that says ...", and answered with a word count.

    >>> lost_measures("What is the size in bytes of it?", ["Find it", "Count its words"])
    ['bytes']
    >>> lost_measures("How many lines has it?", ["Find it", "Count them with wc -l"])
    []
    """
    asked = _QUOTED.sub(" ", task)
    planned = _QUOTED.sub(" ", " ".join(goals))
    return [
        measure
        for measure, pattern in _TASK_MEASURES.items()
        if pattern.search(asked) and not _MEASURES[measure].search(planned)
    ]


def replan_hint(phrases: Sequence[str], measures: Sequence[str]) -> str:
    """What a second plan request is told the first plan lost."""
    lost = [f"the words {phrase!r}, copied exactly in their own step" for phrase in phrases]
    lost += [f"the task's measure ({measure})" for measure in measures]
    return "A first plan lost " + " and ".join(lost) + ". Keep every one of them."


def parse_plan(text: str) -> list[str]:
    """The sub-goals of a plan reply; [] when it is not a plan.

    >>> parse_plan('{"steps": ["Find the file", " ", "Count its lines"]}')
    ['Find the file', 'Count its lines']
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return []
    steps = data.get("steps") if isinstance(data, dict) else None
    if not isinstance(steps, list):
        return []
    goals = [" ".join(str(step).split()) for step in steps if isinstance(step, str | int)]
    return [goal for goal in goals if goal][:MAX_SUBGOALS]


def _answer_of(text: str) -> str:
    """{"answer": ...} (a constrained reply), else the text itself."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return text.strip()
    if isinstance(data, dict) and isinstance(data.get("answer"), str):
        return str(data["answer"]).strip()
    return text.strip()


# What a comparison compares, by the task's words: lines, size, or time (ls -S, ls -t).
_ORDER_SHOWN: Mapping[Figure, str] = {
    "lines": "most lines first",
    "bytes": "largest first",
    "time": "newest first",
}
_BY_LINES = re.compile(r"\blines?\b", re.IGNORECASE)
_BY_SIZE = re.compile(r"\b(?:longer|larger|bigger|shorter|smaller|bytes|sizes?)\b", re.IGNORECASE)
_BY_TIME = re.compile(r"\b(?:older|newer|oldest|newest|recent|earlier|later)\b", re.IGNORECASE)
# Which end of that order a comparison asks for.
_MOST = re.compile(
    r"\b(?:longer|larger|bigger|more|most|newer|newest|later|latest|recent)\b", re.IGNORECASE
)
_LEAST = re.compile(r"\b(?:shorter|smaller|fewer|less|least|older|oldest|earlier)\b", re.IGNORECASE)
_COMPARES = re.compile(
    r"\b(?:which|compare\w*)\b.*\b(?:longer|larger|bigger|shorter|smaller|older|newer|more|"
    r"fewer|less)\b",
    re.IGNORECASE,
)


def found_facts(task: str, found: Sequence[str], workdir: Path) -> str:
    """The file-system facts of the files the steps found, when the task asks a file's measure,
    as a paragraph for the compose request; for a comparison, in the order it asks about
    (largest first, most lines first, newest first). "" when the task asks neither.

    Shown both sizes in the findings, the 1.5B model named the longer file of a pair half the
    time, a coin's odds, and asked to write the comparison out first, less often; shown the
    same figures in order, it named the first (dev, 7 of 8). The order is the tool's work,
    as `ls -S` or `ls -t` would give it; the model still reads it and answers. Asked for a
    file's bytes after a plan that counted its lines, it made a size up (20 bytes for 680).
    """
    root = workdir.resolve()
    paths = _found_paths(found, root)
    by = _compared_by(task)
    if by is not None and _COMPARES.search(task) and (ranked := _ranked(paths, by)):
        listed = "\n".join(f"- {path.relative_to(root)}: {shown}" for _, shown, path in ranked)
        return f"The files found, {_ORDER_SHOWN[by]}:\n{listed}\n\n"
    # Files a step measured already ("a.md: 3 lines", a measure step's) are not repeated.
    unstated = [
        path for path in paths if not any(f"{path.relative_to(root)}: " in text for text in found)
    ]
    if unstated and _FILE_MEASURE.search(_QUOTED.sub(" ", task)):
        listed = "\n".join(f"- {path_facts(path, root)}" for path in unstated)
        return f"The files found (from the file system, exact):\n{listed}\n\n"
    return ""


def _found_paths(found: Sequence[str], root: Path) -> list[Path]:
    """The files under `root` the findings name, in the order they name them."""
    paths: list[Path] = []
    for text in found:
        for written in _PATH.findall(text):
            path = (root / written).resolve()
            if path.is_relative_to(root) and path.is_file() and path not in paths:
                paths.append(path)
    return paths


def _ranked(paths: Sequence[Path], by: Figure) -> list[tuple[float, str, Path]]:
    """Two or more files with their figures, largest (most lines, newest) first, as `ls -S` or
    `ls -t` would list them; [] when fewer, or when a file has no figure."""
    ranked = [(*figure, path) for path in paths if (figure := _figure(path, by)) is not None]
    return sorted(ranked, reverse=True) if len(paths) >= 2 and len(ranked) == len(paths) else []


def check_comparison(task: str, answer: str, found: Sequence[str], workdir: Path) -> Verdict | None:
    """Whether a comparison's answer names the file the file-system figures put first (or last,
    for "shorter", "fewer", "older"); None when the task is no comparison they settle.

    Shown both files' sizes, and the two in order, the 1.5B model still named the file its first
    step found when that was the smaller one (4 of 32 extra dev compare tasks). Checked, the
    answer is asked for once more, told why, as a sub-goal is: 39 of 40 dev compare tasks right,
    35 before (docs/benchmarks.md, eighth round).
    """
    unquoted = _QUOTED.sub(" ", task)
    by = _compared_by(task)
    most, least = _MOST.search(unquoted), _LEAST.search(unquoted)
    if by is None or not _COMPARES.search(unquoted) or bool(most) == bool(least):
        return None
    root = workdir.resolve()
    ranked = _ranked(_found_paths(found, root), by)
    if not ranked:
        return None
    end, next_to_it = (ranked[0], ranked[1]) if most else (ranked[-1], ranked[-2])
    if end[0] == next_to_it[0]:
        return None  # a tie: no file is the answer alone
    listed = ", ".join(f"{path.relative_to(root)} {shown}" for _, shown, path in ranked)
    expected = end[2].relative_to(root)
    where = "first" if most else "last"
    settled = f"{_ORDER_SHOWN[by]}: {listed}"
    named = sorted(
        (position, path)
        for _, _, path in ranked
        if (position := _named_at(answer, path.relative_to(root))) is not None
    )
    if not named:
        return Verdict(False, f"the answer names none of the files found ({settled})")
    first = named[0][1].relative_to(root)
    if first == expected:
        return Verdict(True, f"{expected} comes {where} ({settled})", str(expected))
    return Verdict(False, f"the answer names {first}, but {expected} comes {where} ({settled})")


def _named_at(answer: str, relative: Path) -> int | None:
    """Where the answer first names a file, by its path or its bare name; None if it does not."""
    for written in (str(relative), relative.name):
        match = re.search(rf"(?<![\w./-]){re.escape(written)}(?![\w-]|\.\w)", answer)
        if match:
            return match.start()
    return None


def _measure(path: Path, root: Path, asked: Sequence[Figure]) -> str:
    """A file's figure that a sub-goal asked, alone, as `wc -l` or `wc -c` prints it: given the
    bytes and the lines of a file, the 0.5B model answered a line count with the bytes (dev,
    3 of 3). Both (or neither) asked: both, as `path_facts` states them."""
    figure = _figure(path, asked[0]) if len(asked) == 1 else None
    if figure is not None:
        return f"{path.relative_to(root)}: {figure[1]}"
    return path_facts(path, root)


def _compared_by(task: str) -> Figure | None:
    """What a comparison task compares files by, from its words; None when it names no lines,
    size or time."""
    if _BY_LINES.search(task):
        return "lines"
    if _BY_SIZE.search(task):
        return "bytes"
    if _BY_TIME.search(task):
        return "time"
    return None


def _figure(path: Path, by: Figure) -> tuple[float, str] | None:
    """A file's figure and how it is shown, as `wc -l`, `wc -c` or `ls -l` give it; None for the
    lines of a file too large to count."""
    if by == "lines":
        lines = line_count(path)
        return None if lines is None else (lines, f"{lines:,} lines")
    if by == "bytes":
        size = path.stat().st_size
        return size, f"{size:,} bytes"
    stamp = path.stat().st_mtime
    return stamp, "modified " + time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


class PlannedRun:
    """One task, planned or not. Iterate it for Steps; `result` is set when it ends, as for an
    `AgentRun`, so whatever runs one can run the other."""

    def __init__(
        self,
        model: Model,
        start: Callable[[str, str], AgentRun],
        task: str,
        workdir: Path,
        mode: DecomposeMode = "auto",
        sources: SourceRegistry | None = None,
        holding: FilesHolding | None = None,
    ) -> None:
        self.model = model
        # A fresh AgentRun for a question, and what its first search looks for ("": the
        # question): the assistant's `ask`.
        self.start = start
        self.holding = holding
        self.task = task
        self.workdir = workdir
        self.mode = mode
        self.sources = sources
        self.result: Result | None = None
        self.goals: list[str] = []
        self.verdicts: list[Verdict] = []
        self._number = 0
        self._steps: list[Step] = []
        self._usage = Usage()
        self._forms: Counter[str] = Counter()

    def run(self) -> Result:
        for _ in self:
            pass
        assert self.result is not None
        return self.result

    def __iter__(self) -> Iterator[Step]:
        planned = self.mode == "always" or (self.mode == "auto" and looks_multi_step(self.task))
        if planned:
            yield from self._plans()
        if len(self.goals) < 2:
            # Not multi-step by the rule, or by the model's own plan: the task as it was asked.
            inner = self.start(self.task, "")
            yield from self._steps_of(inner)
            assert inner.result is not None
            self._finish(inner.result.answer, inner.result.complete, inner.result.stop_reason)
            return
        findings: list[tuple[str, str]] = []
        complete = True
        for number, goal in enumerate(self.goals, start=1):
            done_by_tool = self._looked_up(number, goal) or self._measured(number, goal, findings)
            if done_by_tool is not None:
                step, verdict = done_by_tool
                yield step
                self.verdicts.append(verdict)
                findings.append((goal, verdict.finding))
                continue
            asked = goal
            for attempt in (1, 2):
                prompt = subgoal_prompt(asked, findings)
                call = ToolCall("subgoal", {"step": number, "attempt": attempt})
                yield self._own_step("tool", "subgoal", call, prompt)
                inner = self.start(prompt, subgoal_search(goal, findings))
                yield from self._steps_of(inner)
                result = inner.result
                assert result is not None
                verdict = check_subgoal(goal, result, self.workdir, self.sources, self.holding)
                yield self._checked(verdict, {"step": number})
                if verdict.passed:
                    break
                asked = rephrase(goal, verdict)  # once: a second failure is kept, marked
            assert result is not None
            self.verdicts.append(verdict)
            complete = complete and result.complete
            found = verdict.finding or (result.answer if result.complete else "not found")
            findings.append((goal, " ".join(found.split())))
        answer = yield from self._compose(findings)
        self._finish(answer, complete, "answer")

    # ------------------------------------------------------------ the steps the planner adds

    def _plans(self) -> Iterator[Step]:
        """The plan, checked like a sub-goal for free: one that loses the task's quoted words or
        the measure it asks is asked for once more, told what it lost; a second plan that
        still loses quoted words is set aside and the task runs as asked."""
        hint = ""
        for attempt in (1, 2):
            step, lost, measures = self._plan(attempt, hint)
            yield step
            if not (lost or measures) or not self.goals:
                return
            hint = replan_hint(lost, measures)
        if lost:
            self.goals = []

    def _plan(self, attempt: int, hint: str) -> tuple[Step, list[str], list[str]]:
        asked = self.task if not hint else f"{self.task}\n\n({hint})"
        messages = [Message("system", PLAN_SYSTEM), Message("user", asked)]
        reply = self.model.chat(messages, (), purpose="plan", reply_format=PLAN_SCHEMA)
        goals = parse_plan(reply.message.content)
        shown = "\n".join(f"{n}. {goal}" for n, goal in enumerate(goals, 1)) or "(no plan)"
        lost, measures = lost_phrases(self.task, goals), lost_measures(self.task, goals)
        if len(goals) < 2:
            goals, lost, measures = [], [], []
            shown += "\n(one step: the task runs as asked)"
        elif lost and attempt == 2:
            shown += f"\n(the plan lost the task's words {lost[0]!r}: the task runs as asked)"
        elif lost or measures:
            what = f"words {lost[0]!r}" if lost else f"measure ({measures[0]})"
            then = ": planned once more" if attempt == 1 else ""
            shown += f"\n(the plan lost the task's {what}{then})"
        self.goals = goals
        call = ToolCall("plan", {"task": self.task, "attempt": attempt})
        step = self._own_step("tool", "plan", call, shown, reply.usage, reply.message.content)
        return step, lost, measures

    def _looked_up(self, number: int, goal: str) -> tuple[Step, Verdict] | None:
        """A sub-goal that only looks for the file holding quoted words, done by the index when
        exactly one file holds them all: a fact, so no model call and nothing to check. Given
        the index's line naming that one file, the 1.5B model spent ~700 prompt tokens
        restating it. Anything else (no such file, several) is the model's, as before."""
        phrases = quoted_phrases(goal)
        if self.holding is None or not phrases or check_kind(goal) != "file":
            return None
        root = self.workdir.resolve()
        common: set[Path] | None = None
        for phrase in phrases:
            held = {path for path in self.holding(phrase) if path.is_relative_to(root)}
            common = held if common is None else common & held
        if common is None or len(common) != 1:
            return None
        (path,) = common
        if not path.is_file():
            return None
        shown = str(path.relative_to(root))
        quoted = " and ".join(f'"{phrase}"' for phrase in phrases)
        call = ToolCall("lookup", {"step": number, "phrases": phrases})
        found = f"From the index (exact): {quoted} is in 1 file: {shown}"
        verdict = Verdict(True, f"the index holds {quoted} in {shown} only", shown)
        return self._own_step("tool", "lookup", call, found), verdict

    def _measured(
        self, number: int, goal: str, findings: Sequence[tuple[str, str]]
    ) -> tuple[Step, Verdict] | None:
        """A sub-goal that asks the bytes or lines of files earlier steps found, done by the
        file system (`path_facts`, as `wc -c`/`wc -l` count them): a fact, so no model call.
        Run by the model, the sub-goal spent ~700 prompt tokens (the search passages shown
        beside the file's facts) to copy one number from them (dev, 2026-11-26). Anything
        else (words, dates, a file not found) is the model's, as before."""
        unquoted = _QUOTED.sub(" ", goal)
        if not _STATED_MEASURE.search(unquoted) or _UNSTATED_MEASURE.search(unquoted):
            return None
        named = _PATH.findall(unquoted)
        referred = [
            int(n) for match in _STEP_NUMBERS.finditer(unquoted) for n in _DIGITS.findall(match[1])
        ]
        if any(not 1 <= n <= len(findings) for n in referred):
            return None
        # The steps it refers to ("the files from steps 1 and 2"); naming neither a step nor a
        # path, it means what was found so far ("compare the sizes of the two files").
        used = [findings[n - 1][1] for n in referred] if referred or named else [
            found for _, found in findings]  # fmt: skip
        found_paths = [_PATH.findall(found) for found in used]
        if not all(found_paths) or not (named or found_paths):
            return None  # a step it uses found no file: the model's to try
        root = self.workdir.resolve()
        written = named + [path for paths in found_paths for path in paths]
        paths = list(dict.fromkeys((root / path).resolve() for path in written))
        if not all(path.is_relative_to(root) and path.is_file() for path in paths):
            return None
        # One file: the figure asked, alone. Two or more (a comparison): all their facts, as
        # before; with the sizes alone the 1.5B model named the smaller file twice in 8 (dev).
        asked = [m for m in _STATED_FIGURES if _MEASURES[m].search(unquoted) and len(paths) == 1]
        facts = [_measure(path, root, asked) for path in paths]
        shown_paths = [str(path.relative_to(root)) for path in paths]
        call = ToolCall("measure", {"step": number, "files": shown_paths})
        shown = "From the file system (exact): " + "; ".join(facts)
        verdict = Verdict(True, "the file system states it", "; ".join(facts))
        return self._own_step("tool", "measure", call, shown), verdict

    def _compose(self, findings: Sequence[tuple[str, str]]) -> Generator[Step, None, str]:
        """The answer, written by the model from the findings; a comparison's answer is checked
        against the file-system figures and, failing, asked for once more, told why."""
        listed = "\n".join(
            f"{number}. {goal}: {found}" for number, (goal, found) in enumerate(findings, 1)
        )
        found = [found for _, found in findings]
        facts = found_facts(self.task, found, self.workdir)
        # The task again after the findings: asked once, above them, the 1.5B model answered a
        # comparison with the task's own words for the files, not the paths it was asked for.
        asked = f"Task: {self.task}\n\nFindings:\n{listed}\n\n{facts}The task again: {self.task}"
        answer = ""
        for attempt in (1, 2):
            messages = [Message("system", COMPOSE_SYSTEM), Message("user", asked)]
            reply = self.model.chat(messages, (), purpose="answer", reply_format=ANSWER_SCHEMA)
            answer = _answer_of(reply.message.content) or findings[-1][1]
            yield self._own_step("answer", "composed", None, answer, reply.usage, answer)
            verdict = check_comparison(self.task, answer, found, self.workdir)
            if verdict is None:
                break
            yield self._checked(verdict, {"step": "answer", "attempt": attempt})
            if verdict.passed:
                break
            asked += f"\n\n(A first answer failed its check: {verdict.detail}.)"
        return answer

    def _checked(self, verdict: Verdict, arguments: Mapping[str, object]) -> Step:
        """A check's step: passed or failed (an error step), and why."""
        shown = f"{'passed' if verdict.passed else 'failed'}: {verdict.detail}"
        kind: StepKind = "tool" if verdict.passed else "error"
        return self._own_step(kind, "check", ToolCall("check", arguments), shown)

    def _own_step(
        self,
        kind: StepKind,
        form: str,
        call: ToolCall | None,
        observation: str,
        usage: Usage = NO_USAGE,
        thought: str = "",
    ) -> Step:
        step = Step(self._number, kind, thought, call, form, observation, usage,
                    usage.total_s)  # fmt: skip
        self._number += 1
        self._record(step)
        return step

    def _steps_of(self, inner: AgentRun) -> Iterator[Step]:
        """The inner run's steps, numbered on from the planner's own."""
        for step in inner:
            numbered = replace(step, number=self._number)
            self._number += 1
            self._record(numbered)
            yield numbered
        assert inner.result is not None
        self._forms.update(inner.result.forms)

    def _record(self, step: Step) -> None:
        self._steps.append(step)
        self._usage = self._usage + step.usage
        if step.form in PLANNER_FORMS:
            self._forms[step.form] += 1

    def _finish(self, answer: str, complete: bool, stop: StopReason) -> None:
        self.result = Result(
            answer=answer,
            complete=complete,
            stop_reason=stop,
            steps=tuple(self._steps),
            usage=self._usage,
            forms=dict(self._forms),
        )


def decomposed(
    model: Model,
    start: Callable[[str, str], AgentRun],
    task: str,
    workdir: Path,
    mode: DecomposeMode,
    sources: SourceRegistry | None = None,
    holding: FilesHolding | None = None,
) -> AgentRun | PlannedRun:
    """The run of `task` under `mode`. With `off`, or under `auto` a task the rule calls one
    step, it is the loop's own run, untouched: single-step questions pay nothing for planning."""
    if mode == "off" or (mode == "auto" and not looks_multi_step(task)):
        return start(task, "")
    return PlannedRun(model, start, task, workdir, mode, sources, holding)


def task_run(
    assistant: Assistant,
    task: str,
    mode: DecomposeMode,
    on_text: Callable[[str], None] | None = None,
) -> AgentRun | PlannedRun:
    """`task` through the assistant under `mode`: what `ask` and `smallagent run` iterate."""
    meter = assistant.model.meter

    def start(question: str, search_for: str) -> AgentRun:
        # Each sub-goal is a question of its own to the assistant, which zeroes the energy
        # meter; what the earlier sub-goals and the plan measured is carried over.
        spent = meter.joules
        run = assistant.ask(question, on_text=on_text, search_for=search_for)
        if spent is not None and meter.joules is not None:
            meter.joules += spent
        return run

    reader = assistant.reader

    def holding(phrase: str) -> list[Path]:
        return (
            []
            if reader is None
            else [Path(held).resolve() for held in reader.places_holding(phrase)]
        )

    workdir = assistant.options.workdir
    return decomposed(assistant.model, start, task, workdir, mode, assistant.sources, holding)
