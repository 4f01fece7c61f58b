"""The question benchmark's own logic (bench/qabench), on small fixtures: no network, no server.

Question generation is deterministic, the splits are disjoint, the answer checks are fair to
SQuAD-style answers and to the ways "not found" is phrased, the shell answers agree with the
commands a person would run, and the recording proxy and the tool server do what they say.
"""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "bench" / "peers"))

from qabench import checks, questions, report  # noqa: E402
from qabench.proxy import Exchange, RecordingProxy, Usage, attribute, request_text, usage_of  # noqa: E402
from qabench.questions import Plan, Question  # noqa: E402

# ---------------------------------------------------------------- a small SQuAD-shaped fixture

SYLLABLES = ["ka", "lo", "mi", "ra", "su", "te", "vo", "ni", "pa", "ze", "bu", "ro", "fe", "gi"]


def made_up(number: int) -> str:
    """A word that occurs nowhere else: Kalomi, Rasute, ..."""
    first = SYLLABLES[number % len(SYLLABLES)]
    second = SYLLABLES[(number // len(SYLLABLES)) % len(SYLLABLES)]
    third = SYLLABLES[(number // len(SYLLABLES) ** 2) % len(SYLLABLES)]
    return (first + second + third + "x").capitalize()


def paragraph(number: int) -> tuple[str, list[dict[str, Any]]]:
    """A paragraph naming three made-up things, and two questions it answers."""
    place, person, river = made_up(3 * number), made_up(3 * number + 1), made_up(3 * number + 2)
    year = 1700 + number
    text = (
        f"The {river} river flows through the {place} valley near the old mill. "
        f"It was first described in {year} by the explorer {person}, who mapped the whole "
        f"valley during a long summer journey."
        + " The weather was mild."
        * (number % 5)  # files of different sizes
    )
    qas = [
        {
            "id": f"q{number}a",
            "question": f"Who first described the {river} river?",
            "answers": [{"text": f"the explorer {person}"}, {"text": person}],
        },
        {
            "id": f"q{number}b",
            "question": f"In what year was the {river} river in {place} first described?",
            "answers": [{"text": str(year)}],
        },
    ]
    return text, qas


def squad_fixture() -> dict[str, dict[str, Any]]:
    counter = iter(range(10_000))
    wiki = {
        "data": [
            {
                "title": f"Article_{n}",
                "paragraphs": [
                    dict(zip(("context", "qas"), paragraph(next(counter)), strict=True))
                    for _ in range(3)
                ],
            }
            for n in range(6)
        ]
    }
    reviews = {
        "data": [
            {
                "title": f"Amazon_Reviews_{group * 5}",
                "paragraphs": [
                    dict(zip(("context", "qas"), paragraph(next(counter)), strict=True))
                    for _ in range(5)
                ],
            }
            for group in range(3)
        ]
    }
    reddit = {
        "data": [
            {
                "title": "Filtered_Reddit_Comments",
                "paragraphs": [
                    dict(zip(("context", "qas"), paragraph(next(counter)), strict=True))
                    for _ in range(14)
                ],
            }
        ]
    }
    return {"new_wiki": wiki, "amazon_reviews": reviews, "reddit": reddit}


OUTLINE: list[questions.OutlineNode] = [
    ("1 Getting started", 0, [("Starting the program", 0, []), ("Reading the help", 1, [])]),
    (
        "2 Working with tables",
        2,
        [
            ("Making a table", 2, []),
            ("Sorting table rows", 3, [("Sort keys", 3, [])]),
            ("Joining two tables", 4, []),
        ],
    ),
    ("Appendix A Index", 5, []),
]
PAGES = [
    "1 Getting started\n1.1 Starting the program\nType its name.",
    "1.2 Reading the help\nAsk for help.",
    "2 Working with tables\n2.1 Making a table\nUse table().",
    "2.2 Sorting table rows\n2.2.1 Sort keys\n",
    "Nothing here: the 2.3 heading is missing from its page.",
    "Index",
]

SMALL_PLAN = Plan(
    held_out={"new_wiki": 2, "amazon_reviews": 4, "reddit": 4},
    with_questions={"new_wiki": 2, "amazon_reviews": 6, "reddit": 6},
    distractors={"new_wiki": 1, "amazon_reviews": 2, "reddit": 2},
    squad_per_source=2,
    unanswerable_per_source=1,
    pdf_per_split=1,
    shell_per_split=3,
    per_document={"new_wiki": 2, "amazon_reviews": 1, "reddit": 1},
)


def build(tmp: Path) -> dict[str, list[Question]]:
    tmp.mkdir(parents=True, exist_ok=True)
    manual = tmp / "manual.pdf"
    manual.write_bytes(b"%PDF-1.4 not a real manual\n")
    return questions.build_question_set(
        squad_fixture(), OUTLINE, PAGES, manual, tmp / "corpus", SMALL_PLAN
    )


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, dict[str, list[Question]]]:
    return tmp_path / "corpus", build(tmp_path)


def corpus_files(corpus: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(corpus)): path.read_bytes()
        for path in sorted(corpus.rglob("*"))
        if path.is_file()
    }


# ---------------------------------------------------------------- generation


def test_the_same_inputs_give_the_same_corpus_and_questions(tmp_path: Path) -> None:
    first = build(tmp_path / "one")
    second = build(tmp_path / "two")
    assert first == second
    assert corpus_files(tmp_path / "one" / "corpus") == corpus_files(tmp_path / "two" / "corpus")
    assert questions.fingerprint(first["dev"]) == questions.fingerprint(second["dev"])


def test_rebuilding_in_place_leaves_unchanged_files_alone(tmp_path: Path) -> None:
    build(tmp_path)
    stray = tmp_path / "corpus" / "wiki" / "stray.md"
    stray.write_text("not part of the corpus")
    kept = tmp_path / "corpus" / "reddit" / sorted((tmp_path / "corpus" / "reddit").iterdir())[0]
    mtime = kept.stat().st_mtime_ns
    build(tmp_path)
    assert not stray.exists()
    assert kept.stat().st_mtime_ns == mtime  # an incremental ingest skips it


def test_each_split_has_every_kind_in_the_planned_numbers(
    built: tuple[Path, dict[str, list[Question]]],
) -> None:
    _, by_split = built
    for split, items in by_split.items():
        kinds = [question.kind for question in items]
        assert kinds.count("squad") == 3 * SMALL_PLAN.squad_per_source
        assert kinds.count("unanswerable") == 3 * SMALL_PLAN.unanswerable_per_source
        assert kinds.count("pdf") == SMALL_PLAN.pdf_per_split
        assert kinds.count("shell") == SMALL_PLAN.shell_per_split
        assert all(question.split == split for question in items)
        assert all(question.id.startswith(f"{split}-") for question in items)


def test_the_default_plan_asks_at_least_150_questions() -> None:
    plan = Plan()
    per_split = (
        len(questions.SOURCES) * (plan.squad_per_source + plan.unanswerable_per_source)
        + plan.pdf_per_split
        + plan.shell_per_split
    )
    assert per_split * len(questions.SPLITS) >= 150


def test_splits_share_no_question_document_section_or_shell_target(
    built: tuple[Path, dict[str, list[Question]]],
) -> None:
    _, by_split = built
    dev, test = by_split["dev"], by_split["test"]
    assert not {q.id for q in dev} & {q.id for q in test}
    assert not {q.prompt for q in dev} & {q.prompt for q in test}
    for kind in ("squad", "pdf", "shell", "unanswerable"):
        dev_origins = {q.origin for q in dev if q.kind == kind}
        test_origins = {q.origin for q in test if q.kind == kind}
        assert not dev_origins & test_origins, kind
    dev_documents = {q.document for q in dev if q.kind == "squad"}
    test_documents = {q.document for q in test if q.kind == "squad"}
    assert not dev_documents & test_documents


def test_answerable_questions_point_into_the_corpus_and_unanswerable_ones_do_not(
    built: tuple[Path, dict[str, list[Question]]],
) -> None:
    corpus, by_split = built
    text = "\n".join(
        path.read_text(encoding="utf-8")
        for path in corpus.rglob("*")
        if path.is_file() and path.suffix != ".pdf"
    )
    for question in by_split["dev"] + by_split["test"]:
        if question.kind == "squad":
            assert (corpus / question.document).is_file()
            document = (corpus / question.document).read_text(encoding="utf-8")
            assert re.search(question.pattern, document), question  # the gold is in its document
        if question.kind == "unanswerable":
            assert question.pattern == checks.NOT_FOUND_PATTERN
            assert not question.document
            named = re.findall(r"[A-Z][a-z]+x\b", question.prompt)
            assert named and not any(name in text for name in named), question


def test_pdf_questions_come_from_verified_numbered_sections(
    built: tuple[Path, dict[str, list[Question]]],
) -> None:
    sections = questions.numbered_sections(OUTLINE)
    assert [(s.number, s.title) for s in sections] == [
        ("1.1", "Starting the program"),
        ("1.2", "Reading the help"),
        ("2.1", "Making a table"),
        ("2.2", "Sorting table rows"),
        ("2.2.1", "Sort keys"),
        ("2.3", "Joining two tables"),
    ]
    assert not questions.heading_on_page(sections[-1], PAGES)  # 2.3 is not printed: never asked
    _, by_split = built
    asked = [q for split in by_split.values() for q in split if q.kind == "pdf"]
    assert {q.origin for q in asked} <= {"1.1", "1.2", "2.1", "2.2"}
    title_form = next(q for q in asked if "what is the title of section" in q.prompt)
    assert title_form.answers == ({s.number: s.title for s in sections}[title_form.origin],)


def test_quick_sample_is_one_question_of_each_kind_in_split_order(
    built: tuple[Path, dict[str, list[Question]]],
) -> None:
    _, by_split = built
    sample = questions.quick_sample(by_split["dev"])
    assert [q.kind for q in sample] == list(questions.KINDS)
    positions = [by_split["dev"].index(q) for q in sample]
    for question, position in zip(sample, positions, strict=True):
        assert all(q.kind != question.kind for q in by_split["dev"][:position])


def test_a_per_kind_sample_takes_the_first_n_of_each_kind_in_split_order(
    built: tuple[Path, dict[str, list[Question]]],
) -> None:
    _, by_split = built
    dev = by_split["dev"]
    sample = questions.quick_sample(dev, per_kind=2)
    for kind in questions.KINDS:
        of_kind = [q for q in dev if q.kind == kind]
        assert [q for q in sample if q.kind == kind] == of_kind[:2]
    assert questions.quick_sample(dev, per_kind=1) == questions.quick_sample(dev)


def test_task_files_load_in_smallagents_runner(
    built: tuple[Path, dict[str, list[Question]]], tmp_path: Path
) -> None:
    from smallagent.tasks import load_task_file

    corpus, by_split = built
    settings = {"workdir": "corpus", "tools": ["search", "read_file", "shell"], "max_steps": 6}
    path = corpus.parent / "tasks-dev.json"
    path.write_text(json.dumps(questions.task_file(by_split["dev"], settings)))
    tasks = load_task_file(path)
    assert [task.id for task in tasks] == [q.id for q in by_split["dev"]]
    assert all(task.checks[0].kind == "regex" for task in tasks)
    assert tasks[0].options.workdir == corpus.resolve()


def test_questions_round_trip_through_json(
    built: tuple[Path, dict[str, list[Question]]], tmp_path: Path
) -> None:
    _, by_split = built
    path = tmp_path / "questions.json"
    questions.save_questions(by_split["test"], path)
    assert questions.load_questions(path) == by_split["test"]


# ---------------------------------------------------------------- answer checks


def passes(pattern: str, answer: str) -> bool:
    from smallagent.tasks import Check, evaluate

    def no_commands(command: str, stdin: str) -> int | None:
        raise AssertionError("no command expected")

    return evaluate(Check("regex", (pattern,)), answer, [], no_commands).passed


@pytest.mark.parametrize(
    ("golds", "answer", "expected"),
    [
        (["2010 510 SMR"], "He rides a **2010 510 SMR** [1].", True),
        (["2010 510 SMR"], "a 2010 510-smr", True),  # punctuation ignored
        (["the Gulf of Bothnia"], "In Gulf of Bothnia.", True),  # articles ignored
        (["Gulf of Bothnia"], "in the gulf of the Bothnia", True),
        (["two delegates"], "It elects 2 delegates.", True),  # number words up to twenty
        (["12 million"], "about twelve million", True),
        (["21 delegates"], "twenty-one delegates", False),  # words past twenty: as SQuAD
        (["Beyoğlu"], "The district is Beyoğlu.", True),
        (["queen"], "A queen-size comforter.", True),
        (["cat"], "The catalogue lists it.", False),  # whole words only
        (["1733"], "It was made in 17330.", False),
        (["C and Lisp", "Lisp"], "Lisp does not.", True),  # any of the golds
        (["Schmidt and meniscus"], "Schmidt correctors.", False),
    ],
)
def test_answer_pattern_is_squad_normalised_containment(
    golds: list[str], answer: str, expected: bool
) -> None:
    assert passes(checks.answer_pattern(golds), answer) is expected


def test_gold_answers_that_are_only_stopwords_are_not_used() -> None:
    assert not checks.usable_gold("not", questions.STOPWORDS)
    assert not checks.usable_gold("the", questions.STOPWORDS)
    assert checks.usable_gold("highly recommend", questions.STOPWORDS)
    with pytest.raises(ValueError):
        checks.answer_pattern(["the", "a"])


NOT_FOUND = [
    "The provided passages do not contain information about the alibi.",
    "I couldn't find any information about Ortega in the documents.",
    "There is no information about DeathMeramon in the search results.",
    "The search results don't mention who evolves to DeathMeramon.",
    "I'm sorry, but I cannot find the answer to that question.",
    "I was unable to determine what the calculator helps with from the available documents.",
    "Not found in the indexed documents.",
    "The answer is not available in the documents.",
    "The documents do not specify the size of the mat.",
    "I don't know.",
    "None of the passages mention Tocqueville [1][2].",
    "Based on the passages, it is unclear which edition is described.",
    "The information is not provided in the retrieved passages.",
    "NO RELEVANT PASSAGES WERE FOUND.",
    "I could not locate any passage about Tunisia's education policy.",
]
INVENTED = [
    "The size of the mat is 24 x 36 inches [1].",
    "Ortega is fighting Kane in the main event.",
    "Alexis de Tocqueville said the French Revolution began with the tax revolt.",
    "It keeps things from moving thanks to rubber feet.",
    "The holder is not too big and not too small.",
    "What was found so far:\n[1] reviews/review-5-1.txt: There is no mention of it here.",
    "",
]


@pytest.mark.parametrize("answer", NOT_FOUND)
def test_not_found_check_accepts_the_ways_agents_say_it(answer: str) -> None:
    assert passes(checks.NOT_FOUND_PATTERN, answer)


@pytest.mark.parametrize("answer", INVENTED)
def test_not_found_check_rejects_invented_answers_and_partial_runs(answer: str) -> None:
    assert not passes(checks.NOT_FOUND_PATTERN, answer)


@pytest.mark.parametrize(
    ("number", "answer", "expected"),
    [
        (180, "There are 180 files.", True),
        (180, "1180 files", False),
        (180, "180.5", False),
        (19836, "The file is 19,836 bytes.", True),
        (19836, "19836", True),
        (19836, "19 836 bytes", True),
        (5, "five files", True),
        (5, "15 files", False),
    ],
)
def test_count_pattern(number: int, answer: str, expected: bool) -> None:
    assert passes(checks.count_pattern(number), answer) is expected


@pytest.mark.parametrize(
    ("name", "answer", "expected"),
    [
        ("Istanbul.md", "The largest is wiki/Istanbul.md", True),
        ("Istanbul.md", "Istanbul", True),
        ("post-0413.txt", "post-0413.txt (12 bytes)", True),
        ("post-0413.txt", "post-04130.txt", False),
        ("post-0413.txt", "repost-0413.txt", False),
    ],
)
def test_name_pattern(name: str, answer: str, expected: bool) -> None:
    assert passes(checks.name_pattern(name), answer) is expected


# ---------------------------------------------------------------- shell answers


def command_answer(corpus: Path, origin: str) -> str:
    """The answer as the commands a person would type compute it."""

    def run(*argv: str) -> list[str]:
        output = subprocess.run(argv, cwd=corpus, capture_output=True, text=True).stdout
        return output.splitlines()

    kind, _, target = origin.partition(":")
    if kind == "count" and target == ".":
        return str(len(run("find", ".", "-type", "f")))
    if kind == "count":
        return str(len(run("find", target, "-maxdepth", "1", "-type", "f")))
    if kind == "largest":
        return run("ls", "-S", target)[0]
    if kind == "smallest":
        return run("ls", "-S", target)[-1]
    if kind == "size":
        return run("stat", "-c", "%s", target)[0]
    if kind == "lines":
        return run("wc", "-l", target)[0].split()[0]
    if kind == "grep":
        folder, word = target.split(":")
        files = sorted(str(path.relative_to(corpus)) for path in (corpus / folder).iterdir())
        counts = {len(run("grep", *flags, "-l", word, *files)) for flags in ([], ["-w"], ["-i"])}
        assert len(counts) == 1, f"{word}: grep, grep -w and grep -i disagree"
        return str(counts.pop())
    raise AssertionError(origin)


def test_shell_answers_match_the_commands(built: tuple[Path, dict[str, list[Question]]]) -> None:
    corpus, _ = built
    pool = questions.shell_pool(corpus)
    kinds = {question.origin.split(":")[0] for question in pool}
    assert {"count", "largest", "smallest", "size", "lines", "grep"} <= kinds
    for question in pool:
        expected = command_answer(corpus, question.origin)
        assert question.answers == (expected,), question.origin
        assert passes(question.pattern, f"The answer is {expected}.")


# ---------------------------------------------------------------- the recording proxy


def test_usage_is_read_from_every_response_shape() -> None:
    native = {
        "done": True,
        "prompt_eval_count": 600,
        "eval_count": 40,
        "prompt_eval_duration": 2_000_000_000,
        "eval_duration": 1_000_000_000,
    }
    assert usage_of(json.dumps(native).encode()) == Usage(600, 40, 2.0, 1.0)
    stream = "\n".join(
        [json.dumps({"done": False, "message": {"content": "Hi"}}), json.dumps(native)]
    )
    assert usage_of(stream.encode()).generated_tokens == 40
    openai = {"choices": [], "usage": {"prompt_tokens": 700, "completion_tokens": 55}}
    assert usage_of(json.dumps(openai).encode()) == Usage(700, 55)
    sse = (
        'data: {"choices": [{"delta": {"content": "Hi"}}]}\n\n'
        'data: {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}}\n\n'
        "data: [DONE]\n\n"
    )
    assert usage_of(sse.encode()) == Usage(9, 2)
    assert usage_of(b"") == Usage()


def test_request_text_reads_messages_and_content_parts() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "New task:\nQ?"}]},
        ]
    }
    assert request_text(json.dumps(body).encode()) == "Be brief.\nNew task:\nQ?"
    assert request_text(b'{"prompt": "P"}') == "P"
    assert request_text(b"not json") == ""


