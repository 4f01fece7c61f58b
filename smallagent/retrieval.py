"""Hybrid retrieval: dense (FAISS) and keyword (FTS5/BM25) rankings fused by reciprocal rank.

Small models need exact matches for names, numbers and error codes, which embeddings blur; BM25
finds those, embeddings find paraphrases, and RRF needs no score calibration between the two.

What a run has retrieved is numbered here too (`SourceRegistry`), so that an answer's `[n]` can be
traced back to the passage it cites.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from smallagent.embeddings import Embedder
from smallagent.index import IndexReader, fts_terms, word_stem

RRF_K = 60  # the constant of Cormack, Clarke & Buettcher (SIGIR 2009)
# Words that carry no topic; matching them says nothing about where an answer is.
_STOPWORD_TEXT = """a about above after again against all am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few for
    from further had
    has have having he her here hers him his how i if in into is it its itself just me more most my
    no nor not now of off on once only or other our out over own same she should so some such than
    that the their them then there these they this those through to too under until up very was we
    were what when where which while who whom why will with would you your also one get got use
    used like much many well even way thing things lot kind sort type name called"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True)
class Hit:
    rank: int
    chunk_id: int
    score: float  # fused RRF score
    dense_rank: int | None
    keyword_rank: int | None
    path: str
    page: int | None
    heading: str
    text: str
    start: int
    end: int


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], k: int = RRF_K
) -> list[tuple[int, float]]:
    """Fuse ranked id lists: score(id) = sum of 1 / (k + rank), rank counted from 1.

    >>> reciprocal_rank_fusion([[7, 3], [3, 9]], k=60)[0][0]
    3
    """
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


# A number joined to a lower-case unit word ("60-minute interval"): no code, and documents
# write it as "60 minutes" as often as not.
_MEASURE = re.compile(r"^\d+(?:\.\d+)?-[a-z]+$")
_IDENTIFIER = re.compile(
    r"""^(?:
        .*\d.*                      # has a digit: E1234, v2.1, 404, QX-7731
      | .+[-_./:].+                  # joined by punctuation: foo_bar, os.path, a/b
      | [A-Z]{2,}s?                  # an acronym: FAISS, APIs
      | [a-z]+[A-Z]\w*              # camelCase
      | [A-Z][a-z]+[A-Z]\w*         # CamelCase
    )$""",
    re.VERBOSE,
)


_PATH_LIKE = re.compile(r"/|\w\.[A-Za-z]{1,5}$")


def passage_words(text: str) -> set[str]:
    """A passage's words, lower-cased: what a question's or an answer's words are looked up in."""
    return {word.lower() for word in re.findall(r"\w+", text)}


def _is_topic(lowered: str) -> bool:
    return len(lowered) >= 3 and lowered not in STOPWORDS and not lowered.isdigit()


def _holds(words: set[str], word: str) -> bool:
    """Whether a passage's words hold `word`, matched the way the index matches it."""
    if len(word) < 4:
        return word in words
    stem = word_stem(word)
    return any(held.startswith(stem) for held in words)


def asserts_beyond(answer: str, question: str) -> bool:
    """The answer says something of its own: a topic word or a number the question lacks.

    >>> asserts_beyond("OK", "Reply with the word OK."), asserts_beyond("In 1994.", "When?")
    (False, True)
    >>> asserts_beyond("The kettles leaked.", "Which kettle leaked?")
    False
    """
    asked = passage_words(question)
    for word in dict.fromkeys(word.lower() for word in re.findall(r"\w+", answer)):
        if (_is_topic(word) or word.isdigit()) and not _holds(asked, word):
            return True
    return False


_PHRASE = re.compile(r"\"([^\"]+)\"|\u201c([^\u201d]+)\u201d|`([^`]+)`|(?<!\w)'([^']+)'(?!\w)")


def quoted_phrases(query: str) -> list[str]:
    """What the query quotes, to be found word for word: "…", “…”, `…` or '…' (not an apostrophe).

    >>> quoted_phrases("the file that says 'blue heron' or “red kite”, and don't `wc`")
    ['blue heron', 'red kite', 'wc']
    """
    found = (next(group for group in match.groups() if group) for match in _PHRASE.finditer(query))
    return [phrase.strip() for phrase in found if phrase.strip()]


def exact_terms(query: str) -> list[str]:
    """The query's words that must match as written: codes, numbers, identifiers, acronyms.

    >>> exact_terms("what does error QX-7731 mean in FAISS, per os.path?")
    ['QX-7731', 'FAISS', 'os.path']
    """
    words = (word.strip(".,;:!?()[]{}\"'`") for word in query.split())
    return [word for word in words if word and _IDENTIFIER.match(word)]


