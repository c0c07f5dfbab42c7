import logging
import tracemalloc

import pytest

from rag.ingest.extracted import ExtractionError
from rag.ingest.html import read_html
from rag.ingest.loading import load_folder
from tests.conftest import SEEDS
from tests.ingest.conftest import SEED_AUTHOR, SEED_DATE, render_html, seed_parts

SITE_CHROME = [
    "Skip to content",
    "Politics",
    "Subscribe",
    "We use cookies",
    "Accept all cookies",
    "Related articles",
    "Ukraine grain deal collapses",
    "Privacy policy",
    "All rights reserved",
    "The Daily Planet",
]


@pytest.mark.parametrize("seed", sorted(SEEDS.glob("*.txt")), ids=lambda path: path.stem)
def test_a_saved_page_gives_its_article_and_none_of_the_site_around_it(seed):
    text = seed.read_text(encoding="utf-8")
    title, body = seed_parts(text)

    extracted = read_html(render_html(text))

    paragraphs = extracted.text.split("\n\n")
    assert [p for p in body if p not in paragraphs] == [], "every paragraph of the article is kept, whole"
    assert [chrome for chrome in SITE_CHROME if chrome in extracted.text and chrome not in text] == []
    assert (extracted.author, extracted.date) == (SEED_AUTHOR, SEED_DATE)
    if title:
        assert extracted.title == title
        assert paragraphs[0] == title, "the headline opens the text, so it can be quoted"


def test_a_page_with_no_article_text_is_an_extraction_error():
    page = b"<html><body><nav><a href='/'>Home</a><a href='/news'>News</a></nav></body></html>"
    with pytest.raises(ExtractionError, match="no article text found in this web page"):
        read_html(page)


def test_malformed_html_gives_what_it_holds():
    article = "The council approved the harbour budget on Monday after a long debate over the costs of dredging."
    page = f"<html><head><title>Harbour budget</title><body><div><p>{article}<p>Second <b>paragraph <i>never closed".encode()

    extracted = read_html(page)

    assert extracted.title == "Harbour budget"
    assert article in extracted.text.split("\n\n")


def test_bad_pages_are_skipped_with_one_warning_each_and_the_rest_indexed(tmp_path, caplog):
    (tmp_path / "a.txt").write_text("Alpha text.\n", encoding="utf-8")
    (tmp_path / "good.html").write_bytes(render_html((SEEDS / "000_f2df93452cb9e121.txt").read_text(encoding="utf-8")))
    (tmp_path / "links.html").write_bytes(b"<html><body><ul><li><a href='/a'>A</a></li></ul></body></html>")
    (tmp_path / "binary.htm").write_bytes(bytes(range(256)) * 8)
    with (tmp_path / "huge.html").open("wb") as out:  # 50 MB: over the limit for a web page
        out.write(b"<html><body><article>")
        paragraph = b"<p>" + b"word " * 199 + b"</p>\n"
        out.write(paragraph * (50_000_000 // len(paragraph)))
        out.write(b"</article></body></html>")

    read_html(render_html("Warm up.\n\nThe parser's modules are loaded before memory is measured here."))
    tracemalloc.start()
    try:
        with caplog.at_level(logging.WARNING, logger="rag.ingest.loading"):
            documents = load_folder(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert [d.id for d in documents] == ["a.txt", "good.html"]
    assert sorted(r.getMessage() for r in caplog.records) == [
        "skipping binary.htm: no article text found in this web page (it may be only links, or built by "
        "JavaScript); save the article's text as .txt to index it",
        "skipping huge.html: it is over 20 MB, more than a web page holds; split it into smaller files",
        "skipping links.html: no article text found in this web page (it may be only links, or built by "
        "JavaScript); save the article's text as .txt to index it",
    ]
    assert peak < 10_000_000, "the 50 MB page is not read into memory"
    good = documents[1]
    assert good.title.startswith("Russia News: Putin’s Chechen allies want war")
    assert (good.author, good.date) == (SEED_AUTHOR, SEED_DATE)


def test_a_page_in_the_charset_it_declares_is_read_in_that_charset():
    body = "Кадыров заявил, что двадцать чеченских военных вернулись домой после обмена пленными."
    page = f'<html><head><meta charset="windows-1251"><title>Обмен пленными</title></head><body><article><p>{body}</p>'
    extracted = read_html(f"{page}</article></body></html>".encode("cp1251"))
    assert extracted.text == f"Обмен пленными\n\n{body}"


def test_every_reader_is_found_by_its_suffix_in_any_case():
    from rag.ingest.readers import PLAIN_TEXT, reader_for

    assert reader_for(".HTML").read is read_html
    assert reader_for(".Txt") is PLAIN_TEXT
    assert reader_for(".docx").kind == "a Word document"
    assert reader_for(".pptx") is None
