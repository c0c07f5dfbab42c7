"""The checks on the arguments of the public entries, in one place.

``Chatbot.from_folder``/``from_documents``/``from_index``/``ask``/``stream``/``retrieve``,
``open_chatbot``, ``evaluate`` and ``diagnose`` take paths, documents, counts and prompts
from people and scripts. A wrong type there used to surface as whatever the first library to
touch it raised (``TypeError`` from ``os.fspath``, ``ValueError: embedded null byte``,
``OverflowError`` from SQLite); each check here says instead, as a ``RagError``, what was
given and what to give. The question and history checks stay beside the question logic
(``rag.search.questions``, ``rag.search.conversation``); model options are checked where
``Settings`` is built (``rag.settings``), so the CLI and the chat page get the same checks.

``shown_path`` is the one way a message names a path a user gave: a newline or another
control character in it is escaped, so the message stays one line.

Trade-offs: ``pathlib.Path`` and any ``os.PathLike`` that gives text are accepted, bytes are
not (every path the package records is text); counts have an upper bound
(``MAX_PASSAGES``), far above any useful one, so that a huge number is a message rather
than an overflow deep in SQLite or FAISS.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from rag.errors import DocumentsError, IndexLocationError, PromptsFileError, RagError

# More passages than any answer can use; SQLite takes at most 2**63 - 1, FAISS allocates k slots.
MAX_PASSAGES = 10_000


class UnknownSettingError(RagError, TypeError):
    """A keyword that names no setting. Also a ``TypeError``, as an unknown keyword is in Python."""


def shown_path(path: object) -> str:
    """``path`` as a message shows it: control characters (a newline, a tab, a NUL byte)
    escaped as Python writes them, so the message stays on one line."""
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    return escaped(text) if isinstance(text, str) else repr(text)


def escaped(text: str) -> str:
    """``text`` with each character that is not printable (a newline, a tab, U+2028) written
    as Python writes it in a literal (``\\n``), so that it prints on one line."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def checked_path(value: object, what: str, example: str, error: type[RagError] = RagError) -> Path:
    """``value`` as a ``Path``, or an ``error`` saying it must be a path: ``what`` names it in the
    message ("index folder"), ``example`` shows a right call ("index_dir='index'")."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise error(f"The {what} must be a path, not {type(value).__name__}: {example}.")
    if not value.strip():
        raise error(f"The {what} name is empty: {example}.")
    if "\0" in value:
        raise error(f"The {what} {shown_path(value)} holds a NUL byte, which no path can hold: {example}.")
    return Path(value)


def checked_index_dir(value: object) -> Path:
    """The ``index_dir`` argument as a ``Path``."""
    return checked_path(value, "index folder", "index_dir='index'", IndexLocationError)


def checked_folder(value: object) -> Path:
    """The documents ``folder`` argument as a ``Path``."""
    return checked_path(value, "folder", "from_folder('my-articles')", DocumentsError)


def checked_documents(documents: object) -> list:
    """``from_documents``' ``documents`` as a list; the records themselves are checked where
    they are indexed (``rag.ingest.pipeline``)."""
    from rag.records import Document

    if isinstance(documents, Document):
        raise DocumentsError("from_documents takes a list of Documents; put the one you have in a list: [document].")
    if documents is None or isinstance(documents, (str, bytes, Mapping)) or not isinstance(documents, Iterable):
        raise DocumentsError(
            f"from_documents takes a list of Documents, not {type(documents).__name__}: "
            "[Document(id='notes.txt', text='...')]."
        )
    return list(documents)


def checked_prompts(prompts: object) -> object:
    """``evaluate``'s ``prompts``: a path, or an iterable of prompts (checked one by one later)."""
    if isinstance(prompts, (str, os.PathLike)):
        return checked_path(prompts, "prompts file", "evaluate(bot, 'prompts.jsonl')", PromptsFileError)
    if prompts is None or isinstance(prompts, (bytes, Mapping)) or not isinstance(prompts, Iterable):
        raise PromptsFileError(
            f"The prompts must be a .jsonl file's path or a list of prompts, not {type(prompts).__name__}: "
            "evaluate(bot, 'prompts.jsonl') or evaluate(bot, [{'question': '...'}])."
        )
    return prompts


def passage_count(value: object, name: str, minimum: int = 1) -> int:
    """``top_k=0`` would answer from nothing and ``top_k=-1`` used to mean the default: both
    are mistakes to say, not to guess at; so is a count past ``MAX_PASSAGES``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise RagError(f"{name} must be a whole number of passages, at least {minimum}; got {value!r}.")
    if value > MAX_PASSAGES:
        raise RagError(f"{name} must be a whole number of passages, at most {MAX_PASSAGES:,}; got {value:,}.")
    return int(value)
