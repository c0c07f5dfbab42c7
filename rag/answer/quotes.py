"""How a quoted sentence reads: whether it ends like a sentence, whether it leans on the one
before it or qualifies it, and the quote as an answer shows it, on one line with its marker.

Shared by the writers that quote (``rag.answer.extractive``, ``rag.answer.overview``) and by
the evidence that ranks sentences (``rag.answer.evidence``), so that none of them imports
another writer for it. Trade-off: the citation keeps the quote as written; only the answer's
text is cleaned, so a quote's characters always point back into its source.
"""

from __future__ import annotations

import re

from rag.answer.citations import MARKER_RE
from rag.language.patterns import PRONOUN_OPENING_RE, QUALIFYING_OPENING_RE

HEADING_MAX_WORDS = 20  # a longer line is a paragraph, a table row or a list (`rag.answer.overview` reads so too)

# A heading's or a list item's mark at a line's start, a quote's ">", emphasis and table pipes.
# Typographic bullets ("• Strategic alliances: ...") mark list items in pasted text as "-" does.
_MARKDOWN_RE = re.compile(r"(?m)^\s*(?:#{1,6}|>|[-*+•▪◦‣]|\d+[.)])(?=\s)|\*\*|\|")


def ends_like_a_sentence(text: str) -> bool:
    """Whether ``text`` ends with a full stop, "!", "?" or "…", closing quotes aside."""
    return text.rstrip("”\"’') ").endswith((".", "!", "?", "…"))


def opens_with_pronoun(sentence: str) -> bool:
    """Whether ``sentence`` leans on the one before it for who or what it is about ("He was
    especially outraged ...")."""
    return bool(PRONOUN_OPENING_RE.match(sentence))


def opens_by_qualifying(sentence: str) -> bool:
    """Whether ``sentence`` opens by qualifying the one before it ("Not in a medical sense ...")."""
    return bool(QUALIFYING_OPENING_RE.match(sentence))


def cited_quote(text: str, marker: int) -> str:
    """The quote on one line with its marker; a quote that does not end a sentence (a heading,
    a table row) gets a full stop after the marker, so the answer's sentences stay apart. The
    document's own footnote markers ("tall.[12]", pasted from Wikipedia) are left out of the
    answer, where they would read as citations; Markdown's marks ("# ", "- ", "**", table
    pipes) and bullets ("• ") are left out too, so a heading or a table row reads as plain
    words. The citation keeps the quote as written."""
    line = " ".join(_MARKDOWN_RE.sub(" ", MARKER_RE.sub(" ", text)).split())
    line = re.sub(r"\s+([.,;:!?])", r"\1", line)
    return f"{line} [{marker}]" if ends_like_a_sentence(line) else f"{line} [{marker}]."
