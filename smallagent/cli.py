"""The `smallagent` command: parse options, wire the modules together, render, map errors to exits.

Each command imports the modules behind it when it runs, not at the top of this file: together
they would add more than half again to every start, `smallagent --help` included (measured:
docs/benchmarks.md, "Start-up cost of imports"); test_help_does_not_import_the_commands_modules
holds the line. Their types are imported for the type checker only.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from smallagent import __version__, render
from smallagent.chat import COMMANDS, Conversation
from smallagent.chat import command as chat_command
from smallagent.config import AskOptions, Settings, ShellMode, load_settings
from smallagent.energy import energy_settings, run_energy
from smallagent.errors import CannotProceed, OptionError, SmallagentError
from smallagent.paths import display_path
from smallagent.types import Usage

if TYPE_CHECKING:
    from rich.console import Console

    from smallagent.agent import Step
    from smallagent.assistant import Assistant
    from smallagent.shell import ConsentRequest
    from smallagent.tasks.runlog import TaskResult

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="smallagent",
    help="Small local models doing agentic work, with the energy bill shown.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="List and pull models on the Ollama server.", no_args_is_help=True)
app.add_typer(models_app, name="models")
index_app = typer.Typer(help="List, inspect and remove indexes.", no_args_is_help=True)
app.add_typer(index_app, name="index")

# The flags whose names are not the option's own (config.AskOptions, energy.EnergySettings).
_FLAG_OF = {"grid_gco2_per_kwh": "--grid-intensity"}


def _flag(option: str) -> str:
    return _FLAG_OF.get(option, "--" + option.replace("_", "-"))


def _user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """A known failure becomes one line plus its hint and a non-zero exit; never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except SmallagentError as error:
            if os.environ.get("SMALLAGENT_DEBUG") == "1":
                raise
            message = error.message
            if isinstance(error, OptionError):  # a flag's value: say which flag
                message = f"{_flag(error.name)} {error.requirement}"
            err = render.console(stderr=True)
            err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
            if error.hint:
                err.print(f"[dim]hint:[/] {error.hint}", soft_wrap=True)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            render.console(stderr=True).print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None

    return wrapper


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings), "the app callback sets ctx.obj"
    return settings


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"smallagent {__version__}")
        raise typer.Exit()


@app.callback()
@_user_errors
def main_options(
    ctx: typer.Context,
    ollama_host: Annotated[
        str | None, typer.Option(help="Ollama server, host:port or URL (env OLLAMA_HOST).")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Ollama model (env SMALLAGENT_MODEL).")
    ] = None,
    index: Annotated[str | None, typer.Option(help="Index name (env SMALLAGENT_INDEX).")] = None,
    index_dir: Annotated[
        Path | None, typer.Option(help="Where indexes live (env SMALLAGENT_INDEX_DIR).")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="Config file to use instead of smallagent.toml / the user config."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show version."),
    ] = False,
) -> None:
    flags: dict[str, Any] = {
        "ollama_host": ollama_host,
        "model": model,
        "index": index,
        "index_dir": index_dir,
    }
    ctx.obj = load_settings(flags=flags, config_file=config)


@app.command()
@_user_errors
def doctor(
    ctx: typer.Context,
    skip_embedder: Annotated[
        bool, typer.Option(help="Skip loading the embedding model (saves seconds).")
    ] = False,
) -> None:
    """Check the server, model, embedder, index dir and energy counters; say how to fix."""
    from smallagent.doctor import run_checks  # see the module docstring

    settings = _settings(ctx)
    console = render.console()
    render.doctor_header(console, __version__, settings)
    failures = 0
    for check in run_checks(settings, load_embedder=not skip_embedder):
        render.check(console, check)
        failures += check.status == "fail"
    if failures:
        console.print(f"[red]{failures} problem(s) to fix.[/]")
        raise typer.Exit(1)
    console.print("[green]Ready.[/]")


