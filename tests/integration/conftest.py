"""The real Ollama server for the integration layer: one per session, never a fake, never skipped.

`make test` starts it through scripts/ollama_dev.py and passes its address in
SMALLAGENT_TEST_OLLAMA_HOST; a bare `pytest` starts (and stops) its own the same way. When no server
can be brought up, every integration test fails with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

TEST_MODEL = "qwen2.5-coder:0.5b"
# For the one agent task the 0.5B model cannot do reliably (choosing and phrasing a shell command).
CAPABLE_MODEL = "qwen2.5-coder:1.5b"
MODELS = [TEST_MODEL, CAPABLE_MODEL]
HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def ollama_host(ollama_dev: ModuleType) -> Iterator[str]:
    address = os.environ.get("SMALLAGENT_TEST_OLLAMA_HOST")
    if address:
        host = address if "://" in address else f"http://{address}"
        if not ollama_dev.server_version(host):
            pytest.fail(f"SMALLAGENT_TEST_OLLAMA_HOST={address} does not answer", pytrace=False)
        try:
            ollama_dev.ensure_models(host, MODELS)
        except ollama_dev.SetupError as error:
            pytest.fail(f"could not register {MODELS}: {error}", pytrace=False)
        yield host
        return
    try:
        server = ollama_dev.start_server()
    except ollama_dev.SetupError as error:
        pytest.fail(f"could not bring up the Ollama server: {error}", pytrace=False)
    try:
        ollama_dev.ensure_models(server.host, MODELS)
        yield server.host
    except ollama_dev.SetupError as error:
        pytest.fail(f"could not register {MODELS}: {error}", pytrace=False)
    finally:
        ollama_dev.stop_server(server.pid)


@pytest.fixture(scope="session")
def test_model() -> str:
    return TEST_MODEL


@pytest.fixture(scope="session")
def capable_model() -> str:
    return CAPABLE_MODEL


@pytest.fixture(scope="session")
def onnx_ready() -> None:
    """Queries embed through the ONNX export; make it once, in the user's cache as users do."""
    from smallagent.embeddings import export_onnx, onnx_cache_path

    export_onnx("all-MiniLM-L6-v2", onnx_cache_path("all-MiniLM-L6-v2"))
