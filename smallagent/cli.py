"""The `smallagent` command: parse options, wire the modules together, render, map errors to exits.

Heavy libraries (torch, faiss, sentence-transformers, ollama) are imported inside commands so that
`smallagent --help` stays instant.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from smallagent import __version__
from smallagent.config import Settings, load_settings
from smallagent.errors import SmallagentError
from smallagent.paths import atomic_write_bytes, display_path

if TYPE_CHECKING:
    from rich.console import Console

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


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """A known failure becomes one line plus its hint and a non-zero exit; never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except SmallagentError as error:
            if os.environ.get("SMALLAGENT_DEBUG") == "1":
                raise
            err = _console(stderr=True)
            err.print(f"[bold red]error:[/] {error.message}", soft_wrap=True)
            if error.hint:
                err.print(f"[dim]hint:[/] {error.hint}", soft_wrap=True)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            _console(stderr=True).print("[yellow]interrupted[/]")
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


_STATUS_LABEL = {"ok": "[green]  ok  [/]", "warn": "[yellow] warn [/]", "fail": "[red] FAIL [/]"}


@app.command()
@_user_errors
def doctor(
    ctx: typer.Context,
    skip_embedder: Annotated[
        bool, typer.Option(help="Skip loading the embedding model (saves seconds).")
    ] = False,
) -> None:
    """Check the server, model, embedder, index dir and energy counters; say how to fix."""
    from smallagent.doctor import run_checks

    settings = _settings(ctx)
    console = _console()
    console.print(f"[bold]smallagent {__version__}[/] doctor")
    for name in ("ollama_host", "model", "index_dir"):
        console.print(
            f"  [dim]{name} = {getattr(settings, name)}  (from {settings.source_of(name)})[/]"
        )
    failures = 0
    for check in run_checks(settings, load_embedder=not skip_embedder):
        console.print(f"{_STATUS_LABEL[check.status]} [bold]{check.name}[/]: {check.detail}")
        if check.fix:
            console.print(f"{'':7}[cyan]fix:[/] {check.fix}", soft_wrap=True)
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
    max_wh: float | None,
    device_watts: float | None,
    grid_intensity: float | None,
) -> Any:
    from smallagent.assistant import AskOptions

    if no_shell and allow_shell:
        raise SmallagentError("--no-shell and --allow-shell contradict each other")
    directory = (workdir or Path.cwd()).resolve()
    if not directory.is_dir():
        raise SmallagentError(f"--workdir {directory} is not a directory")
    if max_steps < 1:
        raise SmallagentError("--max-steps must be at least 1")
    if num_ctx < 1024:
        raise SmallagentError("--num-ctx must be at least 1024")
    if max_wh is not None and max_wh <= 0:
        raise SmallagentError("--max-wh must be positive")
    energy = _energy_settings(device_watts, grid_intensity)
    return AskOptions(
        max_steps=max_steps,
        shell_mode="off" if no_shell else "allow-all" if allow_shell else "read-only",
        workdir=directory,
        num_ctx=num_ctx,
        temperature=temperature,
        seed=seed,
        max_wh=max_wh,
        energy=energy,
    )


def _energy_settings(device_watts: float | None, grid_intensity: float | None) -> Any:
    from dataclasses import replace

    from smallagent.energy import default_energy_settings

    if device_watts is not None and device_watts <= 0:
        raise SmallagentError("--device-watts must be positive")
    energy = default_energy_settings()
    if device_watts is not None:
        energy = replace(energy, device_watts=device_watts, device_label=f"{device_watts:g} W")
    if grid_intensity is not None:
        if grid_intensity < 0:
            raise SmallagentError("--grid-intensity must not be negative")
        energy = replace(energy, grid_gco2_per_kwh=grid_intensity)
    return energy


