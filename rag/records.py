"""The records that flow through the pipeline: Document → Chunk → Hit → Citation → Answer.

Plain dataclasses so they print, compare and serialise without ceremony. ``Answer.to_dict``
gives the JSON shape the CLI prints with ``--json``: the same field names as the Python API.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Protocol

from rag.errors import DocumentsError


class LocatedText(Protocol):
    """Text with the place in its source it was taken from."""

    source: str
    text: str
    start_line: int
    end_line: int
    start_char: int
    end_char: int


MAX_QUESTION_CHARS = 4000  # longer is a pasted document, not a question


@dataclass(frozen=True)
class Document:
    """One source text. ``id`` is the file name relative to the folder it was loaded from.

    ``title``, ``author`` and ``date`` (ISO ``YYYY-MM-DD``) are what the file says of itself
    where its format carries them (a web page's or Word file's); the title is searched with
    the text, and all three are kept in the index for display."""

    id: str
    text: str
    title: str | None = None
    author: str | None = None
    date: str | None = None

    def __post_init__(self) -> None:
        for name in ("id", "text"):
            if not isinstance(getattr(self, name), str):
                raise DocumentsError(
                    f"A Document's {name} must be text, not {type(getattr(self, name)).__name__}: "
                    "Document(id='notes.txt', text='...')."
                )
        if not self.id.strip():
            # The id names the document in citations and in the index: without one, nothing could cite it.
            raise DocumentsError(
                "A Document's id is empty; give it a name, such as its file's: Document(id='notes.txt', text='...')."
            )
        for name in ("title", "author", "date"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise DocumentsError(f"A Document's {name} must be text or None, not {type(value).__name__}.")
        for name in ("id", "text", "title", "author", "date"):
            _check_unicode(name, getattr(self, name))

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def lone_surrogate(text: str | None) -> re.Match | None:
    """Where ``text`` stops being whole Unicode: a lone surrogate, as ``surrogateescape`` leaves
    for bytes that were not UTF-8 (argv, stdin, file names). Such text cannot be written out
    as UTF-8, stored or searched; None when there is none."""
    return _SURROGATE_RE.search(text) if text else None


def _check_unicode(name: str, value: str | None) -> None:
    """Text that cannot be written as UTF-8 would fail deep in indexing; it is refused here, by name."""
    found = lone_surrogate(value)
    if found:
        raise DocumentsError(
            f"A Document's {name} holds a character that is not valid Unicode ({ascii(found.group())} at position "
            f"{found.start()}): decode its bytes with errors='replace', or read the file with rag's own loader."
        )


@dataclass(frozen=True)
class Chunk:
    """A span of a document: ``text == document.text[start_char:end_char]``.

    Lines are 1-based and inclusive, counted in the document's own text.
    """

    id: int
    source: str
    text: str
    start_char: int
    end_char: int
    start_line: int
    end_line: int


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and its rank in each retriever (None: not found)."""

    chunk: Chunk
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None

    @property
    def source(self) -> str:
        return self.chunk.source

    @property
    def text(self) -> str:
        return self.chunk.text

    @property
    def start_line(self) -> int:
        return self.chunk.start_line

    @property
    def end_line(self) -> int:
        return self.chunk.end_line

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "text": self.text,
            "score": self.score,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "dense_rank": self.dense_rank,
            "lexical_rank": self.lexical_rank,
        }


@dataclass(frozen=True)
class Citation:
    """What marker ``[marker]`` points at: ``quote`` is verbatim in ``source`` at those lines.

    ``page``: for a PDF, the page the quote is on, and then its lines are counted within that
    page; None for a format without pages, whose lines are the file's own.
    ``attributed``: True when the answer's writer (a language model) did not cite this quote
    itself, and it was found afterwards as the passage sentence(s) supporting the sentence that
    carries the marker (``rag.answer.attribution``); False (as before) when the writer cited it.
    """

    marker: int
    source: str
    start_line: int
    end_line: int
    quote: str
    start_char: int = 0
    end_char: int = 0
    page: int | None = None
    attributed: bool = False

    @classmethod
    def of(cls, marker: int, span: LocatedText) -> Citation:
        """A citation quoting all of ``span`` (a retrieved ``Chunk``, a composer's sentence)."""
        return cls(marker, span.source, span.start_line, span.end_line, span.text, span.start_char, span.end_char)


def one_line(text: str) -> str:
    """A quote that runs over lines in its source, as one line (the terminal, the report, the
    page and an overview's answer show quotes so)."""
    return " ".join(text.split())


def in_quotes(text: str) -> str:
    """A quote on one line between quotation marks, without doubling the ones it has: a
    sentence cut from a longer quotation opens it (“I just know ...) or closes it (... Putin.”)
    and is given only the mark it lacks."""
    line = one_line(text)
    opening = "" if line.startswith(("“", '"')) else "“"
    closing = "" if line.endswith(("”", '"')) else "”"
    return f"{opening}{line}{closing}"


def titled(source: str, title: str | None) -> str:
    """``003_58ec.txt “Kadyrov shifts stance…”``: a file's name with its document's title beside
    it, as the terminal, the report and the page's marker labels name a file; the name alone
    when it has no title."""
    return f"{source} “{title}”" if title else source


def line_span(start_line: int, end_line: int, dash: str = "-") -> str:
    """``line 21`` or ``lines 21-23``: how the terminal, the report and the page name a span
    (the page passes an en dash)."""
    return f"line {start_line}" if start_line == end_line else f"lines {start_line}{dash}{end_line}"


@dataclass(frozen=True)
class SentenceCheck:
    """Whether one answer sentence is supported by the passages its markers cite."""

    sentence: str
    markers: tuple[int, ...]
    supported: bool
    score: float


@dataclass
class Answer:
    """The reply to one question.

    ``text`` carries inline markers that all resolve to ``citations``; ``raw_text`` keeps what
    the composer or language model produced before markers were checked, for debugging.
    ``closest``, only on an abstention: the sentence that came nearest to answering, located
    like a citation (marker 0) but not cited, because it was judged not to answer; None when
    nothing came near enough to be worth reading. ``understood_as``: the question as it was
    answered when it was read in the light of the conversation ("How old is he?" read as "How
    old is Apti Alaudinov?"); None when it was answered as asked.
    """

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    abstained: bool = False
    raw_text: str = ""
    backend: str = "extractive"
    fallback_reason: str | None = None
    checks: list[SentenceCheck] = field(default_factory=list)
    closest: Citation | None = None
    understood_as: str | None = None

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "text": self.text,
            "citations": [asdict(c) for c in self.citations],
            "hits": [h.to_dict() for h in self.hits],
            "abstained": self.abstained,
            "raw_text": self.raw_text,
            "backend": self.backend,
            "fallback_reason": self.fallback_reason,
            "checks": [asdict(c) for c in self.checks],
            "closest": asdict(self.closest) if self.closest else None,
            "understood_as": self.understood_as,
        }