def test_exchanges_are_attributed_to_the_longest_prompt_they_carry() -> None:
    def exchange(text: str) -> Exchange:
        return Exchange("/api/chat", 200, 0.0, 1.0, Usage(10, 1), text)

    prompts = {"a": "How many files?", "b": "How many files are in `wiki`?"}
    owned = attribute(
        [
            exchange("system\nHow many files are in `wiki`?"),
            exchange("How many files?"),
            exchange("unrelated"),
        ],
        prompts,
    )
    assert [len(owned[key]) for key in ("a", "b", "")] == [1, 1, 1]


@pytest.fixture
def fake_ollama() -> Iterator[str]:
    """A loopback stand-in for Ollama: /api/chat streams NDJSON, /v1/chat/completions is JSON."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/api/chat":
                lines = [
                    {"done": False, "message": {"content": "Hel"}},
                    {
                        "done": True,
                        "message": {"content": "lo"},
                        "prompt_eval_count": 12,
                        "eval_count": 2,
                        "prompt_eval_duration": 5e8,
                        "eval_duration": 1e8,
                    },
                ]
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for line in lines:
                    data = (json.dumps(line) + "\n").encode()
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            else:
                data = json.dumps({"usage": {"prompt_tokens": 30, "completion_tokens": 3}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_proxy_relays_responses_unchanged_and_records_usage(fake_ollama: str) -> None:
    import http.client

    with RecordingProxy(fake_ollama) as proxy:
        port = int(proxy.url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for path, message in (("/api/chat", "first?"), ("/v1/chat/completions", "second?")):
            body = json.dumps({"messages": [{"role": "user", "content": message}]})
            connection.request("POST", path, body, {"Content-Type": "application/json"})
            response = connection.getresponse()  # same connection: keep-alive works
            payload = response.read()
            assert response.status == 200
            if path == "/api/chat":
                lines = [json.loads(line) for line in payload.splitlines()]
                assert "".join(line["message"]["content"] for line in lines) == "Hello"
        connection.close()
    native, openai = proxy.exchanges
    assert (native.usage.prompt_tokens, native.usage.generated_tokens) == (12, 2)
    assert native.usage.prompt_eval_s == 0.5
    assert (openai.usage.prompt_tokens, openai.usage.generated_tokens) == (30, 3)
    assert [e.request_text for e in proxy.exchanges] == ["first?", "second?"]


# ---------------------------------------------------------------- the tool server


def test_tool_server_serves_smallagents_tools_to_the_peer_client(tmp_path: Path) -> None:
    from qa_peer_common import ToolClient
    from qabench.toolserver import ToolServer

    from smallagent.shell import ShellPolicy
    from smallagent.tools import make_shell_tool, make_tool

    (tmp_path / "a.txt").write_text("alpha\n")
    made: list[int] = []

    def factory() -> dict[str, Any]:
        made.append(1)

        def search(query: str, k: int = 4) -> str:
            """Search.

            Args:
                query: what to look for
                k: how many
            """
            return f"{len(made)}:{query}:{k}"

        return {"search": make_tool(search), "shell": make_shell_tool(ShellPolicy(tmp_path))}

    with ToolServer(factory) as server:
        client = ToolClient(server.url)
        assert [spec["name"] for spec in client.specs()] == ["search", "shell"]
        assert client.call("search", {"query": "x", "k": "2", "bogus": 1}) == ("1:x:2", True)
        client.reset()
        assert client.call("search", {"query": "y"}) == ("2:y:4", True)  # fresh tools
        output, ok = client.call("shell", {"command": "ls"})
        assert ok and "a.txt" in output
        refused, ok = client.call("shell", {"command": "rm a.txt"})
        assert not ok and refused.startswith("Refused:")
        assert (tmp_path / "a.txt").exists()
        missing, ok = client.call("search", {})
        assert not ok and "needs query" in missing
    assert server.calls == 5


# ---------------------------------------------------------------- the report


def row(agent: str, kind: str, passed: bool, tokens: int, seconds: float) -> report.Row:
    return report.Row(
        agent,
        "m",
        f"{agent}-{kind}-{tokens}",
        kind,
        "s",
        passed,
        "answer",
        2,
        tokens,
        tokens // 10,
        seconds,
        seconds + 1,
        seconds / 360,
    )


def test_summaries_and_ratios_to_smallagent() -> None:
    rows = [
        row("smallagent", "squad", True, 1000, 10.0),
        row("smallagent", "unanswerable", True, 2000, 30.0),
        row("smolagents", "squad", True, 4000, 40.0),
        row("smolagents", "unanswerable", False, 6000, 60.0),
    ]
    summaries = {
        "m": {
            agent: report.summarise([r for r in rows if r.agent == agent])
            for agent in ("smallagent", "smolagents")
        }
    }
    ours = summaries["m"]["smallagent"]
    assert ours["success"] == 1.0 and ours["prompt_tokens_median"] == 1500
    assert ours["by_kind"]["squad"] == {"passed": 1, "questions": 1, "rate": 1.0}
    assert ours["wh_per_success"] == pytest.approx((10 + 30) / 360 / 2)
    theirs = summaries["m"]["smolagents"]
    assert theirs["wh_per_success"] == pytest.approx(100 / 360)
    ratio = report.ratios(summaries)["m"]["smolagents"]
    assert ratio["success"] == 0.5
    assert ratio["prompt_tokens_median"] == pytest.approx(5000 / 1500)
    assert ratio["wh_per_success"] == pytest.approx((100 / 360) / (40 / 360 / 2))
    table = report.markdown(summaries)
    assert "| m | smolagents | 1/2 | 1/1 | 0/1 |" in table


def test_questions_an_agent_never_reached_fail_but_do_not_count_as_free() -> None:
    reached = row("smallagent", "squad", False, 1000, 10.0)
    missing = report.Row("smallagent", "m", "x", "pdf", "manual", False, "missing", 0, 0, 0,
                         0.0, 0.0, 0.0)  # fmt: skip
    summary = report.summarise([reached, missing])
    assert summary["success"] == 0.0 and summary["missing"] == 1
    assert summary["prompt_tokens_median"] == 1000  # not the median of 1000 and 0
    assert summary["wh_per_question"] == pytest.approx(10 / 360)
    assert "0/2 (1 not reached)" in report.markdown({"m": {"smallagent": summary}})


def test_energy_at_quiet_speed_counts_tokens_not_the_load_the_run_met() -> None:
    quiet = report.QuietRates(prompt_tok_s=50.0, generate_tok_s=20.0, watts=10.0)
    calm = row("smallagent", "squad", True, 1000, 10.0)  # 1000 prompt + 100 generated tokens
    loaded = row("smolagents", "squad", True, 1000, 90.0)  # the same tokens, a busy machine
    assert quiet.wh(calm) == quiet.wh(loaded) == pytest.approx((1000 / 50 + 100 / 20) * 10 / 3600)
    summaries = report.summaries_of([calm, loaded], {"m": quiet})
    assert summaries["m"]["smolagents"]["wh_per_success"] == pytest.approx(90 / 360)
    assert summaries["m"]["smolagents"]["quiet_wh_per_success"] == pytest.approx(quiet.wh(calm))
    assert report.ratios(summaries)["m"]["smolagents"]["quiet_wh_per_success"] == 1.0
    assert report.summarise([calm]).get("quiet_wh_per_success") is None  # only when asked


def test_escalation_report_models_each_threshold() -> None:
    """An escalated question takes the always-large run's outcome and Wh on top of the small
    model's; a reported-only signal escalates nothing."""
    import escalation_report

    def row(small: bool, large: bool, sure: float | None, *signals: str) -> dict[str, Any]:
        return {"small_passed": small, "large_passed": large, "small_confidence": sure,
                "signals": list(signals), "small_wh": 0.01, "large_wh": 0.03}  # fmt: skip

    rows = [
        row(True, True, 0.9),  # sure and right: stays
        row(False, True, 0.4),  # unsure and wrong: rescued below 0.5
        row(False, False, 0.9, "no_answer"),  # another escalating signal: always up
        row(True, True, 0.8, "uncited"),  # a reported-only signal: stays
        row(True, True, None),  # no confidence recorded: stays
    ]
    off, half = escalation_report.threshold_policies(rows, [0.0, 0.5])
    assert (off["success"], off["escalated"], off["caught"], off["failures"]) == (3, 1, 1, 2)
    assert (half["success"], half["escalated"], half["rescued"]) == (4, 2, 1)
    assert half["wh_per_question"] == pytest.approx((5 * 0.01 + 2 * 0.03) / 5)


