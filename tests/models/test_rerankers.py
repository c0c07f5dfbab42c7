"""The cross-encoder reranker (``rag.models.rerankers``) on the fused candidates."""

from __future__ import annotations

import numpy as np


def test_the_reranker_orders_the_fused_candidates_by_its_scores(neural_bot, tiny_models, monkeypatch, questions):
    from sentence_transformers import CrossEncoder

    retriever = neural_bot.retriever
    assert retriever.reranker.id == f"cross-encoder:{tiny_models.reranker}"
    question = questions[0]

    hits = neural_bot.retrieve(question, k=5)
    monkeypatch.setattr(retriever, "reranker", None)
    fused = neural_bot.retrieve(question, k=retriever.settings.rerank_candidates)
    monkeypatch.undo()
    scores = CrossEncoder(str(tiny_models.reranker), device="cpu").predict([(question, h.text) for h in fused])
    expected = sorted(range(len(fused)), key=lambda i: (-scores[i], i))[:5]

    assert [h.chunk.id for h in hits] == [fused[i].chunk.id for i in expected]
    np.testing.assert_allclose([h.score for h in hits], [scores[i] for i in expected], rtol=1e-5)
