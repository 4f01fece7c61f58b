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
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from typer._click.exceptions import ClickException
from typer.core import TyperGroup

from smallagent import __version__, render
from smallagent.chat import COMMANDS, Conversation, run_chat
from smallagent.config import (
    AskOptions,
    Settings,
    ShellMode,
    check_index_name,
    escalation_chain,
    history_path,
    load_settings,
)
from smallagent.energy import energy_settings, run_energy
from smallagent.errors import BadInput, CannotProceed, ConfigError, OptionError, SmallagentError
from smallagent.paths import display_path
from smallagent.types import Message, Usage

if TYPE_CHECKING:
    from rich.console import Console

    from smallagent.agent import Result, Step
    from smallagent.assistant import Assistant, Cascade
    from smallagent.energy import RunEnergy
    from smallagent.history import Entry, HistoryLog, Kind
    from smallagent.shell import ConsentRequest
    from smallagent.tasks.runlog import TaskResult

P = ParamSpec("P")
R = TypeVar("R")

# The options every command shares. They may come before or after the command's name
# (`smallagent --index notes search x` and `smallagent search x --index notes` are the same): the
# app moves them to the front before parsing, so each has one meaning wherever it is written.
GLOBAL_OPTIONS_WITH_VALUE = ("--index", "--model", "-m", "--index-dir", "--ollama-host", "--config")
GLOBAL_FLAGS = ("--no-log",)
EXIT_CODES = (
    "Exit codes: 0 done · 1 a failure while working (server down, model missing, a check failed)"
    " · 2 bad input or usage · 124 a model request ran out of time · 130 interrupted (Ctrl-C)."
)
# Set while a command line holds --json: its errors are one JSON object on stdout.
_json_errors: ContextVar[bool] = ContextVar("json_errors", default=False)


def hoist_global_options(args: Sequence[str]) -> list[str]:
    """The command line with the global options moved to the front, in their order; nothing
    after `--` moves.

    >>> hoist_global_options(["search", "x", "--index", "notes", "-k", "3"])
    ['--index', 'notes', 'search', 'x', '-k', '3']
    >>> hoist_global_options(["ask", "-mqwen", "--", "--index"])
    ['-mqwen', 'ask', '--', '--index']
    """
    front: list[str] = []
    rest: list[str] = []
    position = 0
    while position < len(args):
        arg = args[position]
        if arg == "--":
            rest.extend(args[position:])
            break
        name = arg.split("=", 1)[0]
        if arg in GLOBAL_OPTIONS_WITH_VALUE:
            front.extend(args[position : position + 2])  # a missing value: the parser says so
            position += 2
            continue
        joined = name in GLOBAL_OPTIONS_WITH_VALUE and arg.startswith("--")  # --index=notes
        if joined or arg in GLOBAL_FLAGS or (arg.startswith("-m") and len(arg) > 2):  # -mNAME
            front.append(arg)
        else:
            rest.append(arg)
        position += 1
    return front + rest


def _json_error(message: str, hint: str, exit_code: int) -> None:
    typer.echo(json.dumps({"error": message, "hint": hint, "exit_code": exit_code}))