def test_a_peer_question_past_the_time_limit_is_stopped_and_fails(tmp_path: Path) -> None:
    import argparse
    import time

    from qa_peer_common import run_all
    from qabench.toolserver import ToolServer

    tasks = tmp_path / "tasks.json"
    tasks.write_text(
        json.dumps({"tasks": [{"id": "slow", "prompt": "a"}, {"id": "quick", "prompt": "b"}]})
    )
    out = tmp_path / "peer.jsonl"

    def answer(prompt: str, max_steps: int) -> tuple[str, str, int]:
        try:
            if prompt == "a":
                time.sleep(5)  # a peer looping on steps
            return "done", "answer", 1
        except Exception:  # a peer library that swallows errors inside its steps
            return "swallowed", "answer", 1

    with ToolServer(lambda: {}) as server:
        args = argparse.Namespace(
            tasks=tasks, only="", tools=server.url, out=out, question_seconds=0.3
        )
        started = time.perf_counter()
        assert run_all(args, answer) == 0
    assert time.perf_counter() - started < 3
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(row["id"], row["stop"], row["answer"]) for row in rows] == [
        ("slow", "time_cap", ""),
        ("quick", "answer", "done"),
    ]
    assert "0.3 s" in rows[0]["error"]


def test_the_time_limit_fails_a_late_answer_of_any_agent() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from qa_bench import over_time

    late = {"passed": True, "seconds": 121.0, "stop": "answer"}
    assert over_time(late, 120) == {"passed": False, "seconds": 121.0, "stop": "time_cap"}
    assert over_time(late, 0) is late  # no limit
    assert over_time(None, 120) is None  # not reached: scored as missing, as before
    assert over_time({"passed": True, "seconds": 119.0, "stop": "answer"}, 120)["passed"]
