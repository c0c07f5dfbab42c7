"""Hybrid retrieval: dense (FAISS, or Qdrant) and lexical (BM25) candidates, fused by a convex
combination of min-max normalised scores, then optionally reranked.

Why a convex combination and not reciprocal-rank fusion: it keeps how far apart the scores
are, not just their order (Bruch et al. 2023, "An Analysis of Fusion Functions for Hybrid
Retrieval", find the same). On SciFact's *train* queries RRF scored well below both.

The dense weight depends on the embedder, and both were chosen on SciFact's *train* queries:

* 0.1 with the offline hashing embedder. It is a fuzzy copy of the lexical signal, and every
  weight above zero cost nDCG@10 (0.699 at 0, 0.697 at 0.1, 0.695 at 0.15, with 256-token
  chunks). At 0.1 it costs almost nothing there, while it still finds what BM25 cannot:
  spellings and transliterations that stem differently ("Zelenskyy", "Medisnky"), where the
  lexical list is empty and the dense one decides alone.
* 0.5 with a neural embedder, which knows what the words mean. With all-MiniLM-L6-v2:
  0.701 at 0 (BM25 alone), 0.706 at 0.1, 0.736 at 0.5, 0.732 at 0.6, 0.680 at 1 (dense alone).

``RetrievalSettings.dense_weight`` overrides it. Test-split figures are in docs/BENCHMARKS.md.
``Retriever.fuse`` is the fusion, built on ``min_max_normalise`` (and ``reciprocal_rank_scores``
when the settings choose RRF).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from rag.language.analysis import query_terms
from rag.models.embedding import Embedder, HashingEmbedder
from rag.records import Hit
from rag.store.location import Store


class Reranker(Protocol):
    def rerank(self, question: str, hits: Sequence[Hit]) -> list[Hit]: ...


HASHING_DENSE_WEIGHT = 0.1
NEURAL_DENSE_WEIGHT = 0.5


def default_dense_weight(embedder: Embedder) -> float:
    """The fusion weight of the dense half when the settings name none (see the docstring)."""
    return HASHING_DENSE_WEIGHT if isinstance(embedder, HashingEmbedder) else NEURAL_DENSE_WEIGHT


@dataclass(frozen=True)
class RetrievalSettings:
    """``dense_weight``: the dense half's share of the fused score; None picks it by embedder."""

    candidates: int = 100
    dense_weight: float | None = None
    fusion: Literal["convex", "rrf"] = "convex"
    rrf_k: int = 60
    rerank_candidates: int = 20


class Retriever:
    def __init__(
        self,
        index: Store,
        embedder: Embedder,
        settings: RetrievalSettings | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings or RetrievalSettings()
        self.reranker = reranker

    @property
    def dense_weight(self) -> float:
        if self.settings.dense_weight is not None:
            return self.settings.dense_weight
        return default_dense_weight(self.embedder)

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """The ``k`` best chunks for ``query``, best first."""
        if k <= 0 or self.index.chunk_count == 0:
            return []
        # No search returns more chunks than the index holds, and SQLite and FAISS take no
        # count past 2**63: top_k=2**70 means "all of them", not a crash.
        k = min(k, self.index.chunk_count)
        depth = min(max(k, self.settings.candidates), self.index.chunk_count)
        dense, lexical = self.index.hybrid_search(self.embedder.embed_query(query), query_terms(query), depth)
        fused = self.fuse(dense, lexical)
        keep = max(k, self.settings.rerank_candidates) if self.reranker else k
        hits = self._hits(fused[:keep], dense, lexical)
        if self.reranker is not None and hits:
            hits = self.reranker.rerank(query, hits)
        return hits[:k]

    def fuse(self, dense: list[tuple[int, float]], lexical: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """One ranking from the dense and lexical ``(chunk id, score)`` lists, best first (ties by
        chunk id): ``dense_weight`` times the min-max normalised dense score plus the rest times
        the lexical one, or the sum of reciprocal-rank scores when the settings ask for RRF."""
        if self.settings.fusion == "rrf":
            scores = reciprocal_rank_scores(dense, self.settings.rrf_k, 1.0)
            for chunk_id, score in reciprocal_rank_scores(lexical, self.settings.rrf_k, 1.0).items():
                scores[chunk_id] = scores.get(chunk_id, 0.0) + score
        else:
            weight = self.dense_weight
            scores = {i: weight * s for i, s in min_max_normalise(dense).items()}
            for chunk_id, score in min_max_normalise(lexical).items():
                scores[chunk_id] = scores.get(chunk_id, 0.0) + (1.0 - weight) * score
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))

    def _hits(self, fused, dense, lexical) -> list[Hit]:
        dense_rank = {chunk_id: rank for rank, (chunk_id, _) in enumerate(dense, 1)}
        lexical_rank = {chunk_id: rank for rank, (chunk_id, _) in enumerate(lexical, 1)}
        chunks = self.index.chunks([chunk_id for chunk_id, _ in fused])
        return [
            Hit(chunks[chunk_id], score, dense_rank.get(chunk_id), lexical_rank.get(chunk_id))
            for chunk_id, score in fused
            if chunk_id in chunks
        ]


def min_max_normalise(results: list[tuple[int, float]]) -> dict[int, float]:
    """Scores scaled to [0, 1] within one result list; a lone result scores 1."""
    if not results:
        return {}
    values = [s for _, s in results]
    low, high = min(values), max(values)
    span = high - low
    return {i: (s - low) / span if span > 0 else 1.0 for i, s in results}


def reciprocal_rank_scores(results: list[tuple[int, float]], k: int, weight: float) -> dict[int, float]:
    """``weight / (k + rank)`` for each chunk, by its 1-based rank in ``results`` (Cormack et al.
    2009); the scores themselves are ignored."""
    return {chunk_id: weight / (k + rank) for rank, (chunk_id, _) in enumerate(results, 1)}