class _App(TyperGroup):
    """The top-level command: global options anywhere, and errors as JSON under --json."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        given = list(sys.argv[1:] if args is None else args)
        as_json = "--json" in (given[: given.index("--")] if "--" in given else given)
        hoisted = hoist_global_options(given)
        token = _json_errors.set(as_json)
        try:
            if not as_json:
                return super().main(hoisted, prog_name, complete_var, standalone_mode, **extra)
            try:
                outcome = super().main(hoisted, prog_name, complete_var, False, **extra)
            except ClickException as error:  # a usage error: exit 2
                _json_error(error.format_message(), "see `smallagent --help`", error.exit_code)
                outcome = error.exit_code
            except typer.Abort:
                _json_error("aborted", "", 1)
                outcome = 1
            code = outcome if isinstance(outcome, int) else 0
            if standalone_mode:
                sys.exit(code)
            return code
        finally:
            _json_errors.reset(token)


app = typer.Typer(
    cls=_App,
    name="smallagent",
    help=f"smallagent {__version__}: small local models doing agentic work, with the energy "
    "bill shown.\n\nGlobal options (--index, --model/-m, --index-dir, --ollama-host, --config, "
    "--no-log) may come before or after the command.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
models_app = typer.Typer(
    help="List, inspect and pull models on the Ollama server.", no_args_is_help=True
)
app.add_typer(models_app, name="models")
index_app = typer.Typer(help="List, inspect and remove indexes.", no_args_is_help=True)
app.add_typer(index_app, name="index")
config_app = typer.Typer(help="Show the settings and where each came from.", no_args_is_help=True)
app.add_typer(config_app, name="config")
logs_app = typer.Typer(
    help="The history of questions: list, search, and energy totals.",
    invoke_without_command=True,
)
app.add_typer(logs_app, name="logs")

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
            if _json_errors.get():
                _json_error(message, error.hint, error.exit_code)
                raise typer.Exit(error.exit_code) from None
            _print_error(message, error.hint)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            if _json_errors.get():
                _json_error("interrupted", "", 130)
            else:
                render.console(stderr=True).print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None

    return wrapper


def _print_error(message: str, hint: str) -> None:
    """The error line and its hint, on stderr: for people, whatever stdout carries."""
    err = render.console(stderr=True)
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    if hint:
        err.print(f"[dim]hint:[/] {hint}", soft_wrap=True)


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
    no_log: Annotated[
        bool, typer.Option("--no-log", help="Do not record this command in the history log.")
    ] = False,
    decompose: Annotated[
        str | None,
        typer.Option(
            help="Plan multi-step tasks into checked sub-goals: off, auto, always "
            "(env SMALLAGENT_DECOMPOSE)."
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    flags: dict[str, Any] = {
        "ollama_host": ollama_host,
        "model": model,
        "index": index,
        "index_dir": index_dir,
        "history": False if no_log else None,
        "decompose": decompose,
    }
    settings = load_settings(flags=flags, config_file=config)
    if no_log:
        settings = settings.with_source("history", "--no-log")
    if "," in settings.model and not (
        ctx.invoked_subcommand == "run" and settings.source_of("model") == "--model"
    ):
        raise ConfigError(
            f"{settings.source_of('model')}: {settings.model!r} names several models",
            hint="only `smallagent run TASKS --model a,b` compares models; give one elsewhere",
        )
    ctx.obj = settings


@app.command()
@_user_errors
def doctor(
    ctx: typer.Context,
    skip_embedder: Annotated[
        bool, typer.Option(help="Skip loading the embedding model (saves seconds).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check the server, model, embedder, index dir and energy counters; say how to fix."""
    from smallagent.doctor import run_checks  # see the module docstring

    settings = _settings(ctx)
    console = render.console()
    if as_json:
        checks = list(run_checks(settings, load_embedder=not skip_embedder))
        typer.echo(render.doctor_json(__version__, settings, checks))
        raise typer.Exit(1 if any(check.status == "fail" for check in checks) else 0)
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
    escalate: tuple[str, ...] = (),
) -> AskOptions:
    """The flags of `ask` and `chat` as AskOptions, which checks them."""
    if no_shell and allow_shell:
        raise BadInput("--no-shell and --allow-shell contradict each other")
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
        escalate=escalate,
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
EscalateOption = Annotated[
    str | None,
    typer.Option(help="Larger model(s) a,b to try when a signal says the answer failed."),
]


def _escalation(flag: str | None, settings: Settings) -> tuple[str, ...]:
    """--escalate, else the `escalate` setting; checked by AskOptions."""
    return escalation_chain(flag) if flag is not None else settings.escalate