def _confirm_in_terminal(enabled: bool) -> Any:
    """Ask [y/N] before running a command outside the policy, only when a person can answer."""
    import sys

    if not enabled or not sys.stdin.isatty():
        return None

    def confirm(request: Any) -> bool:  # a shell.ConsentRequest: the argv that would run, and why
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
    from dataclasses import replace

    from smallagent.assistant import build_assistant
    from smallagent.trace import LiveReply, render_result, render_step, result_event, step_event

    settings = _settings(ctx)
    if not question.strip():
        raise SmallagentError("the question is empty", hint='smallagent ask "your question"')
    if max_seconds is not None and max_seconds <= 0:
        raise SmallagentError("--max-seconds must be positive")
    options = _ask_options(
        workdir, no_shell, allow_shell, max_steps, num_ctx, seed, temperature, max_wh,
        device_watts, grid_intensity,
    )  # fmt: skip
    options = replace(options, max_seconds=max_seconds)
    console = _console(stderr=as_json or quiet)  # stdout carries only the JSONL or the answer
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
    steps: list[Any] = []
    try:
        assistant = build_assistant(settings, options, _confirm_in_terminal(not as_json))
        for note in assistant.notes:
            console.print(f"[yellow]note:[/] {note}")
        live = LiveReply(console) if console.is_terminal and not (as_json or quiet) else None
        run = assistant.ask(question, on_text=live.add if live else None)
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
    assistant: Any,
    options: Any,
    steps: list[Any],
    error: BaseException,
    model: str,
) -> None:
    """A question that failed still ends with what it spent: the JSON error event, and a line."""
    from smallagent.energy import run_energy
    from smallagent.trace import error_event, render_spent
    from smallagent.types import Usage

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
    from smallagent.assistant import build_assistant
    from smallagent.trace import LiveReply, render_energy, render_result, render_step

    settings = _settings(ctx)
    options = _ask_options(
        workdir, no_shell, allow_shell, max_steps, num_ctx, seed, temperature, None,
        device_watts, grid_intensity,
    )  # fmt: skip
    console = _console()
    assistant = build_assistant(settings, options, _confirm_in_terminal(True))
    history: list[Any] = []
    last = None
    console.print(f"[bold]smallagent chat[/] with {settings.model} · /reset /sources /energy /exit")
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
            if line in ("/exit", "/quit"):
                break
            if line == "/reset":
                history, last = [], None
                console.print("[dim]history cleared[/]")
                continue
            if line == "/sources":
                for source in assistant.sources.by_number.values():
                    console.print(f"  [cyan][{source.number}][/] {source.label}")
                continue
            if line == "/energy":
                if last is not None:
                    render_energy(console, last, assistant.energy(last))
                continue
            if line.startswith("/"):
                console.print("[yellow]commands: /reset /sources /energy /exit[/]")
                continue
            live = LiveReply(console) if console.is_terminal else None
            run = assistant.ask(
                line,
                history=_fit_history(history, options.num_ctx // 2),
                on_text=live.add if live else None,
            )
            with live or contextlib.nullcontext():
                for step in run:
                    if live is not None:
                        live.clear()
                    render_step(console, step, options.num_ctx)
            last = run.result
            assert last is not None
            sources = assistant.sources.cited(last.answer)
            render_result(console, last, sources, assistant.energy(last), options.workdir)
            history = [*history, *_turn_messages(line, last.answer)]
    finally:
        assistant.close()


def _turn_messages(question: str, answer: str) -> list[Any]:
    """A finished turn is kept as question and answer; its tool chatter is not carried over."""
    from smallagent.types import Message

    return [Message("user", question), Message("assistant", answer)]


def _fit_history(history: list[Any], token_budget: int) -> list[Any]:
    """The most recent whole turns that fit the budget (about 4 characters a token)."""
    kept: list[Any] = []
    used = 0
    for first in range(len(history) - 2, -1, -2):
        pair = history[first : first + 2]
        cost = sum(len(message.content) for message in pair) // 4
        if used + cost > token_budget:
            break
        kept = pair + kept
        used += cost
    return kept


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
    from smallagent import tasks as scripted

    settings = _settings(ctx)
    try:
        if report is not None and report.suffix.lower() not in (".json", ".md"):
            raise scripted.TaskFileError(f"--report {report}: use a .json or .md file")
        if resume and results is None:
            raise scripted.TaskFileError("--resume needs --results FILE.jsonl to resume from")
        if parallel < 1:
            raise scripted.TaskFileError("--parallel must be at least 1")
        loaded = scripted.load_task_file(task_file, allow_shell=allow_shell)
        if only:
            wanted = [name.strip() for name in only.split(",") if name.strip()]
            unknown = [name for name in wanted if name not in {task.id for task in loaded}]
            if unknown:
                raise scripted.TaskFileError(f"--only: no task with id {', '.join(unknown)}")
            loaded = [task for task in loaded if task.id in wanted]
        chosen = [name.strip() for name in (models or "").split(",") if name.strip()]
        if not chosen and settings.source_of("model") == "--model":
            chosen = [settings.model]  # the global --model flag beats the task file too
        work = (
            [(task, model) for model in chosen for task in loaded]
            if chosen
            else [(task, task.settings.model or settings.model) for task in loaded]
        )
        log = scripted.ResultsLog(results, resume) if results is not None else None
        _check_models_ready(settings, sorted({model for _, model in work}))  # local checks first
    except SmallagentError as error:
        error.exit_code = 2
        raise
    energy = {"energy": _energy_settings(device_watts, grid_intensity)}
    done = log.done if log is not None else []
    earlier, todo = scripted.resume_plan(work, done)
    console = _console(stderr=as_json)
    if earlier:
        console.print(f"resuming: {len(earlier)} task(s) already recorded, {len(todo)} to run")
    execute = scripted.assistant_executor(settings, allow_shell, energy)
    finished: list[Any] = []
    try:
        with _task_progress(console, len(todo), disable=not todo) as advance:

            def record(result: Any) -> None:
                if log is not None:
                    log.append(result)
                if as_json:
                    typer.echo(json.dumps(result.row(), ensure_ascii=False))
                advance(result)

            finished = scripted.run_tasks(todo, execute, record, parallel)
    except SmallagentError as error:
        error.exit_code = 2
        raise
    finally:
        if log is not None:
            log.close()
    order = {(task.id, model): n for n, (task, model) in enumerate(work)}
    everything = sorted(earlier + finished, key=lambda r: order[(r.task_id, r.model)])
    if report is not None:
        text = (
            scripted.report_json(everything, task_file)
            if report.suffix.lower() == ".json"
            else scripted.report_markdown(everything, task_file)
        )
        _write_atomically(report, text)
    if as_json:
        summary = {"type": "summary", **scripted.summarise(everything)}
        typer.echo(json.dumps({**summary, "by_model": scripted.by_model(everything)}))
    else:
        _print_task_report(console, everything)
        if report is not None:
            console.print(f"report: {display_path(report)}")
    raise typer.Exit(scripted.exit_code(everything))


def _check_models_ready(settings: Settings, models: list[str]) -> None:
    """The server answers and has every model, before the first task spends anything."""
    from smallagent.ollama_model import OllamaServer

    available = OllamaServer(settings.ollama_host).model_names()
    missing = [
        model for model in models if model not in available and f"{model}:latest" not in available
    ]
    if missing:
        raise SmallagentError(
            f"not on the server: {', '.join(missing)}",
            hint=f"smallagent models pull {missing[0]}",
        )


def _write_atomically(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, text.encode("utf-8"))
    except OSError as error:
        raise SmallagentError(f"cannot write {path}: {error.strerror}") from None


_STATUS_MARK = {"pass": "[green]pass[/]", "fail": "[red]fail[/]", "error": "[red]error[/]"}


@contextlib.contextmanager
def _task_progress(console: Console, total: int, disable: bool) -> Iterator[Callable[[Any], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("tasks"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.description}"))  # fmt: skip
    with Progress(*columns, console=console, disable=disable, transient=True) as progress:
        bar = progress.add_task("", total=total)

        def advance(result: Any) -> None:
            progress.console.print(
                f"{_STATUS_MARK[result.status]} {result.task_id} "
                f"({result.model}, {result.seconds:.1f} s)"
            )
            progress.advance(bar)

        yield advance


def _print_task_report(console: Console, results: list[Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from smallagent.tasks import by_model, energy_summary, summarise

    rows = Table(title="tasks", title_justify="left")
    for name in ("task", "model", "result", "steps", "tools", "tokens in+out", "s", "Wh"):
        left = name in ("task", "model", "result")
        rows.add_column(name, justify="left" if left else "right", no_wrap=left)
    for r in results:
        rows.add_row(
            escape(r.task_id), escape(r.model), _STATUS_MARK[r.status], str(r.steps),
            str(r.tool_calls), f"{r.prompt_tokens}+{r.generated_tokens}", f"{r.seconds:.1f}",
            f"{r.wh:.4f}",
        )  # fmt: skip
    console.print(rows)
    for r in results:
        if r.status != "pass":
            console.print(
                f"[red]{r.status}[/] {escape(r.task_id)} ({escape(r.model)}): {escape(r.why())}"
            )
    models = by_model(results)
    table = Table(title="summary", title_justify="left")
    for name in ("model", "passed", "prompt tok", "gen tok", "s", "Wh", "Wh / passed task"):
        table.add_column(name, justify="left" if name == "model" else "right", no_wrap=True)
    for model, totals in models.items():
        per_pass = totals["wh_per_passed_task"]
        table.add_row(
            escape(model), f"{totals['passed']}/{totals['tasks']}", str(totals["prompt_tokens"]),
            str(totals["generated_tokens"]), f"{totals['seconds']:.1f}", f"{totals['wh']:.4f}",
            "—" if per_pass is None else f"{per_pass:.4f}",
        )  # fmt: skip
    console.print(table)
    console.print(energy_summary(summarise(results)), highlight=False)


@models_app.command("list")
@_user_errors
def models_list(ctx: typer.Context) -> None:
    """List the models on the Ollama server."""
    from smallagent.ollama_model import OllamaServer

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
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from smallagent.errors import OllamaUnavailableError
    from smallagent.ollama_model import OllamaServer

    server = OllamaServer(_settings(ctx).ollama_host, timeout_s=_settings(ctx).request_timeout_s)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    try:
        with Progress(*columns, console=_console()) as progress:
            task = progress.add_task(name, total=None)
            for update in server.pull(name):
                progress.update(
                    task,
                    description=f"{name}: {update.status}",
                    completed=update.completed,
                    total=update.total or None,
                )
    except OllamaUnavailableError as error:
        if error.message.startswith("cannot reach Ollama") or "did not answer" in error.message:
            raise  # the server itself, not the registry behind it
        raise OllamaUnavailableError(
            f"could not pull {name}: {error.message}",
            hint="the Ollama registry may be unreachable; register a local GGUF with "
            "`ollama create NAME -f Modelfile` instead",
        ) from None
    typer.echo(f"pulled {name}")


def _index_directory(settings: Settings) -> Path:
    from smallagent.index import index_directory

    return index_directory(settings.index_dir, settings.index)


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
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from smallagent.chunking import ChunkingConfig
    from smallagent.embeddings import PRECISIONS, index_embedder
    from smallagent.ingest import IngestOptions, choose_precision
    from smallagent.ingest import Progress as IngestProgress
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
    console = _console(stderr=as_json)
    directory = _index_directory(settings)
    precision = choose_precision(directory, precision, settings, rebuild)
    try:
        with console.status("loading the embedder (exported to ONNX on first use)…"):
            embedder = index_embedder(settings.embedding_model, precision)
    except Exception as error:  # export needs torch and the model's files; say which failed
        raise SmallagentError(
            f"cannot prepare embedder {settings.embedding_model} ({precision}): "
            f"{type(error).__name__}: {error}",
            hint="`smallagent doctor` checks the embedding model",
        ) from None
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[chunks]} chunks"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("scanning", total=None, chunks=0)

        def on_progress(update: IngestProgress) -> None:
            description = "scanning" if update.phase == "scan" else "embedding"
            progress.update(
                task,
                description=description,
                completed=update.done,
                total=update.total,
                chunks=update.chunks,
            )

        report = run_ingest(directory, embedder, options, on_progress)
    if as_json:
        typer.echo(json.dumps(_ingest_report_json(settings.index, directory, report)))
    else:
        _print_ingest_report(console, settings.index, directory, report)
    if strict and (report.skipped or report.failed or report.warnings):
        raise typer.Exit(1)


def _ingest_report_json(name: str, directory: Path, report: Any) -> dict[str, Any]:
    energy = report.embedding_energy
    return {
        "index": name,
        "directory": str(directory),
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "removed": report.removed,
        "skipped": [{"path": str(item.path), "reason": item.reason} for item in report.skipped],
        "failed": [{"path": str(item.path), "reason": item.reason} for item in report.failed],
        "warnings": [{"path": str(item.path), "reason": item.reason} for item in report.warnings],
        "chunks_added": report.chunks_added,
        "chunks_removed": report.chunks_removed,
        "tokens_embedded": report.tokens_embedded,
        "seconds": round(report.seconds, 3),
        "embed_seconds": round(report.embed_seconds, 3),
        "embedding_wh": round(energy.watt_hours, 6) if energy else 0.0,
        "embedding_energy_source": energy.source if energy else "",
    }


def _print_ingest_report(console: Console, name: str, directory: Path, report: Any) -> None:
    from rich.table import Table

    table = Table(title=f"index {name} ({display_path(directory)})", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("files added", report.added),
        ("files updated", report.updated),
        ("files unchanged", report.unchanged),
        ("files removed", report.removed),
        ("files skipped", len(report.skipped)),
        ("files failed", len(report.failed)),
        ("files with warnings", len(report.warnings)),
        ("chunks added / removed", f"{report.chunks_added} / {report.chunks_removed}"),
        ("tokens embedded", report.tokens_embedded),
        ("seconds (embedding)", f"{report.seconds:.1f} ({report.embed_seconds:.1f})"),
    ]
    if report.embedding_energy is not None:
        energy = report.embedding_energy
        rows.append(("embedding energy", f"{energy.watt_hours:.4f} Wh, {energy.source}"))
    for label, value in rows:
        table.add_row(label, str(value))
    console.print(table)
    problems = [
        *(("skipped", item) for item in report.skipped),
        *(("failed", item) for item in report.failed),
        *(("warning", item) for item in report.warnings),
    ]
    for kind, item in problems[:25]:
        console.print(f"  [yellow]{kind}[/] {display_path(item.path)}: {item.reason}")
    if len(problems) > 25:
        console.print(f"  … and {len(problems) - 25} more")


@app.command()
@_user_errors
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", help="How many hits.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Hybrid (dense + keyword) search over an index."""
    from dataclasses import asdict

    from smallagent.embeddings import query_embedder
    from smallagent.index import IndexReader
    from smallagent.retrieval import Retriever

    if not query.strip():
        raise SmallagentError("the query is empty", hint='smallagent search "words to look for"')
    if k < 1:
        raise SmallagentError("-k must be at least 1")
    with IndexReader(_index_directory(_settings(ctx))) as reader:
        hits = Retriever(reader, query_embedder(reader.spec.embedder)).search(query, k=k)
    if as_json:
        typer.echo(json.dumps([asdict(hit) for hit in hits], ensure_ascii=False))
        return
    console = _console()
    if not hits:
        console.print("no hits")
    for hit in hits:
        where = display_path(hit.path) + (f":page {hit.page}" if hit.page else "")
        snippet = " ".join(hit.text.split())
        console.print(
            f"[bold]{hit.rank}.[/] [cyan]{where}[/] [dim]score {hit.score:.4f}"
            f"{' · ' + hit.heading if hit.heading else ''}[/]"
        )
        console.print(f"   {snippet[:240]}{'…' if len(snippet) > 240 else ''}", soft_wrap=True)


@index_app.command("list")
@_user_errors
def index_list(ctx: typer.Context) -> None:
    """List the indexes in the index directory."""
    from smallagent.index import list_indexes

    settings = _settings(ctx)
    summaries = list_indexes(settings.index_dir)
    if not summaries:
        typer.echo(f"no indexes in {display_path(settings.index_dir)}", err=True)
    for summary in summaries:
        typer.echo(
            f"{summary.name}\t{summary.documents} documents\t{summary.chunks} chunks\t"
            f"{summary.bytes_on_disk / 1e6:.1f} MB"
        )


@index_app.command("info")
@_user_errors
def index_info(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Index name.")],
) -> None:
    """Show how an index was built and what it holds."""
    import datetime

    from smallagent.index import index_directory, summarize

    summary = summarize(index_directory(_settings(ctx).index_dir, name))
    spec = summary.spec
    updated = datetime.datetime.fromtimestamp(summary.updated_at).isoformat(timespec="seconds")
    for label, value in (
        ("name", summary.name),
        ("directory", display_path(summary.directory)),
        ("documents", summary.documents),
        ("chunks", summary.chunks),
        ("embedder", f"{spec.embedder} ({spec.dimension} dims)"),
        ("chunking", f"{spec.max_tokens} tokens, overlap {spec.overlap_tokens}"),
        ("format", spec.format_version),
        ("size", f"{summary.bytes_on_disk / 1e6:.1f} MB"),
        ("updated", updated),
    ):
        typer.echo(f"{label:10} {value}")


@index_app.command("rm")
@_user_errors
def index_rm(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Index name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete an index (asks first unless --yes)."""
    import shutil

    from smallagent.index import DATABASE, index_directory, writer_lock

    directory = index_directory(_settings(ctx).index_dir, name)
    if not (directory / DATABASE).is_file():
        raise SmallagentError(f"no index named {name} in {display_path(directory.parent)}")
    if not yes and not typer.confirm(f"Delete index {name} ({display_path(directory)})?"):
        raise typer.Exit(1)
    with writer_lock(directory):
        shutil.rmtree(directory)
    typer.echo(f"removed index {name}")


def main() -> None:
    app()
