"""The candidate sentences of retrieved chunks: chunks that overlap or abut in their document
are one passage, so a sentence's neighbours and passage do not depend on where the chunker cut."""

from rag.answer.candidates import CONTINUATION_CHARS, candidates_from_hits, page_continuations
from rag.answer.evidence import AbstentionModel, ComposerSettings
from rag.answer.extractive import compose_extractive
from rag.language.analysis import index_terms
from rag.records import Chunk, Hit
from tests.answer.corpus import PassageStatistics

DOC = "Rustam Minneyev spoke on Monday. Control of the south was the aim.\nIt links Russia to Transnistria.\nMENU\nBut the talks went on."


def _hit(start: str, end: str, source: str = "a.txt") -> Hit:
    """The chunk of DOC from the sentence opening with ``start`` to the one ending with ``end``."""
    first, last = DOC.index(start), DOC.index(end) + len(end)
    line = DOC.count("\n", 0, first) + 1
    chunk = Chunk(0, source, DOC[first:last], first, last, line, line + DOC.count("\n", first, last))
    return Hit(chunk, score=1.0)


def _by_text(candidates):
    return {c.text: c for c in candidates}


def test_a_sentence_opening_a_chunk_has_the_sentence_before_it_from_the_chunk_before():
    top = _hit("Rustam", "aim.")
    second = _hit("It links", "Transnistria.")
    found = _by_text(candidates_from_hits([top, second], limit=5))
    edge = found["It links Russia to Transnistria."]
    assert edge.context_terms == frozenset(index_terms("Control of the south was the aim."))
    # one passage, ranked as its best chunk, and holding the three sentences' terms
    assert edge.hit_rank == 0
    assert "minneyev" in edge.passage_terms
    assert found["Control of the south was the aim."].context_terms == frozenset(
        index_terms("Rustam Minneyev spoke on Monday. It links Russia to Transnistria.")
    )


def test_the_same_sentences_come_out_however_the_chunks_cut_them():
    whole = candidates_from_hits([_hit("Rustam", "Transnistria.")], limit=5)
    cut = candidates_from_hits([_hit("It links", "Transnistria."), _hit("Rustam", "aim.")], limit=5)
    overlapping = candidates_from_hits([_hit("Rustam", "aim."), _hit("Control", "Transnistria.")], limit=5)
    assert [c.text for c in whole] == [c.text for c in cut] == [c.text for c in overlapping]
    assert whole == overlapping  # ranked 0 either way: the first chunk holds the first sentence
    assert [(c.context_terms, c.passage_terms) for c in whole] == [(c.context_terms, c.passage_terms) for c in cut]
    assert [c.hit_rank for c in cut] == [0, 0, 0]
    assert [c.start_line for c in whole] == [1, 1, 2]


def test_chunks_with_a_line_of_chrome_between_them_or_in_other_files_stay_apart():
    before, after = _hit("It links", "Transnistria."), _hit("But the talks", "went on.")
    found = _by_text(candidates_from_hits([before, after], limit=5))
    assert found["But the talks went on."].context_terms == frozenset()
    assert found["But the talks went on."].hit_rank == 1
    assert "transnistria" not in found["But the talks went on."].passage_terms

    other = _hit("Control", "aim.", source="b.txt")
    found = _by_text(candidates_from_hits([_hit("It links", "Transnistria."), other], limit=5))
    assert found["It links Russia to Transnistria."].context_terms == frozenset()
    assert found["Control of the south was the aim."].hit_rank == 1


def test_only_the_first_limit_hits_are_read():
    hits = [_hit("Rustam", "aim."), _hit("It links", "Transnistria.")]
    assert [c.text for c in candidates_from_hits(hits, limit=1)] == [
        "Rustam Minneyev spoke on Monday.",
        "Control of the south was the aim.",
    ]


WRAPPED = "The army left at dawn and the long convoy went north. General Petrov said the troops were\nMoscow bound and would not return. The bridge was closed."


def _wrapped_hit(start: str, end: str) -> Hit:
    first, last = WRAPPED.index(start), WRAPPED.index(end) + len(end)
    line = WRAPPED.count("\n", 0, first) + 1
    return Hit(Chunk(0, "w.txt", WRAPPED[first:last], first, last, line, line + WRAPPED.count("\n", first, last)), 1.0)


def test_a_sentence_one_chunk_splits_at_a_short_first_line_is_read_whole_from_the_other():
    # Opening a chunk, "General Petrov said the troops were" is a short first line, which reads
    # as a heading; the chunk before holds the sentence whole, and the whole one stands.
    whole = _wrapped_hit("The army", "return.")
    opening = _wrapped_hit("General Petrov", "closed.")
    for hits in ([whole, opening], [opening, whole]):
        texts = [c.text for c in sorted(candidates_from_hits(hits, limit=5), key=lambda c: c.start_char)]
        assert texts == [
            "The army left at dawn and the long convoy went north.",
            "General Petrov said the troops were\nMoscow bound and would not return.",
            "The bridge was closed.",
        ]
        petrov = _by_text(candidates_from_hits(hits, limit=5))[texts[1]]
        assert petrov.context_terms == frozenset(index_terms(f"{texts[0]} {texts[2]}"))


