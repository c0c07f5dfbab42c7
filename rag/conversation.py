"""Follow-up questions: "And what did he say about it?" means nothing without the turn before.

History is a list of role/content messages (``{"role": "user", "content": "..."}``), the
shape chat UIs and chat templates use. For retrieval, a question that leans on the
conversation (a pronoun, or too few words of its own) is searched together with the previous
user question; a self-contained question is searched alone, so a change of topic is not
dragged back to the old one. Before that, "he" or "she" is read as the person the
conversation is about ("Who commands the Akhmat unit?" then "How old is he?" asks "How old is
Apti Alaudinov?"), so the answer is chosen for that person and not for any "he".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .analysis import index_terms, question_terms
from .compose import REFUSAL, people, question_type
from .errors import RagError
from .lexicon import Lexicon, load_lexicon

Message = Mapping[str, str]

_REFERRING_RE = re.compile(
    r"\b(he|she|him|her|his|hers|they|them|their|theirs|it|its|this|that|these|those|there|then|"
    r"the same|the other|the former|the latter)\b",
    re.IGNORECASE,
)
_PERSON_RE = re.compile(r"\b(he|she|him|his|her|hers)\b", re.IGNORECASE)
# "Who is Harold Chambers?" asks about the person it names, not for another one.
_IDENTIFY_RE = re.compile(r"^\s*[Ww]ho\s+(?:is|was|are|were)\s+[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*\s*\??\s*$")
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


def resolve_people(question: str, history: Sequence[Message] | None, lexicon: Lexicon | None = None) -> str:
    """``question`` with "he", "she", "his", "her" ... replaced by the person the conversation
    is about, or unchanged when it names no one that way or no one is in focus."""
    if not _PERSON_RE.search(question):
        return question
    person = person_in_focus(history, lexicon or load_lexicon())
    return _naming(person, question) if person else question


def person_in_focus(history: Sequence[Message] | None, lexicon: Lexicon) -> str | None:
    """Who "he" or "she" means after ``history``: the person a "who" question was answered
    with (unless it asked who a named person is), else the person a question named (a full
    name first), else whoever it was before."""
    person = None
    for asked, answered in _exchanges(checked_history(history)):
        if person:
            asked = _naming(person, asked)
        person = _answered_with(asked, answered, lexicon) or next(iter(people(asked, lexicon)), person)
    return person


def _answered_with(asked: str, answered: str | None, lexicon: Lexicon) -> str | None:
    """The person a "who" question got for an answer: the first one it did not name itself."""
    if question_type(asked) != "person" or not answered or answered == REFUSAL or _IDENTIFY_RE.match(asked):
        return None
    asked_terms = set(index_terms(asked))
    return next((name for name in people(answered, lexicon) if not asked_terms & set(index_terms(name))), None)


def _exchanges(messages: list[dict[str, str]]) -> list[tuple[str, str | None]]:
    """Each user message with the assistant's reply to it (None when there is none)."""
    pairs: list[tuple[str, str | None]] = []
    for message in messages:
        if message["role"] == "user":
            pairs.append((message["content"], None))
        elif message["role"] == "assistant" and pairs and pairs[-1][1] is None:
            pairs[-1] = (pairs[-1][0], message["content"])
    return pairs


def _naming(person: str, question: str) -> str:
    """``question`` with its "he", "his", "her" ... written as ``person``, ``person``’s ..."""

    def standing_for(pronoun: re.Match) -> str:
        return f"{person}’s" if pronoun.group(1).lower() in {"his", "hers"} else person

    return _PERSON_RE.sub(standing_for, question)
