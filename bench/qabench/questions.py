"""The corpus and the question set, built deterministically from data nobody here wrote.

Inputs: the three SQuAD-shifts files of the `bigbench` 1.0.0 sdist (new_wiki, amazon_reviews,
reddit) and a real PDF manual (An Introduction to R, from Debian's r-doc-pdf). Output: a corpus
folder and, per split (dev, test), a list of Questions of four kinds:

- squad: a crowd-written question whose paragraph is in the corpus; gold = the crowd's answers.
- pdf: derived from the manual's outline (bookmarks): "what is the title of section 5.4?" and
  "which chapter is the section 'Index matrices' part of?". Section numbers are worked out from the
  outline's nesting and kept only where "5.4 The array() function" is found on the page the
  bookmark points at, so the question is answerable from the text.
- shell: counts, names, sizes and line counts about the corpus folder, computed from the files.
- unanswerable: a crowd-written question from a document left out of the corpus, kept only when
  no gold answer appears anywhere in the corpus; right answer = says it was not found.

Every choice goes through `random.Random(SEED + name)`, so the same inputs give the same files and
questions on any machine. Dev and test draw from disjoint documents, sections and shell targets.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qabench.checks import (
    NOT_FOUND_PATTERN,
    answer_pattern,
    count_pattern,
    gold_tokens,
    name_pattern,
    usable_gold,
)

SEED = "smallagent-issue-10"
SPLITS = ("dev", "test")
KINDS = ("squad", "pdf", "shell", "unanswerable")
SOURCES = ("new_wiki", "amazon_reviews", "reddit")
SOURCE_CODES = {"new_wiki": "wiki", "amazon_reviews": "review", "reddit": "reddit"}
SOURCE_FOLDERS = {"new_wiki": "wiki", "amazon_reviews": "reviews", "reddit": "reddit"}
MANUAL_FOLDER = "manuals"
MANUAL_TITLE = "An Introduction to R"

_STOPWORD_TEXT = """a about above after again against all am an and any are as at be because been
before being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it its
itself just me more most my myself no nor not now of off on once only or other our ours out over
own same she should so some such than that the their theirs them then there these they this those
through to too under until up very was we were what when where which while who whom why will with
would you your yours s t don didn doesn isn wasn also one get got use used like really much many
well even still way thing things lot"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_YES_NO_TEXT = """is are was were do does did can could will would should has have had am isn
aren wasn don doesn didn"""
YES_NO_STARTS = frozenset(_YES_NO_TEXT.split())


@dataclass(frozen=True)
class Plan:
    """How many of each thing: the corpus layout and the questions per split."""

    held_out: Mapping[str, int] = field(
        default_factory=lambda: {"new_wiki": 8, "amazon_reviews": 200, "reddit": 160}
    )
    with_questions: Mapping[str, int] = field(
        default_factory=lambda: {"new_wiki": 10, "amazon_reviews": 110, "reddit": 90}
    )
    distractors: Mapping[str, int] = field(
        default_factory=lambda: {"new_wiki": 4, "amazon_reviews": 70, "reddit": 50}
    )
    squad_per_source: int = 15  # per split
    unanswerable_per_source: int = 5  # per split
    pdf_per_split: int = 10
    shell_per_split: int = 10
    per_document: Mapping[str, int] = field(
        default_factory=lambda: {"new_wiki": 4, "amazon_reviews": 1, "reddit": 1}
    )
    # A question is kept only when the best paragraph of any other document scores below this
    # share of its own paragraph (IDF-weighted overlap with the question's content words).
    margin: float = 0.8
    max_gold_words: int = 6  # the shortest gold answer must be a short span
    rare_in_documents: int = 3  # an answerable question names a term at most this many hold


@dataclass(frozen=True)
class Question:
    id: str
    split: str
    kind: str  # squad | pdf | shell | unanswerable
    source: str  # new_wiki | amazon_reviews | reddit | manual | shell
    prompt: str
    pattern: str  # the regex an answer must match
    answers: tuple[str, ...] = ()  # the gold answers (empty for unanswerable)
    document: str = ""  # the corpus file that holds the answer, relative to the corpus folder
    origin: str = ""  # where it came from: a SQuAD question id, a section number, a shell target


# ---------------------------------------------------------------- SQuAD-shifts input


@dataclass(frozen=True)
class Item:
    """One unit of the corpus: a wiki article, one review, or one reddit post."""

    source: str
    key: str  # stable name: article title, "<group>-<n>" for reviews, post number
    path: str  # where it lives in the corpus folder
    text: str
    paragraphs: tuple[str, ...]
    qas: tuple[tuple[int, Mapping[str, Any]], ...]  # (paragraph index, SQuAD qa)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "untitled"


def items_of(source: str, data: Mapping[str, Any]) -> list[Item]:
    """The corpus units of one SQuAD-shifts file, in file order."""
    items: list[Item] = []
    articles = data["data"]
    if source == "new_wiki":
        for article in articles:
            paragraphs = tuple(p["context"].strip() for p in article["paragraphs"])
            qas = tuple((n, qa) for n, p in enumerate(article["paragraphs"]) for qa in p["qas"])
            title = article["title"]
            text = f"# {title.replace('_', ' ')}\n\n" + "\n\n".join(paragraphs) + "\n"
            items.append(Item(source, title, f"wiki/{_slug(title)}.md", text, paragraphs, qas))
        return items
    for article in articles:
        group = article["title"].rsplit("_", 1)[-1]
        for number, paragraph in enumerate(article["paragraphs"], start=1):
            context = paragraph["context"].strip()
            if source == "amazon_reviews":
                key, path = f"{group}-{number}", f"reviews/review-{group}-{number}.txt"
            else:
                key, path = f"{number:04d}", f"reddit/post-{number:04d}.txt"
            qas = tuple((0, qa) for qa in paragraph["qas"])
            items.append(Item(source, key, path, context + "\n", (context,), qas))
    return items


def content_terms(text: str) -> set[str]:
    """Lower-cased words that are not stopwords, crudely singularised.

    >>> sorted(content_terms("Which mirrors did the boyfriend's bikes need?"))
    ['bike', 'boyfriend', 'mirror', 'need']
    """
    terms = set()
    for word in re.findall(r"[a-z0-9]+", text.casefold()):
        if word in STOPWORDS or len(word) < 2:
            continue
        if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        terms.add(word)
    return terms


class ParagraphIndex:
    """IDF-weighted overlap of a question's content words with every paragraph of a pool."""

    def __init__(self, paragraphs: Sequence[tuple[str, str]]) -> None:
        self.owners = [owner for owner, _ in paragraphs]
        self.postings: dict[str, list[int]] = defaultdict(list)
        for number, (_, text) in enumerate(paragraphs):
            for term in content_terms(text):
                self.postings[term].append(number)
        total = max(1, len(paragraphs))
        self.idf = {term: math.log(1 + total / len(ids)) for term, ids in self.postings.items()}

    def best_by_owner(self, question: str) -> dict[str, float]:
        scores: dict[int, float] = defaultdict(float)
        for term in content_terms(question):
            for number in self.postings.get(term, ()):
                scores[number] += self.idf[term]
        best: dict[str, float] = {}
        for number, score in scores.items():
            owner = self.owners[number]
            best[owner] = max(best.get(owner, 0.0), score)
        return best


