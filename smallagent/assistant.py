"""Wiring for `ask`, `chat` and scripted runs: settings in, a ready agent out.

The model is asked once what it is (tools capability, size), the index is opened read-only, the
tools are built for this working directory and shell policy, and the system prompt is fixed for the
whole run so that Ollama can reuse its KV cache from step to step.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from smallagent.agent import AgentConfig, AgentRun, Result, Step
from smallagent.agent.parsing import FINAL_ANSWER_TOOL
from smallagent.agent.prompts import (
    CONSTRAINED_FOLLOW_UP,
    CONSTRAINED_PROMPT,
    CONSTRAINED_TOOL_LINES,
    SYSTEM_PROMPT,
    TOOL_LINES,
)
from smallagent.commands import MINIMAL
from smallagent.config import AskOptions, Settings
from smallagent.embeddings import query_embedder
from smallagent.energy import (
    MeteredModel,
    RunEnergy,
    energy_budget,
    parse_parameter_size,
    run_energy,
)
from smallagent.errors import IndexStoreError
from smallagent.escalation import Signal, answer_confidence, answer_signals, escalating
from smallagent.index import IndexReader, index_directory
from smallagent.ollama_model import OllamaModel
from smallagent.paths import display_path
from smallagent.planner import PlannedRun, looks_multi_step, names_by_words, task_run
from smallagent.retrieval import Retriever, SourceRegistry, asserts_beyond
from smallagent.shell import ConsentRequest, ShellPolicy
from smallagent.tools import (
    Tool,
    make_final_answer_tool,
    make_read_file_tool,
    make_search_tool,
    make_shell_tool,
    named_paths,
)
from smallagent.types import Message, Usage

UNCONFINED_NOTE = (
    "no kernel sandbox for shell commands (Landlock is unavailable): only "
    f"{', '.join(sorted(MINIMAL))} run without asking; anything else needs your consent"
)


@dataclass
class Assistant:
    model: MeteredModel
    tools: dict[str, Tool]
    sources: SourceRegistry
    system_prompt: str
    config: AgentConfig
    options: AskOptions
    params_billion: float | None
    notes: list[str]
    reader: Any = None
    shell: ShellPolicy | None = None
    retriever: Any = None

    not_found_below: float = 0.0

    @property
    def first_search(self) -> str:
        """The tool the loop runs with the question before the model's first turn, or ""."""
        return self.config.search_tool if self.config.retrieve_first else ""

    def settle(self, question: str) -> str:
        """The answer when the question names what no document mentions; else "" (the model's)."""
        names = self.retriever.unknown_names(question) if self.retriever is not None else []
        return f"Not found in the documents: none mentions {', '.join(names)}." if names else ""

    def review(self, question: str, answer: str, steps: Sequence[Step]) -> str:
        """ "Not found" in place of an answer taken from passages that are not about the question;
        else "" (the answer stands).

        Shown the nearest passage, the 1.5B model answered every unanswerable question of the
        benchmark's dev split from it, or from what it knew. Such an answer is caught by two
        lexical checks and no model call: no passage the run retrieved holds enough of the
        question (`Retriever.coverage`, below `not_found_below`), and the answer asserts
        something the question does not already say (a word or number of its own). Whether
        those words came from the wrong passage or from the model's memory does not matter:
        the documents do not support them. An answer from the shell or a file read, one that
        only echoes the question ("Reply with OK" -> "OK"), or one to a question that names a
        file or folder (the search result's file-system facts answer those), stands.
        """
        if self.retriever is None or self.not_found_below <= 0:
            return ""
        if named_paths(question, self.options.workdir):
            return ""  # a question about a file or folder: the file system's facts answer it
        if looks_multi_step(question) or names_by_words(question):
            # Two things compared, or one found by another: no single passage holds such a
            # question, so one passage's coverage says nothing about it.
            return ""
        queries = [question]
        for step in steps:
            if step.kind != "tool" or step.call is None:
                continue
            if step.call.name != self.config.search_tool:
                return ""  # the file system or a file answered, not the passages
            queries += [str(value) for value in step.call.arguments.values()][:1]
        hits = [
            hit for query in dict.fromkeys(queries) for hit in self.retriever.search(query, k=4)
        ]
        share, best = self.retriever.coverage(question, hits)
        if share >= self.not_found_below or not asserts_beyond(answer, question):
            return ""
        where = display_path(best.path, self.options.workdir) if best else ""
        return (
            "Not found in the documents: no passage is about what the question asks"
            f"{f'; the closest ({where}) holds {share:.0%} of it' if where else ''}."
        )

    def _compute_clock(self) -> float:
        """Seconds that leave out the time spent waiting for the user at the consent prompt."""
        waited = self.shell.waited_s if self.shell is not None else 0.0
        return time.perf_counter() - waited

    def ask(
        self,
        question: str,
        history: Sequence[Message] = (),
        on_text: Callable[[str], None] | None = None,
        findings: str = "",
        search_for: str = "",
    ) -> AgentRun:
        """One question; `on_text` sees the model's replies as they stream, for a live trace.

        `findings`: what an earlier model found for this question (escalation). With retrieve-first
        on, they stand in for the loop's own first search, so this model starts from them.
        `search_for`: what that first search looks for instead of the question (a planned
        sub-goal's question also carries what earlier sub-goals found).
        """
        limit = self.options.max_seconds
        deadline = None if limit is None else time.monotonic() + limit

        def out_of_time() -> bool:
            return deadline is not None and time.monotonic() >= deadline

        self.model.meter.reset()  # a new question: the meter starts from zero
        inner = self.model.inner  # the model gets the question's time and listener
        if hasattr(inner, "deadline"):
            inner.deadline = deadline
        if hasattr(inner, "on_text"):
            inner.on_text = on_text
        if self.reader is not None:
            # A chat or a task file outlives ingests: search what is committed now, not what was
            # committed when the session opened.
            self.reader.refresh()
        tools = self.tools
        first = self.first_search
        if findings and first in tools:
            tools = {**tools, first: _answered_once(tools[first], question, findings)}
        elif search_for and first in tools:
            tools = {**tools, first: _searched_as(tools[first], question, search_for)}
        return AgentRun(
            self.model,
            tools,
            self.system_prompt,
            question,
            self.config,
            history=history,
            over_budget=energy_budget(
                self.options.max_wh, self.options.energy, self.params_billion
            ),
            clock=self._compute_clock,
            out_of_time=out_of_time,
            settle=self.settle,
            review=self.review,
        )

    def energy(self, result: Result) -> RunEnergy:
        return self.energy_of(result.usage, sum(step.tool_seconds for step in result.steps))

    def energy_of(self, usage: Usage, tool_seconds: float) -> RunEnergy:
        return run_energy(
            usage,
            tool_seconds,
            self.options.energy,
            self.params_billion,
            self.model.meter.joules,
            self.model.meter.measured_by,
        )

    def spent(self, steps: Sequence[Step], error: BaseException) -> tuple[Usage, RunEnergy]:
        """What a question that ended in `error` used: its finished steps, plus the request the
        error cut short (Ollama's counters never came for that one: estimated, and marked so)."""
        usage = sum((step.usage for step in steps), Usage())
        unfinished = getattr(error, "spent", None)
        if isinstance(unfinished, Usage):
            usage = usage + unfinished
        return usage, self.energy_of(usage, sum(step.tool_seconds for step in steps))

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()


