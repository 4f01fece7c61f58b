"""Decomposition above the loop (smallagent/planner.py) against a scripted model: the plan, each
sub-goal's own small context, the cheap checks, the one rephrased retry, and the composed answer."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from smallagent.agent import ANSWER_SCHEMA, AgentConfig, AgentRun, Result, Step
from smallagent.assistant import Assistant
from smallagent.cli import app
from smallagent.config import AskOptions, load_settings
from smallagent.energy import EnergyCounter, MeteredModel
from smallagent.errors import ConfigError
from smallagent.planner import (
    MAX_SUBGOALS,
    PLAN_SCHEMA,
    FilesHolding,
    PlannedRun,
    Verdict,
    check_comparison,
    check_file,
    check_kind,
    check_number,
    check_passage,
    check_subgoal,
    decomposed,
    found_facts,
    looks_multi_step,
    parse_plan,
    rephrase,
    subgoal_prompt,
    task_run,
)
from smallagent.retrieval import SourceRegistry
from smallagent.tools import make_final_answer_tool, make_tool
from smallagent.types import Message, ToolCall, Usage
from tests.standin_ollama import MODEL, StandInOllama, chunk, final
from tests.test_agent import ScriptedModel

TASK = "How many words does the file that says 'blue heron' have?"
FIND = "Find the file that says 'blue heron'"
COUNT = "Count the words of the file from step 1"  # words: the file system does not state them
PLAN = '{"steps": ["' + FIND.replace("'", "\\u0027") + '", "' + COUNT + '"]}'


def search(query: str) -> str:
    """Search the documents.

    Args:
        query: what to look for
    """
    return "[1] notes/heron.md: At dawn the blue heron stood still in the reeds."


def shell(command: str) -> str:
    """Run a command.

    Args:
        command: the command
    """
    return "3 notes/heron.md"


TOOLS = {
    "search": make_tool(search),
    "shell": make_tool(shell),
    "final_answer": make_final_answer_tool(),
}


def answer(text: str) -> ToolCall:
    return ToolCall("final_answer", {"answer": text})


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "heron.md").write_text("a\nblue heron\nb\n")
    return tmp_path


def planned(
    model: ScriptedModel,
    workdir: Path,
    task: str = TASK,
    mode: str = "auto",
    searched: list[str] | None = None,
    holding: FilesHolding | None = None,
) -> tuple[AgentRun | PlannedRun, list[str]]:
    """The run, and the questions each sub-run was started with (and, into `searched`, what
    each one's first search was to look for)."""
    asked: list[str] = []

    def start(question: str, search_for: str) -> AgentRun:
        asked.append(question)
        if searched is not None:
            searched.append(search_for)
        return AgentRun(model, TOOLS, "system", question, AgentConfig(max_steps=4))

    run = decomposed(model, start, task, workdir, mode, holding=holding)  # type: ignore[arg-type]
    return run, asked


def user_text(messages: Sequence[Message]) -> str:
    return next(message.content for message in messages if message.role == "user")


# ---------------------------------------------------------------- planning and context


def test_a_multi_step_task_is_planned_run_sub_goal_by_sub_goal_and_composed(
    workdir: Path,
) -> None:
    model = ScriptedModel(
        [
            PLAN,
            ToolCall("search", {"query": "blue heron"}),
            answer("The passage in notes/heron.md [1] says: At dawn the blue heron stood."),
            ToolCall("shell", {"command": "wc -w notes/heron.md"}),
            answer("It has 3 words."),
            '{"answer": "notes/heron.md has 3 words."}',
        ]
    )
    searched: list[str] = []
    run, asked = planned(model, workdir, searched=searched)
    assert isinstance(run, PlannedRun)
    steps = list(run)
    result = run.result
    assert result is not None
    # The plan: its own request, held to the plan's JSON schema.
    assert model.formats[0] == PLAN_SCHEMA and model.purposes[0] == "plan"
    assert user_text(model.seen[0]) == TASK
    assert run.goals == [FIND, COUNT]
    # Each sub-goal is a fresh run whose question is the sub-goal and what came before: not the
    # task, not the first sub-goal's transcript.
    assert asked == [
        FIND,
        # what the check pinned down is passed on, not the passage the model quoted around it
        f"{COUNT}\n\nFound by earlier steps:\nstep 1: notes/heron.md",
    ]
    # Each sub-goal's first search looks for the sub-goal and the files found before it, not
    # the earlier sub-goals' words.
    assert searched == [FIND, f"{COUNT} notes/heron.md"]
    second = model.seen[3]  # the first request of sub-goal 2
    assert [message.role for message in second] == ["system", "user"]
    assert TASK not in user_text(second) and "wc -w" not in user_text(second)
    # Both checks passed on the first try, and the findings were composed in one request.
    assert run.verdicts == [
        Verdict(True, "notes/heron.md exists and holds the quoted words"),
        Verdict(True, "3 came back from a tool"),
    ]
    assert model.formats[-1] == ANSWER_SCHEMA and model.purposes[-1] == "answer"
    assert "1. " + FIND + ": notes/heron.md\n" in user_text(model.seen[-1])
    assert result.answer == "notes/heron.md has 3 words."
    assert result.complete and result.stop_reason == "answer"
    # Everything is a step, numbered on: plan, sub-goal, its steps, check, ..., composed answer.
    assert [step.number for step in steps] == list(range(len(steps)))
    assert [step.form for step in steps] == [
        "plan", "subgoal", "native", "native", "check",
        "subgoal", "native", "native", "check", "composed",
    ]  # fmt: skip
    assert steps[0].observation.startswith(f"1. {FIND}\n2. {COUNT}")
    assert result.usage.prompt_tokens == 6 * 100  # every request, the plan's and compose's too
    assert result.forms["plan"] == 1 and result.forms["check"] == 2


def test_a_find_the_file_sub_goal_the_index_answers_exactly_asks_no_model(workdir: Path) -> None:
    heron = (workdir / "notes" / "heron.md").resolve()
    model = ScriptedModel(
        [
            PLAN,
            ToolCall("shell", {"command": "wc -w notes/heron.md"}),
            answer("It has 3 words."),
            '{"answer": "notes/heron.md has 3 words."}',
        ]
    )
    run, asked = planned(model, workdir, holding=lambda phrase: [heron])
    steps = list(run)
    # sub-goal 1 is the index's: one file holds the quoted words, so no model call for it
    assert [step.form for step in steps] == [
        "plan", "lookup", "subgoal", "native", "native", "check", "composed",
    ]  # fmt: skip
    assert (
        steps[1].observation == 'From the index (exact): "blue heron" is in 1 file: notes/heron.md'
    )
    assert steps[1].usage == Usage()
    assert asked == [f"{COUNT}\n\nFound by earlier steps:\nstep 1: notes/heron.md"]
    assert run.verdicts[0].passed and run.verdicts[0].finding == "notes/heron.md"
    assert len(model.seen) == 4 and run.result is not None  # plan, sub-goal 2's two, compose
    assert run.result.forms["lookup"] == 1


@pytest.mark.parametrize(
    "held",
    [
        [],  # no file holds the words: the model searches, as before
        ["notes/heron.md", "notes/crane.md"],  # two do: which one is the model's to tell
        ["../outside.md"],  # outside the working directory
    ],
)
def test_a_find_the_file_sub_goal_is_the_models_unless_exactly_one_file_holds_it(
    workdir: Path, held: list[str]
) -> None:
    (workdir / "notes" / "crane.md").write_text("blue heron too\n")
    model = ScriptedModel(
        [
            PLAN,
            ToolCall("search", {"query": "blue heron"}),
            answer("notes/heron.md"),
            ToolCall("shell", {"command": "wc -w notes/heron.md"}),
            answer("It has 3 words."),
            '{"answer": "notes/heron.md has 3 words."}',
        ]
    )
    paths = [(workdir / "notes" / name).resolve() for name in held]
    run, asked = planned(model, workdir, holding=lambda phrase: paths)
    steps = list(run)
    assert "lookup" not in [step.form for step in steps]
    assert asked[0] == FIND and len(model.seen) == 6


COUNT_LINES = "Count the lines of the file from step 1 with wc -l"


def test_a_sub_goal_asking_the_lines_of_a_found_file_is_the_file_systems(workdir: Path) -> None:
    heron = (workdir / "notes" / "heron.md").resolve()
    plan = json.dumps({"steps": [FIND, COUNT_LINES]})
    model = ScriptedModel([plan, '{"answer": "notes/heron.md has 3 lines."}'])
    task = "How many lines does the file that says 'blue heron' have?"
    run, asked = planned(model, workdir, task=task, holding=lambda phrase: [heron])
    steps = list(run)
    # found by the index, measured by the file system: the model plans and composes, no more
    assert [step.form for step in steps] == ["plan", "lookup", "measure", "composed"]
    assert asked == [] and len(model.seen) == 2
    # the figure it asked, alone, as wc -l prints it
    assert steps[2].observation == "From the file system (exact): notes/heron.md: 3 lines"
    assert steps[2].call == ToolCall("measure", {"step": 2, "files": ["notes/heron.md"]})
    assert steps[2].usage == Usage() and run.verdicts[1].passed
    compose = user_text(model.seen[-1])
    assert f"2. {COUNT_LINES}: notes/heron.md: 3 lines\n" in compose
    assert "The files found" not in compose  # the same facts are not shown twice
    assert run.result is not None and run.result.forms["measure"] == 1


@pytest.mark.parametrize(
    ("goal", "finding"),
    [
        ("Count the words of the file from step 1 with wc -w", "notes/heron.md"),  # not stated
        ("Count the lines of the file from step 1", "not found"),  # step 1 found no file
        ("Count the lines of the file from step 2", "notes/heron.md"),  # no step 2 before it
        ("Count the lines of the file from step 1", "../outside.md"),  # outside the workdir
        ("Count the lines of the file from step 1", "notes/missing.md"),  # not a file
        ("Show the dates of the files from step 1 with ls -l", "notes/heron.md"),
    ],
)
def test_a_measure_the_file_system_cannot_state_is_the_models(
    workdir: Path, goal: str, finding: str
) -> None:
    run = PlannedRun(ScriptedModel([]), None, TASK, workdir)  # type: ignore[arg-type]
    assert run._measured(2, goal, [(FIND, finding)]) is None


@pytest.mark.parametrize(
    ("goal", "findings", "files"),
    [
        ("Compare the sizes of the files from steps 1 and 2", ["a.md", "b.md"], ["a.md", "b.md"]),
        ("Compare the sizes of the two files", ["a.md", "b.md"], ["a.md", "b.md"]),
        ("Count the bytes of b.md with wc -c", ["a.md"], ["b.md"]),
        # the measure its words ask, whatever command it names
        ("Count the bytes of the file from step 1 with wc -w", ["a.md"], ["a.md"]),
        ("Count the lines of the file from step 2", ["a.md", "b.md"], ["b.md"]),
    ],
)
def test_a_measure_step_takes_the_files_the_sub_goal_means(
    tmp_path: Path, goal: str, findings: list[str], files: list[str]
) -> None:
    (tmp_path / "a.md").write_text("one\n")
    (tmp_path / "b.md").write_text("one\ntwo\n")
    run = PlannedRun(ScriptedModel([]), None, TASK, tmp_path)  # type: ignore[arg-type]
    done = run._measured(3, goal, [(f"Find {name}", name) for name in findings])
    assert done is not None and done[0].call == ToolCall("measure", {"step": 3, "files": files})


COMPARE = "Which is longer, the note that says 'blue heron' or the one that says 'grey crane'?"


def comparison(workdir: Path, *composed: str) -> ScriptedModel:
    """COMPARE's plan and both searches, then `composed` as the answers: the crane note is the
    larger, the heron note is found first."""
    (workdir / "notes" / "crane.md").write_text("a grey crane\nstood\nin\nthe\nreeds\n")
    plan = {"steps": [FIND, "Find the file that says 'grey crane'", "Show the sizes with wc -c"]}
    found = [
        ToolCall("search", {"query": "blue heron"}),
        answer("notes/heron.md"),
        ToolCall("search", {"query": "grey crane"}),
        answer("notes/crane.md"),
    ]
    return ScriptedModel([json.dumps(plan), *found, *composed])


def test_the_composed_answer_of_a_comparison_sees_the_files_in_order(workdir: Path) -> None:
    model = comparison(workdir, '{"answer": "notes/crane.md"}')
    run, _ = planned(model, workdir, task=COMPARE)
    steps = list(run)
    assert run.result is not None and run.result.answer == "notes/crane.md"
    # the sizes are the file system's: a measure step, no model call; the answer is checked
    assert [step.form for step in steps if step.form in ("measure", "check")] == [
        "check", "check", "measure", "check"]  # fmt: skip
    assert steps[-1].observation.startswith("passed: notes/crane.md comes first")
    compose = user_text(model.seen[-1])
    # the findings name the files; the order of their sizes is the tool's work, not the model's
    assert (
        "The files found, largest first:\n- notes/crane.md: 32 bytes\n- notes/heron.md: 15 bytes\n"
        in compose
    )
    assert compose.endswith(f"The task again: {COMPARE}")


def test_a_comparison_answer_against_the_figures_is_asked_for_once_more(workdir: Path) -> None:
    # first the file found first, not the larger; then, told why, the larger
    model = comparison(
        workdir, '{"answer": "notes/heron.md"}', '{"answer": "notes/crane.md is longer."}'
    )
    run, _ = planned(model, workdir, task=COMPARE)
    steps = list(run)
    assert run.result is not None and run.result.answer == "notes/crane.md is longer."
    assert [(step.form, step.kind) for step in steps[-4:]] == [
        ("composed", "answer"),
        ("check", "error"),
        ("composed", "answer"),
        ("check", "tool"),
    ]
    assert steps[-3].observation == (
        "failed: the answer names notes/heron.md, but notes/crane.md comes first "
        "(largest first: notes/crane.md 32 bytes, notes/heron.md 15 bytes)"
    )
    retry = user_text(model.seen[-1])
    assert retry.endswith(f"(A first answer failed its check: {steps[-3].observation[8:]}.)")
    assert run.result.usage.prompt_tokens == sum(step.usage.prompt_tokens for step in steps)


@pytest.mark.parametrize(
    ("task", "answer_text", "passed"),
    [
        ("Which is larger, A or B?", "notes/long.md", True),
        ("Which is larger, A or B?", "many.md is larger than long.md", False),
        ("Which is smaller, A or B?", "It is notes/many.md.", True),
        ("Which has more lines, A or B?", "notes/many.md", True),
        ("Which has fewer lines, A or B?", "notes/many.md", False),
        ("Which is older, A or B?", "notes/long.md", True),
        ("Which is larger, A or B?", "neither", False),
        ("Which is longer, the one that says 'fewer' or 'less'?", "notes/long.md", True),
    ],
)
def test_check_comparison_goes_by_the_figure_and_the_end_the_task_asks(
    workdir: Path, task: str, answer_text: str, passed: bool
) -> None:
    notes = workdir / "notes"
    (notes / "long.md").write_text("x" * 40)  # more bytes, fewer lines, older
    (notes / "many.md").write_text("a\nb\nc\nd\n")
    os.utime(notes / "long.md", (1_000_000_000, 1_000_000_000))
    verdict = check_comparison(task, answer_text, ["notes/long.md", "notes/many.md"], workdir)
    assert verdict is not None and verdict.passed is passed


def test_a_failed_comparison_check_says_which_file_and_the_order_it_went_by(
    workdir: Path,
) -> None:
    notes = workdir / "notes"
    (notes / "long.md").write_text("x" * 40)
    (notes / "many.md").write_text("a\nb\nc\nd\n")
    (notes / "mid.md").write_text("y" * 8)  # ties with many.md: the smallest is not alone
    found = ["notes/long.md", "notes/many.md"]
    verdict = check_comparison("Which is smaller, A or B?", "notes/long.md", found, workdir)
    assert verdict == Verdict(
        False,
        "the answer names notes/long.md, but notes/many.md comes last "
        "(largest first: notes/long.md 40 bytes, notes/many.md 8 bytes)",
    )
    tied = [*found, "notes/mid.md"]
    assert check_comparison("Which is smaller, A or B?", "notes/many.md", tied, workdir) is None
    larger = check_comparison("Which is larger, A or B?", "notes/long.md", tied, workdir)
    assert larger is not None and larger.passed


@pytest.mark.parametrize(
    "task",
    [
        "How many lines does the file that says 'x' have?",  # no comparison
        "Which is larger and which is smaller, A or B?",  # both ends
    ],
)
def test_check_comparison_leaves_what_the_figures_do_not_settle(workdir: Path, task: str) -> None:
    notes = workdir / "notes"
    (notes / "a.md").write_text("same")
    (notes / "b.md").write_text("size")
    found = ["notes/a.md", "notes/b.md"]
    assert check_comparison(task, "notes/a.md", found, workdir) is None
    # a tie, asked properly: no file is the answer alone
    assert check_comparison("Which is larger, A or B?", "notes/a.md", found, workdir) is None


def test_found_facts_order_the_found_files_by_what_the_task_compares(workdir: Path) -> None:
    notes = workdir / "notes"
    (notes / "long.md").write_text("x" * 40)  # more bytes, fewer lines
    (notes / "many.md").write_text("a\nb\nc\nd\n")
    os.utime(notes / "long.md", (1_000_000_000, 1_000_000_000))
    found = ["notes/long.md", "It is notes/many.md [1]."]
    by_size = found_facts("Which is larger, A or B?", found, workdir)
    assert by_size.split("\n")[:3] == [
        "The files found, largest first:", "- notes/long.md: 40 bytes", "- notes/many.md: 8 bytes",
    ]  # fmt: skip
    assert by_size.endswith("\n\n")
    by_lines = found_facts("Which has more lines, A or B?", found, workdir)
    assert by_lines.splitlines()[:3] == [
        "The files found, most lines first:",
        "- notes/many.md: 4 lines",
        "- notes/long.md: 0 lines",
    ]
    by_time = found_facts("Which is older, A or B?", found, workdir)
    assert by_time.splitlines()[1].startswith("- notes/many.md: modified ")
    # a measure asked of one file: its facts as the search shows them, unordered
    assert found_facts("How many lines does A have?", found[:1], workdir) == (
        "The files found (from the file system, exact):\n"
        "- notes/long.md: a file of 40 bytes and 0 lines.\n\n"
    )
    assert found_facts("Which is larger, A or B?", found[:1], workdir) == ""  # one: no order
    # nothing measured or compared, or no file found: nothing is added
    assert found_facts("Which is more relevant, A or B?", found, workdir) == ""
    assert found_facts("Who wrote A?", found, workdir) == ""
    assert found_facts("How many lines does A have?", ["not found"], workdir) == ""


def test_a_one_step_task_under_auto_is_the_loops_own_run_with_no_plan(workdir: Path) -> None:
    model = ScriptedModel([ToolCall("search", {"query": "heron"}), answer("At dawn [1].")])
    run, asked = planned(model, workdir, task="When does the blue heron stand still?")
    assert isinstance(run, AgentRun)  # nothing of the planner in the way
    assert run.run().answer == "At dawn [1]."
    assert PLAN_SCHEMA not in model.formats and asked == ["When does the blue heron stand still?"]


def test_off_never_plans_even_a_multi_step_task(workdir: Path) -> None:
    model = ScriptedModel([ToolCall("search", {"query": "heron"}), answer("notes/heron.md")])
    run, _ = planned(model, workdir, mode="off")
    assert isinstance(run, AgentRun)
    assert PLAN_SCHEMA not in model.formats


def test_a_plan_of_one_step_runs_the_task_as_it_was_asked(workdir: Path) -> None:
    model = ScriptedModel(
        ['{"steps": ["Answer it"]}', ToolCall("search", {"query": "x"}), answer("At dawn [1].")]
    )
    run, asked = planned(model, workdir, task="When does the heron stand?", mode="always")
    steps = list(run)
    assert asked == ["When does the heron stand?"]
    assert run.result is not None and run.result.answer == "At dawn [1]."
    assert steps[0].form == "plan" and "one step" in steps[0].observation
    assert not any(step.form in ("subgoal", "check", "composed") for step in steps)


def test_a_plan_that_loses_the_tasks_quoted_words_twice_runs_the_task_as_asked(
    workdir: Path,
) -> None:
    lost = '{"steps": ["Find the file named heron.txt", "Count its words with wc -w"]}'
    model = ScriptedModel(
        [lost, lost, ToolCall("shell", {"command": "wc -w notes/heron.md"}), answer("3 words.")]
    )
    run, asked = planned(model, workdir)
    steps = list(run)
    assert asked == [TASK]  # no sub-goal looked for a file that does not exist
    assert [step.form for step in steps[:2]] == ["plan", "plan"]
    assert "the plan lost the task's words 'blue heron': planned once more" in steps[0].observation
    # the second request is told what the first plan lost
    assert user_text(model.seen[1]) == (
        f"{TASK}\n\n(A first plan lost the words 'blue heron', copied exactly in their own "
        "step. Keep every one of them.)"
    )
    assert "the plan lost the task's words 'blue heron': the task runs as asked" in (
        steps[1].observation
    )
    assert run.result is not None and run.result.answer == "3 words."
    assert not any(step.form in ("subgoal", "check", "composed") for step in steps)


def test_a_plan_that_loses_the_tasks_measure_is_asked_for_once_more(workdir: Path) -> None:
    heron = (workdir / "notes" / "heron.md").resolve()
    task = "What is the size in bytes of the file that says 'blue heron'?"
    words = json.dumps({"steps": [FIND, COUNT]})  # a word count for a size in bytes
    sizes = json.dumps({"steps": [FIND, "Count the bytes of the file from step 1 with wc -c"]})
    model = ScriptedModel([words, sizes, '{"answer": "notes/heron.md has 15 bytes."}'])
    run, asked = planned(model, workdir, task=task, holding=lambda phrase: [heron])
    steps = list(run)
    assert [step.form for step in steps] == ["plan", "plan", "lookup", "measure", "composed"]
    assert "(the plan lost the task's measure (bytes): planned once more)" in steps[0].observation
    assert user_text(model.seen[1]).endswith(
        "(A first plan lost the task's measure (bytes). Keep every one of them.)"
    )
    assert steps[3].observation == "From the file system (exact): notes/heron.md: 15 bytes"
    assert run.result is not None and run.result.forms["plan"] == 2 and asked == []


def test_a_failed_check_runs_the_sub_goal_once_more_rephrased(workdir: Path) -> None:
    model = ScriptedModel(
        [
            PLAN,
            ToolCall("search", {"query": "blue heron"}),
            answer("notes/heron.md"),
            ToolCall("search", {"query": "lines of notes/heron.md"}),
            answer("It has 5 lines."),  # no tool printed 5
            ToolCall("shell", {"command": "wc -w notes/heron.md"}),
            answer("3"),
            '{"answer": "3 lines."}',
        ]
    )
    run, asked = planned(model, workdir)
    steps = list(run)
    checks = [step for step in steps if step.form == "check"]
    assert [step.kind for step in checks] == ["tool", "error", "tool"]
    assert checks[1].observation == "failed: no tool printed 5"
    assert asked[2].startswith(
        f"{COUNT}\n(A first try failed: no tool printed 5. Run one shell command"
    )
    assert asked[2].endswith("step 1: notes/heron.md")
    assert run.result is not None and run.result.answer == "3 lines."


def test_a_second_failure_is_kept_marked_and_the_task_goes_on(workdir: Path) -> None:
    model = ScriptedModel(
        [
            PLAN,
            ToolCall("search", {"query": "blue heron"}),
            answer("It is about birds."),
            ToolCall("search", {"query": "heron file"}),
            answer("A file about birds."),
            ToolCall("shell", {"command": "wc -w notes/heron.md"}),
            answer("3"),
            '{"answer": "3 lines."}',
        ]
    )
    run, asked = planned(model, workdir)
    steps = list(run)
    assert [s.kind for s in steps if s.form == "check"] == ["error", "error", "tool"]
    assert len(asked) == 3  # one retry, no more
    assert run.verdicts[0].passed is False
    assert "step 1: A file about birds." in asked[2]


def test_a_sub_goal_with_no_answer_is_carried_as_not_found(workdir: Path) -> None:
    model = ScriptedModel(
        [
            PLAN,
            *[ToolCall("search", {"query": f"q{n}"}) for n in range(4)],  # runs out of steps
            *[ToolCall("search", {"query": f"r{n}"}) for n in range(4)],
            ToolCall("shell", {"command": "wc -w notes/heron.md"}),
            answer("3"),
            '{"answer": "not found"}',
        ]
    )
    run, asked = planned(model, workdir)
    result = run.run()
    assert "step 1: not found" in asked[2]
    assert result.complete is False  # a sub-goal never answered


# ---------------------------------------------------------------- the rule and the plan


@pytest.mark.parametrize(
    "task",
    [
        TASK,
        'What is the size in bytes of the review that says "sturdy and light"?',
        "Which is longer, the review that mentions 'red kite' or the one that mentions 'oak'?",
        "Find the file about herons and then count its lines?",
    ],
)
def test_the_rule_calls_the_issue_shapes_multi_step(task: str) -> None:
    assert looks_multi_step(task)


@pytest.mark.parametrize(
    "task",
    [
        "How many lines does the file `wiki/Oxford.md` have?",
        "How many files in the folder `reviews` contain the word `battery`?",
        "Which file in the folder `wiki` is the largest?",
        "Who first described the Kalomix river?",
        "In the manual 'An Introduction to R', what is the title of section 5.4?",
        # a question about what a file named by its words says: one search finds the passage
        "What is the capital according to the document that mentions 'tall ships'?",
        'In the document that says "three lines of text": who wrote it?',
        # collecting pages: one search shows the pages holding the word (planned, no better)
        "On which pages of the manual 'An Introduction to R' is 'lapply' mentioned?",
    ],
)
def test_the_rule_leaves_single_step_questions_alone(task: str) -> None:
    assert not looks_multi_step(task)


def test_a_plan_reply_is_read_and_capped() -> None:
    many = '{"steps": [' + ", ".join(f'"s{n}"' for n in range(9)) + "]}"
    assert parse_plan(many) == [f"s{n}" for n in range(MAX_SUBGOALS)]
    assert parse_plan("1. Find it\n2. Count it") == []
    assert parse_plan('{"plan": ["a"]}') == [] and parse_plan('["a", "b"]') == []


def test_the_context_of_a_sub_goal_lists_only_earlier_findings() -> None:
    assert subgoal_prompt("Find it", []) == "Find it"
    prompt = subgoal_prompt("Compare", [("A", "a.md"), ("B", "b.md")])
    assert prompt == "Compare\n\nFound by earlier steps:\nstep 1: a.md\nstep 2: b.md"


def test_a_rephrased_sub_goal_says_why_and_what_to_do() -> None:
    text = rephrase("Which file mentions oak?", Verdict(False, "it found nothing"))
    assert text == (
        "Which file mentions oak?\n(A first try failed: it found nothing. Search for the exact "
        "words and answer with the path of the file that holds them.)"
    )


# ---------------------------------------------------------------- each check


@pytest.mark.parametrize(
    ("goal", "kind"),
    [
        ("Count the lines of the file from step 1", "number"),
        ("Give the sizes of the files from steps 1 and 2", "number"),
        ("List the page numbers from step 1", "number"),
        ("Find the file that says 'two lines of bytes'", "file"),  # quoted words are data
        ('Identify the review containing "red kite"', "file"),
        ("Which document mentions the storm?", "file"),
        ("Find who lit the lamp in the document from step 1", "passage"),
        ("Search for `cormorant` in birds.pdf", "passage"),
    ],
)
def test_what_a_sub_goal_asks_for_picks_its_check(goal: str, kind: str) -> None:
    assert check_kind(goal) == kind


def tool_step(observation: str, name: str = "shell") -> Step:
    return Step(1, "tool", "", ToolCall(name, {}), "native", observation, Usage(), 0.0)


def test_number_check_wants_a_number_a_tool_printed() -> None:
    facts = tool_step("From the file system (exact): wiki/a.md: 12,345 bytes, 40 lines", "search")
    assert check_number("It is 12,345 bytes.", [facts]) == Verdict(
        True, "12345 came back from a tool"
    )
    assert check_number("40", [facts]).passed
    assert check_number("About 41 lines.", [facts]) == Verdict(False, "no tool printed 41")
    assert check_number("Many lines.", [facts]) == Verdict(False, "the answer holds no number")
    # the digits of a path are not a number the tool printed
    sizes = tool_step(
        "From the file system (exact): reviews/review-1445-2.txt: a file of 616 bytes"
    )
    assert check_number("reviews/review-1445-2.txt is 616 bytes", [sizes]).passed
    assert check_number("reviews/review-1445-2.txt is 872 bytes", [sizes]) == Verdict(
        False, "no tool printed 872"
    )
    assert not check_number("It is reviews/review-1445-2.txt.", [sizes]).passed
    # a number the model wrote itself, in a step that is not a tool result, does not count
    said = Step(2, "format", "It has 41 lines", None, "json", "41", Usage(), 0.0)
    assert not check_number("41", [said]).passed


def test_file_check_wants_a_file_that_exists_inside_the_working_directory(
    workdir: Path, tmp_path: Path
) -> None:
    assert check_file("It is notes/heron.md.", workdir) == Verdict(True, "notes/heron.md exists")
    assert not check_file("It is notes/crane.md.", workdir).passed
    assert not check_file("It is ../outside.md", workdir / "notes").passed
    assert not check_file("The notes folder.", workdir).passed  # a folder is not a file
    sources = SourceRegistry()
    number = sources.number(str(workdir / "notes" / "heron.md"), None, "")
    assert check_file(f"That passage [{number}].", workdir, sources).passed


def test_file_check_asks_the_index_about_a_file_that_is_not_text(workdir: Path) -> None:
    (workdir / "manual.pdf").write_bytes(b"%PDF-1.4\n\xff\xfe binary")
    pdf = (workdir / "manual.pdf").resolve()

    def holding(phrase: str) -> list[Path]:
        return [pdf] if phrase == "blue heron" else []

    assert check_file("manual.pdf", workdir, None, ["blue heron"], holding).passed
    # a PDF the index does not hold the words in is not the file asked for
    refused = check_file("manual.pdf", workdir, None, ["red kite"], holding)
    assert refused == Verdict(False, "manual.pdf does not hold the words in quotes")
    # without an index to ask, it is given the benefit of the doubt, as before
    assert check_file("manual.pdf", workdir, None, ["red kite"]).passed


def test_file_check_wants_the_file_to_hold_the_words_the_sub_goal_quoted(workdir: Path) -> None:
    (workdir / "notes" / "crane.md").write_text("a grey crane\n")
    goal = "Find the file that says 'Blue  heron'"
    assert check_kind(goal) == "file"
    assert check_file("notes/heron.md", workdir, None, ["Blue  heron"]) == Verdict(
        True, "notes/heron.md exists and holds the quoted words"
    )
    # a file that exists but is not the one asked for: the retry is told why
    assert check_file("notes/crane.md", workdir, None, ["Blue heron"]) == Verdict(
        False, "notes/crane.md does not hold the words in quotes"
    )
    wrong = Result("notes/crane.md", True, "answer", (), Usage())
    assert not check_subgoal(goal, wrong, workdir).passed
    right = Result("It is notes/heron.md.", True, "answer", (), Usage())
    assert check_subgoal(goal, right, workdir).passed
    # a file that cannot be read as text (a PDF) is given the benefit of the doubt
    (workdir / "manual.pdf").write_bytes(b"%PDF-1.4\n\xff\xfe\x00")
    assert check_file("manual.pdf", workdir, None, ["blue heron"]).passed


def test_passage_check_wants_the_answers_words_in_what_was_found() -> None:
    found = tool_step("[1] abbey.md: The abbey was founded by Bishop Odo in 1070.", "search")
    assert check_passage("Bishop Odo founded it [1].", [found]).passed
    verdict = check_passage("King Harold built the castle walls.", [found])
    assert verdict == Verdict(False, "the passages hold only 0 of its 5 words")


def test_a_sub_goal_that_found_nothing_or_stopped_fails_whatever_its_kind(workdir: Path) -> None:
    found = (tool_step("[1] notes/heron.md: heron"),)
    nothing = Result("Not found in the documents.", True, "answer", found, Usage())
    stopped = Result("What was found so far: ...", False, "max_steps", found, Usage())
    assert check_subgoal(FIND, nothing, workdir) == Verdict(False, "it found nothing")
    assert check_subgoal(FIND, stopped, workdir) == Verdict(
        False, "it stopped without an answer (max_steps)"
    )


# ---------------------------------------------------------------- the setting


def test_decompose_is_a_setting_with_three_modes(tmp_path: Path) -> None:
    environ = {"SMALLAGENT_DECOMPOSE": "Auto"}
    settings = load_settings(environ=environ, cwd=tmp_path, user_config_dir=tmp_path)
    assert (
        settings.decompose == "auto" and settings.source_of("decompose") == "$SMALLAGENT_DECOMPOSE"
    )
    assert load_settings(environ={}, cwd=tmp_path, user_config_dir=tmp_path).decompose == "auto"
    with pytest.raises(ConfigError, match="decompose must be off, auto, always; got 'yes'"):
        load_settings(
            environ={"SMALLAGENT_DECOMPOSE": "yes"}, cwd=tmp_path, user_config_dir=tmp_path
        )
    flagged = load_settings(
        flags={"decompose": "always"}, environ=environ, cwd=tmp_path, user_config_dir=tmp_path
    )
    assert flagged.decompose == "always" and flagged.source_of("decompose") == "--decompose"


def test_a_bad_decompose_flag_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--decompose", "yes", "ask", "How long is it?"])
    assert result.exit_code == 2
    assert "--decompose: decompose must be off, auto, always; got 'yes'" in result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- through `ask --json`


def planning_standin(request: dict[str, Any]) -> Iterator[dict[str, Any] | float]:
    """A model that plans, reads the file in each sub-goal, answers, and composes."""
    schema = request.get("format") or {}
    wanted = set(schema.get("properties", {})) if isinstance(schema, dict) else set()
    messages = request["messages"]
    question = next(message["content"] for message in messages if message["role"] == "user")
    if wanted == {"steps"}:
        reply: dict[str, Any] = {"steps": [FIND, COUNT]}
    elif wanted == {"answer"}:
        reply = {"answer": "notes/heron.md has 3 words."}
    elif not any(message["role"] == "tool" for message in messages):
        reply = {"tool": "read_file", "input": "notes/heron.md"}
    else:
        found = "It has 3 words." if question.startswith(COUNT) else "notes/heron.md"
        reply = {"tool": "final_answer", "input": found}
    yield chunk(json.dumps(reply))
    yield final(generated=10)


def test_ask_with_decompose_auto_shows_the_plan_the_checks_and_the_composed_answer(
    isolated_env: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMALLAGENT_DECOMPOSE", "auto")
    with StandInOllama(planning_standin) as standin:
        outcome = CliRunner().invoke(
            app,
            ["--ollama-host", standin.host, "--model", MODEL, "ask", TASK,
             "--workdir", str(workdir), "--no-shell", "--json"],
        )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    events = [json.loads(line) for line in outcome.stdout.splitlines()]
    steps = [event for event in events if event["type"] == "step"]
    assert [(step["form"], step["kind"]) for step in steps] == [
        ("plan", "tool"),
        ("subgoal", "tool"), ("json", "tool"), ("json", "answer"), ("check", "tool"),
        ("subgoal", "tool"), ("json", "tool"), ("json", "answer"), ("check", "tool"),
        ("composed", "answer"),
    ]  # fmt: skip
    assert steps[0]["observation"] == f"1. {FIND}\n2. {COUNT}"
    assert [step["observation"] for step in steps if step["form"] == "check"] == [
        "passed: notes/heron.md exists and holds the quoted words",
        "passed: 3 came back from a tool",
    ]
    result = events[-1]
    assert result["type"] == "result" and result["answer"] == "notes/heron.md has 3 words."
    assert result["usage"]["prompt_tokens"] == 6 * 50  # plan, 2 x 2 in the sub-goals, compose
    assert len(standin.chats) == 6


def test_the_energy_measured_for_every_sub_goal_and_the_plan_is_kept(workdir: Path) -> None:
    """The assistant zeroes its meter for each question it is asked; a planned task asks it once
    per sub-goal, and what the plan and the earlier sub-goals measured must not be lost."""
    readings = iter(range(1000))
    counter = EnergyCounter("fake", lambda: float(next(readings)))  # 1 J a request
    model = ScriptedModel(
        [
            PLAN,
            ToolCall("search", {"query": "blue heron"}),
            answer("notes/heron.md"),
            ToolCall("shell", {"command": "wc -w notes/heron.md"}),
            answer("3"),
            '{"answer": "3 lines."}',
        ]
    )
    assistant = Assistant(
        model=MeteredModel(model, counters=[counter]),
        tools=dict(TOOLS),
        sources=SourceRegistry(),
        system_prompt="system",
        config=AgentConfig(max_steps=4),
        options=AskOptions(workdir=workdir),
        params_billion=None,
        notes=[],
    )
    result = task_run(assistant, TASK, "auto").run()
    assert result.answer == "3 lines."
    assert assistant.model.meter.joules == 6.0  # plan + 2 + 2 + compose, none lost to a reset


def test_a_sub_goal_first_search_looks_for_what_it_was_told() -> None:
    from smallagent.assistant import _searched_as
    from smallagent.tools import make_tool

    calls: list[str] = []

    def search(query: str) -> str:
        """Search.

        Args:
            query: words
        """
        calls.append(query)
        return f"found {query}"

    question = "Count the lines of the file from step 1\n\nFound by earlier steps: ..."
    focused = _searched_as(make_tool(search), question, "Count the lines a/b.md")
    assert focused.function(query=question) == "found Count the lines a/b.md"
    assert focused.function(query="other words") == "found other words"  # the model's own
    assert calls == ["Count the lines a/b.md", "other words"]
