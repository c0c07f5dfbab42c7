"""Two small documents, the chatbot that indexes them, and passages built by hand (records
``Hit`` and ``Chunk`` with term statistics counted over them) for testing a rule without
building an index. Shared by the composer's tests: tests/answer/test_evidence.py and
tests/answer/test_extractive.py."""

from __future__ import annotations

from collections.abc import Sequence

from rag import Document
from rag.answer.candidates import candidates_from_hits
from rag.answer.evidence import ComposerSettings, Scored, score_sentences
from rag.language.analysis import index_terms
from rag.records import Chunk, Hit

DOCS = [
    Document(
        "swap.txt",
        "Prisoner swap\n\nRussia and Ukraine exchanged prisoners on February 5. "
        "In total 314 captives changed hands, officials said. "
        "The exchange was brokered by the United Arab Emirates.\n",
    ),
    Document(
        "weather.txt",
        "Weather\n\nThe winter in Moscow was mild this year. Snow fell late in December and melted quickly.\n",
    ),
]


def best(bot, question: str) -> list[Scored]:
    """The sentences of what ``bot`` retrieves for ``question``, scored, best first."""
    hits = bot.retrieve(question, k=bot.top_k)
    return score_sentences(question, candidates_from_hits(hits, 6), bot.index)


class PassageStatistics:
    """The term statistics an index of just these passages would give."""

    def __init__(self, hits: Sequence[Hit], chunk_count: int | None = None) -> None:
        self.terms = [frozenset(index_terms(hit.chunk.text)) for hit in hits]
        self.chunk_count = len(hits) if chunk_count is None else chunk_count

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        return {t: sum(t in chunk for chunk in self.terms) for t in dict.fromkeys(terms)}


def hits_of(*passages: str, source: str = "a.txt") -> list[Hit]:
    """One hit per passage, in the order given, as consecutive chunks of one document."""
    text = "\n\n".join(passages)
    hits, start = [], 0
    for rank, passage in enumerate(passages):
        start = text.index(passage, start)
        end = start + len(passage)
        line = text.count("\n", 0, start) + 1
        chunk = Chunk(rank, source, passage, start, end, line, line + passage.count("\n"))
        hits.append(Hit(chunk, 1.0 / (1 + rank)))
        start = end
    return hits


def scored_by_hand(question: str, *passages: str, settings: ComposerSettings | None = None) -> list[Scored]:
    """The sentences of ``passages``, scored for ``question``, best first: no index built."""
    hits = hits_of(*passages)
    return score_sentences(question, candidates_from_hits(hits, len(hits)), PassageStatistics(hits), settings)
