"""An NLI cross-encoder as a ``SupportJudge``: does the passage (premise) entail the sentence
(hypothesis)?

Any sentence-transformers ``CrossEncoder`` trained for natural language inference works, e.g.
``cross-encoder/nli-deberta-v3-base`` (a Hugging Face id or a local folder). The support score
is the softmax probability of the label whose name contains "entail"; a model with a single
output is read as P(entailed) after its sigmoid. ALCE (Gao et al. 2023) judges with the
TRUE model (a T5-11B NLI model) instead; its figures, this judge's and the lexical judge's are
not comparable with each other.

The model is loaded through ``rag.models.registry`` like every other model: its name is
resolved first (a folder that does not exist is an error at once, before any library is
asked), and torch and sentence-transformers are imported when a judge is built, not with
``rag``.
"""

from __future__ import annotations

import logging

from rag.errors import ModelLoadError
from rag.models.registry import NLI, load_model

logger = logging.getLogger(__name__)


class CrossEncoderJudge:
    """Support = P(entailment) from an NLI cross-encoder; supported at ``threshold`` or above."""

    def __init__(
        self,
        model: str,
        *,
        threshold: float = 0.5,
        device: str | None = None,
        max_length: int = 512,
        batch_size: int = 16,
    ) -> None:
        self.model_id = model
        self.threshold = threshold
        self.batch_size = batch_size
        self.name = f"nli:{model}"
        self._cache: dict[tuple[str, str], float] = {}
        self._model = load_model(NLI, model, _nli_cross_encoder, device=device, max_length=max_length).model
        self._entailment = _entailment_index(self._model)
        logger.info("NLI judge %s (entailment output %s)", model, self._entailment)

    def support(self, claim: str, passage: str) -> float:
        key = (claim, passage)
        if key not in self._cache:
            self._cache[key] = self.support_many([(claim, passage)])[0]
        return self._cache[key]

    def support_many(self, pairs: list[tuple[str, str]]) -> list[float]:
        """Scores for (claim, passage) pairs in one batched pass."""
        inputs = [(passage, claim) for claim, passage in pairs]
        if self._entailment is None:
            scores = self._model.predict(inputs, batch_size=self.batch_size, show_progress_bar=False)
            return [float(s) for s in scores]
        probabilities = self._model.predict(
            inputs, batch_size=self.batch_size, show_progress_bar=False, apply_softmax=True
        )
        return [float(row[self._entailment]) for row in probabilities]


def _nli_cross_encoder(path: str, device: str, max_length: int):
    from sentence_transformers import CrossEncoder

    return CrossEncoder(path, device=device, max_length=max_length)


def _entailment_index(model) -> int | None:
    """Which output is "entailment"; None for a one-output model (already a probability)."""
    labels = {int(i): str(name).lower() for i, name in (model.config.id2label or {}).items()}
    if model.num_labels == 1:
        return None
    for index, name in labels.items():
        if "entail" in name and "not" not in name and "non" not in name:
            return index
    raise ModelLoadError(
        f"The NLI model has outputs {sorted(labels.values())} but none named 'entailment'; "
        "use a cross-encoder trained for NLI."
    )