def _normalised_text(text: str) -> str:
    return " " + " ".join(gold_tokens(text)) + " "


def question_ok(question: str, golds: Sequence[str], plan: Plan) -> bool:
    """Shape filter: a wh-question with content words, not yes/no, with a short usable answer."""
    words = re.findall(r"[a-z']+", question.casefold())
    if len(words) < 4 or words[0] in YES_NO_STARTS or len(content_terms(question)) < 2:
        return False
    usable = [gold for gold in golds if usable_gold(gold, STOPWORDS)]
    return bool(usable) and min(len(gold_tokens(g)) for g in usable) <= plan.max_gold_words


def _rng(name: str) -> random.Random:
    return random.Random(f"{SEED}:{name}")


def _stable_order(values: Iterable[str], name: str) -> list[str]:
    """A seeded order that does not depend on the input order."""
    return sorted(
        values, key=lambda value: hashlib.sha256(f"{SEED}:{name}:{value}".encode()).hexdigest()
    )


@dataclass
class Layout:
    """Which items are in the corpus, which carry questions, which are held out; and per split."""

    corpus: list[Item]
    question_items: dict[str, dict[str, list[Item]]]  # split -> source -> items
    held_out: dict[str, dict[str, list[Item]]]  # split -> source -> items


def lay_out(items_by_source: Mapping[str, Sequence[Item]], plan: Plan) -> Layout:
    corpus: list[Item] = []
    question_items: dict[str, dict[str, list[Item]]] = {split: {} for split in SPLITS}
    held_out: dict[str, dict[str, list[Item]]] = {split: {} for split in SPLITS}
    for source in SOURCES:
        items = list(items_by_source.get(source, ()))
        by_key = {item.key: item for item in items}
        order = [by_key[key] for key in _stable_order(by_key, f"layout:{source}")]
        held = plan.held_out[source]
        asked = plan.with_questions[source]
        extra = plan.distractors[source]
        if held + asked + extra > len(order):
            raise ValueError(
                f"{source}: plan wants {held + asked + extra} items, file has {len(order)}"
            )
        held_items, asked_items = order[:held], order[held : held + asked]
        corpus += asked_items + order[held + asked : held + asked + extra]
        for position, split in enumerate(SPLITS):
            question_items[split][source] = asked_items[position :: len(SPLITS)]
            held_out[split][source] = held_items[position :: len(SPLITS)]
    corpus.sort(key=lambda item: item.path)
    return Layout(corpus, question_items, held_out)


