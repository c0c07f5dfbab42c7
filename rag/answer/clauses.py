"""The shorter claims inside a sentence a language model wrote, for when the whole of it is not
supported: small models answer right and then embroider ("The newspaper cited the Financial
Times, which is a Russian news outlet, as the source."), and the judge rightly rejects the
sentence for the embroidery.

Two cuts, each leaving only what the sentence itself asserts, in its own words:

* a **non-restrictive clause** (", which ...", ", who ...", ", where ...", up to the next comma
  followed by a space, or the sentence's end) adds a second assertion about a thing already
  named; without it the sentence says the same of that thing ("The newspaper cited the
  Financial Times as the source.");
* **coordinated clauses** (", and ..." or "; ...", each with a subject of its own) are
  assertions of their own, each a claim by itself ("The message is in Turkish, and the answer
  is Turkey.").

A cut is not made where it could change what is asserted: never inside a quotation (the
speaker and the words are one claim), nor after a list ("Kharkiv, Sumy, and Donetsk"), nor
where a clause cut away negates or disputes ("..., which officials denied."), and a clause
that negates is no claim on its own ("It was not 20"): the word-count judge cannot read a
"not". ", but" is not cut at all ("Not 20, but 30").

``rag.answer.checking`` tries these only for a sentence that no passage supports: the sentence
without its non-restrictive clauses, else each coordinated clause (with, then without, its
own); what a passage supports is shown, so nothing unsupported is shown either way. English
only.
"""

from __future__ import annotations

import re

from rag.language.patterns import word_list

_RELATIVE_RE = re.compile(r",\s+(?:which|who|whom|whose|where)\b", re.IGNORECASE)
_CLAUSE_END_RE = re.compile(r"[,;]\s")  # not "1,200": a comma that ends a clause has a space after it
_COORDINATION_RE = re.compile(r",\s+and\s+|;\s+", re.IGNORECASE)
_END_RE = re.compile(r"[.!?]+\s*$")
_QUOTATION_RE = re.compile(r"[\"“”]")
_NEGATION_RE = re.compile(
    r"\b(?:not|no|never|none|nobody|nothing|neither|nor|\w+n[’']t|den(?:y|ies|ied)|disput\w*|refut\w*|"
    r"false(?:ly)?|untrue|unconfirmed)\b",
    re.IGNORECASE,
)
# What opens a clause with a subject of its own ("and the answer is", "and he said"), unlike
# "and left at 5 p.m.", which goes on with the subject before it, or "and that ...", which goes
# on with what the verb before it says ("mentions that A, and that B": neither is said alone).
_SUBJECT_OPENERS = frozenset(
    word_list("the a an this these those he she it they we i you his her its their there our my one some")
)


def without_non_restrictive(sentence: str) -> str:
    """``sentence`` without its non-restrictive clauses (itself when it has none, or when a cut
    could change what it asserts)."""
    if _QUOTATION_RE.search(sentence):
        return sentence
    pieces, at = [], 0
    for match in _RELATIVE_RE.finditer(sentence):
        if match.start() < at:
            continue
        end = _CLAUSE_END_RE.search(sentence, match.end())
        stop = end.start() + 1 if end else len(_END_RE.sub("", sentence))
        if _NEGATION_RE.search(sentence, match.start(), stop):
            return sentence
        pieces.append(sentence[at : match.start()])
        at = stop
    if not pieces:
        return sentence
    pieces.append(sentence[at:])
    return _tidy(" ".join(pieces), _end_of(sentence))


def coordinated_clauses(sentence: str) -> list[str]:
    """The clauses ``sentence`` joins by ", and" or ";", each a sentence, less any that negates
    ([sentence] when it joins none, or a cut could change what it asserts)."""
    if _QUOTATION_RE.search(sentence):
        return [sentence]
    pieces = _COORDINATION_RE.split(_END_RE.sub("", sentence))
    if len(pieces) == 1 or "," in pieces[0] or not all(_has_a_subject(piece) for piece in pieces[1:]):
        return [sentence]
    return [_tidy(piece, _end_of(sentence)) for piece in pieces if not _NEGATION_RE.search(piece)]


def _has_a_subject(clause: str) -> bool:
    first = clause.split()[0] if clause.split() else ""
    return first[:1].isupper() or first.lower() in _SUBJECT_OPENERS


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