@app.command()
@_user_errors
def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="What to ask; - reads it from stdin.")],
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
    escalate: EscalateOption = None,
) -> None:
    """Answer a question with the agent: live step-by-step trace, sources, and the energy used."""
    # see the module docstring
    from smallagent.assistant import Cascade, Escalation
    from smallagent.trace import (
        LiveReply,
        escalation_event,
        escalation_fields,
        render_escalation,
        render_outcome,
        render_result,
        render_step,
        result_event,
        step_event,
    )

    settings = _settings(ctx)
    if question == "-":
        question = sys.stdin.read()
    if not question.strip():
        raise BadInput("the question is empty", hint='smallagent ask "your question"')
    question = question.strip()
    options = _ask_options(
        workdir, no_shell, allow_shell, max_steps, num_ctx, seed, temperature, device_watts,
        grid_intensity, max_wh, max_seconds, _escalation(escalate, settings),
    )  # fmt: skip
    console = render.console(stderr=as_json or quiet)  # stdout: only the JSONL or the answer
    trace_handle = None
    if trace_file is not None:
        try:
            trace_handle = trace_file.open("w", encoding="utf-8")
        except OSError as error:
            raise BadInput(f"cannot write --trace {trace_file}: {error.strerror}") from None

    def emit(event: dict[str, Any]) -> None:
        line = json.dumps(event, ensure_ascii=False, default=str)
        if as_json:
            typer.echo(line)
        if trace_handle is not None:
            trace_handle.write(line + "\n")
            trace_handle.flush()

    assistant = None
    steps: list[Step] = []
    started = time.monotonic()
    try:
        assistant = Cascade(settings, options, _confirm_in_terminal(not as_json))
        for note in assistant.notes:
            console.print(f"[yellow]note:[/] {note}")
        live = LiveReply(console) if console.is_terminal and not (as_json or quiet) else None
        run = assistant.ask(question, on_text=live.add if live else None)
        with live or contextlib.nullcontext():
            for step in run:
                if isinstance(step, Escalation):
                    emit(escalation_event(step))
                    if not as_json and not quiet:
                        render_escalation(console, step)
                    continue
                steps.append(step)
                emit(step_event(step))
                if live is not None:
                    live.clear()
                if not as_json and not quiet:
                    render_step(console, step, options.num_ctx)
        outcome = run.outcome
        assert outcome is not None
        result, energy = outcome.result, outcome.energy
        sources = assistant.sources.cited(result.answer)
        extra = {"model": outcome.answered_by, **escalation_fields(outcome)}
        emit(result_event(result, sources, energy, extra))
        answered = replace(settings, model=outcome.answered_by)
        _log_result(answered, "ask", question, result, energy, [s.label for s in sources], started)
        if quiet:
            typer.echo(result.answer)
        elif not as_json:
            render_result(console, result, sources, energy, options.workdir)
            render_outcome(console, outcome)
    except (SmallagentError, KeyboardInterrupt) as error:
        usage, energy = _account_for_failure(
            emit, console, assistant, options, steps, error, settings.model
        )
        _log(settings, _failed_entry("ask", question, settings.model, steps, usage, energy,
                                     error, started))  # fmt: skip
        if as_json:  # the error event above is the JSON error on stdout; people read stderr
            if isinstance(error, SmallagentError):
                _print_error(error.message, error.hint)
            raise typer.Exit(getattr(error, "exit_code", 130)) from None
        raise
    finally:
        if assistant is not None:
            assistant.close()
        if trace_handle is not None:
            trace_handle.close()


def _history(settings: Settings) -> HistoryLog | None:
    """The history log, unless turned off; a log that cannot open is said once, not fatal."""
    from smallagent.history import HistoryError, HistoryLog

    if not settings.history:
        return None
    try:
        return HistoryLog(history_path())
    except HistoryError as error:
        render.console(stderr=True).print(f"[yellow]note:[/] not logged: {error.message}")
        return None