def squad_questions(layout: Layout, plan: Plan) -> dict[str, list[Question]]:
    """Answerable and unanswerable crowd questions per split (ids are given later)."""
    pool: list[tuple[str, str]] = []
    for item in layout.corpus:
        pool += [(item.path, paragraph) for paragraph in item.paragraphs]
    corpus_paths = {item.path for item in layout.corpus}
    for split in SPLITS:
        for items in layout.held_out[split].values():
            for item in items:
                pool += [(item.path, paragraph) for paragraph in item.paragraphs]
    index = ParagraphIndex(pool)
    corpus_text = _normalised_text("\n".join(item.text for item in layout.corpus))
    document_frequency: Counter[str] = Counter()
    terms_of = {item.path: content_terms(item.text) for item in layout.corpus}
    for terms in terms_of.values():
        document_frequency.update(terms)

    def names_its_document(question: str, own: str) -> bool:
        """A term of the question that few corpus documents hold, its own among them: "Dyson",
        "Terry Cloth". "What have I already checked?" names nothing a reader could look for."""
        rare = plan.rare_in_documents
        return any(
            document_frequency[term] <= rare and term in terms_of[own]
            for term in content_terms(question)
        )

    def names_something_absent(question: str) -> bool:
        """A term no corpus document holds ("Tocqueville", "DeathMeramon"): the corpus cannot
        answer it, whereas "What is the size of the mat?" might be answered by some review."""
        return any(document_frequency[term] == 0 for term in content_terms(question))

    def specific(question: str, own: str, rivals: set[str]) -> bool:
        scores = index.best_by_owner(question)
        mine = scores.get(own, 0.0)
        best_rival = max((score for owner, score in scores.items() if owner in rivals), default=0.0)
        return mine > 0 and best_rival < plan.margin * mine

    chosen: dict[str, list[Question]] = {split: [] for split in SPLITS}
    seen_prompts: set[str] = set()
    for split in SPLITS:
        for source in SOURCES:
            candidates = _candidates(layout.question_items[split][source], plan)
            kept, per_item = 0, Counter[str]()
            for item, qa, golds in _round_robin(candidates, f"{split}:{source}"):
                prompt = " ".join(qa["question"].split())
                if kept >= plan.squad_per_source or prompt.casefold() in seen_prompts:
                    continue
                if per_item[item.path] >= plan.per_document[source]:
                    continue
                if not specific(prompt, item.path, corpus_paths - {item.path}):
                    continue
                if not names_its_document(prompt, item.path):
                    continue
                seen_prompts.add(prompt.casefold())
                per_item[item.path] += 1
                chosen[split].append(
                    Question(
                        "",
                        split,
                        "squad",
                        source,
                        prompt,
                        answer_pattern(golds),
                        tuple(golds),
                        item.path,
                        qa["id"],
                    )
                )
                kept += 1
            if kept < plan.squad_per_source:
                raise ValueError(f"{split}/{source}: only {kept} answerable questions passed")
            candidates = _candidates(layout.held_out[split][source], plan)
            kept, per_item = 0, Counter()
            for item, qa, golds in _round_robin(candidates, f"{split}:{source}:held"):
                prompt = " ".join(qa["question"].split())
                if kept >= plan.unanswerable_per_source or prompt.casefold() in seen_prompts:
                    continue
                if per_item[item.path] >= plan.per_document[source]:
                    continue
                if any(_normalised_text(gold) in corpus_text for gold in golds):
                    continue  # the corpus might answer it after all
                if not specific(prompt, item.path, corpus_paths):
                    continue  # a corpus paragraph looks too much like its source
                if not names_something_absent(prompt):
                    continue
                seen_prompts.add(prompt.casefold())
                per_item[item.path] += 1
                chosen[split].append(
                    Question(
                        "",
                        split,
                        "unanswerable",
                        source,
                        prompt,
                        NOT_FOUND_PATTERN,
                        (),
                        "",
                        qa["id"],
                    )
                )
                kept += 1
            if kept < plan.unanswerable_per_source:
                raise ValueError(f"{split}/{source}: only {kept} unanswerable questions passed")
    return chosen


