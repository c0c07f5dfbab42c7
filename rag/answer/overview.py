"""Overview questions: "What are these articles about?", "Summarize the article about Kadyrov".

No single sentence answers them, so the composer's sentence choice would refuse. They are
answered instead with each document's most central sentences, quoted and cited like any
answer: a sentence is central when its words, weighted by how rare they are in the index
(BM25's inverse document frequency), point the same way as its whole document's (cosine of
the two term vectors, the centroid method of extractive summarising). Boilerplate ("We use
your sign-up to provide content ...") shares little with the article around it and sinks.

A question that names a topic as well ("... the article about Kadyrov", "the Moscow Times
article") is answered from one document: the first, in the order retrieval ranks the topic's
passages, whose heading (its leading short lines, or its file name) holds the topic's words in
a row, as written; that document is summarised whole. Otherwise a topic that says what the
document is about ("the article about the prisoner swap") is answered from the first document
retrieved, from its passages on the topic; a topic that names the document ("the Moscow Times
article") from the first whose passages hold its words in a row ("The Moscow Times", not
"Moscow" in one sentence and "Financial Times" in another), and is refused when none does.
A question without a topic is answered from every document (the first ``MAX_DOCUMENTS`` by
name, saying how many were left out).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rag.answer.citations import check_sentences, passages_of
from rag.answer.quotes import HEADING_MAX_WORDS, cited_quote, ends_like_a_sentence, opens_with_pronoun
from rag.answer.refusal import abstain
from rag.ingest.chunking import LineIndex
from rag.ingest.sentences import split_sentences
from rag.language.analysis import index_terms, question_terms, words
from rag.language.terms import TermStatistics, term_weights
from rag.records import Answer, Citation, Hit

MAX_DOCUMENTS = 8
SENTENCES_FOR_ONE = 3
SENTENCES_FOR_EACH = 1
# The share of the topic's words (weighted by rarity) its passages must hold to be about it.
MIN_TOPIC_SHARE = 0.5
# A sentence to quote as an overview: long enough to say something, short enough to read.
MIN_WORDS, MAX_WORDS = 8, 60

_COLLECTION = r"(?:documents?|articles?|files?|texts?|stories|story|notes|pages?|papers?|reports?|folder|collection)"
_IS = r"(?:\s+(?:is|are)|’s|'s)"
_ABOUT = r"(?:mainly\s+|mostly\s+|really\s+|all\s+)?about"
_OVERVIEW_RE = re.compile(
    r"^\s*(?:please\s+|can\s+you\s+|could\s+you\s+)?(?:"
    r"summari[sz]e|sum\s+up|(?:give|write)\s+(?:me\s+)?(?:a\s+|an\s+)?(?:short\s+|brief\s+)?(?:summary|overview|gist)"
    r"|(?:a\s+|an\s+)?(?:short\s+|brief\s+)?(?:summary|overview)\s+of"
    rf"|what{_IS}\s+(?:all\s+)?(?:these|the|this|those|my)\s+{_COLLECTION}\s+{_ABOUT}"
    rf"|what\s+do\s+(?:these|the|those|my)\s+{_COLLECTION}\s+(?:cover|discuss)\b(?!\s+about)"
    r"|tl;?dr)\b",
    re.IGNORECASE,
)
# "What is the Meduza article about?": the words before the noun say which document. Words
# such as "in" or "of" say it is about something in a document ("the war in the story").
_NAME_WORD = r"(?!(?:in|on|of|at|for|with|by|from|to|a|an|the|and|or)\b)[\w’'-]+"
_NAMED_OVERVIEW_RE = re.compile(
    rf"^\s*what{_IS}\s+(?:the|this|that)\s+((?:{_NAME_WORD}\s+){{1,4}}){_COLLECTION}\s+{_ABOUT}[\s?]*$",
    re.IGNORECASE,
)
# "What does the Moscow Times article say?", "What do these files cover?": the words between
# the verbs say which documents; a question that goes on ("... say about Putin's health?") asks
# about something in them.
_SAY_OVERVIEW_RE = re.compile(
    rf"^\s*what\s+(?:does|do)\s+((?:the|this|that|these|those|my)\s+(?:[\w’'-]+\s+){{0,6}}?{_COLLECTION}"
    rf"(?:\s+{_ABOUT}\s+[^?]+?)?)\s+(?:say|cover|discuss|report|tell\s+(?:me|us))\s*[?.!]*\s*$",
    re.IGNORECASE,
)
# "Summarise the Moscow Times article": after the verb, a name before the noun.
_NAMED_IN_REST_RE = re.compile(rf"\s*(?:the|this|that)\s+(?:{_NAME_WORD}\s+){{1,4}}{_COLLECTION}\b", re.I)
# A document's heading: its leading short lines (title, outlet, byline), at most this many;
# the first line as long as a paragraph (more than HEADING_MAX_WORDS) ends it.
HEADING_LINES = 5
# Words that only say which document is meant, not what it is about. "The first article" is
# read as every article: documents have no order a person can see.
_POINTING_RE = re.compile(
    r"\b(?:the|these|this|those|my|all|everything|of|on|about|for|me|please|main|whole|entire|full"
    rf"|first|second|third|last|latest|previous|next|{_COLLECTION})\b",
    re.I,
)


@dataclass(frozen=True)
class OverviewRequest:
    """An overview question; ``topic`` is what it names besides ("Kadyrov"), "" for none.
    ``names_document``: the topic names the document ("the Meduza article") rather than
    saying what it is about ("the article about Kadyrov")."""

    topic: str
    names_document: bool = False


def overview_request(question: str) -> OverviewRequest | None:
    """The overview the question asks for, or None when it asks something else."""
    named = _NAMED_OVERVIEW_RE.match(question)
    if named:
        rest = named.group(1)
    elif said := _SAY_OVERVIEW_RE.match(question):
        rest = said.group(1)
        named = _NAMED_IN_REST_RE.match(rest)
    elif match := _OVERVIEW_RE.match(question):
        rest = question[match.end() :]
        named = _NAMED_IN_REST_RE.match(rest)
    else:
        return None
    rest = _POINTING_RE.sub(" ", rest)
    topic = " ".join(rest.replace("?", " ").replace(".", " ").split())
    if not question_terms(topic):
        return OverviewRequest("")
    return OverviewRequest(topic, names_document=bool(named))


def compose_overview(
    question: str,
    request: OverviewRequest,
    hits: Sequence[Hit],
    documents: Iterable[str],
    document_text: Callable[[str], str | None],
    stats: TermStatistics,
) -> Answer | None:
    """The overview as a cited answer; a refusal when the question names a document that is
    not here; None when no document has a sentence to quote.

    With a topic, ``hits`` are the topic's passages: the summary comes from those of the
    first document, central to them and to the topic."""
    topic = request.topic
    if topic:
        if not hits:
            return None
        source, named = _document_for(request, hits, document_text)
        if source is None:  # "the Express article": no document here names it
            return abstain(question, hits)
        found = [h for h in hits if h.source == source]
        if not named and _topic_share(topic, found, stats) < MIN_TOPIC_SHARE:
            return None  # "the article about the World Cup": no such article here
        ranges = None if named else [(h.chunk.start_char, h.chunk.end_char) for h in found]
        plan = [(source, ranges, SENTENCES_FOR_ONE)]
        topic = "" if named else topic  # a name in a heading says which document, not what in it
        hits = found
        left_out = 0
    else:
        names = sorted(documents)
        plan = [(source, None, SENTENCES_FOR_EACH) for source in names[:MAX_DOCUMENTS]]
        left_out = max(0, len(names) - MAX_DOCUMENTS)
    citations: list[Citation] = []
    paragraphs = []  # one per document, so that an overview of several reads as a list
    for source, ranges, count in plan:
        text = document_text(source) or ""
        lines = LineIndex(text)
        first = len(citations)
        for start, end in central_sentences(text, count, stats, ranges, topic):
            marker = len(citations) + 1
            citations.append(Citation(marker, source, *lines.span(start, end), text[start:end], start, end))
        if len(citations) > first:
            paragraphs.append(" ".join(cited_quote(c.quote, c.marker) for c in citations[first:]))
    if not citations:
        return None
    if left_out:
        paragraphs.append(f"({left_out} more documents are not summarised here; ask about one by name.)")
    answer_text = "\n\n".join(paragraphs)
    checks = check_sentences(answer_text, passages_of(citations))
    return Answer(question, answer_text, citations, list(hits), raw_text=answer_text, checks=checks)


def central_sentences(
    text: str,
    count: int,
    stats: TermStatistics,
    ranges: Sequence[tuple[int, int]] | None = None,
    topic: str = "",
) -> list[tuple[int, int]]:
    """The character spans of the ``count`` sentences of ``text`` (of its ``ranges`` only,
    when given) nearest their centroid, in reading order. A ``topic`` pulls the centre
    towards its words as much as the sentences pull it towards theirs."""
    pieces = ranges if ranges is not None else [(0, len(text))]
    found = sorted({(s.start, s.end) for start, end in pieces for s in split_sentences(text, start, end)})
    # A document of short sentences ("She has worked there since 2001.") has none of the
    # usual length; it is summarised with the sentences it has rather than left out.
    spans = [span for span in found if _quotable(text[span[0] : span[1]])] or [
        span for span in found if _finished(text[span[0] : span[1]])
    ]
    if not spans:
        return []
    terms = [Counter(index_terms(text[start:end])) for start, end in spans]
    wanted = Counter(index_terms(topic))
    whole = sum(terms, Counter())
    frequencies = stats.document_frequencies(sorted(whole | wanted))
    weights = term_weights({t: frequencies.get(t, 0) for t in whole | wanted}, stats.chunk_count)
    centre = _unit({t: n * weights[t] for t, n in whole.items()})
    if wanted:
        pull = _unit({t: n * weights[t] for t, n in wanted.items()})
        centre = {t: centre.get(t, 0.0) + pull.get(t, 0.0) for t in centre.keys() | pull.keys()}
    # A sentence that opens with "she" or "it" does not stand alone: the others go first.
    ranked = sorted(
        range(len(spans)),
        key=lambda i: (
            opens_with_pronoun(text[spans[i][0] : spans[i][1]]),
            -_cosine({t: n * weights[t] for t, n in terms[i].items()}, centre),
            i,
        ),
    )
    return [spans[i] for i in sorted(ranked[:count])]


def _document_for(
    request: OverviewRequest, hits: Sequence[Hit], document_text: Callable[[str], str | None]
) -> tuple[str | None, bool]:
    """The document a topic points to (see the module docstring), and whether its heading
    names the topic; None when the question names a document that no passage names. Words
    are compared unstemmed: a name must be the name asked for ("Express" is not "expressed")."""
    wanted = words(request.topic)
    sources = list(dict.fromkeys(h.source for h in hits))
    for source in sources:
        if _in_a_row(wanted, words(f"{source} {heading(document_text(source) or '')}")):
            return source, True
    if not request.names_document:
        return sources[0], False
    return next((h.source for h in hits if _in_a_row(wanted, words(h.text))), None), False


def heading(text: str) -> str:
    """The leading short lines of ``text``; "" when it opens with a paragraph."""
    lines = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if len(line.split()) > HEADING_MAX_WORDS or len(lines) == HEADING_LINES:
            break
        lines.append(line)
    return "\n".join(lines)


def _in_a_row(wanted: Sequence[str], found: Sequence[str]) -> bool:
    n = len(wanted)
    return n > 0 and any(list(found[i : i + n]) == list(wanted) for i in range(len(found) - n + 1))


def _topic_share(topic: str, hits: Sequence[Hit], stats: TermStatistics) -> float:
    wanted = list(dict.fromkeys(index_terms(topic)))
    present = set().union(*(index_terms(h.text) for h in hits))
    weights = term_weights(stats.document_frequencies(wanted), stats.chunk_count)
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in present) / total if total else 0.0


def _quotable(sentence: str) -> bool:
    return MIN_WORDS <= len(sentence.split()) <= MAX_WORDS and _finished(sentence)


def _finished(sentence: str) -> bool:
    """A sentence, not a heading or a list's line: it ends like one and is not too long to read."""
    return len(sentence.split()) <= MAX_WORDS and ends_like_a_sentence(sentence)


def _unit(vector: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in vector.values()))
    return {t: v / norm for t, v in vector.items()} if norm else vector


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    dot = sum(value * b.get(term, 0.0) for term, value in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0
