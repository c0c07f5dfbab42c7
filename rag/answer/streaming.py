"""``AnswerStream``: an answer as it is written, a piece of text at a time, then the final
``Answer``. ``Chatbot.stream`` returns one and ``Chatbot.ask`` runs one to its end, so the two
cannot answer differently.
"""

from __future__ import annotations

from collections.abc import Iterator

from rag.records import Answer


class AnswerStream:
    """Iterate for text pieces; after the last one, ``answer`` holds the final ``Answer``.

    The final ``answer.text`` is what to show once the stream ends: checks that run after
    generation may replace streamed text (markers removed, or a fallback answer).
    """

    def __init__(self, pieces: Iterator[str | Answer]) -> None:
        self._pieces = pieces
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        for piece in self._pieces:
            if isinstance(piece, Answer):
                self.answer = piece
            else:
                yield piece

    def finish(self) -> Answer:
        """The final ``Answer``, once the pieces not read yet have been read."""
        for _ in self:
            pass
        return self.answer


def words_of(text: str) -> Iterator[str]:
    """A composed answer a word at a time, each after its space: the pieces join to ``text``."""
    for position, word in enumerate(text.split(" ")):
        yield word if position == 0 else " " + word