def _log(settings: Settings, entry: Entry) -> None:
    log = _history(settings)
    if log is not None:
        with log:
            log.record(entry)


def _log_result(
    settings: Settings,
    kind: Kind,
    question: str,
    result: Result,
    energy: RunEnergy,
    sources: Sequence[str],
    started: float,
) -> None:
    from smallagent.history import question_entry

    state = "answered" if result.complete else f"incomplete: {result.stop_reason}"
    seconds = time.monotonic() - started
    entry = question_entry(
        kind, question, result.answer, settings.model, len(result.steps), result.usage, seconds,
        energy, state, sources,
    )  # fmt: skip
    _log(settings, entry)


def _failed_entry(
    kind: Kind,
    question: str,
    model: str,
    steps: Sequence[Step],
    usage: Usage,
    energy: RunEnergy,
    error: BaseException,
    started: float,
) -> Entry:
    from smallagent.history import question_entry

    state = f"error: {error.message}" if isinstance(error, SmallagentError) else "interrupted"
    return question_entry(kind, question, "", model, len(steps), usage,
                          time.monotonic() - started, energy, state)  # fmt: skip


def _account_for_failure(
    emit: Callable[[dict[str, Any]], None],
    console: Console,
    assistant: Assistant | Cascade | None,
    options: AskOptions,
    steps: list[Step],
    error: BaseException,
    model: str,
) -> tuple[Usage, RunEnergy]:
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
    return usage, energy


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
    escalate: EscalateOption = None,
) -> None:
    """Talk with the agent over several turns: /reset /sources /energy /escalate /model NAME
    /help /exit; \"\"\" opens and closes a question of several lines; Ctrl-C stops an answer,
    not the chat."""
    settings = _settings(ctx)
    options = _ask_options(
        workdir, no_shell, allow_shell, max_steps, num_ctx, seed, temperature, device_watts,
        grid_intensity, escalate=_escalation(escalate, settings),
    )  # fmt: skip
    console = render.console()
    host = _TerminalChat(settings, options, console)
    console.print(f"[bold]smallagent chat[/] with {settings.model} · {COMMANDS}")
    for note in host.assistant.notes:
        console.print(f"[yellow]note:[/] {note}")
    try:
        run_chat(host, Conversation(token_budget=options.num_ctx // 2))
    finally:
        host.assistant.close()


class _TerminalChat:
    """chat.ChatHost on the terminal: rich output, the live reply, the history log."""

    def __init__(self, settings: Settings, options: AskOptions, console: Console) -> None:
        from smallagent.assistant import Cascade

        self.settings, self.options, self.console = settings, options, console
        self.assistant: Cascade = Cascade(settings, options, _confirm_in_terminal(True))
        self.answered_by = 0  # where the last answer came from in the chain, for /escalate

    def read_line(self, prompt: str) -> str:
        return self.console.input(f"[bold green]{prompt}[/]")

    def say(self, text: str) -> None:
        self.console.print(text, markup=False)

    def cannot_escalate(self) -> str:
        if self.answered_by + 1 < len(self.assistant.chain):
            return ""
        return "no larger model to ask: start chat with --escalate MODEL"

    def answer(self, question: str, history: list[Message], escalate: bool = False) -> Result:
        from smallagent.assistant import Escalation
        from smallagent.trace import (
            LiveReply,
            render_escalation,
            render_outcome,
            render_result,
            render_step,
        )

        live = LiveReply(self.console) if self.console.is_terminal else None
        started = time.monotonic()
        run = self.assistant.ask(
            question, history=history, on_text=live.add if live else None,
            start=self.answered_by + 1 if escalate else 0,
        )  # fmt: skip
        steps: list[Step] = []
        try:
            with live or contextlib.nullcontext():
                for step in run:
                    if isinstance(step, Escalation):
                        render_escalation(self.console, step)
                        continue
                    steps.append(step)
                    if live is not None:
                        live.clear()
                    render_step(self.console, step, self.options.num_ctx)
        except (SmallagentError, KeyboardInterrupt) as error:
            usage, energy = self.assistant.spent(steps, error)
            entry = _failed_entry("chat", question, self.settings.model, steps, usage, energy,
                                  error, started)  # fmt: skip
            _log(self.settings, entry)
            raise
        outcome = run.outcome
        assert outcome is not None
        result, energy = outcome.result, outcome.energy
        sources = self.assistant.sources.cited(result.answer)
        render_result(self.console, result, sources, energy, self.options.workdir)
        render_outcome(self.console, outcome)
        self.answered_by = self.assistant.chain.index(outcome.answered_by)
        labels = [source.label for source in sources]
        answered = replace(self.settings, model=outcome.answered_by)
        _log_result(answered, "chat", question, result, energy, labels, started)
        return result

    def show_sources(self) -> None:
        for source in self.assistant.sources.by_number.values():
            self.console.print(f"  [cyan][{source.number}][/] {source.label}")

    def show_energy(self, result: Result) -> None:
        from smallagent.trace import render_energy

        render_energy(self.console, result, self.assistant.energy(result))

    def switch_model(self, name: str) -> None:
        from smallagent.assistant import Cascade

        settings = replace(self.settings, model=name).with_source("model", "/model")
        replacement = Cascade(settings, self.options, _confirm_in_terminal(True))
        self.assistant.close()
        self.settings, self.assistant, self.answered_by = settings, replacement, 0


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
    escalate: EscalateOption = None,
    escalate_on_checks: Annotated[
        bool, typer.Option(help="With escalation, a task whose checks fail escalates too.")
    ] = True,
    seed_escalation: Annotated[
        bool,
        typer.Option(hidden=True, help="The larger model starts from what the first found."),
    ] = False,
) -> None:
    """Run a task file: each task through the agent, its checks, a report and energy totals.

    The global --model runs every task on that model, and `--model a,b` on each of them, side by
    side. Exit code 0 when every task passed, 1 when a check failed or a task errored, 2 when the
    run could not proceed (a bad task file, the server down, a model missing).
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
        models = _names(_flagged_model(settings))
        work = plan(tasks, _names(only) if only else None, models, settings)
        log = ResultsLog(results, resume) if results is not None else None
        OllamaServer(settings.ollama_host).require(sorted({model for _, model in work}))
    except SmallagentError as error:
        raise CannotProceed(error.message, error.hint) from error
    energy = energy_settings(device_watts, grid_intensity)
    earlier, todo = resume_plan(work, log.done if log is not None else [])
    console = render.console(stderr=as_json)
    if earlier:
        console.print(f"resuming: {len(earlier)} task(s) already recorded, {len(todo)} to run")
    execute = assistant_executor(
        settings, allow_shell, energy, _escalation(escalate, settings), escalate_on_checks,
        reuse_findings=seed_escalation,
    )  # fmt: skip
    finished: list[TaskResult] = []
    prompts = {task.id: task.prompt for task, _ in work}
    history = _history(settings)
    try:
        with render.task_progress(console, len(todo), disable=not todo) as advance:

            def record(result: TaskResult) -> None:
                if log is not None:
                    log.append(result)
                if history is not None:
                    history.record(_task_entry(result, prompts[result.task_id]))
                if as_json:
                    typer.echo(json.dumps(result.row(), ensure_ascii=False))
                advance(result)

            finished = run_all(todo, execute, record, parallel)
    except SmallagentError as error:
        raise CannotProceed(error.message, error.hint) from error
    finally:
        if log is not None:
            log.close()
        if history is not None:
            history.close()
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


def _task_entry(result: TaskResult, prompt: str) -> Entry:
    """A finished task as a history entry; its state says how its checks went."""
    from smallagent.history import Entry

    state = {"pass": "passed", "fail": f"failed: {result.why()}", "error": f"error: {result.why()}"}
    return Entry(
        kind="run",
        question=prompt,
        answer=result.answer,
        model=result.model,
        steps=result.steps,
        prompt_tokens=result.prompt_tokens,
        generated_tokens=result.generated_tokens,
        seconds=result.seconds,
        wh=result.wh,
        wh_method=result.energy_source,
        gco2e=result.gco2e,
        same_method_wh=result.same_method_wh,
        reference_wh=result.reference_wh,
        exit_state=state[result.status],
    )


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON, and nothing else.")]


@models_app.command("list")
@_user_errors
def models_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the models on the server: size, parameters, quantization, context, capabilities."""
    from smallagent.ollama_model import OllamaServer  # see the module docstring

    server = OllamaServer(_settings(ctx).ollama_host)
    sizes = server.model_sizes()
    described = [(server.describe(name), sizes[name]) for name in sorted(sizes)]
    if as_json:
        typer.echo(json.dumps([render.model_row(info, size) for info, size in described]))
        return
    if not described:
        typer.echo("no models on the server; pull one with `smallagent models pull NAME`", err=True)
        return
    render.models_table(render.console(), described)


@models_app.command("show")
@_user_errors
def models_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name, e.g. qwen2.5:3b.")],
    as_json: JsonOption = False,
) -> None:
    """What the server says about one model (as `ollama show`)."""
    from smallagent.ollama_model import OllamaServer  # see the module docstring

    server = OllamaServer(_settings(ctx).ollama_host)
    size = server.model_sizes().get(name, 0)
    info = server.describe(name)
    if as_json:
        typer.echo(json.dumps(render.model_row(info, size)))
    else:
        for label, value in render.model_row(info, size).items():
            typer.echo(f"{label:15} {value}")


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
        raise BadInput(f"--precision must be one of {', '.join(PRECISIONS)}")
    if max_file_mb <= 0:
        raise BadInput("--max-file-mb must be positive")
    try:
        chunking = ChunkingConfig(chunk_tokens, overlap)
    except ValueError as error:
        raise BadInput(f"bad chunking options: {error}") from None
    if not any(path.exists() for path in paths):
        missing = ", ".join(str(path) for path in paths)
        raise BadInput(f"nothing to ingest: {missing} does not exist")
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
    if chunk_tokens > embedder.max_tokens:
        raise BadInput(
            f"--chunk-tokens {chunk_tokens} is more than {settings.embedding_model} reads: it "
            f"embeds at most {embedder.max_tokens} word pieces and would silently drop the rest",
            hint=f"use --chunk-tokens {embedder.max_tokens} or less",
        )
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
        raise BadInput("the query is empty", hint='smallagent search "words to look for"')
    if k < 1:
        raise BadInput("-k must be at least 1", hint="-k 5 shows five hits")
    settings = _settings(ctx)
    with IndexReader(index_directory(settings.index_dir, settings.index)) as reader:
        hits = Retriever(reader, query_embedder(reader.spec.embedder)).search(query, k=k)
    if as_json:
        typer.echo(render.hits_json(hits))
    else:
        render.hits(render.console(), hits)


