"""The narrow evidence a language model may be given instead of whole passages: the sentences
the extractive composer would quote, each as a numbered passage of its own
(``GenerationSettings.evidence == "sentences"``).

Each sentence becomes a ``Hit`` on the chunk it was cut from, its text and offsets narrowed to
the sentence (a PDF's sentence that the composer read on into the next page, beyond every
retrieved chunk, a passage of its own), and is shown under rules that ask for its fact in its words
(``rag.answer.prompting.SENTENCES_SYSTEM_PROMPT``). Marker ``[n]`` then points at sentence
n's whole chunk: the checks (unchanged) judge and cite against the same verbatim chunk text as
with whole passages. When the composer refuses there is nothing to quote, and the model is not
asked: its refusals can then be no worse than the composer's. Trade-off: a tiny model reads
one to three sentences instead of a few hundred words, so it has less to misread, but also
nothing the composer missed, and a follow-up question it could have read from the conversation
is refused when the composer (which reads no conversation) refuses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rag.answer.prompting import ModelPrompt
from rag.ingest.pdf import PDF_SUFFIX
from rag.records import Answer, Chunk, Citation, Hit


def quoted_sentences(extractive: Answer, hits: Sequence[Hit]) -> list[Hit]:
    """The sentences ``extractive`` quotes, in its order, as hits narrowed to each sentence
    (empty when it refused or quotes nothing a retrieved passage holds)."""
    if extractive.abstained:
        return []
    narrowed = (_narrowed(citation, hits) for citation in extractive.citations if citation.marker > 0)
    return [hit for hit in narrowed if hit is not None]


def _quoted_alone(citation: Citation) -> Hit:
    """A quote no retrieved passage holds, as a passage of its own: a PDF's paragraph read on
    from a retrieved passage into the next page (``rag.answer.candidates.page_continuations``)."""
    chunk = Chunk(
        -1,
        citation.source,
        citation.quote,
        citation.start_char,
        citation.end_char,
        citation.start_line,
        citation.end_line,
    )
    return Hit(chunk, score=0.0)


def _narrowed(citation: Citation, hits: Sequence[Hit]) -> Hit | None:
    """The first retrieved hit holding ``citation``'s quote, cut down to that quote; a PDF's
    quote alone when its place lies beyond every retrieved hit (read on from one into the next
    page); None when a hit holds its place with other text (not the quote: the index changed)."""
    for hit in hits:
        chunk = hit.chunk
        if chunk.source != citation.source:
            continue
        if not chunk.start_char <= citation.start_char < citation.end_char <= chunk.end_char:
            continue
        offset = citation.start_char - chunk.start_char
        text = chunk.text[offset : offset + citation.end_char - citation.start_char]
        if text != citation.quote:  # a quote that is not this chunk's verbatim text is not given
            continue
        narrowed = replace(
            chunk,
            text=text,
            start_char=citation.start_char,
            end_char=citation.end_char,
            start_line=citation.start_line,
            end_line=citation.end_line,
        )
        return replace(hit, chunk=narrowed)
    if not citation.source.lower().endswith(PDF_SUFFIX) or any(_holds_place(hit.chunk, citation) for hit in hits):
        return None
    return _quoted_alone(citation)


def _holds_place(chunk: Chunk, citation: Citation) -> bool:
    return chunk.source == citation.source and chunk.start_char <= citation.start_char < chunk.end_char


def checked_on_whole_chunks(prompt: ModelPrompt, hits: Sequence[Hit]) -> ModelPrompt:
    """``prompt`` as read, but with each numbered sentence's whole retrieved chunk as the
    passage its marker points at: the checks then judge the model's sentence against what the
    chunk says around the quote (a question's "Masaryk University analyst" is often in the
    sentence before), as they do with whole passages."""
    by_chunk = {hit.chunk.id: hit for hit in hits}
    return replace(prompt, passages=[by_chunk.get(p.chunk.id, p) for p in prompt.passages])
