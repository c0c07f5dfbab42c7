"""The shorter claims inside a sentence a language model wrote, for when the whole of it is not
supported: small models answer right and then embroider ("The newspaper cited the Financial
Times, which is a Russian news outlet, as the source."), and the judge rightly rejects the
sentence for the embroidery.

Two cuts, each leaving only what the sentence itself asserts, in its own words:

* a **non-restrictive clause** (", which ...", ", who ...", ", where ...", up to the next comma
  or the sentence's end) adds a second assertion about a thing already named; without it the
  sentence says the same of that thing ("The newspaper cited the Financial Times as the
  source.");
* **coordinated clauses** (", and ...", ", but ...", "; ...") are assertions of their own, each
  a claim by itself ("The message is in Turkish, and the answer is Turkey.").

``rag.answer.checking`` tries these only for a sentence that no passage supports: the sentence
without its non-restrictive clauses, else each coordinated clause (with, then without, its
own); what a passage supports is shown, so nothing unsupported is shown either way. English
only.
"""

from __future__ import annotations

import re

# From the comma before a relative pronoun to the comma that closes the clause, or to the end.
_NON_RESTRICTIVE_RE = re.compile(r",\s+(?:which|who|whom|whose|where)\b[^,;]*?(?:,|(?=[.!?]*\s*$))", re.IGNORECASE)
_COORDINATION_RE = re.compile(r"\s*(?:,\s+(?:and|but)\s+|;\s+)", re.IGNORECASE)
_END_RE = re.compile(r"[.!?]+\s*$")


def without_non_restrictive(sentence: str) -> str:
    """``sentence`` without its non-restrictive clauses (itself when it has none)."""
    if not _NON_RESTRICTIVE_RE.search(sentence):
        return sentence
    return _tidy(_NON_RESTRICTIVE_RE.sub(" ", sentence), _end_of(sentence))


def coordinated_clauses(sentence: str) -> list[str]:
    """The clauses ``sentence`` joins by ", and", ", but" or ";", each a sentence ([sentence]
    when it joins none)."""
    pieces = _COORDINATION_RE.split(_END_RE.sub("", sentence))
    if len(pieces) == 1:
        return [sentence]
    return [_tidy(piece, _end_of(sentence)) for piece in pieces if piece.strip(" ,;")]


def _end_of(sentence: str) -> str:
    match = _END_RE.search(sentence)
    return match.group().strip() if match else ""


def _tidy(text: str, end: str) -> str:
    """One sentence: single spaces, no space before its punctuation, its capital and its end."""
    text = re.sub(r"\s+([,.;:!?])", r"\1", " ".join(text.split())).strip(" ,;")
    text = _END_RE.sub("", text)
    if not text:
        return ""
    return text[0].upper() + text[1:] + end
