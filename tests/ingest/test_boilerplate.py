import pytest

from rag import Document
from rag.ingest.boilerplate import chrome_spans, is_chrome, masked
from rag.ingest.chunking import ChunkerSettings, LineIndex, chunk_document
from rag.ingest.loading import load_folder
from rag.ingest.tokens import APPROXIMATION, TokenCounter
from tests.conftest import SEEDS

APPROX = TokenCounter(APPROXIMATION)


@pytest.mark.parametrize(
    "line",
    [
        "Skip to content",
        "Skip to main content",
        "Jump to navigation",
        "Menu",
        "Toggle navigation",
        "Exit mobile version",
        "Source: Read Full Article",
        "READ MORE: Putin humiliated as Chechen special forces return home",
        "Advertisement",
        "We use your sign-up to provide content in ways you’ve consented to and to improve our understanding of you.",
    ],
)
def test_site_chrome_lines_are_found(line):
    assert is_chrome(line)


@pytest.mark.parametrize(
    "line",
    [
        "Source: Meduza",  # names the outlet: a reader may ask which one reported it
        "read more about the latest prisoner swap",  # a topic tag: it says what the article is about
        "Read more about this in the ministry's own report.",
        "The menu at the summit dinner was kept secret.",
        "Skip to content if you have read the earlier chapters",
        "War in Ukraine",
        "news",  # a word alone is a section label only at the top
        "READ MORE: " + "word " * 20,  # a paragraph, not a link
    ],
)
def test_lines_of_an_article_are_kept(line):
    assert not is_chrome(line)


def test_a_one_word_label_is_chrome_only_among_the_opening_lines():
    text = "Skip to main content\nnews\n\nHeadline here\n\nBody text.\n\nnews\n"
    assert [text[start:end] for start, end in chrome_spans(text)] == ["Skip to main content", "news"]


def test_masking_keeps_every_offset():
    text = "Skip to content\n\nBody.\n"
    assert masked(text, chrome_spans(text)) == " " * 15 + "\n\nBody.\n"


def test_no_seed_chunk_holds_site_chrome_and_every_other_line_is_kept():
    for document in load_folder(SEEDS):
        chunks = chunk_document(document, APPROX, ChunkerSettings())
        lines = LineIndex(document.text)
        for chunk in chunks:
            assert chunk.text == document.text[chunk.start_char : chunk.end_char]
            assert (chunk.start_line, chunk.end_line) == lines.span(chunk.start_char, chunk.end_char)
            for phrase in ("Skip to", "READ MORE", "Exit mobile version", "Read Full Article"):
                assert phrase not in chunk.text, (document.id, chunk.id)
            assert "sign-up" not in chunk.text
        left = masked(document.text, sorted(chrome_spans(document.text) + [(c.start_char, c.end_char) for c in chunks]))
        assert left.split() == [], f"{document.id}: text in no chunk that is not chrome"


def test_the_first_seed_chunk_starts_below_the_skip_link_and_keeps_its_line_numbers():
    document = next(d for d in load_folder(SEEDS) if d.id == "003_58ec4efac89fea89.txt")
    first = chunk_document(document, APPROX, ChunkerSettings())[0]
    assert first.start_line == 4, "lines 1-2 are 'Skip to main content' and 'news'"
    assert first.text.startswith("Chechnya’s Kadyrov shifts stance")


def test_a_chunk_never_reaches_across_a_chrome_line_nor_overlaps_back_over_it():
    before = "The mayor opened the bridge on Monday. Crowds lined the river to watch."
    after = "The bridge cost four million euros. It took two years to build."
    document = Document("a.txt", f"{before}\nREAD MORE: Storm closes the harbour\n{after}\n")

    chunks = chunk_document(document, APPROX, ChunkerSettings(max_tokens=64, overlap_tokens=16))

    assert [(c.text, c.start_line, c.end_line) for c in chunks] == [(before, 1, 1), (after, 3, 3)]


@pytest.mark.parametrize("text", ["x", "menu\n", "news\n\nSkip to content\n"])
def test_a_text_that_is_all_chrome_is_kept_whole_not_indexed_as_nothing(text):
    assert chrome_spans(text) == []


def test_a_one_word_opening_line_that_runs_on_into_the_next_is_a_wrapped_sentence_not_a_label():
    assert chrome_spans("Three runs\nover\nthe hill.\n\nMore text follows here.\n") == []
    assert chrome_spans("Skip to main content\nnews\n\nThe story.\n") == [(0, 20), (21, 25)]