def _searched_as(tool: Tool, question: str, query: str) -> Tool:
    """`tool`, except that a call with the question itself searches `query`."""

    def function(**arguments: Any) -> str:
        asked = {key: query if value == question else value for key, value in arguments.items()}
        return str(tool.function(**asked))

    return replace(tool, function=function)


def _answered_once(tool: Tool, question: str, findings: str) -> Tool:
    """`tool`, except that its first call with the question itself returns `findings`."""
    used: list[bool] = []

    def function(**arguments: Any) -> str:
        if not used and question in arguments.values():
            used.append(True)
            return findings
        return tool.function(**arguments)

    return replace(tool, function=function)


def build_assistant(
    settings: Settings,
    options: AskOptions,
    confirm: Callable[[ConsentRequest], bool] | None,
    sources: SourceRegistry | None = None,
    logprobs: bool = False,
    answer_last: bool = False,
) -> Assistant:
    """The wiring of one model; `sources` shares [n] numbering with an earlier model's run.
    A model that may be escalated from is asked for its reply tokens' probabilities
    (`logprobs`), and for the answer alone on the last request its budget allows
    (`answer_last`)."""
    model = OllamaModel(
        settings.ollama_host,
        settings.model,
        timeout_s=settings.request_timeout_s,
        options={
            "temperature": options.temperature,
            "seed": options.seed,
            "num_ctx": options.num_ctx,
        },
        keep_alive=options.keep_alive,
        caps=settings.num_predict_caps(),
        logprobs=logprobs,
    )
    info = model.info()  # also fails early, with a hint, when the server or model is missing
    notes: list[str] = []
    sources = SourceRegistry() if sources is None else sources
    tools: dict[str, Tool] = {}
    reader = None
    retriever = None
    allowed_files: set[str] = set()
    if "search" in options.tools:
        try:
            reader = IndexReader(index_directory(settings.index_dir, settings.index))
            retriever = Retriever(reader, query_embedder(reader.spec.embedder))
            tools["search"] = make_search_tool(
                retriever, sources, options.workdir, settings.passage_chars
            )
            allowed_files = {document.path for document in reader.documents()}
        except IndexStoreError as error:
            notes.append(f"no search tool: {error.message} ({error.hint})")
    if "read_file" in options.tools:
        tools["read_file"] = make_read_file_tool([options.workdir], allowed_files, max_lines=120)
    policy = None
    if options.shell != "off" and "shell" in options.tools:
        policy = ShellPolicy(options.workdir, options.shell, confirm)
        tools["shell"] = make_shell_tool(policy)
        if policy.sandbox is None:
            notes.append(UNCONFINED_NOTE)
    tools[FINAL_ANSWER_TOOL] = make_final_answer_tool()
    example_tool = next(iter(tools))
    example_arguments = {
        "search": '"query": "..."',
        "read_file": '"path": "..."',
        FINAL_ANSWER_TOOL: '"answer": "..."',
    }
    prompt = SYSTEM_PROMPT.format(
        tool_lines="\n".join(TOOL_LINES[name] for name in tools),
        example_tool=example_tool,
        example_arguments=example_arguments.get(example_tool, '"command": "ls"'),
    )
    config = AgentConfig(
        max_steps=options.max_steps,
        native_tools=info.supports_tools,
        search_tool="search",
        retrieve_first=settings.retrieve_first,
        answer_last=answer_last,
    )
    if settings.constrained_replies:
        lines = "\n".join(
            CONSTRAINED_TOOL_LINES[name].format()
            for name in ("search", "shell", "read_file")
            if name in tools
        )
        prompt = CONSTRAINED_PROMPT.format(tool_lines=lines)
        config = replace(config, constrained=True, follow_up=CONSTRAINED_FOLLOW_UP)
    if not info.supports_tools:
        notes.append(f"{settings.model} has no native tool calling; using the text protocol")
    return Assistant(
        model=MeteredModel(model),
        tools=tools,
        sources=sources,
        system_prompt=prompt,
        config=config,
        options=options,
        params_billion=parse_parameter_size(info.parameter_size),
        notes=notes,
        reader=reader,
        shell=policy,
        retriever=retriever if settings.retrieve_first else None,
        not_found_below=settings.not_found_below,
    )


