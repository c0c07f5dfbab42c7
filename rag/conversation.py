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


def checked_history(history: Sequence[Mapping] | None) -> list[dict[str, str]]:
    """``history`` as plain role/content messages, or a RagError naming the message at fault.

    Content given as a list of parts (``[{"type": "text", "text": "..."}]``, as chat APIs and
    multimodal chat pages write it) is read as its text parts (a file alone has none). A
    message without a role or without content is an error, not silently dropped.
    """
    if history is None:
        return []
    if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, Sequence):
        raise RagError(_HISTORY_SHAPE)
    messages = []
    for position, message in enumerate(history, 1):
        if not isinstance(message, Mapping):
            raise RagError(_HISTORY_SHAPE)
        role, text = message.get("role"), _text_of(message.get("content"))
        if not isinstance(role, str) or text is None:
            missing = "role" if text is not None else "text content"
            raise RagError(f"History message {position} has no {missing}: {_HISTORY_SHAPE}")
        messages.append({"role": role, "content": text})
    return messages


def _text_of(content) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence) and not isinstance(content, bytes):
        texts = [part["text"] for part in content if isinstance(part, Mapping) and isinstance(part.get("text"), str)]
        return " ".join(texts)
    return None


def user_turns(history: Sequence[Message] | None) -> list[str]:
    """The user's earlier questions, oldest first."""
    return [m["content"] for m in checked_history(history) if m["role"] == "user"]


def is_follow_up(question: str) -> bool:
    return bool(_REFERRING_RE.search(question)) or len(question_terms(question)) < _OWN_TERMS_ENOUGH


def condense_question(question: str, history: Sequence[Message] | None) -> str:
    """The text to search for: the question, plus the previous question if it is a follow-up."""
    previous = user_turns(history)
    if previous and is_follow_up(question):
        return f"{question} {previous[-1]}"
    return question