def _words_in_sentences(text: str) -> list[tuple[str, bool]]:
    """Each word, stripped of punctuation, and whether it opens a sentence, a line or a clause
    ("Found by earlier steps:", "(Find the file ...)"): a capital there is no sign of a name.

    >>> [pair for pair in _words_in_sentences("Did Odo go? Found: (Find it) in Kent") if pair[1]]
    [('Did', True), ('Found', True), ('Find', True)]
    """
    found: list[tuple[str, bool]] = []
    for line in text.splitlines():
        previous = ""
        for raw in line.split():
            opens = not previous or previous[-1] in ".!?:;\"'`" or raw[0] in "(\"'`[{"
            found.append((raw.strip(".,;:!?()[]{}\"'`"), opens))
            previous = raw
    return found


class Retriever:
    """Hybrid search over one index, plus the cheap lexical facts the agent needs about a query."""

    def __init__(self, reader: IndexReader, embedder: Embedder) -> None:
        self.reader = reader
        self.embedder = embedder

    def topic_words(self, query: str) -> list[str]:
        """The query's words that say what it is about: no stopwords, digits or short words."""
        words = dict.fromkeys(word.lower() for word in re.findall(r"\w+", query))
        return [word for word in words if _is_topic(word)]

    def coverage(self, question: str, hits: Sequence[Hit]) -> tuple[float, Hit | None]:
        """How much of the question the best passage holds: the share of its topic words, each
        weighted by how rare it is in the index (inverse chunk frequency), found in one passage;
        and that passage.

        A passage that answers a question shares its rare words (the names, the thing asked
        about); the nearest passage to a question the documents cannot answer shares one or two
        common ones. On the question benchmark's dev split, answerable questions' best passage
        held a median 79% of the weight and unanswerable ones' 27% (docs/benchmarks.md).
        """
        words = self.topic_words(question)
        if not words or not hits:
            return 0.0, None
        _, chunks = self.reader.counts()
        weight = {
            w: math.log((chunks + 1) / (self.reader.chunks_containing(w) + 0.5)) for w in words
        }
        total = sum(weight.values())
        best: tuple[float, Hit | None] = (0.0, None)
        for hit in hits:
            held = passage_words(hit.text)
            share = sum(weight[w] for w in words if _holds(held, w)) / total
            if share > best[0]:
                best = (share, hit)
        return best

    def absent_words(self, query: str) -> list[str]:
        """The query's topic words that no chunk of the index contains, as written in the query.

        A question that names something the documents never mention is usually not answerable
        from them; a small model, shown the nearest passages, answers it anyway. Saying which
        words are absent (a fact, not a verdict) lets it say "not found". Paraphrases also land
        here ("purchaser" for "bought"), so this informs the model; it decides nothing.
        """
        absent: list[str] = []
        for word in dict.fromkeys(re.findall(r"\w+", query)):
            lowered = word.lower()
            if _is_topic(lowered) and not self.reader.contains_word(lowered):
                absent.append(word)
        return absent

    def unknown_names(self, question: str) -> list[str]:
        """The names the question uses (capitalised inside the sentence, or codes) that no
        document contains: a question about Haliburton cannot be answered from documents that
        never mention Haliburton, and a small model shown the nearest passages answers anyway.

        >>> class Index:
        ...     def contains_word(self, word): return word in {"edelman", "foot"}
        ...     def exact(self, phrases, k): return [(1, 1.0)] if phrases == ["QX-7"] else []
        >>> question = "Did Edelman or Haliburton see QX-7 or E-22 in a/Log.txt?"
        >>> Retriever(Index(), None).unknown_names(question)
        ['Haliburton', 'E-22']
        """
        codes = set(exact_terms(question))
        unknown: list[str] = []
        for word, opens_sentence in _words_in_sentences(question):
            if not word or word in unknown or _PATH_LIKE.search(word):
                continue  # a path or file name is for the file system to judge, not the index
            if _MEASURE.match(word):
                continue  # "60-minute", "2-day": a number and its unit, written "60 minutes"
            if word in codes:
                if not self.reader.exact([word], 1):
                    unknown.append(word)
            elif not opens_sentence and word[0].isupper() and self.absent_words(word) == [word]:
                unknown.append(word)
        return unknown

    def _sections_headed(self, identifiers: Sequence[str], pool: int) -> list[int]:
        """Chunks whose own heading (the last of the path) holds one of the identifiers as a
        whole: every subsection of 6.3 has "6.3" in its heading path, and 6.3.4's own heading
        starts with "6.3" too; neither is section 6.3."""
        found = [chunk_id for chunk_id, _ in self.reader.exact(identifiers, pool, in_heading=True)]
        headings = {
            chunk_id: chunk.heading for chunk_id, chunk in self.reader.chunks(found).items()
        }
        whole = [
            re.compile(rf"(?<![\w.]){re.escape(identifier)}(?![\w]|[.\-_]\w)", re.IGNORECASE)
            for identifier in identifiers
        ]

        def own(chunk_id: int) -> bool:
            heading = headings.get(chunk_id, "").rsplit(" > ", 1)[-1]
            return any(pattern.search(heading) for pattern in whole)

        return [chunk_id for chunk_id in found if own(chunk_id)]

    def search(
        self, query: str, k: int = 5, candidates: int = 50, not_text: Sequence[str] = ()
    ) -> list[Hit]:
        """The k best chunks for the query; `not_text` are quoted words that name a file or
        folder rather than words to find (the caller knows the file system, this does not)."""
        pool = max(candidates, k)
        vector = self.embedder.embed([query])[0]
        dense = [chunk_id for chunk_id, _ in self.reader.dense(vector, pool)]
        keyword = [chunk_id for chunk_id, _ in self.reader.keyword(query, pool)]
        rankings = [dense, keyword]
        identifiers = exact_terms(query)
        if identifiers:
            # A third vote for chunks that contain the codes and names word for word: an error
            # code must not lose to many chunks that merely share the words around it. A fourth
            # for the sections whose heading holds one: asked for "section 5.6" of a manual, the
            # search ranked the section's own chunk below pages that merely held "5 6".
            rankings.append([chunk_id for chunk_id, _ in self.reader.exact(identifiers, pool)])
            rankings.append(self._sections_headed(identifiers, pool))
        # Quoted words are a demand, not a vote: the documents that hold them word for word come
        # first, as in a web search. So do those holding the whole query as written (a model
        # drops the quotes when it searches for "the file that says ..." with the phrase alone).
        # Asked for the file that says a five-word phrase, the 1.5B model was shown other files
        # that shared three of its words, and named one of them. The demand is on documents,
        # not chunks: quoted words name a document ("the manual 'An Introduction to R'", "the
        # review that says ..."), and the rest of the question picks its passage, which need not
        # be the one holding them (the manual's title page came first, its section 5.6 after).
        quoted = [phrase for phrase in quoted_phrases(query) if phrase not in not_text]
        phrases = quoted or ([query] if len(fts_terms(query)) >= 3 else [])
        verbatim = [chunk_id for chunk_id, _ in self.reader.exact(phrases, pool)] if phrases else []
        fused = reciprocal_rank_fusion([*rankings, verbatim])
        stored = self.reader.chunks([chunk_id for chunk_id, _ in fused])
        if verbatim:
            named = {stored[chunk_id].path for chunk_id in verbatim if chunk_id in stored}
            held = {chunk_id for chunk_id, chunk in stored.items() if chunk.path in named}
            fused = [pair for pair in fused if pair[0] in held] + [
                pair for pair in fused if pair[0] not in held
            ]
        fused = fused[:k]
        dense_rank = {chunk_id: rank for rank, chunk_id in enumerate(dense, start=1)}
        keyword_rank = {chunk_id: rank for rank, chunk_id in enumerate(keyword, start=1)}
        hits: list[Hit] = []
        for chunk_id, score in fused:
            chunk = stored.get(chunk_id)
            if chunk is None:
                continue  # a vector without a row cannot happen in a committed index; be safe
            hits.append(
                Hit(
                    rank=len(hits) + 1,
                    chunk_id=chunk_id,
                    score=score,
                    dense_rank=dense_rank.get(chunk_id),
                    keyword_rank=keyword_rank.get(chunk_id),
                    path=chunk.path,
                    page=chunk.page,
                    heading=chunk.heading,
                    text=chunk.text,
                    start=chunk.start,
                    end=chunk.end,
                )
            )
        return hits


