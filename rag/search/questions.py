"""What a question must be to be searched, and how many passages may be asked for.

Each check raises a ``RagError`` subclass with a message that says what to do, because these
are the mistakes a caller of ``Chatbot.ask`` or ``rag ask`` can make: a question that is not
text, not valid Unicode (undecodable bytes, a lone surrogate), empty, longer than ``MAX_QUESTION_CHARS``, or without a word to search for (passage
counts are checked with the other arguments, in ``rag.validation``). Trade-off: nothing is guessed at (a blank question
is not answered from whatever comes first, ``top_k=-1`` does not mean the default).
"""

from __future__ import annotations

from rag.errors import InvalidQuestionError
from rag.language.analysis import index_terms
from rag.records import MAX_QUESTION_CHARS, lone_surrogate


def checked_question(question: str) -> str:
    """``question`` stripped, or an InvalidQuestionError: not text, empty, or too long."""
    if not isinstance(question, str):
        raise InvalidQuestionError(f"A question must be text, not {type(question).__name__}.")
    question = question.strip()
    if lone_surrogate(question):
        raise InvalidQuestionError(
            "The question holds bytes that are not text (not valid UTF-8, or a lone surrogate). "
            "Type it again, or save it as UTF-8."
        )
    if not question:
        raise InvalidQuestionError("The question is empty. Type a question about the documents.")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQuestionError(
            f"The question is {len(question):,} characters long; the limit is {MAX_QUESTION_CHARS:,}. "
            "Ask a shorter question."
        )
    return question


def searchable(question: str) -> str:
    """A question of punctuation or stop words alone ("?!", "the the") would be answered from
    whatever passages happen to come first: say so instead."""
    if not index_terms(question):
        raise InvalidQuestionError(
            "The question has no words to search for, only punctuation or words such as “the” and “of”. "
            "Ask about something in the documents."
        )
    return question
