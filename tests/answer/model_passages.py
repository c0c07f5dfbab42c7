"""Passages for the language-model tests (prompting, checking, the writer): two sentences of
the seeds' exchange article as retrieved hits, and a way to make more."""

from __future__ import annotations

from rag.records import Chunk, Hit

EXCHANGE = "On February 5, Russia and Ukraine exchanged 314 prisoners, 157 from each side."
CHECHENS = "Kadyrov said that 20 Chechen soldiers were among the prisoners returned to Russia."


def hit(text: str, source: str = "a.txt", start_line: int = 1, start_char: int = 0, chunk_id: int = 1) -> Hit:
    end_line = start_line + text.count("\n")
    chunk = Chunk(chunk_id, source, text, start_char, start_char + len(text), start_line, end_line)
    return Hit(chunk, score=1.0)


def two_passages() -> list[Hit]:
    """``EXCHANGE`` then ``CHECHENS``, as retrieval would hand them over (best first)."""
    return [
        hit(EXCHANGE, "003_exchange.txt", start_line=21, start_char=900, chunk_id=7),
        hit(CHECHENS, "003_exchange.txt", start_line=11, start_char=400, chunk_id=4),
    ]