# ------------------------------------------------------------------------------- escalation


@dataclass(frozen=True)
class Attempt:
    """One model's run on the question, what it cost, and the signals that fired on it."""

    model: str
    result: Result
    energy: RunEnergy
    signals: tuple[Signal, ...]  # every signal that fired, escalating or not
    seeded: bool  # started from what the model before it found
    params_billion: float | None

    @property
    def escalated(self) -> bool:
        return bool(escalating(self.signals))

    @property
    def confidence(self) -> float | None:
        """How sure the model was of its answer, when it was asked for its tokens' odds."""
        return answer_confidence(self.result)


@dataclass(frozen=True)
class Escalation:
    """The event between two attempts: which signals sent the question up, and to whom."""

    from_model: str
    to_model: str
    signals: tuple[Signal, ...]
    seeded: bool
    answer: str  # the answer (or partial answer) the signals judged


@dataclass(frozen=True)
class Outcome:
    """A question over the chain: each model's attempt, the answer of the last, the cost of all."""

    attempts: tuple[Attempt, ...]
    larger_model: str
    larger_wh: float  # the question on the largest model alone
    larger_source: str  # "measured ..." or "modeled ..."

    @property
    def answered_by(self) -> str:
        return self.attempts[-1].model

    @property
    def usage(self) -> Usage:
        return sum((attempt.result.usage for attempt in self.attempts), Usage())

    @property
    def energy(self) -> RunEnergy:
        return combined_energy([attempt.energy for attempt in self.attempts])

    @property
    def result(self) -> Result:
        """The last attempt's answer, with the steps and usage of every attempt (the whole cost)."""
        steps = tuple(step for attempt in self.attempts for step in attempt.result.steps)
        forms: Counter[str] = Counter()
        for attempt in self.attempts:
            forms.update(attempt.result.forms)
        return replace(self.attempts[-1].result, steps=steps, usage=self.usage, forms=dict(forms))


