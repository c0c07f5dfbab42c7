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

from rag.answer.citations import strip_markers
from rag.answer.definitions import defined_name
from rag.answer.refusal import REFUSAL
from rag.errors import RagError
from rag.language.analysis import index_terms, question_terms
from rag.language.lexicon import Lexicon, load_lexicon
from rag.language.questions import people, question_type
from rag.records import MAX_QUESTION_CHARS

Message = Mapping[str, str]

_REFERRING_RE = re.compile(
    r"\b(he|she|him|her|his|hers|they|them|their|theirs|it|its|this|that|these|those|there|then|"
    r"the same|the other|the former|the latter)\b",
    re.IGNORECASE,
)
# Lower case or capitalised only: "HE shells" is not a pronoun.
_PERSON_RE = re.compile(r"\b([Hh]e|[Ss]he|[Hh]im|[Hh]is|[Hh]ers?)\b")
_SENTENCE_BREAK_RE = re.compile(r"[.?!]+\s+")
_QUOTED_RE = re.compile(r"\"[^\"]*\"|“[^”]*”|‘[^’]*’")
# "her" before these is the object ("ask her about"), before anything else the possessive.
_AFTER_OBJECT_HER = frozenset(
    ["about", "to", "for", "from", "with", "in", "on", "at", "of", "and", "or", "but", "that", "if", "when", "what"]
)
# "Who is Harold Chambers?", "who's the analyst harold chambers": about the person named.
_IDENTIFY_RE = re.compile(r"^\s*(?:tell\s+me\s+)?who(?:\s+is|\s+was|’s|'s)\b", re.IGNORECASE)
_OWN_TERMS_ENOUGH = 3
# Who "he" is is read from this many exchanges back at most: someone nobody has named in the
# last fifty exchanges is no longer the one the conversation is about, and a history of 10^5
# messages (a script's, or a page's never cleared) must not make each question take minutes.
FOCUS_EXCHANGES = 50
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
    """Whether ``question`` leans on the one before: it refers back, or has too few words of its
    own ("And Zelensky?"), unless it asks who someone is ("Who is Kadyrov?" asks it all)."""
    if _REFERRING_RE.search(question):
        return True
    return len(question_terms(question)) < _OWN_TERMS_ENOUGH and defined_name(question) is None


def condense_question(question: str, history: Sequence[Message] | None) -> str:
    """The text to search for: the question, plus the previous question if it is a follow-up."""
    previous = user_turns(history)
    if previous and is_follow_up(question):
        return f"{question} {_within(previous[-1].strip(), MAX_QUESTION_CHARS - len(question) - 1)}".rstrip()
    return question


def _within(text: str, limit: int) -> str:
    """``text`` cut at a word to at most ``limit`` characters: the question asked was checked
    against the length limit, and what is added to it for searching must not break it."""
    if len(text) <= limit:
        return text
    whole_words = re.match(r".*\S(?=\s)", text[: limit + 1], re.DOTALL) if limit > 0 else None
    return whole_words.group() if whole_words else ""


def resolve_people(question: str, history: Sequence[Message] | None, lexicon: Lexicon | None = None) -> str:
    """``question`` with "he", "she", "his", "her" ... replaced by the person the conversation
    is about, or unchanged when it names no one that way or no one is in focus."""
    person = referent(question, history, lexicon)
    return naming(person, question) if person else question


def referent(question: str, history: Sequence[Message] | None, lexicon: Lexicon | None = None) -> str | None:
    """The person "he" or "she" in ``question`` stands for, or None: when it has no such word,
    names someone before it ("Did Kadyrov say he would?"), or nobody is in focus."""
    lexicon = lexicon or load_lexicon()
    return person_in_focus(history, lexicon) if _refers_back(question, lexicon) else None


def person_in_focus(history: Sequence[Message] | None, lexicon: Lexicon) -> str | None:
    """Who "he" or "she" means after ``history``: the person a "who" question was answered
    with (or, when it asked who a named person is, that person), else the person a question
    named (a full name first), else whoever it was before, within the last ``FOCUS_EXCHANGES``."""
    person = None
    for asked, answered in _exchanges(checked_history(history))[-FOCUS_EXCHANGES:]:
        if person and _refers_back(asked, lexicon):
            asked = naming(person, asked)
        person = _answered_with(asked, answered, lexicon) or next(iter(people(asked, lexicon)), person)
    return person


def _refers_back(question: str, lexicon: Lexicon) -> bool:
    """Whether "he" or "she" (outside quotation marks) refers to someone named earlier in the
    conversation, not in the question itself."""
    pronoun = _PERSON_RE.search(_QUOTED_RE.sub(lambda m: " " * len(m.group()), question))
    return bool(pronoun) and not people(question[: pronoun.start()], lexicon)


def _answered_with(asked: str, answered: str | None, lexicon: Lexicon) -> str | None:
    """The person a "who" question got for an answer: the first one it did not name itself,
    unless it asked who someone is ("who's harold chambers?"): then the one it named."""
    if question_type(asked) != "person" or not answered or answered == REFUSAL:
        return None
    asked_terms = set(index_terms(asked))
    found = people(strip_markers(answered), lexicon)
    if _IDENTIFY_RE.match(asked):
        # The name it asks about ends it ("who is the analyst Harold Chambers?"); a name inside
        # a description ("Who is the commander of the Akhmat unit?") is not who it asks about.
        ending = index_terms(asked)
        named = [name for name in found if (terms := index_terms(name)) and ending[-len(terms) :] == terms]
        if named:
            return named[0]
    return next((name for name in found if not asked_terms & set(index_terms(name))), None)


def _exchanges(messages: list[dict[str, str]]) -> list[tuple[str, str | None]]:
    """Each user message with the assistant's reply to it (None when there is none)."""
    pairs: list[tuple[str, str | None]] = []
    for message in messages:
        if message["role"] == "user":
            pairs.append((message["content"], None))
        elif message["role"] == "assistant" and pairs and pairs[-1][1] is None:
            pairs[-1] = (pairs[-1][0], message["content"])
    return pairs


def naming(person: str, question: str) -> str:
    """``question`` with its first "he", "his", "her" ... in each sentence written as ``person``
    (``person``’s), except inside quotation marks ("the phrase “he who hesitates”"). Later ones
    in the same sentence stay: "Where did he publish his view?" reads "Where did Harold Chambers
    publish his view?", not "... publish Harold Chambers’s view?"."""
    quoted = [(m.start(), m.end()) for m in _QUOTED_RE.finditer(question)]
    named: set[int] = set()  # the sentences whose pronoun has been written as the person

    def standing_for(pronoun: re.Match) -> str:
        sentence = len(_SENTENCE_BREAK_RE.findall(question, 0, pronoun.start()))
        if sentence in named or any(start <= pronoun.start() < end for start, end in quoted):
            return pronoun.group()
        named.add(sentence)
        word = pronoun.group(1).lower()
        following = question[pronoun.end() :].split(maxsplit=1)
        object_her = not following or not following[0][0].isalpha() or following[0].lower() in _AFTER_OBJECT_HER
        possessive = word in {"his", "hers"} or (word == "her" and not object_her)
        return f"{person}’s" if possessive else person

    return _PERSON_RE.sub(standing_for, question)