def _candidates(
    items: Sequence[Item], plan: Plan
) -> list[tuple[Item, Mapping[str, Any], list[str]]]:
    found = []
    for item in items:
        for _, qa in item.qas:
            golds = [answer["text"].strip() for answer in qa["answers"]]
            golds = [gold for gold in dict.fromkeys(golds) if usable_gold(gold, STOPWORDS)]
            if question_ok(qa["question"], golds, plan):
                found.append((item, qa, golds))
    return found


def _round_robin(
    candidates: Sequence[tuple[Item, Mapping[str, Any], list[str]]], name: str
) -> list[tuple[Item, Mapping[str, Any], list[str]]]:
    """Every candidate in a seeded order that takes one per item per round, so the questions
    kept spread over the documents."""
    by_item: dict[str, list[tuple[Item, Mapping[str, Any], list[str]]]] = defaultdict(list)
    for candidate in candidates:
        by_item[candidate[0].path].append(candidate)
    for path, group in by_item.items():
        order = _stable_order([qa["id"] for _, qa, _ in group], f"{name}:{path}")
        rank = {qid: n for n, qid in enumerate(order)}
        group.sort(key=lambda candidate: rank[candidate[1]["id"]])
    paths = _stable_order(by_item, name)
    ordered = []
    for round_number in range(max((len(group) for group in by_item.values()), default=0)):
        ordered += [
            by_item[path][round_number] for path in paths if round_number < len(by_item[path])
        ]
    return ordered


# ---------------------------------------------------------------- the PDF manual