@index_app.command("list")
@_user_errors
def index_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the indexes in the index directory."""
    from smallagent.index import list_indexes  # see the module docstring

    settings = _settings(ctx)
    summaries = list_indexes(settings.index_dir)
    if as_json:
        typer.echo(json.dumps([render.index_row(summary) for summary in summaries]))
        return
    if not summaries:
        typer.echo(f"no indexes in {display_path(settings.index_dir)}", err=True)
    for summary in summaries:
        typer.echo(render.index_line(summary))


IndexNameArgument = Annotated[
    str | None, typer.Argument(help="Index name (default: --index, else `default`).")
]


def _named_index(ctx: typer.Context, name: str | None) -> tuple[str, Path]:
    """An index named on the command line (or the --index one) and its folder."""
    settings = _settings(ctx)
    chosen = check_index_name(name, "index name") if name is not None else settings.index
    return chosen, settings.index_dir / chosen


@index_app.command("info")
@_user_errors
def index_info(
    ctx: typer.Context, name: IndexNameArgument = None, as_json: JsonOption = False
) -> None:
    """Show how an index was built and what it holds."""
    from smallagent.index import summarize  # see the module docstring

    summary = summarize(_named_index(ctx, name)[1])
    if as_json:
        typer.echo(json.dumps(render.index_row(summary)))
        return
    for line in render.index_info(summary):
        typer.echo(line)


@index_app.command("rm")
@_user_errors
def index_rm(
    ctx: typer.Context,
    name: IndexNameArgument = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete an index (asks first unless --yes)."""
    from smallagent.index import DATABASE, writer_lock  # see the module docstring

    name, directory = _named_index(ctx, name)
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
    name: IndexNameArgument = None,
) -> None:
    """Verify every file of an index (reads them all); exit 1 when it is damaged."""
    from smallagent.errors import IndexDamagedError
    from smallagent.index import check_index, repair_hint

    name, directory = _named_index(ctx, name)
    findings = check_index(directory)
    for finding in findings:
        typer.echo(f"{finding.verdict:<7} {finding.message}")
    damage = sum(finding.verdict == "damage" for finding in findings)
    if damage:
        problems = f"{damage} problem{'s' if damage > 1 else ''}"
        raise IndexDamagedError(f"index {name} is damaged ({problems})", hint=repair_hint(name))
    typer.echo(f"index {name} is sound")


