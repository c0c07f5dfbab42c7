"""The checks on the arguments of the public entries, in one place.

``Chatbot.from_folder``/``from_documents``/``from_index``/``ask``/``stream``/``retrieve``,
``open_chatbot``, ``evaluate`` and ``diagnose`` take paths, documents, counts and prompts
from people and scripts. A wrong type there used to surface as whatever the first library to
touch it raised (``TypeError`` from ``os.fspath``, ``ValueError: embedded null byte``,
``OverflowError`` from SQLite); each check here says instead, as a ``RagError``, what was
given and what to give. The question and history checks stay beside the question logic
(``rag.search.questions``, ``rag.search.conversation``); model options are checked where
``Settings`` is built (``rag.settings``), so the CLI and the chat page get the same checks.

A path is refused before anything touches it when no system call could take it: a component
longer than the file system's ``NAME_MAX`` (255 bytes) or the whole, made absolute, longer than
``PATH_MAX`` (4096 bytes); Python would otherwise raise ``OSError: File name too long`` from
whichever ``exists()`` or ``open()`` came first. An index folder must also have a name that is
UTF-8 (the vector library takes its file names as UTF-8 text and cannot write elsewhere).

``shown_path`` is the one way a message names a path a user gave: a newline or another
control character in it is escaped, so the message stays one line.

Trade-offs: ``pathlib.Path`` and any ``os.PathLike`` that gives text are accepted, bytes are
not (every path the package records is text); counts have an upper bound
(``MAX_PASSAGES``), far above any useful one, so that a huge number is a message rather
than an overflow deep in SQLite or FAISS.
"""

from __future__ import annotations

import errno
import numbers
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from rag.errors import DocumentsError, IndexLocationError, PromptsFileError, RagError
from rag.shown import escaped, shown_path

# More passages than any answer can use; SQLite takes at most 2**63 - 1, FAISS allocates k slots.
MAX_PASSAGES = 10_000
# The usual limits (Linux, macOS), for a system whose pathconf will not say.
NAME_MAX, PATH_MAX = 255, 4096
SHORTER_INDEX_DIR = "Give --index-dir (index_dir= in Python) a shorter name."


class UnknownSettingError(RagError, TypeError):
    """A keyword that names no setting. Also a ``TypeError``, as an unknown keyword is in Python."""


def checked_path(
    value: object,
    what: str,
    example: str,
    error: type[RagError] = RagError,
    advice: str | None = None,
    check_lengths: bool = True,
) -> Path:
    """``value`` as a ``Path``, or an ``error`` saying it must be a path: ``what`` names it in the
    message ("index folder"), ``example`` shows a right call ("index_dir='index'"), ``advice``
    (if given) says what to do about a path too long for the system."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise error(f"The {what} must be a path, not {type(value).__name__}: {example}.")
    if not value.strip():
        raise error(f"The {what} name is empty: {example}.")
    if "\0" in value:
        raise error(f"The {what} {shown_path(value)} holds a NUL byte, which no path can hold: {example}.")
    problem = path_problem(value, what) if check_lengths else None
    if problem:
        raise error(f"{problem}. {advice or f'Give a shorter path: {example}.'}")
    return Path(value)


def path_limits() -> tuple[int, int]:
    """The bytes one path component and one whole path may hold here (``NAME_MAX``, ``PATH_MAX``)."""
    try:
        return os.pathconf("/", "PC_NAME_MAX"), os.pathconf("/", "PC_PATH_MAX")
    except (OSError, ValueError, AttributeError):  # not POSIX, or the system will not say
        return NAME_MAX, PATH_MAX


def path_problem(path: str | os.PathLike, what: str) -> str | None:
    """Why no system call can take ``path``, as a sentence naming it as ``what`` ("The index
    folder 'xxx...x' has a name of 300 bytes; file systems allow 255"), or None.

    A long component is named alone (the rest of the path is not the problem); the whole is
    measured as an absolute path, since that is what the store resolves."""
    try:
        encoded = os.fsencode(path)
    except UnicodeEncodeError:  # a lone surrogate that did not come from undecodable bytes
        return f"The {what} {shown_path(path)} holds characters that are not valid in a file name"
    name_max, path_max = path_limits()
    longest = max(encoded.split(b"/"), key=len)
    if len(longest) > name_max:
        part = os.fsdecode(longest)
        shown = escaped(part if len(part) <= 40 else f"{part[:20]}...{part[-12:]}")
        return f"The {what} {shown!r} has a name of {len(longest)} bytes; file systems allow {name_max}"
    whole = len(os.fsencode(os.path.abspath(os.fsdecode(encoded))))
    if whole > path_max:
        return f"The {what} {shown_path(path)} is {whole:,} bytes long as a full path; the system allows {path_max:,}"
    return None


def is_name_too_long(error: OSError) -> bool:
    """Whether ``error`` is the system's "File name too long" (caught where a path is probed)."""
    return error.errno == errno.ENAMETOOLONG


def checked_index_dir(value: object, system_limits: bool = True) -> Path:
    """The ``index_dir`` argument as a ``Path``; its name must fit the system and be UTF-8 (see
    the module's note), unless ``system_limits`` is False: ``rag doctor`` reports those as its
    index line instead of stopping."""
    if not system_limits:
        return checked_path(value, "index folder", "index_dir='index'", IndexLocationError, check_lengths=False)
    path = checked_path(value, "index folder", "index_dir='index'", IndexLocationError, SHORTER_INDEX_DIR)
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        raise IndexLocationError(
            f"The index folder {shown_path(path)} has a name that is not valid UTF-8; the vector library "
            "cannot write there. Give --index-dir (index_dir= in Python) a folder with a UTF-8 name."
        ) from None
    return path


def checked_folder(value: object) -> Path:
    """The documents ``folder`` argument as a ``Path``."""
    return checked_path(value, "folder", "from_folder('my-articles')", DocumentsError)


def checked_documents(documents: object) -> list:
    """``from_documents``' ``documents`` as a list; the records themselves are checked where
    they are indexed (``rag.ingest.pipeline``). Documents that are all empty are refused here:
    an index of nothing would answer nothing."""
    from rag.records import Document

    if isinstance(documents, Document):
        raise DocumentsError("from_documents takes a list of Documents; put the one you have in a list: [document].")
    if documents is None or isinstance(documents, (str, bytes, Mapping)) or not isinstance(documents, Iterable):
        raise DocumentsError(
            f"from_documents takes a list of Documents, not {type(documents).__name__}: "
            "[Document(id='notes.txt', text='...')]."
        )
    documents = list(documents)
    if documents and all(isinstance(d, Document) and not d.text.strip() for d in documents):
        raise DocumentsError(nothing_to_index(documents))
    return documents


def nothing_to_index(documents: list) -> str:
    """The message for documents that are all empty: which ones, and what to give instead."""
    names = ", ".join(shown_path(d.id) for d in documents[:3]) + (", ..." if len(documents) > 3 else "")
    return (
        f"Nothing to index: the {len(documents)} document(s) given ({names}) hold no text. "
        "Give from_documents Documents with text."
    )


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