def combined_energy(parts: Sequence[RunEnergy]) -> RunEnergy:
    """Several runs' energy as one: the figures summed, the methods named once each."""
    first = parts[0]
    methods = list(dict.fromkeys(part.model_source for part in parts))
    return replace(
        parts[-1],
        model_wh=sum(part.model_wh for part in parts),
        model_source=" + ".join(methods),
        model_method=" + ".join(dict.fromkeys(part.model_method for part in parts)),
        estimated=any(part.estimated for part in parts),
        tools_wh=sum(part.tools_wh for part in parts),
        load_wh=sum(part.load_wh for part in parts),
        generated_tokens=sum(part.generated_tokens for part in parts),
        small_params_billion=first.small_params_billion if len(parts) == 1 else None,
    )


def findings_of(result: Result, follow_up: str, question: str) -> str:
    """What a run's tools found, for the next model's first prompt: each result once, the
    passages by their [n] once each (later searches repeat them), the follow-up left out."""
    suffix = follow_up.format(question=question)
    seen: set[str] = set()
    lines: list[str] = []
    for step in result.steps:
        if step.kind != "tool" or step.call is None:
            continue
        if step.number > 0 and step.call.name != "search":
            lines.append(f"{step.call.name} {json.dumps(dict(step.call.arguments))}:")
        for line in step.observation.removesuffix(suffix).splitlines():
            key = line.split(" ", 1)[0] if line.startswith("[") else line
            if line.strip() and key not in seen:
                seen.add(key)
                lines.append(line)
    return "\n".join(lines)


def modeled_larger_wh(attempt: Attempt, larger_params: float | None) -> float | None:
    """The attempt's question on a larger model, modeled: on a CPU, generation and prompt
    evaluation are bound by reading the weights, so time, and energy, scale with the parameter
    count; tools cost the same. None when either size is unknown."""
    if larger_params is None or not attempt.params_billion:
        return None
    scale = larger_params / attempt.params_billion
    return attempt.energy.model_wh * scale + attempt.energy.tools_wh


Judge = Callable[[Result, SourceRegistry], list[Signal]]


class Cascade:
    """A question on `settings.model` first, then up `options.escalate` while a signal says the
    answer failed. With no escalation it is the one model's assistant, unchanged.

    `reuse_findings`: the larger model starts from what the smaller one found (its tool results
    stand in for the retrieve-first search). Off: on dev it changed no outcome in 6 escalations
    and cost 21% more prompt tokens than starting cold (docs/benchmarks.md, "Escalation").
    """

    def __init__(
        self,
        settings: Settings,
        options: AskOptions,
        confirm: Callable[[ConsentRequest], bool] | None,
        reuse_findings: bool = False,
    ) -> None:
        self.settings = settings
        self.options = options
        self.confirm = confirm
        self.reuse_findings = reuse_findings
        self.chain = list(dict.fromkeys([settings.model, *options.escalate]))
        self.first = self._build(0)
        self.sources = self.first.sources  # one numbering of [n] for every model
        self.notes = self.first.notes
        self._assistants = {settings.model: self.first}
        self._params: dict[str, float | None] = {settings.model: self.first.params_billion}
        for model in self.chain[1:]:  # fails early, with a hint, when a model is missing
            size = self._model(model).info().parameter_size
            self._params[model] = parse_parameter_size(size)
        self.current = self.first

    def _build(self, position: int, sources: SourceRegistry | None = None) -> Assistant:
        """The assistant of the model at this place in the chain. One a larger model follows
        gets `escalate_within` requests, the last of them for its answer alone, when it starts
        from evidence (retrieve-first); with no search to read, it keeps the whole budget, so
        that it can use the tools it has."""
        settings = replace(self.settings, model=self.chain[position])
        followed = position + 1 < len(self.chain)
        within = min(self.options.max_steps, settings.escalate_within)
        limited = followed and within > 0
        options = replace(self.options, max_steps=within) if limited else self.options
        unsure = followed and settings.escalate_below > 0
        built = build_assistant(
            settings, options, self.confirm, sources, logprobs=unsure, answer_last=limited
        )
        if limited and built.first_search not in built.tools:
            full = replace(built.config, max_steps=self.options.max_steps, answer_last=False)
            built = replace(built, config=full, options=self.options)
        return built

    def _model(self, name: str) -> OllamaModel:
        return OllamaModel(
            self.settings.ollama_host, name, timeout_s=self.settings.request_timeout_s
        )

    def assistant(self, model: str) -> Assistant:
        if model not in self._assistants:
            self._assistants[model] = self._build(self.chain.index(model), self.sources)
        return self._assistants[model]

    def ask(
        self,
        question: str,
        history: Sequence[Message] = (),
        on_text: Callable[[str], None] | None = None,
        judge: Judge | None = None,
        start: int = 0,
    ) -> CascadeRun:
        """`judge` adds signals of the caller's own (a task's checks); `start` skips models
        (chat's /escalate re-asks on the next one)."""
        return CascadeRun(self, question, history, on_text, judge, start)

    def energy(self, result: Result) -> RunEnergy:
        return self.current.energy(result)

    def spent(self, steps: Sequence[Step], error: BaseException) -> tuple[Usage, RunEnergy]:
        return self.current.spent(steps, error)

    def close(self) -> None:
        for assistant in self._assistants.values():
            assistant.close()


