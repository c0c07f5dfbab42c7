"""The cross-encoder reranker: reorders the fused candidates by a model's score for
(question, passage).

The model is a sentence-transformers ``CrossEncoder`` (a Hugging Face id or a local folder),
loaded through ``rag.models.registry`` like every other model.

Trade-off: the reranker's score replaces the fused score on the hits it returns, so the order
and the score agree; scores of different rerankers are not comparable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from rag.models.registry import RERANKER, hidden_size, load_model
from rag.records import Hit

RERANKER_PREFIX = "cross-encoder:"


def _cross_encoder(path: str, device: str):
    from sentence_transformers import CrossEncoder

    return CrossEncoder(path, device=device)


class CrossEncoderReranker:
    """Reorders hits by a cross-encoder's score for (question, passage)."""

    def __init__(self, name: str, *, device: str | None = None, batch_size: int = 32) -> None:
        loaded = load_model(RERANKER, name, _cross_encoder, device=device)
        self.name = loaded.path
        self.model = loaded.model
        self.batch_size = batch_size
        self.device = str(self.model.device)

    @property
    def id(self) -> str:
        return f"{RERANKER_PREFIX}{self.name}"

    @property
    def max_length(self) -> int | None:
        return getattr(self.model, "max_seq_length", None) or getattr(self.model, "max_length", None)

    @property
    def hidden_size(self) -> int | None:
        return hidden_size(self.model)

    def scores(self, question: str, passages: Sequence[str]) -> np.ndarray:
        """One relevance score per passage; for a model with several labels, the last label's."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        raw = self.model.predict(
            [(question, passage) for passage in passages],
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        raw = np.asarray(raw, dtype=np.float32)
        return raw[:, -1] if raw.ndim == 2 else raw

    def rerank(self, question: str, hits: Sequence[Hit]) -> list[Hit]:
        """``hits`` best first by the cross-encoder; ties keep the fused order."""
        scores = self.scores(question, [hit.text for hit in hits])
        order = sorted(range(len(hits)), key=lambda i: (-float(scores[i]), i))
        return [replace(hits[i], score=float(scores[i])) for i in order]


def load_reranker(name: str | None, *, device: str | None = None) -> CrossEncoderReranker | None:
    """The cross-encoder called ``name``, or None when none is configured."""
    if name is None or not str(name).strip():
        return None
    return CrossEncoderReranker(str(name).removeprefix(RERANKER_PREFIX), device=device)