def _ask_options(
    workdir: Path | None,
    no_shell: bool,
    allow_shell: bool,
    max_steps: int,
    num_ctx: int,
    seed: int,
    temperature: float,
    device_watts: float | None,
    grid_intensity: float | None,
    max_wh: float | None = None,
    max_seconds: float | None = None,
) -> AskOptions:
    """The flags of `ask` and `chat` as AskOptions, which checks them."""
    if no_shell and allow_shell:
        raise SmallagentError("--no-shell and --allow-shell contradict each other")
    shell: ShellMode = "off" if no_shell else "allow" if allow_shell else "read-only"
    return AskOptions(
        max_steps=max_steps,
        shell=shell,
        workdir=(workdir or Path.cwd()).resolve(),
        num_ctx=num_ctx,
        temperature=temperature,
        seed=seed,
        max_wh=max_wh,
        max_seconds=max_seconds,
        energy=energy_settings(device_watts, grid_intensity),
    )


def _confirm_in_terminal(enabled: bool) -> Callable[[ConsentRequest], bool] | None:
    """Ask [y/N] before running a command outside the policy, only when a person can answer."""
    if not enabled or not sys.stdin.isatty():
        return None

    def confirm(request: ConsentRequest) -> bool:  # the argv that would run, and why
        return typer.confirm(request.prompt(), default=False, err=True)

    return confirm


WorkdirOption = Annotated[
    Path | None, typer.Option(help="Directory the shell and file tools are confined to.")
]
NoShellOption = Annotated[bool, typer.Option("--no-shell", help="Disable the shell tool.")]
AllowShellOption = Annotated[
    bool, typer.Option("--allow-shell", help="Run any command the model asks for (no prompt).")
]
MaxStepsOption = Annotated[int, typer.Option(help="Most model calls for one question.")]
NumCtxOption = Annotated[int, typer.Option(help="Context window to ask Ollama for.")]
SeedOption = Annotated[int, typer.Option(help="Sampling seed, for repeatable runs.")]
TemperatureOption = Annotated[float, typer.Option(help="Sampling temperature.")]
MaxWhOption = Annotated[
    float | None, typer.Option(help="Stop with a partial answer past this many Wh.")
]
DeviceWattsOption = Annotated[
    float | None, typer.Option(help="Power of the device running the model (default: CPU model).")
]
GridOption = Annotated[
    float | None, typer.Option(help="Grid carbon intensity, gCO2e/kWh (default 480).")
]


@app.command()
@_user_errors
def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="What to ask.")],
    max_steps: MaxStepsOption = 8,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSONL events (steps, then the result) only.")
    ] = False,
    trace_file: Annotated[
        Path | None, typer.Option("--trace", help="Also save the JSONL events to this file.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the answer.")] = False,
    workdir: WorkdirOption = None,
    no_shell: NoShellOption = False,
    allow_shell: AllowShellOption = False,
    num_ctx: NumCtxOption = 8192,
    seed: SeedOption = 0,
    temperature: TemperatureOption = 0.0,
    max_wh: MaxWhOption = None,
    max_seconds: Annotated[
        float | None,
        typer.Option(help="Stop with a partial answer past this many seconds in all."),
    ] = None,
    device_watts: DeviceWattsOption = None,
    grid_intensity: GridOption = None,
) -> None:
    """Answer a question with the agent: live step-by-step trace, sources, and the energy used."""
    # see the module docstring
    from smallagent.assistant import build_assistant
    from smallagent.planner import task_run
    from smallagent.trace import LiveReply, render_result, render_step, result_event, step_event

    settings = _settings(ctx)
    if not question.strip():
        raise SmallagentError("the question is empty", hint='smallagent ask "your question"')
    options = _ask_options(
        workdir, no_shell, allow_shell, max_steps, num_ctx, seed, temperature, device_watts,
        grid_intensity, max_wh, max_seconds,
    )  # fmt: skip
    console = render.console(stderr=as_json or quiet)  # stdout: only the JSONL or the answer
    trace_handle = None
    if trace_file is not None:
        try:
            trace_handle = trace_file.open("w", encoding="utf-8")
        except OSError as error:
            raise SmallagentError(f"cannot write --trace {trace_file}: {error.strerror}") from None

    def emit(event: dict[str, Any]) -> None:
        line = json.dumps(event, ensure_ascii=False, default=str)
        if as_json:
            typer.echo(line)
        if trace_handle is not None:
            trace_handle.write(line + "\n")
            trace_handle.flush()

    assistant = None
    steps: list[Step] = []
    try:
        assistant = build_assistant(settings, options, _confirm_in_terminal(not as_json))
        for note in assistant.notes:
            console.print(f"[yellow]note:[/] {note}")
        live = LiveReply(console) if console.is_terminal and not (as_json or quiet) else None
        on_text = live.add if live else None
        run = task_run(assistant, question, settings.decompose, on_text=on_text)
        with live or contextlib.nullcontext():
            for step in run:
                steps.append(step)
                emit(step_event(step))
                if live is not None:
                    live.clear()
                if not as_json and not quiet:
                    render_step(console, step, options.num_ctx)
        result = run.result
        assert result is not None
        sources = assistant.sources.cited(result.answer)
        energy = assistant.energy(result)
        emit(result_event(result, sources, energy, {"model": settings.model}))
        if quiet:
            typer.echo(result.answer)
        elif not as_json:
            render_result(console, result, sources, energy, options.workdir)
    except (SmallagentError, KeyboardInterrupt) as error:
        _account_for_failure(emit, console, assistant, options, steps, error, settings.model)
        raise
    finally:
        if assistant is not None:
            assistant.close()
        if trace_handle is not None:
            trace_handle.close()


