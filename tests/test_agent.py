"""The loop's logic against a scripted model: no Ollama here (the integration layer has it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from smallagent.agent import ANSWER_SCHEMA, AgentConfig, AgentRun, Step, reply_schema
from smallagent.agent.prompts import FORMAT_REMINDER, NO_EVIDENCE_REMINDER
from smallagent.tools import make_final_answer_tool, make_tool
from smallagent.types import Message, ModelReply, Purpose, ToolCall, ToolSpec, Usage


class ScriptedModel:
    """Replies from a script, one per call, and remembers what it was shown."""

    name = "scripted"

    def __init__(self, replies: Sequence[str | ToolCall | ModelReply]) -> None:
        self.replies = list(replies)
        self.seen: list[list[Message]] = []
        self.tools_seen: list[list[ToolSpec]] = []
        self.purposes: list[Purpose] = []
        self.formats: list[Mapping[str, Any] | None] = []

    def chat(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        purpose: Purpose = "tool",
        reply_format: Mapping[str, Any] | None = None,
    ) -> ModelReply:
        self.formats.append(reply_format)
        self.seen.append(list(messages))
        self.tools_seen.append(list(tools))
        self.purposes.append(purpose)
        reply = self.replies.pop(0)
        if isinstance(reply, ModelReply):
            return reply
        message = (
            Message("assistant", "", tool_calls=(reply,))
            if isinstance(reply, ToolCall)
            else Message("assistant", reply)
        )
        return ModelReply(message, Usage(100, 10, 0.5, 0.2, 0.0, 0.8), "scripted")


def lookup(query: str, k: int = 2) -> str:
    """Look something up.

    Args:
        query: what to look for
        k: how many results
    """
    return f"[1] found {query!r} (k={k})"


def explode(reason: str) -> str:
    """Always fails.

    Args:
        reason: why
    """
    raise RuntimeError(reason)


TOOLS = {
    "lookup": make_tool(lookup),
    "explode": make_tool(explode),
    "final_answer": make_final_answer_tool(),
}


def run(replies: Sequence[str | ToolCall | ModelReply], **config: object):  # type: ignore[no-untyped-def]
    model = ScriptedModel(replies)
    agent = AgentRun(model, TOOLS, "system", "question?", AgentConfig(**config))  # type: ignore[arg-type]
    steps = list(agent)
    assert agent.result is not None
    return model, steps, agent.result


def test_tool_then_answer_with_argument_coercion_and_junk_keys_dropped() -> None:
    call = '{"name": "lookup", "arguments": {"query": "tea", "k": "3", "required": ["q"]}}'
    fenced = f"```json\n{call}\n```"
    model, steps, result = run([fenced, ToolCall("final_answer", {"answer": "Tea is green [1]."})])
    assert [step.kind for step in steps] == ["tool", "answer"]
    assert steps[0].observation == "[1] found 'tea' (k=3)"  # the tool's words, nothing more
    assert steps[0].dropped_arguments == ("required",)
    assert (result.answer, result.complete, result.stop_reason) == (
        "Tea is green [1].",
        True,
        "answer",
    )
    assert result.forms == {"fenced_json": 1, "native": 1}
    assert result.usage == Usage(200, 20, 1.0, 0.4, 0.0, 1.6)
    shown = model.seen[1]
    assert shown[-2] == Message(
        "assistant",
        "",
        tool_calls=(ToolCall("lookup", {"query": "tea", "k": "3", "required": ["q"]}),),
    )
    follow_up = (
        "\n\nQuestion: question?\nIf the results above answer it, reply "
        "with the answer now (cite passages as [n]); otherwise call another tool."
    )
    assert shown[-1] == Message("tool", steps[0].observation + follow_up, tool_name="lookup")
    assert model.tools_seen[0][0].name == "lookup"


def test_an_answer_before_any_tool_result_is_sent_back_once_for_evidence() -> None:
    _, steps, result = run(["I think the answer is 4.", "The answer is 4.", "It is 4."])
    assert [step.kind for step in steps] == ["format", "format", "answer"]
    assert [steps[0].observation, steps[1].observation] == [FORMAT_REMINDER, NO_EVIDENCE_REMINDER]
    assert result.answer == "It is 4."


def test_a_structured_guess_is_sent_back_even_after_a_format_reminder() -> None:
    # Seen on the 1.5B model: prose, then {"answer": <an invented code>} without searching.
    guess = '{"answer": "The code is 1234567890.", "passages": [[1]]}'
    _, steps, result = run(
        ["Let me think.", guess, ToolCall("lookup", {"query": "code"}), "It is TW-8841 [1]."]
    )
    assert [step.kind for step in steps] == ["format", "format", "tool", "answer"]
    assert steps[1].observation == NO_EVIDENCE_REMINDER
    assert result.answer == "It is TW-8841 [1]."


def test_with_no_tool_but_final_answer_a_guess_is_not_questioned() -> None:
    model = ScriptedModel([ToolCall("final_answer", {"answer": "4"})])
    alone = {"final_answer": make_final_answer_tool()}
    result = AgentRun(model, alone, "system", "2+2?").run()
    assert result.complete and result.answer == "4" and len(result.steps) == 1


def test_prose_after_a_tool_is_the_answer() -> None:
    _, _, result = run([ToolCall("lookup", {"query": "x"}), "It is x [1]."])
    assert result.complete and result.answer == "It is x [1]."


def test_mistakes_become_observations_and_the_cap_stops_the_run() -> None:
    unknown = '{"name": "nope", "arguments": {}}'
    _, steps, result = run(
        [ToolCall("lookup", {}), unknown, ToolCall("explode", {"reason": "disk"})],
        max_consecutive_failures=3,
    )
    assert [step.kind for step in steps] == ["error", "error", "error"]
    assert "lookup needs query" in steps[0].observation
    assert "no tool named 'nope'" in steps[1].observation
    assert steps[2].observation == "Error: explode failed (RuntimeError: disk)."
    assert (result.complete, result.stop_reason) == (False, "max_failures")


def test_a_success_resets_the_failure_count() -> None:
    _, steps, result = run(
        [ToolCall("lookup", {}), ToolCall("lookup", {"query": "a"}), ToolCall("lookup", {}),
         ToolCall("final_answer", {"answer": "done"})],
        max_consecutive_failures=2,
    )  # fmt: skip
    assert result.complete and len(steps) == 4


def test_step_budget_gives_what_the_tools_found_as_the_partial_answer() -> None:
    _, steps, result = run(
        [
            "The code is 12345, I guess.\n" + '{"name": "lookup", "arguments": {"query": "a"}}',
            ToolCall("lookup", {"query": "b"}),
        ],
        max_steps=2,
        follow_up="",
    )
    assert [step.kind for step in steps] == ["tool", "tool"]
    assert (result.complete, result.stop_reason) == (False, "max_steps")
    assert result.answer == "What was found so far:\n[1] found 'b' (k=2)"


def test_without_any_result_the_partial_answer_is_the_models_words() -> None:
    _, _, result = run(["Thinking about it.", ToolCall("lookup", {})], max_steps=2)
    assert (result.stop_reason, result.answer) == ("max_steps", "Thinking about it.")


def test_a_repeated_call_is_not_run_again() -> None:
    calls: list[str] = []

    def counted(query: str) -> str:
        """Counts calls.

        Args:
            query: anything
        """
        calls.append(query)
        return "result"

    model = ScriptedModel([ToolCall("counted", {"query": "a"})] * 2 + ["It is a."])
    agent = AgentRun(model, {"counted": make_tool(counted)}, "s", "q", AgentConfig())
    steps = list(agent)
    assert [step.kind for step in steps] == ["tool", "repeat", "answer"]
    assert calls == ["a"]
    assert steps[1].observation.startswith("You already called counted with these arguments")
    assert steps[2].form == "forced_answer"
    assert model.tools_seen[2] == []
    assert [message.role for message in model.seen[2]] == ["system", "user"]
    assert model.seen[2][1].content == "Tool results:\nresult\n\nQuestion: q"
    assert agent.result is not None and agent.result.answer == "It is a."


def test_energy_budget_stops_the_run() -> None:
    model = ScriptedModel([ToolCall("lookup", {"query": "a"})] * 5)
    agent = AgentRun(
        model,
        TOOLS,
        "system",
        "q",
        AgentConfig(),
        over_budget=lambda usage: usage.prompt_tokens >= 200,
    )
    result = agent.run()
    assert (len(result.steps), result.stop_reason) == (2, "budget")


def test_observations_are_capped() -> None:
    def long(query: str) -> str:
        """Returns a lot.

        Args:
            query: anything
        """
        return "x" * 5000

    model = ScriptedModel([ToolCall("long", {"query": "a"}), "done"])
    agent = AgentRun(model, {"long": make_tool(long)}, "s", "q", AgentConfig(observation_chars=100))
    steps = list(agent)
    assert steps[0].observation.startswith("x" * 100 + "\n[observation cut to 100 of 5000")


def test_history_and_native_tools_flag() -> None:
    model = ScriptedModel(["hello"] * 3)
    history = [Message("user", "earlier"), Message("assistant", "reply")]
    agent = AgentRun(model, TOOLS, "sys", "now", AgentConfig(native_tools=False), history=history)
    agent.run()
    assert [m.content for m in model.seen[0]] == ["sys", "earlier", "reply", "now"]
    assert model.tools_seen[0] == []


def test_search_results_pasted_under_the_answer_are_dropped() -> None:
    result_line = "[1] found 'code' (k=4) in the calibration chapter of the manual"
    pasted = f"The code is TW-8841 [1].\n\n{result_line}\n\nAsk again if needed."

    def search_everything(query: str) -> str:
        """Search.

        Args:
            query: words
        """
        return result_line

    tools = {"lookup": make_tool(search_everything), "final_answer": make_final_answer_tool()}
    model = ScriptedModel([ToolCall("lookup", {"query": "code"}), pasted])
    result = AgentRun(model, tools, "system", "code?").run()
    assert result.answer == "The code is TW-8841 [1].\n\nAsk again if needed."


def test_reminded_twice_and_still_answering_blind_the_loop_searches_for_it() -> None:
    def search(query: str) -> str:
        """Search.

        Args:
            query: words
        """
        return f"[1] 51 days, for {query!r}"

    tools = {"search": make_tool(search), "final_answer": make_final_answer_tool()}
    plan = "1. Battery capacity matters.\n2. So does sunlight."
    model = ScriptedModel([plan, plan, plan, "About 51 days [1]."])
    config = AgentConfig(search_tool="search")  # the assistant names its search tool
    result = AgentRun(model, tools, "system", "How long does it last?", config).run()
    assert [step.kind for step in result.steps] == ["format", "format", "tool", "answer"]
    searched = result.steps[2]
    assert searched.form == "fallback_search"
    assert searched.call == ToolCall("search", {"query": "How long does it last?"})
    assert result.answer == "About 51 days [1]."
    assert result.forms["fallback_search"] == 1
    assert model.seen[3][-2] == Message("assistant", "", tool_calls=(searched.call,))


def cut(reason: str, content: str = "w1 w2 w3", *calls: ToolCall) -> ModelReply:
    """A reply stopped early, as OllamaModel returns it."""
    detail = {"length": "cut at the 30-token cap for a tool step", "repetition": "it looped"}
    return ModelReply(
        Message("assistant", content, tool_calls=calls),
        Usage(100, 31, 0.5, 3.0, estimated=True),
        "scripted",
        done_reason=reason,
        detail=detail.get(reason, "the question's time ran out"),
    )


def test_each_request_says_what_it_is_for() -> None:
    model, steps, _ = run(
        [ToolCall("lookup", {"query": "a"}), ToolCall("lookup", {"query": "a"}), "It is a [1]."]
    )
    assert model.purposes == ["plan", "tool", "answer"]  # the repeat got an answer-only request
    assert [step.purpose for step in steps] == ["plan", "tool", "answer"]


def test_a_reply_cut_at_the_cap_is_a_mistake_the_model_is_told_about() -> None:
    model, steps, result = run([cut("length"), ToolCall("lookup", {"query": "a"}), "It is a [1]."])
    assert [(step.kind, step.done_reason) for step in steps] == [
        ("error", "length"),
        ("tool", ""),
        ("answer", ""),
    ]
    assert steps[0].observation == (
        "Your reply was stopped early: cut at the 30-token cap for a tool step. Reply again, "
        "briefly: only one JSON tool call, or the answer itself in one or two sentences."
    )
    assert model.seen[1][-1] == Message("tool", steps[0].observation)
    assert result.complete and result.usage.estimated


def test_a_whole_call_written_before_a_loop_was_stopped_still_runs() -> None:
    call = ToolCall("lookup", {"query": "tea"})
    _, steps, _ = run([cut("repetition", "", call), "Tea [1]."])
    assert [(step.kind, step.done_reason) for step in steps] == [
        ("tool", "repetition"),
        ("answer", ""),
    ]
    assert steps[0].observation.startswith("[1] found 'tea'")


def test_an_answer_cut_short_is_not_taken_as_the_answer() -> None:
    _, steps, result = run([ToolCall("lookup", {"query": "a"}), cut("length", "It is a and")] * 2)
    assert [step.kind for step in steps[:2]] == ["tool", "error"]
    assert result.answer != "It is a and"


def test_running_out_of_time_stops_the_run_with_a_partial_answer() -> None:
    call = ToolCall("lookup", {"query": "a"})
    _, steps, result = run([call, cut("time_limit", "", ToolCall("lookup", {"query": "b"}))])
    assert [step.kind for step in steps] == ["tool", "error"]  # the call made as time ran out
    assert (result.stop_reason, result.complete) == ("max_seconds", False)
    assert result.answer.startswith("What was found so far:\n[1] found 'a'")

    clock = iter([False, True])
    model = ScriptedModel([call, ToolCall("lookup", {"query": "b"}), "never asked"])
    agent = AgentRun(model, TOOLS, "s", "q", out_of_time=lambda: next(clock))
    result = agent.run()
    assert (len(result.steps), result.stop_reason) == (2, "max_seconds")


def test_first_call_puts_the_passages_into_the_question_before_the_model_speaks() -> None:
    model, steps, result = run(
        [ToolCall("final_answer", {"answer": "Tea is green [1]."})],
        search_tool="lookup",
        retrieve_first=True,
    )
    assert [(step.number, step.kind, step.form) for step in steps] == [
        (0, "tool", "retrieve_first"),
        (1, "answer", "native"),
    ]
    assert steps[0].call == ToolCall("lookup", {"query": "question?"})
    assert steps[0].usage.prompt_tokens == 0 and steps[0].model_seconds == 0.0  # no model call
    first_prompt = model.seen[0]
    assert [message.role for message in first_prompt] == ["system", "user"]
    assert first_prompt[1].content.startswith("question?\n\nlookup results for the question:\n")
    assert "[1] found 'question?' (k=2)" in first_prompt[1].content
    assert result.answer == "Tea is green [1]." and result.usage.prompt_tokens == 100


def test_the_model_asking_again_for_the_first_call_is_a_repeat_however_written() -> None:
    # {"query": q} after the loop's own call with q, and with the default k spelled out
    model, steps, _ = run(
        [ToolCall("lookup", {"query": "question?", "k": 2}), "Green [1]."],
        search_tool="lookup",
        retrieve_first=True,
    )
    assert [step.kind for step in steps] == ["tool", "repeat", "answer"]
    assert model.purposes == ["plan", "answer"]


def test_constrained_replies_get_the_schema_and_no_native_tool_specs() -> None:
    model, steps, result = run(
        ['{"tool": "lookup", "input": "tea"}', '{"tool": "final_answer", "input": "Green [1]."}'],
        constrained=True,
    )
    assert [step.kind for step in steps] == ["tool", "answer"]
    assert steps[0].call == ToolCall("lookup", {"_text": "tea"})
    assert steps[0].observation.startswith("[1] found 'tea' (k=2)")
    assert model.tools_seen == [[], []]
    schema = reply_schema(list(TOOLS))
    assert model.formats == [schema, schema]
    assert schema["properties"]["tool"]["enum"][0] == "final_answer"  # type: ignore[index]
    # the model's own JSON is its history, not a native call in another form
    assert model.seen[1][2] == Message("assistant", '{"tool": "lookup", "input": "tea"}')
    assert result.answer == "Green [1]."


def test_a_constrained_answer_request_takes_the_answer_object() -> None:
    model, steps, result = run(
        ['{"tool": "lookup", "input": "tea"}', '{"tool": "lookup", "input": "tea"}',
         '{"answer": "Green tea [1]."}'],
        constrained=True,
    )  # fmt: skip
    assert [step.kind for step in steps] == ["tool", "repeat", "answer"]
    assert model.formats[-1] == ANSWER_SCHEMA and model.purposes[-1] == "answer"
    assert steps[-1].form == "forced_answer" and result.answer == "Green tea [1]."


def test_a_settled_question_is_answered_without_the_model() -> None:
    model = ScriptedModel([])
    agent = AgentRun(
        model,
        TOOLS,
        "system",
        "Where did Haliburton study?",
        AgentConfig(search_tool="lookup", retrieve_first=True),
        settle=lambda question: "Not found in the documents: none mentions Haliburton.",
    )
    steps = list(agent)
    assert [(step.number, step.kind, step.form) for step in steps] == [
        (0, "tool", "retrieve_first"),
        (1, "answer", "settled"),
    ]
    assert agent.result is not None and agent.result.complete
    assert agent.result.answer == "Not found in the documents: none mentions Haliburton."
    assert model.seen == [] and agent.result.usage.prompt_tokens == 0


def test_each_question_searches_the_newest_committed_index() -> None:
    from smallagent.assistant import Assistant
    from smallagent.config import AskOptions
    from smallagent.energy import MeteredModel
    from smallagent.retrieval import SourceRegistry

    class Reader:
        refreshed = 0

        def refresh(self) -> bool:
            self.refreshed += 1
            return True

    reader = Reader()
    assistant = Assistant(
        model=MeteredModel(ScriptedModel([]), counters=[]),
        tools=dict(TOOLS),
        sources=SourceRegistry(),
        system_prompt="system",
        config=AgentConfig(),
        options=AskOptions(),
        params_billion=1.5,
        notes=[],
        reader=reader,
    )
    assistant.ask("first?")
    assistant.ask("second?")
    assert reader.refreshed == 2


def test_a_reviewed_answer_is_replaced_and_shown_as_its_own_step() -> None:
    seen: list[tuple[str, str, list[str]]] = []

    def review(question: str, answer: str, steps: Sequence[Step]) -> str:
        seen.append((question, answer, [step.kind for step in steps]))
        return "Not found in the documents: no passage is about what the question asks."

    model = ScriptedModel([ToolCall("lookup", {"query": "tea"}), "Tea is green [1]."])
    agent = AgentRun(model, TOOLS, "system", "question?", review=review)
    steps = list(agent)
    assert [(step.number, step.kind, step.form) for step in steps] == [
        (1, "tool", "native"),
        (2, "answer", "none"),
        (3, "answer", "reviewed"),
    ]
    assert seen == [("question?", "Tea is green [1].", ["tool", "answer"])]
    assert agent.result is not None and agent.result.complete
    assert agent.result.answer == steps[-1].observation
    assert steps[-1].usage == Usage()  # no model call


def test_review_keeps_an_answer_it_has_no_verdict_on_and_never_sees_a_partial_one() -> None:
    model = ScriptedModel([ToolCall("lookup", {"query": "tea"}), "Tea is green [1]."])
    agent = AgentRun(model, TOOLS, "system", "question?", review=lambda q, a, s: "")
    assert [step.form for step in agent] == ["native", "none"]
    assert agent.result is not None and agent.result.answer == "Tea is green [1]."

    called: list[str] = []
    failing = ScriptedModel(["", "", ""])  # three empty replies: max_failures, no answer
    stopped = AgentRun(
        failing, TOOLS, "system", "question?", review=lambda q, a, s: called.append(a) or "x"
    )
    list(stopped)
    assert stopped.result is not None and stopped.result.stop_reason == "max_failures"
    assert called == []


def test_answer_last_spends_the_budgets_last_request_on_the_answer_alone() -> None:
    model, steps, result = run(
        [ToolCall("lookup", {"query": "a"}), "It is a [1]."], max_steps=2, answer_last=True
    )
    assert [step.kind for step in steps] == ["tool", "answer"]
    assert model.purposes == ["plan", "answer"] and model.tools_seen[1] == []
    assert steps[1].form == "forced_answer"
    assert result.complete and result.answer == "It is a [1]."
    # Without it the budget's last request is an ordinary turn, and a call there ends the run.
    model, steps, result = run([ToolCall("lookup", {"query": "a"})] * 2, max_steps=2)
    assert model.purposes == ["plan", "tool"] and not result.complete
