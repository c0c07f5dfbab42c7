"""Follow-up questions: "And what did he say about it?" means nothing without the turn before.

History is a list of role/content messages (``{"role": "user", "content": "..."}``), the
shape chat UIs and chat templates use. For retrieval, a question that leans on the
conversation (a pronoun, or too few words of its own) is searched together with the previous
user question; a self-contained question is searched alone, so a change of topic is not
dragged back to the old one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .analysis import question_terms
from .errors import RagError

Message = Mapping[str, str]

_REFERRING_RE = re.compile(
    r"\b(he|she|him|her|his|hers|they|them|their|theirs|it|its|this|that|these|those|there|then|"
    r"the same|the other|the former|the latter)\b",
    re.IGNORECASE,
)
_OWN_TERMS_ENOUGH = 3
_HISTORY_SHAPE = "history must be a list of {'role': 'user' or 'assistant', 'content': '...'} messages."


def user_turns(history: Sequence[Message] | None) -> list[str]:
    """The user's earlier questions, oldest first."""
    if isinstance(history, (str, bytes, Mapping)):
        raise RagError(_HISTORY_SHAPE)
    turns = []
    for message in history or ():
        if not isinstance(message, Mapping):
            raise RagError(_HISTORY_SHAPE)
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            turns.append(message["content"])
    return turns


def is_follow_up(question: str) -> bool:
    return bool(_REFERRING_RE.search(question)) or len(question_terms(question)) < _OWN_TERMS_ENOUGH


def condense_question(question: str, history: Sequence[Message] | None) -> str:
    """The text to search for: the question, plus the previous question if it is a follow-up."""
    previous = user_turns(history)
    if previous and is_follow_up(question):
        return f"{question} {previous[-1]}"
    return question