class CascadeRun:
    """Iterate it for the Steps of each attempt and an `Escalation` between attempts; `outcome`
    is set when it ends."""

    def __init__(
        self,
        cascade: Cascade,
        question: str,
        history: Sequence[Message],
        on_text: Callable[[str], None] | None,
        judge: Judge | None,
        start: int,
    ) -> None:
        self.cascade = cascade
        self.question = question
        self.history = history
        self.on_text = on_text
        self.judge = judge
        self.models = cascade.chain[start:] or cascade.chain[-1:]
        self.attempts: list[Attempt] = []
        self.outcome: Outcome | None = None

    @property
    def result(self) -> Result | None:
        return self.outcome.result if self.outcome is not None else None

    def __iter__(self) -> Iterator[Step | Escalation]:
        cascade, findings = self.cascade, ""
        for position, model in enumerate(self.models):
            assistant = cascade.assistant(model)
            cascade.current = assistant
            run: AgentRun | PlannedRun
            if self.history or findings:
                run = assistant.ask(self.question, self.history, self.on_text, findings=findings)
            else:  # a task of its own: planned into checked sub-goals when `decompose` says so
                run = task_run(assistant, self.question, cascade.settings.decompose, self.on_text)
            yield from run
            result = run.result
            assert result is not None
            signals = answer_signals(result, self.question, cascade.settings.escalate_below)
            if self.judge is not None:
                signals += self.judge(result, cascade.sources)
            attempt = Attempt(
                model, result, assistant.energy(result), tuple(signals), bool(findings),
                cascade._params.get(model),
            )  # fmt: skip
            self.attempts.append(attempt)
            settled = any(step.form == "settled" for step in result.steps)
            if position + 1 == len(self.models) or not attempt.escalated or settled:
                break  # a settled answer needs no model: a larger one would get the same
            larger = cascade.assistant(self.models[position + 1])
            findings = ""
            if cascade.reuse_findings and larger.first_search in larger.tools:
                findings = findings_of(result, assistant.config.follow_up, self.question)
            yield Escalation(
                model, self.models[position + 1], tuple(escalating(signals)), bool(findings),
                result.answer,
            )  # fmt: skip
        self.outcome = self._outcome()

    def _outcome(self) -> Outcome:
        largest = self.cascade.chain[-1]
        ran = [attempt for attempt in self.attempts if attempt.model == largest]
        if ran:
            wh, source = ran[0].energy.total_wh, "measured: its attempt in this run"
        else:
            last = self.attempts[-1]
            modeled = modeled_larger_wh(last, self.cascade._params.get(largest))
            wh = modeled if modeled is not None else 0.0
            source = (
                f"modeled: this run's time x {largest}'s parameters / {last.model}'s"
                if modeled is not None
                else "unknown: a model's size is not known"
            )
        return Outcome(tuple(self.attempts), largest, wh, source)
