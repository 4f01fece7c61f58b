"""Shared test helpers: the repository's own setup script, loaded as a module."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
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


@pytest.fixture(autouse=True, scope="session")
def private_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The history log and default indexes live in the user data directory: never the real one
    in a test (subprocesses inherit it too)."""
    import os

    root = tmp_path_factory.mktemp("xdg-data")
    previous = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(root)
    yield root
    if previous is None:
        del os.environ["XDG_DATA_HOME"]
    else:
        os.environ["XDG_DATA_HOME"] = previous


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No user config, no SMALLAGENT_* or OLLAMA_HOST from the outside leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("SMALLAGENT_") or name == "OLLAMA_HOST":
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
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
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One ONNX export per session, in a private cache instead of the user's."""
    import os

    from smallagent.embeddings import export_onnx, onnx_cache_path

    root = tmp_path_factory.mktemp("cache")
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(root)
    export_onnx("all-MiniLM-L6-v2", onnx_cache_path("all-MiniLM-L6-v2"))
    yield root
    if previous is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = previous


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


def make_spaceless_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A PDF laid out as TeX does it: each line one TJ array whose words are set apart by a kerning
    gap, with no space glyph drawn. The font gives slot 32 a full em (TeX fonts put another glyph
    there), so a reader that takes that slot for the word space finds no gap wide enough."""
    fonts = "<< /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica /FirstChar 32 /LastChar 126"
    widths = " ".join(["1000"] + ["500"] * 94)
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [{}] /Count {} >>".format(
            " ".join(f"{3 + 2 * number} 0 R" for number in range(len(pages))), len(pages)
        ),
    ]
    for number, lines in enumerate(pages):
        shown = [f"[{' -333 '.join(f'({word})' for word in line.split())}] TJ T*" for line in lines]
        stream = "\n".join(["BT /F1 11 Tf 72 720 Td 14 TL", *shown, "ET"])
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * number} 0 R"
            f" /Resources << /Font {fonts} /Widths [{widths}] >> >> >> >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    body, offsets = "%PDF-1.4\n", []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += f"{number} 0 obj\n{content}\nendobj\n"
    table = "".join(f"{offset:010d} 00000 n \n" for offset in offsets)
    xref = len(body)
    body += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n{table}"
    body += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    path.write_bytes(body.encode("latin-1"))
    return path
