"""Multi-step tasks (issue 15) from the question benchmark's corpus; the harness computes answers.

Four shapes, each needing tools in sequence:

- find_act: "How many lines does the file that says "<phrase>" have?" (or its size in bytes): find
  the file by a phrase only it holds, then count (search -> shell). Lines for the wiki articles
  (reviews and posts are one line each), bytes for reviews and posts.
- compare: "Which is longer (more bytes), the review that says "<A>" or the one that says "<B>"?"
  Two files of one folder whose sizes differ by at least a quarter (two searches -> shell).
- collect: "On which pages of the manual is `<term>` mentioned?": a word of the PDF manual found,
  as a whole word, on two or three of its pages (pages numbered as the index numbers them, from 1).
- chain: "In the document that says "<phrase>": <crowd question>?" where the phrase and the
  question's answer are in different paragraphs of the same wiki article (search -> read -> answer).

A phrase is five consecutive words of one file, found in no other file of the corpus (case
ignored), with two words that are not stopwords and one of at least six letters; for a chain it
holds none of the answer's words. Every choice goes through a seeded order, so the same corpus
gives the same tasks on any machine; dev and test draw from disjoint files, terms and articles.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from qabench.checks import answer_pattern, count_pattern, gold_tokens, name_pattern
from qabench.questions import STOPWORDS, Item, Plan, question_ok, usable_gold

SEED = "smallagent-issue-15"
SPLITS = ("dev", "test")
SHAPES = ("find_act", "compare", "collect", "chain")
PER_SHAPE = 8  # per split: 4 shapes x 8 x 2 splits = 64 tasks
EXTRA_DEV_COMPARE = 32  # `dev-extra`: more compare tasks from dev files, to tune on
PHRASE_WORDS = 5


@dataclass(frozen=True)
class MultiTask:
    id: str
    split: str
    shape: str
    prompt: str
    pattern: str  # the regex an answer must match
    answers: tuple[str, ...]  # what the harness computed
    documents: tuple[str, ...]  # corpus files involved, relative to the corpus folder
    origin: str = ""


def _order(values: Sequence[str], name: str) -> list[str]:
    """A seeded order that does not depend on the input order."""
    return sorted(
        values, key=lambda value: hashlib.sha256(f"{SEED}:{name}:{value}".encode()).hexdigest()
    )


def _split_of(document: str) -> str:
    """Dev or test for a corpus file, the same for every shape: the splits share no file."""
    digest = hashlib.sha256(f"{SEED}:split:{document}".encode()).digest()
    return SPLITS[digest[0] % len(SPLITS)]


class Corpus:
    """The corpus folder's text files, and which of them a phrase occurs in."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.texts: dict[str, str] = {}
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in (".txt", ".md"):
                self.texts[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
        self._folded = {
            name: " ".join(text.casefold().split()) for name, text in self.texts.items()
        }

    def holders(self, phrase: str) -> list[str]:
        wanted = " ".join(phrase.casefold().split())
        return [name for name, text in self._folded.items() if wanted in text]

    def size(self, name: str) -> int:
        return (self.root / name).stat().st_size

    def lines(self, name: str) -> int:
        return (self.root / name).read_bytes().count(b"\n")


_PLAIN_WORD = re.compile(r"[A-Za-z]+")


def phrases_of(text: str) -> list[str]:
    """Every run of five plain words (letters only, one space apart) that can quote the text.

    >>> phrases_of("The blue heron stood still, then flew away over the reeds.")
    ['then flew away over the']
    """
    found: list[str] = []
    for line in text.splitlines():
        tokens = line.split(" ")
        for start in range(len(tokens) - PHRASE_WORDS + 1):
            window = tokens[start : start + PHRASE_WORDS]
            if all(_PLAIN_WORD.fullmatch(token) for token in window):
                found.append(" ".join(window))
    return list(dict.fromkeys(found))


def good_phrase(phrase: str, avoid: frozenset[str] = frozenset()) -> bool:
    words = [word.casefold() for word in phrase.split()]
    content = [word for word in words if word not in STOPWORDS]
    return len(content) >= 2 and any(len(word) >= 6 for word in content) and not avoid & set(words)


def unique_phrase(
    corpus: Corpus, name: str, text: str, label: str, avoid: frozenset[str] = frozenset()
) -> str:
    """A phrase of `text` that no other file of the corpus holds; "" if there is none."""
    for phrase in _order(phrases_of(text), f"phrase:{label}:{name}"):
        if good_phrase(phrase, avoid) and corpus.holders(phrase) == [name]:
            return phrase
    return ""


def _noun(name: str) -> str:
    return {"wiki": "article", "reviews": "review", "reddit": "post"}.get(
        name.split("/")[0], "file"
    )


def find_act_tasks(corpus: Corpus, count: int = PER_SHAPE) -> dict[str, list[MultiTask]]:
    chosen: dict[str, list[MultiTask]] = {split: [] for split in SPLITS}
    wiki = [name for name in corpus.texts if name.startswith("wiki/")]
    short = [name for name in corpus.texts if name.split("/")[0] in ("reviews", "reddit")]
    for split in SPLITS:
        picks = [(name, "lines") for name in _order(wiki, "find:wiki") if _split_of(name) == split]
        picks = picks[: (count + 1) // 3] + [
            (name, "bytes") for name in _order(short, "find:short") if _split_of(name) == split
        ]
        for name, measure in picks:
            if len(chosen[split]) >= count:
                break
            phrase = unique_phrase(corpus, name, corpus.texts[name], "find")
            if not phrase:
                continue
            if measure == "lines":
                value = corpus.lines(name)
                prompt = f'How many lines does the file that says "{phrase}" have?'
            else:
                value = corpus.size(name)
                prompt = f'What is the size in bytes of the file that says "{phrase}"?'
            chosen[split].append(
                MultiTask(
                    "",
                    split,
                    "find_act",
                    prompt,
                    count_pattern(value),
                    (str(value),),
                    (name,),
                    f"{measure}:{name}",
                )
            )
    return chosen


def _bare(pattern: str) -> str:
    return pattern.removeprefix("(?i)")


def compare_pattern(longer: str, shorter: str) -> str:
    """The longer file's name, named before the shorter one's (if that is named at all).

    >>> import re
    >>> p = compare_pattern("post-0001.txt", "post-0002.txt")
    >>> [bool(re.search(p, a)) for a in ("post-0001.txt", "post-0001 is longer than post-0002",
    ...     "post-0002.txt", "post-0002 is shorter than post-0001")]
    [True, True, False, False]
    """
    return f"(?is)^(?:(?!{_bare(name_pattern(shorter))}).)*?{_bare(name_pattern(longer))}"


def compare_tasks(corpus: Corpus, count: int = PER_SHAPE) -> dict[str, list[MultiTask]]:
    chosen: dict[str, list[MultiTask]] = {split: [] for split in SPLITS}
    for split in SPLITS:
        for folder in ("reviews", "reddit"):
            names = [
                name
                for name in _order(
                    [n for n in corpus.texts if n.startswith(folder + "/")], f"compare:{folder}"
                )
                if _split_of(name) == split
            ]
            taken: set[str] = set()
            for first in names:
                if len(chosen[split]) >= count // 2 * (1 + (folder == "reddit")):
                    break
                if first in taken:
                    continue
                for second in names:
                    if second == first or second in taken:
                        continue
                    a, b = corpus.size(first), corpus.size(second)
                    if max(a, b) < 1.25 * min(a, b):
                        continue
                    phrase_a = unique_phrase(corpus, first, corpus.texts[first], "compare")
                    phrase_b = unique_phrase(corpus, second, corpus.texts[second], "compare")
                    if not phrase_a or not phrase_b:
                        continue
                    longer, shorter = (first, second) if a > b else (second, first)
                    noun = _noun(first)
                    prompt = (
                        f'Which is longer (more bytes), the {noun} that says "{phrase_a}" or the '
                        f'one that says "{phrase_b}"? Answer with its file name.'
                    )
                    chosen[split].append(
                        MultiTask(
                            "",
                            split,
                            "compare",
                            prompt,
                            compare_pattern(Path(longer).name, Path(shorter).name),
                            (Path(longer).name,),
                            (first, second),
                            f"{first}|{second}",
                        )
                    )
                    taken |= {first, second}
                    break
    return chosen


def page_list_pattern(pages: Sequence[int]) -> str:
    """Every page number, in any order, each as a whole number.

    >>> import re
    >>> p = page_list_pattern([12, 40])
    >>> bool(re.search(p, "Pages 40 and 12.")), bool(re.search(p, "Pages 12 and 140."))
    (True, False)
    """
    return "(?s)^" + "".join(rf"(?=.*?(?<![\w.]){page}(?![\w]|\.\d))" for page in pages)


# A word as prose uses it: not part of a name such as `data.frame` or a call such as `breaks(`.
_WHOLE_WORD = re.compile(r"(?<![\w.])([a-z]{6,14})(?![\w(]|\.\w)")


def collect_tasks(
    pages: Sequence[str], document: str, title: str, count: int = PER_SHAPE
) -> dict[str, list[MultiTask]]:
    """Words of the manual that two or three of its pages hold, as whole words, case ignored."""
    folded = [text.casefold() for text in pages]
    on_pages: dict[str, set[int]] = defaultdict(set)
    for number, text in enumerate(folded, start=1):
        for word in set(_WHOLE_WORD.findall(text)):
            if word not in STOPWORDS:
                on_pages[word].add(number)

    def agreed(word: str) -> bool:
        """Every page that holds the letters holds the word: no `data.frame`, no `breaksum`."""
        return {n for n, text in enumerate(folded, start=1) if word in text} == on_pages[word]

    candidates = [
        word
        for word, found in on_pages.items()
        if 2 <= len(found) <= 3 and max(found) > 3 and agreed(word)
    ]
    chosen: dict[str, list[MultiTask]] = {split: [] for split in SPLITS}
    for position, word in enumerate(_order(candidates, "collect")):
        split = SPLITS[position % len(SPLITS)]
        if len(chosen[split]) >= count:
            if all(len(tasks) >= count for tasks in chosen.values()):
                break
            continue
        found = sorted(on_pages[word])
        prompt = (
            f"On which pages of the manual '{title}' ({document}) is the word `{word}` "
            "mentioned? List the page numbers."
        )
        chosen[split].append(
            MultiTask(
                "",
                split,
                "collect",
                prompt,
                page_list_pattern(found),
                tuple(map(str, found)),
                (document,),
                f"pages:{word}",
            )
        )
    return chosen


def chain_tasks(
    corpus: Corpus, articles: Sequence[Item], count: int = PER_SHAPE
) -> dict[str, list[MultiTask]]:
    """A crowd question about one paragraph, asked of "the document that says" a phrase of
    another paragraph of the same article."""
    chosen: dict[str, list[MultiTask]] = {split: [] for split in SPLITS}
    plan = Plan()
    in_corpus = [item for item in articles if item.path in corpus.texts]
    by_path = {item.path: item for item in in_corpus}
    rounds: dict[str, list[tuple[Item, Mapping[str, Any], list[str]]]] = defaultdict(list)
    for path in _order(list(by_path), "chain:articles"):
        item = by_path[path]
        for paragraph, qa in item.qas:
            golds = [a["text"].strip() for a in qa["answers"]]
            golds = [g for g in dict.fromkeys(golds) if usable_gold(g, STOPWORDS)]
            if question_ok(qa["question"], golds, plan) and len(item.paragraphs) > 1:
                rounds[path].append((item, {**qa, "_paragraph": paragraph}, golds))
    for path, group in rounds.items():
        order = {qid: n for n, qid in enumerate(_order([qa["id"] for _, qa, _ in group], path))}
        group.sort(key=lambda entry: order[entry[1]["id"]])
    split_of = {path: _split_of(path) for path in rounds}
    for split in SPLITS:
        paths = [path for path in _order(list(rounds), "chain") if split_of[path] == split]
        depth = 0
        while len(chosen[split]) < count and depth < max(map(len, rounds.values()), default=0):
            for path in paths:
                if len(chosen[split]) >= count or depth >= len(rounds[path]):
                    continue
                item, qa, golds = rounds[path][depth]
                avoid = frozenset(token for gold in golds for token in gold_tokens(gold))
                others = "\n".join(
                    text for n, text in enumerate(item.paragraphs) if n != qa["_paragraph"]
                )
                phrase = unique_phrase(corpus, path, others, f"chain:{qa['id']}", avoid)
                if not phrase:
                    continue
                question = " ".join(qa["question"].split())
                prompt = f'In the document that says "{phrase}": {question}'
                chosen[split].append(
                    MultiTask(
                        "",
                        split,
                        "chain",
                        prompt,
                        answer_pattern(golds),
                        tuple(golds),
                        (path,),
                        str(qa["id"]),
                    )
                )
            depth += 1
    return chosen


def assign_ids(tasks: Sequence[MultiTask]) -> list[MultiTask]:
    numbered: list[MultiTask] = []
    counters: dict[str, int] = defaultdict(int)
    for task in tasks:
        counters[task.shape] += 1
        numbered.append(
            MultiTask(
                **{**asdict(task), "id": f"{task.split}-{task.shape}-{counters[task.shape]:02d}"}
            )
        )
    by_id = {task.id: task for task in numbered}
    split = numbered[0].split if numbered else ""
    return [by_id[key] for key in _order(list(by_id), f"order:{split}")]


def build_tasks(
    corpus_root: Path,
    pages: Sequence[str],
    manual_document: str,
    title: str,
    articles: Sequence[Item],
    count: int = PER_SHAPE,
) -> dict[str, list[MultiTask]]:
    """Every split's tasks, `count` of each shape; a ValueError when the corpus has too few."""
    corpus = Corpus(corpus_root)
    parts = [
        find_act_tasks(corpus, count),
        compare_tasks(corpus, count),
        collect_tasks(pages, manual_document, title, count),
        chain_tasks(corpus, articles, count),
    ]
    by_split: dict[str, list[MultiTask]] = {}
    for split in SPLITS:
        tasks = [task for part in parts for task in part[split]]
        for shape in SHAPES:
            made = sum(task.shape == shape for task in tasks)
            if made < count:
                raise ValueError(f"{split}: only {made} {shape} tasks could be made")
        by_split[split] = assign_ids([replace(task, pattern=found(task.pattern)) for task in tasks])
    return by_split


def extra_dev_compare(
    corpus_root: Path, dev: Sequence[MultiTask], count: int = EXTRA_DEV_COMPARE
) -> list[MultiTask]:
    """Compare tasks beyond the dev split's own, drawn from dev files only (never a test file):
    the 1.5B model answered all 8 of the dev split's, which left nothing there to tune on.
    Ids dev-extra-compare-NN; the tasks are made as the split's are."""
    have = {task.prompt for task in dev}
    asked = sum(task.shape == "compare" for task in dev) + count
    made = compare_tasks(Corpus(corpus_root), asked)["dev"]
    extra = [task for task in made if task.prompt not in have][:count]
    return [
        replace(task, id=f"dev-extra-compare-{number:02d}", pattern=found(task.pattern))
        for number, task in enumerate(extra, 1)
    ]


def found(pattern: str) -> str:
    """`pattern`, failed by an answer that says it was not found: such an answer may still
    name the right file or a number ("not found; the closest (reddit/post-1896.txt) holds 30%"),
    and every task here has an answer in the corpus.

    >>> import re
    >>> p = found("(?i)post-1896")
    >>> [bool(re.search(p, a)) for a in ("It is post-1896.", "Not found; the closest: post-1896")]
    [True, False]
    """
    flags = re.match(r"\(\?[a-z]+\)", pattern)
    lead = flags.group(0) if flags else ""
    rest = pattern[len(lead) :]
    return f"{lead}^(?![\\s\\W]*(?i:not found))(?=[\\s\\S]*?(?:{rest}))"


def sample(tasks: Sequence[MultiTask], per_shape: int) -> list[MultiTask]:
    """The first `per_shape` tasks of each shape, in the split's order."""
    first: dict[str, list[MultiTask]] = defaultdict(list)
    for task in tasks:
        if len(first[task.shape]) < per_shape:
            first[task.shape].append(task)
    return [task for shape in SHAPES for task in first.get(shape, [])]