def _account_for_failure(
    emit: Callable[[dict[str, Any]], None],
    console: Console,
    assistant: Assistant | None,
    options: AskOptions,
    steps: list[Step],
    error: BaseException,
    model: str,
) -> None:
    """A question that failed still ends with what it spent: the JSON error event, and a line."""
    from smallagent.trace import error_event, render_spent  # see the module docstring

    if assistant is not None:
        usage, energy = assistant.spent(steps, error)
    else:  # nothing reached the model
        usage, energy = Usage(), run_energy(Usage(), 0.0, options.energy, None)
    if isinstance(error, SmallagentError):
        message, hint, code = error.message, error.hint, error.exit_code
    else:
        message, hint, code = "interrupted", "", 130
    emit(error_event(message, hint, code, steps, usage, energy, {"model": model}))
    if assistant is not None:
        render_spent(console, steps, usage, energy)


@app.command()
@_user_errors
def chat(
    ctx: typer.Context,
    max_steps: MaxStepsOption = 8,
    workdir: WorkdirOption = None,
    no_shell: NoShellOption = False,
    allow_shell: AllowShellOption = False,
    num_ctx: NumCtxOption = 8192,
    seed: SeedOption = 0,
    temperature: TemperatureOption = 0.0,
    device_watts: DeviceWattsOption = None,
    grid_intensity: GridOption = None,
) -> None:
    """Talk with the agent over several turns: /reset, /sources, /energy, /exit."""
    # see the module docstring
    from smallagent.assistant import build_assistant
    from smallagent.trace import LiveReply, render_energy, render_result, render_step

    settings = _settings(ctx)
    options = _ask_options(
        workdir, no_shell, allow_shell, max_steps, num_ctx, seed, temperature, device_watts,
        grid_intensity,
    )  # fmt: skip
    console = render.console()
    assistant = build_assistant(settings, options, _confirm_in_terminal(True))
    conversation = Conversation(token_budget=options.num_ctx // 2)
    console.print(f"[bold]smallagent chat[/] with {settings.model} · {COMMANDS}")
    for note in assistant.notes:
        console.print(f"[yellow]note:[/] {note}")
    try:
        while True:
            try:
                line = console.input("[bold green]you>[/] ").strip()
            except EOFError:
                break
            if not line:
                continue
            action = chat_command(line)
            if action == "exit":
                break
            if action == "reset":
                conversation.reset()
                console.print("[dim]history cleared[/]")
            elif action == "sources":
                for source in assistant.sources.by_number.values():
                    console.print(f"  [cyan][{source.number}][/] {source.label}")
            elif action == "energy":
                if conversation.last is not None:
                    last = conversation.last
                    render_energy(console, last, assistant.energy(last))
            elif action == "unknown":
                console.print(f"[yellow]commands: {COMMANDS}[/]")
            else:
                live = LiveReply(console) if console.is_terminal else None
                run = assistant.ask(
                    line, history=conversation.context(), on_text=live.add if live else None
                )
                with live or contextlib.nullcontext():
                    for step in run:
                        if live is not None:
                            live.clear()
                        render_step(console, step, options.num_ctx)
                result = run.result
                assert result is not None
                sources = assistant.sources.cited(result.answer)
                render_result(console, result, sources, assistant.energy(result), options.workdir)
                conversation.record(line, result)
    finally:
        assistant.close()


def _names(text: str | None) -> list[str]:
    """`a, b,c` -> ["a", "b", "c"]."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


@app.command("run")
@_user_errors
def run_tasks(
    ctx: typer.Context,
    task_file: Annotated[Path, typer.Argument(help="Task file, YAML or JSON.")],
    report: Annotated[Path | None, typer.Option(help="Write a report here: .json or .md.")] = None,
    results: Annotated[
        Path | None, typer.Option(help="Append one JSON line per finished task here (fsynced).")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Skip tasks already recorded in --results.")
    ] = False,
    only: Annotated[
        str | None, typer.Option(help="Run only these task ids (comma-separated).")
    ] = None,
    models: Annotated[
        str | None,
        typer.Option("--model", help="Model(s) to run every task on; a,b compares them."),
    ] = None,
    parallel: Annotated[int, typer.Option(help="Tasks run at once.")] = 1,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON line per task, then the summary.")
    ] = False,
    allow_shell: Annotated[
        bool,
        typer.Option(
            "--allow-shell", help="Consent to `shell: allow` and to checks outside the allowlist."
        ),
    ] = False,
    device_watts: DeviceWattsOption = None,
    grid_intensity: GridOption = None,
) -> None:
    """Run a task file: each task through the agent, its checks, a report and energy totals.

    Exit code 0 when every task passed, 1 when a check failed or a task errored, 2 when the run
    could not proceed (a bad task file, the server down, a model missing).
    """
    # see the module docstring
    from smallagent.ollama_model import OllamaServer
    from smallagent.tasks.report import (
        REPORT_SUFFIXES,
        energy_summary,
        exit_code,
        model_table,
        summarise,
        summary_row,
        task_table,
        write_report,
    )
    from smallagent.tasks.runlog import ResultsLog, resume_plan
    from smallagent.tasks.runner import assistant_executor, in_plan_order, plan
    from smallagent.tasks.runner import run_tasks as run_all
    from smallagent.tasks.taskfile import TaskFileError, load_task_file

    settings = _settings(ctx)
    try:
        if report is not None and report.suffix.lower() not in REPORT_SUFFIXES:
            raise TaskFileError(f"--report {report}: use a .json or .md file")
        if resume and results is None:
            raise TaskFileError("--resume needs --results FILE.jsonl to resume from")
        if parallel < 1:
            raise TaskFileError("--parallel must be at least 1")
        tasks = load_task_file(task_file, allow_shell=allow_shell)
        work = plan(tasks, _names(only) if only else None, _names(models), settings)
        log = ResultsLog(results, resume) if results is not None else None
        OllamaServer(settings.ollama_host).require(sorted({model for _, model in work}))
    except SmallagentError as error:
        raise CannotProceed(error.message, error.hint) from error
    energy = energy_settings(device_watts, grid_intensity)
    earlier, todo = resume_plan(work, log.done if log is not None else [])
    console = render.console(stderr=as_json)
    if earlier:
        console.print(f"resuming: {len(earlier)} task(s) already recorded, {len(todo)} to run")
    execute = assistant_executor(settings, allow_shell, energy)
    finished: list[TaskResult] = []
    try:
        with render.task_progress(console, len(todo), disable=not todo) as advance:

            def record(result: TaskResult) -> None:
                if log is not None:
                    log.append(result)
                if as_json:
                    typer.echo(json.dumps(result.row(), ensure_ascii=False))
                advance(result)

            finished = run_all(todo, execute, record, parallel)
    except SmallagentError as error:
        raise CannotProceed(error.message, error.hint) from error
    finally:
        if log is not None:
            log.close()
    everything = in_plan_order(work, earlier + finished)
    if report is not None:
        write_report(report, everything, task_file)
    if as_json:
        typer.echo(json.dumps(summary_row(everything)))
    else:
        render.table(console, task_table(everything))
        render.not_passed(console, everything)
        render.table(console, model_table(everything))
        console.print(energy_summary(summarise(everything)), highlight=False)
        if report is not None:
            console.print(f"report: {display_path(report)}")
    raise typer.Exit(exit_code(everything))


@models_app.command("list")
@_user_errors
def models_list(ctx: typer.Context) -> None:
    """List the models on the Ollama server."""
    from smallagent.ollama_model import OllamaServer  # see the module docstring

    names = OllamaServer(_settings(ctx).ollama_host).model_names()
    if not names:
        typer.echo("no models on the server; pull one with `smallagent models pull NAME`", err=True)
    for name in names:
        typer.echo(name)


@models_app.command("pull")
@_user_errors
def models_pull(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model to pull, e.g. qwen2.5:3b.")],
) -> None:
    """Pull a model from the Ollama registry, with a progress bar (needs network)."""
    from smallagent.ollama_model import OllamaServer  # see the module docstring

    settings = _settings(ctx)
    server = OllamaServer(settings.ollama_host, timeout_s=settings.request_timeout_s)
    with render.pull_progress(render.console(), name) as show:
        for update in server.pull(name):
            show(update)
    typer.echo(f"pulled {name}")


@app.command()
@_user_errors
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Folders or files to ingest.")],
    include: Annotated[
        list[str] | None, typer.Option(help="Only files matching this glob (repeatable).")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Leave out files matching this glob (repeatable).")
    ] = None,
    rebuild: Annotated[
        bool, typer.Option(help="Re-embed everything (needed after changing the embedder).")
    ] = False,
    strict: Annotated[
        bool, typer.Option(help="Exit 1 when any file was skipped or warned about.")
    ] = False,
    max_file_mb: Annotated[float, typer.Option(help="Skip files larger than this.")] = 20.0,
    chunk_tokens: Annotated[
        int, typer.Option(help="Most tokens in a chunk (the embedder's limit).")
    ] = 256,
    overlap: Annotated[int, typer.Option(help="Tokens shared by neighbouring chunks.")] = 32,
    precision: Annotated[
        str | None,
        typer.Option(
            help="Embedding precision: int8 (default for new indexes) or fp32; an existing index "
            "keeps its own unless this is given."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Add folders to an index: new and changed files are embedded, deleted ones removed."""
    # see the module docstring
    from smallagent.chunking import ChunkingConfig
    from smallagent.embeddings import PRECISIONS, index_embedder
    from smallagent.index import index_directory
    from smallagent.ingest import IngestOptions, choose_precision
    from smallagent.ingest import ingest as run_ingest

    settings = _settings(ctx)
    if precision is not None and precision not in PRECISIONS:
        raise SmallagentError(f"--precision must be one of {', '.join(PRECISIONS)}")
    if max_file_mb <= 0:
        raise SmallagentError("--max-file-mb must be positive")
    try:
        chunking = ChunkingConfig(chunk_tokens, overlap)
    except ValueError as error:
        raise SmallagentError(f"bad chunking options: {error}") from None
    if not any(path.exists() for path in paths):
        missing = ", ".join(str(path) for path in paths)
        raise SmallagentError(f"nothing to ingest: {missing} does not exist")
    options = IngestOptions(
        roots=tuple(paths),
        include=tuple(include or ()),
        exclude=tuple(exclude or ()),
        max_file_bytes=int(max_file_mb * 1024 * 1024),
        chunking=chunking,
        rebuild=rebuild,
    )
    console = render.console(stderr=as_json)
    directory = index_directory(settings.index_dir, settings.index)
    chosen = choose_precision(directory, precision, settings, rebuild)
    try:
        with console.status("loading the embedder (exported to ONNX on first use)…"):
            embedder = index_embedder(settings.embedding_model, chosen)
    except Exception as error:  # export needs torch and the model's files; say which failed
        raise SmallagentError(
            f"cannot prepare embedder {settings.embedding_model} ({chosen}): "
            f"{type(error).__name__}: {error}",
            hint="`smallagent doctor` checks the embedding model",
        ) from None
    with render.ingest_progress(console) as on_progress:
        report = run_ingest(directory, embedder, options, on_progress)
    if as_json:
        typer.echo(render.ingest_report_json(settings.index, directory, report))
    else:
        render.ingest_report(console, settings.index, directory, report)
    if strict and (report.skipped or report.failed or report.warnings):
        raise typer.Exit(1)


@app.command()
@_user_errors
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", help="How many hits.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Hybrid (dense + keyword) search over an index."""
    # see the module docstring
    from smallagent.embeddings import query_embedder
    from smallagent.index import IndexReader, index_directory
    from smallagent.retrieval import Retriever

    if not query.strip():
        raise SmallagentError("the query is empty", hint='smallagent search "words to look for"')
    if k < 1:
        raise SmallagentError("-k must be at least 1")
    settings = _settings(ctx)
    with IndexReader(index_directory(settings.index_dir, settings.index)) as reader:
        hits = Retriever(reader, query_embedder(reader.spec.embedder)).search(query, k=k)
    if as_json:
        typer.echo(render.hits_json(hits))
    else:
        render.hits(render.console(), hits)


@index_app.command("list")
@_user_errors
def index_list(ctx: typer.Context) -> None:
    """List the indexes in the index directory."""
    from smallagent.index import list_indexes  # see the module docstring

    settings = _settings(ctx)
    summaries = list_indexes(settings.index_dir)
    if not summaries:
        typer.echo(f"no indexes in {display_path(settings.index_dir)}", err=True)
    for summary in summaries:
        typer.echo(render.index_line(summary))


@index_app.command("info")
@_user_errors
def index_info(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Index name.")],
) -> None:
    """Show how an index was built and what it holds."""
    from smallagent.index import index_directory, summarize  # see the module docstring

    for line in render.index_info(summarize(index_directory(_settings(ctx).index_dir, name))):
        typer.echo(line)


@index_app.command("rm")
@_user_errors
def index_rm(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Index name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete an index (asks first unless --yes)."""
    from smallagent.index import DATABASE, index_directory, writer_lock  # see the module docstring

    directory = index_directory(_settings(ctx).index_dir, name)
    if not (directory / DATABASE).is_file():
        raise SmallagentError(f"no index named {name} in {display_path(directory.parent)}")
    if not yes and not typer.confirm(f"Delete index {name} ({display_path(directory)})?"):
        raise typer.Exit(1)
    with writer_lock(directory):
        shutil.rmtree(directory)
    typer.echo(f"removed index {name}")


@index_app.command("check")
@_user_errors
def index_check(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Index name.")],
) -> None:
    """Verify every file of an index (reads them all); exit 1 when it is damaged."""
    from smallagent.errors import IndexDamagedError
    from smallagent.index import check_index, index_directory, repair_hint

    findings = check_index(index_directory(_settings(ctx).index_dir, name))
    for finding in findings:
        typer.echo(f"{finding.verdict:<7} {finding.message}")
    damage = sum(finding.verdict == "damage" for finding in findings)
    if damage:
        problems = f"{damage} problem{'s' if damage > 1 else ''}"
        raise IndexDamagedError(f"index {name} is damaged ({problems})", hint=repair_hint(name))
    typer.echo(f"index {name} is sound")


def main() -> None:
    app()