@dataclass(frozen=True)
class Section:
    number: str  # "5.4"
    title: str
    chapter_number: str
    chapter_title: str
    page: int  # 0-based page the bookmark points at


OutlineNode = tuple[str, int, list[Any]]  # (title, 0-based page, children)


def numbered_sections(outline: Sequence[OutlineNode]) -> list[Section]:
    """Sections numbered from the outline's nesting under chapters titled "N Title".

    >>> [s.number for s in numbered_sections([("2 Vectors", 12, [("Assignment", 12, []),
    ...     ("Arithmetic", 13, [("Recycling", 13, [])])])])]
    ['2.1', '2.2', '2.2.1']
    """
    sections: list[Section] = []

    def walk(nodes: Sequence[OutlineNode], prefix: str, chapter: tuple[str, str]) -> None:
        for position, (title, page, children) in enumerate(nodes, start=1):
            number = f"{prefix}.{position}"
            sections.append(Section(number, title.strip(), chapter[0], chapter[1], page))
            walk(children, number, chapter)

    for title, _, children in outline:
        match = re.match(r"(\d+)\s+(.+)", title.strip())
        if match:
            walk(children, match.group(1), (match.group(1), match.group(2).strip()))
    return sections


def heading_on_page(section: Section, pages: Sequence[str]) -> bool:
    """Whether "5.4 The array() function" is printed on the bookmark's page (or the next)."""
    wanted = " ".join(f"{section.number} {section.title}".split())
    for page in (section.page, section.page + 1):
        if 0 <= page < len(pages) and wanted in " ".join(pages[page].split()):
            return True
    return False


def pdf_questions(
    sections: Sequence[Section], pages: Sequence[str], document: str, plan: Plan
) -> dict[str, list[Question]]:
    """Two question forms from the verified two-level sections, alternating; split by section."""
    usable = [
        section
        for section in sections
        if section.number.count(".") == 1
        and len(gold_tokens(section.title)) >= 2
        and heading_on_page(section, pages)
    ]
    by_number = {section.number: section for section in usable}
    order = [by_number[number] for number in _stable_order(by_number, "pdf")]
    chosen: dict[str, list[Question]] = {split: [] for split in SPLITS}
    where = f"'{MANUAL_TITLE}' ({document})"
    for position, section in enumerate(order):
        split = SPLITS[position % len(SPLITS)]
        if len(chosen[split]) >= plan.pdf_per_split:
            continue
        if len(chosen[split]) % 2 == 0:
            prompt = f"In the manual {where}, what is the title of section {section.number}?"
            golds: tuple[str, ...] = (section.title,)
            pattern = answer_pattern(list(golds))
        else:
            prompt = (
                f"In the manual {where}, which chapter is the section '{section.title}' part of?"
            )
            golds = (section.chapter_title, f"chapter {section.chapter_number}")
            pattern = answer_pattern(list(golds))
        chosen[split].append(
            Question("", split, "pdf", "manual", prompt, pattern, golds, document, section.number)
        )
    for split in SPLITS:
        if len(chosen[split]) < plan.pdf_per_split:
            raise ValueError(f"{split}: only {len(chosen[split])} PDF sections could be verified")
    return chosen


# ---------------------------------------------------------------- shell questions


def _files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.is_file())


