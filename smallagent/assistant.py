"""Wiring for `ask`, `chat` and scripted runs: settings in, a ready agent out.

The model is asked once what it is (tools capability, size), the index is opened read-only, the
tools are built for this working directory and shell policy, and the system prompt is fixed for the
whole run so that Ollama can reuse its KV cache from step to step.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
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
from smallagent.index import IndexReader, index_directory
from smallagent.ollama_model import OllamaModel
from smallagent.paths import display_path
from smallagent.retrieval import Retriever, SourceRegistry
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

    def settle(self, question: str) -> str:
        """The answer when the question names what no document mentions; else "" (the model's)."""
        names = self.retriever.unknown_names(question) if self.retriever is not None else []
        return f"Not found in the documents: none mentions {', '.join(names)}." if names else ""

    def review(self, question: str, answer: str, steps: Sequence[Step]) -> str:
        """ "Not found" in place of an answer taken from passages that are not about the question;
        else "" (the answer stands).

        Shown the nearest passage, the 1.5B model answered every unanswerable question of the
        benchmark's dev split from it. Such an answer is caught by two lexical checks and no
        model call: no passage the run retrieved holds enough of the question
        (`Retriever.coverage`, below `not_found_below`), and the answer's own words come from
        those passages. An answer from the shell or a file read, one in other words ("OK"), or
        one to a question that names a file or folder (the search result's file-system facts
        answer those), stands.
        """
        if self.retriever is None or self.not_found_below <= 0:
            return ""
        if named_paths(question, self.options.workdir):
            return ""  # a question about a file or folder: the file system's facts answer it
        queries = [question]
        for step in steps:
            if step.kind != "tool" or step.call is None:
                continue
            if step.call.name != "search":
                return ""  # the file system or a file answered, not the passages
            queries += [str(value) for value in step.call.arguments.values()][:1]
        hits = [
            hit for query in dict.fromkeys(queries) for hit in self.retriever.search(query, k=4)
        ]
        share, best = self.retriever.coverage(question, hits)
        if share >= self.not_found_below or not _drawn_from(answer, hits, self.retriever):
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
    ) -> AgentRun:
        """One question; `on_text` sees the model's replies as they stream, for a live trace."""
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
        return AgentRun(
            self.model,
            self.tools,
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


def _drawn_from(answer: str, hits: Sequence[Any], retriever: Retriever) -> bool:
    """Most of the answer's topic words are in the passages: it was taken from them."""
    words = retriever.topic_words(answer)
    held = {word.lower() for hit in hits for word in re.findall(r"\w+", hit.text)}
    return bool(words) and sum(word in held for word in words) * 2 >= len(words)


def build_assistant(
    settings: Settings, options: AskOptions, confirm: Callable[[ConsentRequest], bool] | None
) -> Assistant:
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
    )
    info = model.info()  # also fails early, with a hint, when the server or model is missing
    notes: list[str] = []
    sources = SourceRegistry()
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
