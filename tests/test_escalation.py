"""Escalation: each signal on real passages (examples/docs), near misses included; the settings
that name the larger models; and a question escalated through `ask` against a stand-in server."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from smallagent.agent import Result, Step
from smallagent.agent.prompts import CONSTRAINED_FOLLOW_UP
from smallagent.assistant import Attempt, _answered_once, findings_of, modeled_larger_wh
from smallagent.cli import app
from smallagent.config import AskOptions, escalation_chain, load_settings
from smallagent.energy import default_energy_settings, run_energy
from smallagent.errors import ConfigError, OptionError
from smallagent.escalation import (
    answer_confidence,
    answer_logprobs,
    answer_signals,
    checks_failed,
    key_terms,
    low_confidence,
    no_answer,
    not_found_with_evidence,
    passages_shown,
    restates_question,
    says_not_found,
    supported,
    uncited,
    unsupported,
)
from smallagent.tasks.checks import CheckOutcome
from smallagent.tasks.runlog import AttemptRecord, TaskResult
from smallagent.tasks.taskfile import TaskFileError, load_task_file
from smallagent.tools import make_tool
from smallagent.types import TokenLogprob, ToolCall, Usage
from tests.standin_ollama import Script, StandInOllama, chunk, final

DOCS = Path(__file__).resolve().parents[1] / "examples" / "docs"


def section(file: str, heading: str) -> str:
    """The text of one section of a real document, as one line (a passage as search shows it)."""
    text = (DOCS / file).read_text(encoding="utf-8")
    body = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return " ".join(body.split())


CODE = section("calibration.md", "Calibration code")  # "... with the code **TW-8841**. ..."
POWER = section("power.md", "Power budget")  # the table: 9.5 mA, 11 days, 2.1 mA, 51 days, ...
WINTER = section("power.md", "Winter")


def search_step(number: int, *passages: tuple[int, str, str], question: str = "") -> Step:
    lines = [f"[{n}] {path}: {text}" for n, path, text in passages]
    observation = "\n".join(lines) + CONSTRAINED_FOLLOW_UP.format(question=question)
    call = ToolCall("search", {"query": question})
    return Step(number, "tool", "", call, "json", observation, Usage(), 0.0)


def answered(answer: str, *steps: Step, form: str = "json") -> Result:
    last = Step(len(steps), "answer", answer, None, form, answer, Usage(), 0.0)
    return Result(answer, True, "answer", (*steps, last), Usage())


SHOWN = search_step(
    0, (1, "calibration.md (Calibration code)", CODE), (2, "power.md (Power budget)", POWER)
)


# ------------------------------------------------------------------ key terms and support


def test_key_terms_are_the_numbers_codes_and_names_the_question_did_not_bring() -> None:
    question = "What code unlocks the factory calibration menu of the Tidewater station?"
    answer = "The Tidewater station's menu opens with TW-8841 [1], says Service Manual 2."
    assert key_terms(answer, question) == ["tw-8841", "service", "manual", "2"]
    assert key_terms("It is in the manual.", question) == []  # states nothing checkable
    assert key_terms("Lisp and C.", "Which two languages?") == ["lisp"]  # a name opens it
    assert key_terms("Based on [1], it is in the manual.", question) == []  # an opener


def test_support_on_real_passages_with_near_misses() -> None:
    assert supported("tw-8841", CODE)
    assert not supported("tw-8814", CODE)  # two digits swapped
    assert not supported("tw-884", CODE)  # a prefix of the code is not the code
    assert not supported("8841", WINTER)
    assert supported("51", POWER) and supported("2.1", POWER)
    assert not supported("5", POWER)  # in "51" and "9.5"? a number matches only whole
    assert not supported("2.12", POWER) and not supported("21", POWER)
    assert supported("november", WINTER) and supported("latitude", WINTER)  # "latitudes"


def test_unsupported_fires_on_a_cited_passage_without_the_answers_facts() -> None:
    question = "What is the calibration code?"
    good = answered("The code is TW-8841 [1].", SHOWN)
    assert unsupported(good, question) is None
    wrong_digits = answered("The code is TW-8814 [1].", SHOWN)
    signal = unsupported(wrong_digits, question)
    assert signal is not None and signal.name == "unsupported"
    assert signal.detail == "tw-8814 in none of the passages it cites"
    wrong_passage = answered("The code is TW-8841 [2].", SHOWN)  # cites the power table
    assert unsupported(wrong_passage, question) is not None


def test_an_uncited_answer_is_checked_against_every_passage_shown() -> None:
    question = "How long does the battery last at a 10-minute interval without sun?"
    assert unsupported(answered("About 51 days.", SHOWN), question) is None
    near = unsupported(answered("About 15 days.", SHOWN), question)
    assert near is not None and near.detail == "15 in no tool result"
    signal = uncited(answered("About 51 days.", SHOWN), question)
    assert signal is not None and signal.name == "uncited"
    assert uncited(answered("About 51 days [2].", SHOWN), question) is None


def test_half_the_terms_missing_is_enough() -> None:
    question = "What does the station run from?"
    battery = "The station runs from a 3.7 V, 2600 mAh lithium-ion cell charged by a 2 W panel."
    shown = search_step(0, (1, "power.md", battery), question=question)
    table = search_step(0, (1, "power.md", POWER), question=question)
    answer = "A 2600 mAh cell and a 5 W panel."  # 2600 and mAh are there, 5 is not: 1 of 3
    assert key_terms(answer, question) == ["2600", "mah", "5"]
    assert unsupported(answered(answer, shown), question) is None
    assert unsupported(answered(answer, table), question) is not None  # the wrong section
    near = "A 3600 mAh cell and a 5 W panel."  # 2 of 3 missing
    signal = unsupported(answered(near, shown), question)
    assert signal is not None and signal.detail == "3600, 5 in no tool result"


def test_passages_are_read_from_the_results_lines_whatever_follows_them() -> None:
    shown = passages_shown(answered("x", SHOWN))
    assert sorted(shown) == [1, 2] and "TW-8841" in shown[1]
    bare = Step(0, "tool", "", None, "json", f"[3] calibration.md: {CODE}", Usage(), 0.0)
    assert passages_shown(answered("x", bare)) == {3: f"calibration.md: {CODE}"}


# ------------------------------------------------------------------- the other signals


def test_no_answer_fires_when_the_run_stopped_or_said_nothing() -> None:
    stopped = Result("What was found so far: ...", False, "max_steps", (SHOWN,), Usage())
    signal = no_answer(stopped, "q")
    assert signal is not None and "max_steps" in signal.detail
    assert no_answer(answered("   ", SHOWN), "q") is not None
    assert no_answer(answered("TW-8841 [1]", SHOWN), "q") is None
    assert unsupported(stopped, "q") is None  # one signal for one failure


NOT_FOUND = [
    "The documents do not mention the opponent.",
    "I couldn't find that in the passages.",
    "There is no information about it.",
    "Unable to determine the answer from the results.",
    "The battery type is unknown.",
    "No passage says who won.",
]


@pytest.mark.parametrize("answer", NOT_FOUND)
def test_not_found_phrasings(answer: str) -> None:
    assert says_not_found(answer)


def test_answers_that_are_not_a_not_found() -> None:
    for answer in ("The code is TW-8841.", "No. 5 is the largest file.", "Nothing else is needed"):
        assert not says_not_found(answer), answer


def test_not_found_beside_a_passage_that_holds_the_question_fires() -> None:
    question = "What code unlocks the factory calibration menu?"
    shown = search_step(0, (1, "calibration.md", CODE), question=question)
    signal = not_found_with_evidence(answered("The documents do not mention it.", shown), question)
    assert signal is not None and "[1]" in signal.detail
    unrelated = search_step(0, (1, "power.md", WINTER), question=question)
    assert not_found_with_evidence(answered("Not found.", unrelated), question) is None
    # The near miss: one shared word ("menu") of five is no evidence.
    menu = search_step(0, (1, "app.md", "Open the menu to see the readings."), question=question)
    assert not_found_with_evidence(answered("Not found.", menu), question) is None


def test_a_settled_answer_raises_nothing() -> None:
    settled = answered("Not found in the documents: none mentions Ortega.", SHOWN, form="settled")
    assert answer_signals(settled, "Who is Ortega's opponent at the calibration code?") == []


def test_a_reviewed_answer_raises_nothing() -> None:
    """The review's verdict names a file and a share that no passage holds: that is the loop's
    account, not an unsupported fact (it sent such answers up on dev, for nothing)."""
    verdict = (
        "Not found in the documents: no passage is about what the question asks; "
        "the closest (reviews/review-1575-5.txt) holds 27% of it."
    )
    reviewed = answered(verdict, SHOWN, form="reviewed")
    assert answer_signals(reviewed, "What size is the mat?", confidence_below=0.99) == []


def test_checks_failed_names_the_failed_checks() -> None:
    outcomes = [CheckOutcome("contains", True, "ok"), CheckOutcome("regex", False, "no match")]
    signal = checks_failed(outcomes)
    assert signal is not None and signal.detail == "regex: no match"
    assert checks_failed([CheckOutcome("contains", True, "ok")]) is None


# -------------------------------------------------------- what the larger model starts from


def test_findings_keep_each_passage_once_and_drop_the_follow_up() -> None:
    question = "What is the code?"
    first = search_step(0, (1, "calibration.md", CODE), question=question)
    again = search_step(2, (1, "calibration.md", CODE), (2, "power.md", WINTER), question=question)
    shell_call = ToolCall("shell", {"command": "ls"})
    listing = Step(3, "tool", "", shell_call, "json", "calibration.md\npower.md", Usage(), 0.0)
    result = answered("TW-8841 [1]", first, again, listing)
    found = findings_of(result, CONSTRAINED_FOLLOW_UP, question)
    assert found.splitlines() == [
        f"[1] calibration.md: {CODE}",
        f"[2] power.md: {WINTER}",
        'shell {"command": "ls"}:',
        "calibration.md",
        "power.md",
    ]


def test_the_seeded_tool_answers_the_question_once_from_the_findings() -> None:
    calls: list[str] = []

    def search(query: str) -> str:
        """Search.

        Args:
            query: words
        """
        calls.append(query)
        return "fresh"

    seeded = _answered_once(make_tool(search), "What is the code?", "found before")
    assert seeded.function(query="What is the code?") == "found before"
    assert seeded.function(query="What is the code?") == "fresh"
    assert seeded.function(query="other") == "fresh"
    assert calls == ["What is the code?", "other"]


def test_the_larger_model_is_modeled_by_its_parameters_when_it_did_not_run() -> None:
    usage = Usage(prompt_tokens=500, generated_tokens=50, prompt_eval_s=3.0, eval_s=1.0)
    energy = run_energy(usage, 0.36, default_energy_settings(), 0.5)
    attempt = Attempt("small", answered("x"), energy, (), False, 0.5)
    modeled = modeled_larger_wh(attempt, 1.5)
    assert modeled == pytest.approx(energy.model_wh * 3 + energy.tools_wh)
    assert modeled_larger_wh(attempt, None) is None


# ------------------------------------------------------------------------------ settings


def test_the_chain_is_checked_once_wherever_it_comes_from(tmp_path: Path) -> None:
    assert escalation_chain("a:1b, b:7b,a:1b") == ("a:1b", "b:7b")
    assert escalation_chain("") == ()
    with pytest.raises(OptionError):
        escalation_chain("a:1b,,b")
    assert AskOptions(escalate=["x:1b"]).escalate == ("x:1b",)  # type: ignore[arg-type]
    with pytest.raises(OptionError):
        AskOptions(escalate=("bad name",))
    (tmp_path / "smallagent.toml").write_text('escalate = "qwen2.5-coder:1.5b"\n')
    settings = load_settings(environ={}, cwd=tmp_path, user_config_dir=tmp_path / "none")
    assert settings.escalate == ("qwen2.5-coder:1.5b",)
    assert settings.source_of("escalate") == str(tmp_path / "smallagent.toml")
    (tmp_path / "smallagent.toml").write_text("escalate = 3\n")
    with pytest.raises(ConfigError, match="escalate"):
        load_settings(environ={}, cwd=tmp_path, user_config_dir=tmp_path / "none")


def test_task_files_take_escalate_and_the_fingerprint_follows_it(tmp_path: Path) -> None:
    path = tmp_path / "tasks.yaml"
    path.write_text(
        "defaults: {escalate: big:7b}\n"
        "tasks:\n  - id: a\n    prompt: Q\n"
        "  - id: b\n    prompt: Q\n    escalate: [mid:3b, big:7b]\n"
    )
    first, second = load_task_file(path)
    assert first.options.escalate == ("big:7b",)
    assert second.options.escalate == ("mid:3b", "big:7b")
    path.write_text("tasks:\n  - id: a\n    prompt: Q\n")
    assert load_task_file(path)[0].fingerprint() != first.fingerprint()
    path.write_text("tasks:\n  - id: a\n    prompt: Q\n    escalate: [' ']\n")
    with pytest.raises(TaskFileError, match="escalate"):
        load_task_file(path)


def test_a_results_row_with_attempts_reads_back() -> None:
    attempt = AttemptRecord("small", False, ("unsupported: x",), True, 10, 2, 0.01)
    result = TaskResult("t", "small", "pass", "f", answered_by="big", attempts=(attempt,))
    assert TaskResult.from_row(json.loads(json.dumps(result.row()))) == result


# ------------------------------------------------------- a question escalated through `ask`


def by_model(request: dict[str, Any]) -> Iterator[dict[str, Any] | float]:
    """The small model invents a code; the larger one says it cannot know."""
    small = request["model"] == "small:1b"
    answer = "The code is QX-1234." if small else "The documents do not say."
    yield chunk(json.dumps({"tool": "final_answer", "input": answer}))
    yield final(prompt_tokens=100 if small else 300, generated=10 if small else 30)


def ask_small_then_big(
    script: Script, index_dir: Path | None = None
) -> tuple[list[dict[str, Any]], StandInOllama]:
    """`ask --json` on small:1b escalating to big:7b: the events, and the server (its requests).
    No index unless `index_dir` holds one: then the search runs before the first turn."""
    where = ["--index-dir", str(index_dir), "--index", "docs"] if index_dir else []
    with StandInOllama(script) as standin:
        outcome = CliRunner().invoke(
            app,
            ["--ollama-host", standin.host, "--model", "small:1b", *where, "ask", "--no-shell",
             "--escalate", "big:7b", "--json", "What is the service code?"],
        )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    return [json.loads(line) for line in outcome.stdout.splitlines()], standin


def test_ask_escalates_and_books_both_models(isolated_env: Path) -> None:
    events, standin = ask_small_then_big(by_model)
    escalation = next(event for event in events if event["type"] == "escalation")
    assert (escalation["from_model"], escalation["to_model"]) == ("small:1b", "big:7b")
    assert [signal["name"] for signal in escalation["signals"]] == ["unsupported"]
    assert escalation["answer"] == "The code is QX-1234."
    assert escalation["seeded"] is False  # no search tool, no retrieve-first to stand in for
    result = events[-1]
    assert result["type"] == "result" and result["answered_by"] == "big:7b"
    assert result["model"] == "big:7b"
    assert result["answer"] == "The documents do not say."
    assert [attempt["model"] for attempt in result["attempts"]] == ["small:1b", "big:7b"]
    small, big = result["attempts"]
    assert small["usage"]["prompt_tokens"] >= 100 and big["usage"]["prompt_tokens"] >= 300
    total = small["usage"]["prompt_tokens"] + big["usage"]["prompt_tokens"]
    assert result["usage"]["prompt_tokens"] == total
    assert result["energy"]["total_wh"] == pytest.approx(small["wh"] + big["wh"])
    assert sum(result["forms"].values()) == len(standin.chats)  # every reply of both models
    versus = result["versus_larger"]
    assert versus["source"] == "measured: its attempt in this run"
    assert versus["wh"] == pytest.approx(big["wh"])


def test_ask_without_a_signal_stays_on_the_small_model(isolated_env: Path) -> None:
    def says_not_found_at_once(request: dict[str, Any]) -> Iterator[dict[str, Any] | float]:
        yield chunk(json.dumps({"tool": "final_answer", "input": "Not found in the documents."}))
        yield final(generated=8)

    events, standin = ask_small_then_big(says_not_found_at_once)
    assert not [event for event in events if event["type"] == "escalation"]
    result = events[-1]
    assert result["answered_by"] == "small:1b" and len(result["attempts"]) == 1
    assert result["versus_larger"]["source"].startswith("modeled: ")
    assert {chat["model"] for chat in standin.chats} == {"small:1b"}


def test_a_bad_escalate_flag_is_one_line_and_the_option_error_exit(isolated_env: Path) -> None:
    outcome = CliRunner().invoke(app, ["ask", "--escalate", "a,,b", "q"])
    assert outcome.exit_code == OptionError.exit_code
    assert "escalate" in outcome.output and "Traceback" not in outcome.output


def test_file_system_facts_and_command_output_support_an_answer_cited_or_not() -> None:
    question = "What is the size in bytes of the file power.md?"
    facts = "From the file system (exact): power.md: 21,879 bytes, 57 lines"
    step = Step(0, "tool", "", None, "json", f"{facts}\n[1] power.md: {WINTER}", Usage(), 0.0)
    assert unsupported(answered("It is 21,879 bytes.", step), question) is None
    assert unsupported(answered("It is 21,879 bytes [1].", step), question) is None
    assert unsupported(answered("It is 21,897 bytes [1].", step), question) is not None


def test_an_answer_that_only_restates_the_question_fires() -> None:
    question = "What kind of sifter works pretty good?"
    signal = restates_question(answered("Sifter.", SHOWN), question)
    assert signal is not None and signal.name == "restates_question"
    assert restates_question(answered("A flour sifter [1].", SHOWN), question) is None
    assert restates_question(answered("The documents do not say.", SHOWN), question) is None
    assert restates_question(answered("Chapter 2", SHOWN), "Which chapter is it in?") is None


def test_chat_escalate_asks_the_last_question_again_one_model_up(isolated_env: Path) -> None:
    def answers(request: dict[str, Any]) -> Iterator[dict[str, Any] | float]:
        small = request["model"] == "small:1b"
        answer = "Not found in the documents." if small else "The documents do not say it."
        yield chunk(json.dumps({"tool": "final_answer", "input": answer}))
        yield final(generated=8)

    lines = ["/escalate", "What is the code?", "/escalate", "/escalate", "/exit"]
    with StandInOllama(answers) as standin:
        outcome = CliRunner().invoke(
            app,
            ["--ollama-host", standin.host, "--model", "small:1b", "chat", "--no-shell",
             "--escalate", "big:7b"],
            input="\n".join(lines) + "\n",
        )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    assert "nothing to escalate yet" in outcome.output
    assert "The documents do not say it." in outcome.output
    assert "no larger model to ask" in outcome.output  # the second /escalate: none is left
    # Each model is asked twice (an answer before any tool result is sent back once; with no
    # index to search first, the small model keeps its whole budget).
    assert [chat["model"] for chat in standin.chats] == ["small:1b"] * 2 + ["big:7b"] * 2
    # The re-asked question replaces the turn: the larger model does not see the first answer.
    first_big = standin.chats[2]["messages"]
    assert [m["content"] for m in first_big if m["role"] == "assistant"] == []


# ------------------------------------------------------------------- how sure the model was


def tokens(*pairs: tuple[str, float]) -> tuple[TokenLogprob, ...]:
    return tuple(TokenLogprob(token, logprob) for token, logprob in pairs)


# A constrained reply as Ollama streams it, token by token: the JSON around the answer is forced.
SURE = tokens(('{"', -0.9), ("tool", -0.01), ('":', -0.0), (' "', -0.0), ("final", -0.0),
              ("_answer", -0.0), ('",', -0.0), (' "', -0.0), ("input", -0.0), ('":', -0.0),
              (' "', -0.0), ("TW", -0.05), ("-", -0.01), ("884", -0.02), ("1", -0.01),
              (" [", -0.3), ("1", -0.1), ("]", -0.0), ('"}', -2.0))  # fmt: skip
UNSURE = tokens(('{"tool": "final_answer", "input": "', -0.0), ("Boa", -1.6), (" [", -0.4),
                ("2", -1.2), ("]", -0.0), ('"}', -0.0))  # fmt: skip


def answered_with(answer: str, logprobs: tuple[TokenLogprob, ...], form: str = "json") -> Result:
    last = Step(1, "answer", answer, None, form, answer, Usage(), 0.5, logprobs=logprobs)
    return Result(answer, True, "answer", (SHOWN, last), Usage())


def test_only_the_answers_own_tokens_count_not_the_json_around_it() -> None:
    assert answer_logprobs(SURE) == [-0.05, -0.01, -0.02, -0.01, -0.3, -0.1, -0.0]
    assert answer_logprobs(UNSURE) == [-1.6, -0.4, -1.2, -0.0]
    # A reply that is not JSON (the text protocol): every token but whitespace.
    assert answer_logprobs(tokens(("It", -0.5), (" ", -3.0), ("42", -0.1))) == [-0.5, -0.1]
    assert answer_logprobs(()) == []


def test_low_confidence_fires_below_the_threshold_and_says_how_sure() -> None:
    sure, unsure = answered_with("TW-8841 [1]", SURE), answered_with("TW-8841 [1]", UNSURE)
    assert answer_confidence(sure) == pytest.approx(0.932, abs=0.001)
    assert answer_confidence(unsure) == pytest.approx(0.449, abs=0.001)
    signal = low_confidence(unsure, "Who?", below=0.6)
    assert signal is not None and signal.escalates
    assert signal.detail == "its answer's tokens averaged p=0.45 (< 0.6)"
    assert low_confidence(sure, "Who?", below=0.6) is None
    assert low_confidence(unsure, "Who?", below=0.0) is None  # off
    assert [s.name for s in answer_signals(unsure, "Who?", 0.6)] == ["low_confidence"]
    assert answer_signals(unsure, "Who?") == []  # off by default


def test_no_logprobs_or_an_answer_the_loop_gave_raise_no_low_confidence() -> None:
    assert answer_confidence(answered("TW-8841 [1]", SHOWN)) is None  # the model gave none
    settled = answered_with("Not found in the documents: none mentions X.", UNSURE, "settled")
    assert low_confidence(settled, "X?", below=0.99) is None
    reviewed = answered_with("Not found in the documents: ...", UNSURE, "reviewed")
    assert answer_confidence(reviewed) is None


def spelled_out(
    request: dict[str, Any], answer: str, probability: float
) -> Iterator[dict[str, Any] | float]:
    """A constrained answer streamed a word a chunk, with each one's log-probability when the
    request asks for them (as Ollama does)."""
    head = '{"tool": "final_answer", "input": "'
    for piece in (head, *answer.split(" "), '"}'):
        text = piece if piece in (head, '"}') else piece + " "
        logprob = 0.0 if piece in (head, '"}') else math.log(probability)
        odds = (
            {"logprobs": [{"token": text, "logprob": logprob}]} if request.get("logprobs") else {}
        )
        yield {**chunk(text), **odds}


def test_an_unsure_small_model_is_escalated_and_only_it_was_asked_for_logprobs(
    isolated_env: Path,
) -> None:
    def unsure_small(request: dict[str, Any]) -> Iterator[dict[str, Any] | float]:
        small = request["model"] == "small:1b"
        yield from spelled_out(request, "The documents do not say it", 0.3 if small else 0.9)
        yield final(generated=8)

    (isolated_env / "smallagent.toml").write_text("escalate_below = 0.5\n", encoding="utf-8")
    events, standin = ask_small_then_big(unsure_small)
    escalation = next(event for event in events if event["type"] == "escalation")
    assert [signal["name"] for signal in escalation["signals"]] == ["low_confidence"]
    small, big = events[-1]["attempts"]
    assert small["confidence"] == pytest.approx(0.3) and big["confidence"] is None
    asked = {chat["model"]: chat.get("logprobs") for chat in standin.chats}
    assert asked == {"small:1b": True, "big:7b": None}


def test_a_results_row_keeps_the_attempts_confidence_and_requests() -> None:
    attempt = AttemptRecord("small", True, (), False, 10, 2, 0.01, confidence=0.42, requests=2)
    result = TaskResult("t", "small", "pass", "f", answered_by="small", attempts=(attempt,))
    assert TaskResult.from_row(json.loads(json.dumps(result.row()))) == result


@pytest.fixture
def docs_index(isolated_env: Path) -> Path:
    """An index of the bundled example docs, as `ingest` makes it."""
    index_dir = isolated_env / "indexes"
    outcome = CliRunner().invoke(
        app, ["--index-dir", str(index_dir), "ingest", str(DOCS), "--index", "docs"]
    )
    assert outcome.exit_code == 0, outcome.output
    return index_dir


def test_escalate_within_one_asks_the_small_model_for_its_answer_alone(docs_index: Path) -> None:
    """One request, tools withheld: the small model answers from what the search before its
    first turn found, and the signals judge that answer."""

    def answers(request: dict[str, Any]) -> Iterator[dict[str, Any] | float]:
        if request["model"] == "small:1b":
            yield chunk(json.dumps({"answer": "The service code is TW-8841 [1]."}))
        else:
            yield chunk(json.dumps({"tool": "final_answer", "input": "TW-8841 [1]."}))
        yield final(generated=8)

    events, standin = ask_small_then_big(answers, docs_index)
    small = [chat for chat in standin.chats if chat["model"] == "small:1b"]
    assert len(small) == 1
    assert small[0]["format"]["required"] == ["answer"]  # the answer alone, no tool to pick
    assert not small[0].get("tools")
    assert "TW-8841" in small[0]["messages"][-1]["content"]  # the passages it reads
    assert small[0]["logprobs"] is True
    assert events[-1]["answered_by"] == "small:1b"
    assert [chat["model"] for chat in standin.chats] == ["small:1b"]


def test_with_no_search_to_read_the_small_model_keeps_its_whole_budget(
    isolated_env: Path,
) -> None:
    """escalate_within keeps a small model to answering from passages; with no index there are
    none, so it works with its tools as usual (here it reads one missing file after another
    until its steps run out) and the question then goes up."""

    def small_keeps_reading(request: dict[str, Any]) -> Iterator[dict[str, Any] | float]:
        if request["model"] == "small:1b":
            reply = {"tool": "read_file", "input": f"notes-{len(request['messages'])}.md"}
        else:
            reply = {"tool": "final_answer", "input": "The documents do not say."}
        yield chunk(json.dumps(reply))
        yield final(generated=8)

    (isolated_env / "smallagent.toml").write_text("escalate_within = 1\n", encoding="utf-8")
    events, standin = ask_small_then_big(small_keeps_reading)
    escalation = next(event for event in events if event["type"] == "escalation")
    assert [signal["name"] for signal in escalation["signals"]] == ["no_answer"]
    assert [chat["model"] for chat in standin.chats].count("small:1b") == 8  # ask's max_steps
    assert events[-1]["answered_by"] == "big:7b"