@dataclass(frozen=True)
class Source:
    number: int
    path: str
    page: int | None
    heading: str

    @property
    def label(self) -> str:
        return f"{self.path}:page {self.page}" if self.page else self.path


class SourceRegistry:
    """Numbers the sources a run has seen, so `[n]` in an answer stays the same source."""

    def __init__(self) -> None:
        self.by_number: dict[int, Source] = {}
        self._numbers: dict[tuple[str, int | None], int] = {}
        self._passages: dict[int, list[str]] = {}

    def number(self, path: str, page: int | None, heading: str) -> int:
        key = (path, page)
        if key not in self._numbers:
            self._numbers[key] = len(self._numbers) + 1
            self.by_number[self._numbers[key]] = Source(self._numbers[key], path, page, heading)
        return self._numbers[key]

    def remember(self, number: int, text: str) -> None:
        self._passages.setdefault(number, []).append(text)

    def cited(self, answer: str) -> list[Source]:
        """The sources an answer cites as [n]; failing that, the passages it quotes from.

        Small models often drop the [n]. A source whose passage contains one of the answer's
        exact terms (a code, a number, an identifier) is taken as the one it came from.
        """
        numbers = sorted({int(n) for n in re.findall(r"\[(\d+)\]", answer)})
        cited = [self.by_number[n] for n in numbers if n in self.by_number]
        if cited:
            return cited
        terms = [term.lower() for term in exact_terms(answer)]
        return [
            self.by_number[number]
            for number, passages in sorted(self._passages.items())
            if terms and any(term in passage.lower() for passage in passages for term in terms)
        ]
