"""The `smallagent` command: parse options, wire the modules together, render, map errors to exits.

Heavy libraries (torch, faiss, sentence-transformers, ollama) are imported inside commands so that
`smallagent --help` stays instant.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from smallagent import __version__
from smallagent.config import Settings, load_settings
from smallagent.errors import SmallagentError

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


@app.command()
@_user_errors
def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="What to ask the model.")],
    seed: Annotated[int, typer.Option(help="Sampling seed, for repeatable answers.")] = 0,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.0,
) -> None:
    """Ask the model one question and show its reply with the usage Ollama reports."""
    from smallagent.ollama_model import OllamaModel
    from smallagent.types import Message

    settings = _settings(ctx)
    if not question.strip():
        raise SmallagentError("the question is empty", hint='smallagent ask "your question"')
    model = OllamaModel(
        settings.ollama_host,
        settings.model,
        timeout_s=settings.request_timeout_s,
        options={"temperature": temperature, "seed": seed},
    )
    console = _console()
    with console.status(f"asking {settings.model}…"):
        reply = model.chat([Message(role="user", content=question)])
    console.print(reply.message.content or "[dim](empty reply)[/]")
    usage = reply.usage
    console.print(
        f"[dim]{reply.model}: {usage.prompt_tokens} prompt tokens in {usage.prompt_eval_s:.2f} s, "
        f"{usage.generated_tokens} generated in {usage.eval_s:.2f} s "
        f"({usage.generation_tokens_per_s:.1f} tok/s), load {usage.load_s:.2f} s, "
        f"total {usage.total_s:.2f} s (reported by Ollama)[/]"
    )


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
        if "connection refused" in error.message or "timed out" in error.message:
            raise
        raise OllamaUnavailableError(
            f"could not pull {name}: {error.message}",
            hint="the Ollama registry may be unreachable; register a local GGUF with "
            "`ollama create NAME -f Modelfile` instead",
        ) from None
    typer.echo(f"pulled {name}")


def main() -> None:
    app()
