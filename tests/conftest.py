"""Shared test helpers: the repository's own setup script, loaded as a module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_ollama_dev() -> ModuleType:
    """scripts/ is not a package; the tests exercise the same file that `make` runs."""
    name = "ollama_dev"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "ollama_dev.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def ollama_dev() -> ModuleType:
    return load_ollama_dev()


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No user config, no SMALLAGENT_* or OLLAMA_HOST from the outside leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("SMALLAGENT_") or name == "OLLAMA_HOST":
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real all-MiniLM-L6-v2 on torch, loaded once for the whole session."""
    from smallagent.embeddings import SentenceTransformerEmbedder

    model = SentenceTransformerEmbedder()
    model.embed(["warm up"])
    return model


@pytest.fixture(scope="session")
def counter():  # type: ignore[no-untyped-def]
    from smallagent.chunking import WordPieceCounter
    from smallagent.embeddings import resolve_model_location

    return WordPieceCounter(resolve_model_location("all-MiniLM-L6-v2"))


def make_pdf(path: Path, pages: list[str]) -> Path:
    """A real PDF written by fpdf2; an empty string makes a page with a drawing and no text."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 6, text)
        else:
            pdf.rect(20, 20, 100, 60, style="F")
    pdf.output(str(path))
    return path
