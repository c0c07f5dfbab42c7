"""The Documents tab's reader and the page's PDFs: a document's text with numbered lines (a
PDF's page by page, counted as its citations count them), a cited passage highlighted and
everything escaped; PDF uploads checked by the PDF reader; each file's author and date."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("gradio")
pytest.importorskip("reportlab")

import gradio as gr  # noqa: E402

from rag.answer.citations import on_its_page  # noqa: E402
from rag.ingest.pdf import WRAP  # noqa: E402
from rag.records import Answer, Chunk, Citation, Hit  # noqa: E402
from rag_seeds_ui import documents, render  # noqa: E402
from rag_seeds_ui.chat import ChatApp, Conversation  # noqa: E402
from rag_seeds_ui.documents import DocumentReader, Span, document_view, locate  # noqa: E402
from tests.ingest.pdf_files import article_pdf, malformed_pdf, scanned_pdf  # noqa: E402

PAYLOAD = "<script>alert(1)</script> <img src=x onerror=alert(1)> ${alert(1)} {{x}} `y`"
HARBOUR = (
    "The harbour of Port Quillan was dredged in the spring.\n\n"
    "The lighthouse at Port Quillan is painted green and white, and it was rebuilt in 1911 after a storm.\n\n"
    "The ferry to Elmstead leaves twice a day in summer."
)


def _marked(view: str) -> list[str]:
    """The numbers of the lines holding a highlight, as the view shows them."""
    rows = view.split('<div class="doc-line">')[1:]
    return [row.split('<span class="ln">')[1].split("<")[0] for row in rows if "<mark" in row]


# -- the view ------------------------------------------------------------------------------


def test_a_text_document_shows_every_line_numbered_and_the_passage_marked_across_lines():
    text = "Title\n\nThe exchange included\n314 prisoners in all.\nLast line."
    start = text.index("exchange")
    view = document_view("a.txt", text, title="Title", span=Span(start, text.index(" in all")))
    assert _marked(view) == ["3", "4"]
    assert '<mark class="cited">exchange included</mark>' in view
    assert '<mark class="cited">314 prisoners</mark> in all.' in view
    assert view.count('<div class="doc-line">') == 5, "blank lines are lines of a text file"
    assert '<div class="source-title">Title</div><div class="source-name">a.txt</div>' in view


def test_markup_in_a_document_shows_as_text_in_the_view():
    text = f"Intro.\n{PAYLOAD}\n{PAYLOAD}\n"  # the payload marked on line 2, as it is on line 3
    view = document_view("<b>x</b>.txt", text, title=PAYLOAD, byline=PAYLOAD, span=Span(7, 7 + len(PAYLOAD)))
    for raw in ("<script", "<img", "<b>", "${", "{{", "`"):
        assert raw not in view
    assert view.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 4 and _marked(view) == ["2"]


def test_a_pdfs_lines_are_numbered_within_each_page_as_its_citations_count_them():
    page_one = f"Harbour news\n\nThe lighthouse is{WRAP}painted green.\n"
    page_two = f"The ferry leaves{WRAP}twice a day{WRAP}in summer.\n"
    text = f"{page_one}\f{page_two}"
    quote = f"twice a day{WRAP}in summer."
    start = text.index("twice")
    cited = on_its_page(Citation(1, "h.pdf", 0, 0, quote, start, start + len(quote)), text)
    assert (cited.page, cited.start_line, cited.end_line) == (2, 2, 3)

    view = document_view("h.pdf", text, span=Span(cited.start_char, cited.end_char))
    pages = view.split('<section class="doc-page">')[1:]
    assert [p.split('<div class="page-number">')[1].split("<")[0] for p in pages] == ["Page 1", "Page 2"]
    assert _marked(pages[1]) == [str(cited.start_line), str(cited.end_line)]
    # the paragraph's gap on page 1 is a row without a number
    assert [r.split('<span class="ln">')[1].split("<")[0] for r in pages[0].split('<div class="doc-line">')[1:]] == [
        "1",
        "",
        "2",
        "3",
    ]


def test_a_passage_is_found_by_its_offsets_then_by_its_text_else_not_at_all():
    text = "One. The exchange included 314 prisoners. Two."
    start = text.index("The")
    assert locate(text, start, start + 12, "The exchange") == Span(start, start + 12)
    assert locate(text, 0, 12, "The exchange") == Span(start, start + 12), "stale offsets: found by text"
    assert locate(text, start, start + 12, "no such quote") is None


def test_a_long_document_is_shown_as_a_window_around_the_passage(monkeypatch):
    monkeypatch.setattr(documents, "MAX_SHOWN_CHARS", 100)
    text = "".join(f"line {n:03d}\n" for n in range(100))  # 9 characters a line
    start = text.index("line 080")
    view = document_view("long.txt", text, span=Span(start, start + 8))
    assert _marked(view) == ["81"]
    rows = view.split('<div class="doc-line">')[1:]
    shown = [re.sub("<[^>]+>", "", row.split('<span class="lt">')[1]) for row in rows]
    assert shown == [f"line {n:03d}" for n in range(74, 87)], "whole lines around the passage"
    assert "Showing characters 667–782 of 900 around the passage" in view


def test_a_document_no_longer_indexed_says_so():
    assert "is not in the index any more" in document_view("gone.txt", None)


# -- the sources panel and the list --------------------------------------------------------


def test_the_sources_panel_names_author_and_date_and_links_each_passage_to_the_reader():
    quote = "exchange included 314 prisoners"
    answer = Answer("q", "It was 314. [2]", citations=[Citation(2, "a.pdf", 4, 4, quote, 0, len(quote), page=3)])
    panel = render.sources_panel(answer, lambda s: quote, lambda s: "Title", lambda s: "by <Ann> · 2024-03-05")
    assert '<div class="source-byline">by &lt;Ann&gt; · 2024-03-05</div>' in panel
    assert "page 3, line 4" in panel
    assert f'<a class="{render.OPEN_LINK_CLASS}" href="#documents" data-ref="c2">open in document</a>' in panel


def test_a_pdfs_wrapped_lines_read_as_spaces_in_the_sources_panel():
    document = f"Fishing boats{WRAP}moor here. The lighthouse is{WRAP}green."
    quote = f"The lighthouse is{WRAP}green."
    start = document.index("The")
    answer = Answer("q", "Green. [1]", citations=[Citation(1, "a.pdf", 1, 2, quote, start, start + len(quote), page=1)])
    panel = render.sources_panel(answer, lambda s: document)
    assert "Fishing boats moor here. <mark>The lighthouse is green.</mark>" in panel and WRAP not in panel


def test_a_refusals_nearest_pdf_sentence_names_its_page_and_each_passage_opens():
    nearest = Citation(0, "a.pdf", 5, 5, "Close.", 0, 6, page=2)
    hit = Hit(Chunk(1, "a.pdf", "Close. Other.", 0, 13, 9, 9), 0.5)
    answer = Answer("q", "The documents do not say.", abstained=True, closest=nearest, hits=[hit])
    panel = render.sources_panel(answer, lambda s: "Close. Other.")
    assert '<span class="passage-lines">page 2, line 5</span>' in panel
    assert panel.count('<span class="passage-lines">page 1, line 1</span>') == 1, "the hit's place is on its page"
    assert 'data-ref="n0"' in panel and 'data-ref="h0"' in panel


def test_byline_and_upload_formats_read_naturally():
    assert render.byline("Ann Lee", "2024-03-05") == "by Ann Lee · 2024-03-05"
    assert render.byline(None, "2024-03-05") == "2024-03-05" and render.byline(None, None) is None
    assert render.byline("Seeds Desk", "2026-12-04T18:06:03+00:00") == "by Seeds Desk · 2026-12-04"
    limits = {".txt": 2 << 20, ".md": 2 << 20, ".html": 10 << 20, ".pdf": 20 << 20, ".csv": 1536 << 10}
    assert (
        render.upload_formats(limits)
        == ".csv up to 1.5 MB; .md or .txt up to 2 MB; .html up to 10 MB; .pdf up to 20 MB"
    )


# -- PDFs through the page -----------------------------------------------------------------


@pytest.fixture
def pdf_app(tmp_path):
    from rag import Chatbot

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "notes.txt").write_text("The board of Elmstead met on Tuesday.\n", encoding="utf-8")
    bot = Chatbot.from_folder(folder, index_dir=tmp_path / "index")
    incoming = tmp_path / "gradio-temp"
    incoming.mkdir()
    yield ChatApp(bot, index_dir=tmp_path / "index", upload_dir=incoming)
    bot.index.close()


def _incoming(app, name: str, data: bytes) -> str:
    path = app.upload_dir / name.replace(".", "-") / name
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    return str(path)


def _ask(app, question: str) -> tuple[str, Conversation]:
    *_, (_, shown, sources, conversation) = app.ask(question, 5, Conversation())
    return sources, conversation


@pytest.mark.slow
def test_an_uploaded_pdf_is_cited_with_its_page_and_opens_highlighted_on_that_page(pdf_app):
    pdf = article_pdf("Harbour report", HARBOUR)
    notice, table, _ = pdf_app.upload([_incoming(pdf_app, "harbour.pdf", pdf)], progress=lambda *a, **k: None)
    assert "Added harbour.pdf" in notice
    assert "Harbour report" in table and "by Seeds Desk · 20" in table

    sources, conversation = _ask(pdf_app, "What colour is the lighthouse at Port Quillan?")
    cited = conversation.latest.citations[0]
    assert cited.source == "harbour.pdf" and cited.page == 1
    assert "page 1, line" in sources and 'data-ref="c1"' in sources

    reader = DocumentReader(pdf_app)
    assert ("Harbour report (harbour.pdf)", "harbour.pdf") in reader.choices()
    view, chosen, tabs = reader.open_cited(conversation, gr.EventData(None, {"ref": "c1"}))
    assert chosen["value"] == "harbour.pdf" and tabs.selected == "documents"
    assert '<div class="page-number">Page 1</div>' in view and "green and white" in view
    marked = _marked(view)
    assert marked[0] == str(cited.start_line) and marked[-1] == str(cited.end_line)

    opened = reader.open("harbour.pdf")
    assert "<mark" not in opened and "green and white" in opened


def test_a_link_naming_no_passage_of_the_latest_answer_opens_nothing(pdf_app):
    reader = DocumentReader(pdf_app)
    for conversation, data in [
        (Conversation(), {"ref": "c1"}),
        (Conversation(latest=Answer("q", "x", citations=[])), {"ref": "c1"}),
        (Conversation(latest=Answer("q", "x", citations=[])), {"ref": "../etc/passwd"}),
        (Conversation(latest=Answer("q", "x", citations=[])), None),
    ]:
        view, chosen, _ = reader.open_cited(conversation, gr.EventData(None, data))
        assert "belongs to an earlier answer" in view
    assert "is not an indexed document" in reader.open("../../etc/passwd")


def test_a_refusals_nearest_sentence_and_closest_passage_open_highlighted(pdf_app):
    text = "The board of Elmstead met on Tuesday.\n"
    sentence = "met on Tuesday."
    start = text.index(sentence)
    answer = Answer(
        "q",
        "The documents do not say.",
        abstained=True,
        closest=Citation(0, "notes.txt", 1, 1, sentence, start, start + len(sentence)),
        hits=[Hit(Chunk(1, "notes.txt", text.strip(), 0, len(text) - 1, 1, 1), 0.5)],
    )
    reader = DocumentReader(pdf_app)
    nearest, chosen, _ = reader.open_cited(Conversation(latest=answer), gr.EventData(None, {"ref": "n0"}))
    assert '<mark class="cited">met on Tuesday.</mark>' in nearest and chosen["value"] == "notes.txt"
    closest, _, _ = reader.open_cited(Conversation(latest=answer), gr.EventData(None, {"ref": "h0"}))
    assert '<mark class="cited">The board of Elmstead met on Tuesday.</mark>' in closest
    missing, _, _ = reader.open_cited(Conversation(latest=answer), gr.EventData(None, {"ref": "h1"}))
    assert "belongs to an earlier answer" in missing


def test_the_upload_label_lists_each_format_with_its_limit(pdf_app):
    from rag_seeds_ui.app import build

    labels = [c.get("props", {}).get("label") for c in build(pdf_app).config["components"]]
    assert (
        "Choose files (.md or .txt up to 2 MB; .docx, .htm or .html up to 10 MB; .pdf up to 20 MB), then click Add to index"
        in labels
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (lambda: malformed_pdf(article_pdf("T", HARBOUR)), "cannot be indexed"),
        (scanned_pdf, "no text layer"),
    ],
)
def test_a_pdf_the_reader_cannot_read_is_refused_with_its_reason(pdf_app, data, reason):
    notice, table, _ = pdf_app.upload([_incoming(pdf_app, "bad.pdf", data())], progress=lambda *a, **k: None)
    assert 'class="notice bad"' in notice and "bad.pdf cannot be indexed" in notice and reason in notice
    assert "bad.pdf" not in table and not (pdf_app.bot.folder / "bad.pdf").exists()


def test_a_pdf_over_its_own_limit_is_refused_by_name(pdf_app):
    from rag.ingest.uploads import UPLOAD_LIMITS

    big = b"%PDF-1.4\n" + b"0" * UPLOAD_LIMITS[".pdf"]
    notice, _, _ = pdf_app.upload([_incoming(pdf_app, "huge.pdf", big)], progress=lambda *a, **k: None)
    assert "huge.pdf is 20.0 MB; the limit is 20.0 MB" in notice