PAGED = (
    "Kadyrov rose after the wars. He kept the predominantly Muslim republic\u2028quiet for"
    "\n\fthe Kremlin. This partnership\u2028let him cultivate a personality cult. And more\n"
    "\nA new paragraph starts here."
)


def _paged_chunk(start: str, end: str, source: str = "a.pdf") -> Hit:
    first, last = PAGED.index(start), PAGED.index(end) + len(end)
    line = PAGED.count("\n", 0, first) + 1
    return Hit(Chunk(0, source, PAGED[first:last], first, last, line, line + PAGED.count("\n", first, last)), 1.0)


def _texts(hits) -> list[str]:
    return [h.chunk.text for h in page_continuations(hits, {"a.pdf": PAGED, "a.txt": PAGED}.get)]


def test_a_pdf_passage_a_page_cuts_is_read_on_to_its_paragraph_s_last_whole_sentence():
    # cut mid-sentence at the foot of the page: read on from the page break
    [continued] = page_continuations([_paged_chunk("Kadyrov", "quiet for")], {"a.pdf": PAGED}.get)
    assert continued.chunk.text == "\n\fthe Kremlin. This partnership\u2028let him cultivate a personality cult."
    assert PAGED[continued.chunk.start_char : continued.chunk.end_char] == continued.chunk.text
    assert (continued.chunk.start_line, continued.chunk.end_line) == (1, 2)
    # its last sentence ran over onto the next page, and the paragraph goes on there
    assert _texts([_paged_chunk("Kadyrov", "the Kremlin.")]) == [
        " This partnership\u2028let him cultivate a personality cult."
    ]
    # the two read as one passage, ranked as the retrieved chunk
    hit = _paged_chunk("Kadyrov", "quiet for")
    read = [hit, *page_continuations([hit], {"a.pdf": PAGED}.get)]
    cult = _by_text(candidates_from_hits(read, len(read)))[
        "This partnership\u2028let him cultivate a personality cult."
    ]
    assert cult.hit_rank == 0 and "muslim" in cult.passage_terms


def test_only_a_pdf_passage_a_page_cut_short_is_read_on():
    assert _texts([_paged_chunk("Kadyrov", "quiet for", source="a.txt")]) == []  # no pages
    assert _texts([_paged_chunk("Kadyrov", "rose after the wars.")]) == []  # no page in the way
    assert _texts([_paged_chunk("He kept", "And more")]) == []  # its paragraph ends after it
    retrieved = [_paged_chunk("Kadyrov", "quiet for"), _paged_chunk("the Kremlin.", "cult.")]
    assert _texts(retrieved) == []  # the rest was retrieved too
    stale = _paged_chunk("Kadyrov", "quiet for")
    assert page_continuations([stale], {"a.pdf": PAGED.replace("Kadyrov", "Kadirov")}.get) == []


def _continued(text: str, cut: str) -> str:
    """The continuation of a PDF chunk running from the start of ``text`` to ``cut``'s end."""
    end = text.index(cut) + len(cut)
    chunk = Chunk(0, "a.pdf", text[:end], 0, end, 1, 1 + text.count("\n", 0, end))
    return "".join(h.chunk.text for h in page_continuations([Hit(chunk, 1.0)], {"a.pdf": text}.get))


def test_a_continuation_takes_only_whole_sentences_of_its_paragraph_on_that_page():
    # a sentence running over onto a third page is not whole on the second
    assert _continued("It began\n\fhere. The talks were led by Mr.\n\fPutin himself.", "began") == "\n\fhere."
    # a single line break moves up the page (a column, a box): the paragraph ended there
    boxed = "It began\n\fhere. It ended there.\nSIDEBAR: Chechnya facts. Population is 1.5 million."
    assert _continued(boxed, "began") == "\n\fhere. It ended there."
    # at most CONTINUATION_CHARS of it, and no sentence cut at that limit
    long = "It began\n\f" + " ".join(f"Sentence number {n} says one more thing." for n in range(200))
    read = _continued(long, "began")
    assert 0 < len(read) - len("\n\f") <= CONTINUATION_CHARS and read.endswith("one more thing.")
    assert len(read) > CONTINUATION_CHARS - 50


def test_the_composer_reads_on_into_the_next_page_and_keeps_the_retrieved_hits_as_they_were():
    hit = _paged_chunk("Kadyrov", "quiet for")
    question = "Which personality cult did the partnership let Kadyrov cultivate?"
    read_all = ComposerSettings(abstention=AbstentionModel(threshold=0.0))  # what is read, not whether it answers
    stats = PassageStatistics([_paged_chunk("Kadyrov", "cult.")], 60)  # the index knows both pages' words
    answer = compose_extractive(question, [hit], stats, read_all, document_text={"a.pdf": PAGED}.get)
    assert answer.hits == [hit]
    cited = [c for c in answer.citations if "personality cult" in c.quote]
    assert cited and all(PAGED[c.start_char : c.end_char] == c.quote for c in cited)
    # without the documents' text, the passage is read as retrieved
    alone = compose_extractive(question, [hit], stats, read_all)
    assert not any("personality cult" in c.quote for c in alone.citations)
