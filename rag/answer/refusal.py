"""The refusal every writer gives when the documents do not answer: one sentence, the same
whichever writer refuses, so that a caller (and the conversation that follows) can tell a
refusal from an answer by its text.

Kept apart from the writers so that each can refuse without importing another.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.records import Answer, Citation, Hit

REFUSAL = "The documents do not say."


def abstain(question: str, hits: Sequence[Hit], closest: Citation | None = None) -> Answer:
    """The refusal, with the retrieved passages and, when a writer has one worth showing, the
    sentence that came nearest to answering (``closest``, marker 0: shown, never cited)."""
    return Answer(question=question, text=REFUSAL, hits=list(hits), abstained=True, raw_text=REFUSAL, closest=closest)
