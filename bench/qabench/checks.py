"""Answer checks as regular expressions, so `smallagent run`'s own `regex` check applies them.

Every agent's answer goes through the same pattern with the same function
(`smallagent.tasks.evaluate`), smallagent's inside its runner and the peers' in the harness.

- Crowd-written (SQuAD-style) questions pass when the answer contains any of the gold answers after
  SQuAD's normalisation (case, punctuation and the articles a/an/the ignored), the standard
  "contains" reading of SQuAD's exact match. Number words up to twenty also match their digits.
- Unanswerable questions pass when the answer says the information was not found, in any of the
  ways the agents phrase it (see NOT_FOUND_PATTERN and the phrasings in the tests).
- Shell questions pass when the computed number or file name appears as a whole token.
"""

from __future__ import annotations

import re

ARTICLES = frozenset({"a", "an", "the"})
NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]

# Between two gold tokens: any run of punctuation or spaces, and articles the gold did not have.
_GAP = r"(?:[\W_]+(?:a|an|the)(?![^\W_]))*[\W_]*"
_START, _END = r"(?<![^\W_])", r"(?![^\W_])"  # not inside a longer word or number


def gold_tokens(text: str) -> list[str]:
    """SQuAD's normalisation as tokens: lower case, punctuation dropped, articles dropped.

    >>> gold_tokens("The 2010 510-SMR, a bike")
    ['2010', '510', 'smr', 'bike']
    """
    return [
        token for token in re.split(r"[\W_]+", text.casefold()) if token and token not in ARTICLES
    ]


def _token_pattern(token: str) -> str:
    if token in NUMBER_WORDS:
        return f"(?:{token}|{NUMBER_WORDS.index(token)})"
    if token.isdigit() and int(token) < len(NUMBER_WORDS) and str(int(token)) == token:
        return f"(?:{token}|{NUMBER_WORDS[int(token)]})"
    return re.escape(token)


def answer_pattern(golds: list[str] | tuple[str, ...]) -> str:
    """One case-insensitive pattern matching any gold answer, SQuAD-normalised.

    >>> bool(re.search(answer_pattern(["two delegates"]), "It elects **2 delegates**."))
    True
    >>> bool(re.search(answer_pattern(["cat"]), "a catalogue"))
    False
    """
    alternatives = []
    for gold in dict.fromkeys(golds):
        tokens = gold_tokens(gold)
        if tokens:
            alternatives.append(_GAP.join(_token_pattern(token) for token in tokens))
    if not alternatives:
        raise ValueError(f"no gold answer has a word left after normalisation: {golds!r}")
    return f"(?i){_START}(?:{'|'.join(alternatives)}){_END}"


def usable_gold(text: str, stopwords: frozenset[str]) -> bool:
    """A gold answer worth checking for: it keeps a word that is not a stopword after normalising,
    and is not a bare 1-character token ("a", "I"). "not" or "the holder" alone would pass almost
    any answer."""
    tokens = gold_tokens(text)
    return any(token not in stopwords for token in tokens) and len("".join(tokens)) > 1


# "Not found", as the agents say it. Three families, all case-insensitive:
#   a negation, then within a few words a verb or noun of finding/containing/knowing
#     ("The passages do not mention", "I couldn't find", "there is no information about");
#   inability ("unable to determine", "cannot answer");
#   a bare verdict ("not found", "unknown", "not available", "insufficient").
# smallagent's own marker for a run that ran out of steps ("What was found so far:") is not a
# verdict that the answer is missing, so it fails the check.
_NEGATION = (
    r"(?:\bno\b|\bnot\b|n['\u2019]t\b|\bnever\b|\bnothing\b|\bnone\b|\bneither\b|\bnor\b|"
    r"\bwithout\b)"
)
_FINDING = (
    r"(?:found|find\w*|locat\w*|mention\w*|contain\w*|provid\w*|specif\w*|say|says|said|"
    r"stat(?:e|es|ed|ing)|informat\w*|info|details?|evidence|answer\w*|determin\w*|know\w*|"
    r"identif\w*|relevant|indicat\w*|discuss\w*|address\w*|describ\w*|clear|sure|match\w*)"
)
_UNABLE = (
    r"(?:\bunable\b|\bcannot\b|\bcan\s+not\b|\bcould\s+not\b|\bcouldn['\u2019]t\b|\bcan['\u2019]t\b)"
    r"\W+(?:\w+\W+){0,3}?(?:to\W+)?"
    r"(?:find|locate|determine|answer|identify|provide|say|tell|confirm|verify|access|know)"
)
_VERDICT = (
    r"\b(?:not\s+(?:been\s+)?(?:found|available|mentioned|specified|provided|given|stated|known)|"
    r"unknown|unanswerable|insufficient|unclear|not\s+enough|no\s+(?:such|mention|information|"
    r"data|details?|record|answer|results?|relevant|specific))\b"
)
NOT_FOUND_PATTERN = (
    r"(?is)^(?!\s*What was found so far)"
    rf".*?(?:{_NEGATION}\W+(?:\w+\W+){{0,4}}?{_FINDING}\b|{_UNABLE}|{_VERDICT})"
)


def count_pattern(number: int) -> str:
    """The number as a whole token, with or without thousands separators (1,234 · 1 234 · 1234),
    or as a word up to twenty.

    >>> five = count_pattern(5)
    >>> bool(re.search(five, "There are **5** files.")), bool(re.search(five, "15"))
    (True, False)
    """
    digits = str(number)
    grouped = f"{number:,}"
    forms = {re.escape(digits), re.escape(grouped), re.escape(grouped.replace(",", " "))}
    forms |= {re.escape(grouped.replace(",", "\u202f")), re.escape(grouped.replace(",", "."))}
    if number < len(NUMBER_WORDS):
        forms.add(NUMBER_WORDS[number])
    alternatives = "|".join(sorted(forms, key=len, reverse=True))
    return rf"(?i)(?<![\w.,])(?:{alternatives})(?![\w]|[.,]\d)"


def name_pattern(name: str) -> str:
    """A file name as a whole token; the extension may be left out (`Andes` for `Andes.md`).

    >>> bool(re.search(name_pattern("post-0042.txt"), "It is reddit/post-0042.txt."))
    True
    >>> bool(re.search(name_pattern("post-0042.txt"), "post-00421.txt"))
    False
    """
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        stem, extension = name, ""
    suffix = f"(?:\\.{re.escape(extension)})?" if extension else ""
    return rf"(?i)(?<![\w.-]){re.escape(stem)}{suffix}(?![\w-]|\.\w)"


def section_number_pattern(number: str) -> str:
    """A section number such as 5.4 as a whole token: not 5.41, 15.4 or 5.4.1.

    >>> pattern = section_number_pattern("5.4")
    >>> bool(re.search(pattern, "Section 5.4.")), bool(re.search(pattern, "5.4.1"))
    (True, False)
    """
    return rf"(?<![\w.]){re.escape(number)}(?![\w]|\.\d)"