@config_app.command("show")
@_user_errors
def config_show(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every setting, its value and where it came from; the config, index, cache and log paths."""
    from smallagent.config import settings_report

    report = settings_report(_settings(ctx), ctx.find_root().params.get("config"))
    if as_json:
        typer.echo(json.dumps(report))
    else:
        render.settings_report(render.console(), report)


@logs_app.callback()
@_user_errors
def logs(
    ctx: typer.Context,
    count: Annotated[int, typer.Option("-n", "--count", help="How many, newest first.")] = 20,
    query: Annotated[
        str | None,
        typer.Option("-q", "--query", help="Full-text search of questions and answers."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The latest questions (ask, chat turns, run tasks) with their model, tokens and energy.

    The global --model shows only that model's entries.
    """
    if ctx.invoked_subcommand is not None:
        return
    if count < 1:
        raise BadInput("-n must be at least 1", hint="smallagent logs -n 5")
    settings = _settings(ctx)
    model = _flagged_model(settings)
    log = _open_history()
    with log:
        entries = log.recent(count, query, model)
    if as_json:
        typer.echo(json.dumps([entry.row() for entry in entries], ensure_ascii=False))
    else:
        render.history(render.console(), entries)


@logs_app.command("energy")
@_user_errors
def logs_energy(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Wh and gCO2e per day and model, and what a 70B model would have used (EcoLogits)."""
    settings = _settings(ctx)
    model = _flagged_model(settings)
    log = _open_history()
    with log:
        totals = log.energy_totals(model)
    if as_json:
        typer.echo(json.dumps([total.row() for total in totals]))
    else:
        render.energy_totals(render.console(), totals)


@logs_app.command("path")
@_user_errors
def logs_path(ctx: typer.Context) -> None:
    """Where the history log is."""
    typer.echo(str(history_path()))


def _flagged_model(settings: Settings) -> str | None:
    """The model named with --model on this command line (not a configured default)."""
    return settings.model if settings.source_of("model") == "--model" else None


def _open_history() -> HistoryLog:
    """The log for reading, even when recording is off (it may hold earlier entries)."""
    from smallagent.history import HistoryLog

    return HistoryLog(history_path())


def main() -> None:
    try:
        app()
    except BrokenPipeError:
        # The reader left (`smallagent ask ... | head`): stop quietly, as `cat` does, with no
        # traceback and no second error when Python flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