def shell_pool(corpus: Path) -> list[Question]:
    """Questions about the corpus folder whose answers are computed here from the files.

    Semantics match the commands a person would run: `ls DIR | wc -l` (files directly in DIR),
    `find . -type f | wc -l`, `stat -c %s FILE`, `wc -l FILE` (newline characters), `ls -S DIR`
    (largest / smallest by bytes), `grep -l WORD DIR/*` (only words where -w and -i agree).
    """
    pool: list[Question] = []

    def add(prompt: str, pattern: str, answer: object, origin: str) -> None:
        pool.append(Question("", "", "shell", "shell", prompt, pattern, (str(answer),), "", origin))

    folders = sorted(
        path for path in corpus.iterdir() if path.is_dir() and not path.name.startswith(".")
    )
    every = sorted(
        path for path in corpus.rglob("*") if path.is_file() and not path.name.startswith(".")
    )
    add(
        "How many files are there in the working directory, counting those in every subfolder?",
        count_pattern(len(every)),
        len(every),
        "count:.",
    )
    for folder in folders:
        files = _files(folder)
        name = folder.name
        add(
            f"How many files are in the folder `{name}`?",
            count_pattern(len(files)),
            len(files),
            f"count:{name}",
        )
        sizes = sorted((path.stat().st_size, path.name) for path in files)
        if len(files) >= 2 and sizes[-1][0] != sizes[-2][0]:
            add(
                f"Which file in the folder `{name}` is the largest?",
                name_pattern(sizes[-1][1]),
                sizes[-1][1],
                f"largest:{name}",
            )
        if len(files) >= 2 and sizes[0][0] != sizes[1][0]:
            add(
                f"Which file in the folder `{name}` is the smallest?",
                name_pattern(sizes[0][1]),
                sizes[0][1],
                f"smallest:{name}",
            )
        text_files = [path for path in files if path.suffix in (".txt", ".md")]
        for path in _pick(text_files, 3, f"size:{name}"):
            relative = f"{name}/{path.name}"
            size = path.stat().st_size
            add(
                f"What is the size in bytes of the file `{relative}`?",
                count_pattern(size),
                size,
                f"size:{relative}",
            )
        multi_line = [path for path in text_files if path.read_bytes().count(b"\n") > 1]
        for path in _pick(multi_line, 2, f"lines:{name}"):
            relative = f"{name}/{path.name}"
            lines = path.read_bytes().count(b"\n")
            add(
                f"How many lines does the file `{relative}` have?",
                count_pattern(lines),
                lines,
                f"lines:{relative}",
            )
        if text_files:
            for word in _grep_words(text_files, f"grep:{name}"):
                count = sum(word in path.read_text(encoding="utf-8") for path in text_files)
                prompt = f"How many files in the folder `{name}` contain the word `{word}`?"
                add(prompt, count_pattern(count), count, f"grep:{name}:{word}")
    return pool


def _pick(paths: Sequence[Path], count: int, name: str) -> list[Path]:
    by_name = {path.name: path for path in paths}
    return [by_name[key] for key in _stable_order(by_name, name)[:count]]


def _grep_words(paths: Sequence[Path], name: str, count: int = 2) -> list[str]:
    """Lower-case words found in 2 to 15 of the files, and only where every reading of "files
    that contain the word" agrees: as a substring, as a whole word, with or without case."""
    texts = [path.read_text(encoding="utf-8") for path in paths]
    frequency: Counter[str] = Counter()
    for text in texts:
        frequency.update(set(re.findall(r"\b[a-z]{6,12}\b", text)))
    words = []
    for word in _stable_order(
        [w for w, files in frequency.items() if 2 <= files <= 15 and w not in STOPWORDS], name
    ):
        whole = re.compile(rf"\b{word}\b", re.IGNORECASE)
        readings = {
            sum(word in text for text in texts),
            sum(word in text.casefold() for text in texts),
            sum(bool(whole.search(text)) for text in texts),
        }
        if len(readings) == 1:
            words.append(word)
        if len(words) == count:
            break
    return words


def shell_questions(corpus: Path, plan: Plan) -> dict[str, list[Question]]:
    pool = shell_pool(corpus)
    by_origin = {question.origin: question for question in pool}
    order = [by_origin[origin] for origin in _stable_order(by_origin, "shell")]
    chosen: dict[str, list[Question]] = {split: [] for split in SPLITS}
    for position, question in enumerate(order):
        split = SPLITS[position % len(SPLITS)]
        if len(chosen[split]) < plan.shell_per_split:
            chosen[split].append(Question(**{**asdict(question), "split": split}))
    for split in SPLITS:
        if len(chosen[split]) < plan.shell_per_split:
            raise ValueError(f"{split}: only {len(chosen[split])} shell questions")
    return chosen


# ---------------------------------------------------------------- the whole set


def write_corpus(layout: Layout, manual: Path | None, target: Path) -> None:
    """The corpus folder: one file per item, the manual under manuals/. A file whose content is
    already right is left alone (its mtime too, so an incremental ingest skips it); files that do
    not belong are removed."""
    wanted: dict[Path, bytes] = {target / item.path: item.text.encode() for item in layout.corpus}
    if manual is not None:
        wanted[target / MANUAL_FOLDER / manual.name] = manual.read_bytes()
    if target.exists():
        for path in sorted(target.rglob("*"), reverse=True):
            if path.is_file() and path not in wanted:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    for path, content in wanted.items():
        if path.exists() and path.read_bytes() == content:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def assign_ids(questions: Sequence[Question]) -> list[Question]:
    """Ids such as dev-wiki-03 / test-none-12, then a seeded order mixing the kinds."""
    numbered: list[Question] = []
    counters: Counter[str] = Counter()
    for question in questions:
        code = {
            "squad": SOURCE_CODES.get(question.source, question.source),
            "pdf": "pdf",
            "shell": "shell",
            "unanswerable": "none",
        }[question.kind]
        counters[code] += 1
        numbered.append(
            Question(**{**asdict(question), "id": f"{question.split}-{code}-{counters[code]:02d}"})
        )
    by_id = {question.id: question for question in numbered}
    split = numbered[0].split if numbered else ""
    return [by_id[key] for key in _stable_order(by_id, f"order:{split}")]


def build_question_set(
    sources: Mapping[str, Mapping[str, Any]],
    manual_outline: Sequence[OutlineNode],
    manual_pages: Sequence[str],
    manual: Path | None,
    corpus: Path,
    plan: Plan = Plan(),
) -> dict[str, list[Question]]:
    """Lays out `corpus` and returns the questions of each split."""
    items = {source: items_of(source, data) for source, data in sources.items()}
    layout = lay_out(items, plan)
    write_corpus(layout, manual, corpus)
    squad = squad_questions(layout, plan)
    document = f"{MANUAL_FOLDER}/{manual.name}" if manual else "manual.pdf"
    pdf = pdf_questions(numbered_sections(manual_outline), manual_pages, document, plan)
    shell = shell_questions(corpus, plan)
    return {split: assign_ids(squad[split] + pdf[split] + shell[split]) for split in SPLITS}


def quick_sample(questions: Sequence[Question], per_kind: int = 1) -> list[Question]:
    """The first `per_kind` questions of each kind in the split's order, always the same ones
    (`--quick` is one of each: 4 questions)."""
    first: dict[str, list[Question]] = defaultdict(list)
    for question in questions:
        if len(first[question.kind]) < per_kind:
            first[question.kind].append(question)
    return [question for kind in KINDS for question in first.get(kind, [])]


def fingerprint(questions: Sequence[Question]) -> str:
    text = json.dumps([asdict(question) for question in questions], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def save_questions(questions: Sequence[Question], path: Path) -> None:
    path.write_text(
        json.dumps([asdict(q) for q in questions], indent=1, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )


def load_questions(path: Path) -> list[Question]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    return [Question(**{**row, "answers": tuple(row["answers"])}) for row in rows]


def task_file(questions: Sequence[Question], settings: Mapping[str, Any]) -> dict[str, Any]:
    """A `smallagent run` task file: the shared settings as defaults, one regex check per task."""
    return {
        "defaults": dict(settings),
        "tasks": [
            {"id": question.id, "prompt": question.prompt, "checks": {"regex": question.pattern}}
            for question in questions
        ],
    }
