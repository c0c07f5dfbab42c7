"""The chat page in a real headless Chromium: ask about the seeds, upload a file and ask about
it, and show a document full of markup as text without running any of it.

Drives Debian's ``chromium`` (``make test`` installs it); skipped, saying why, without it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("gradio")
pytest.importorskip("playwright")

from rag_seeds_ui.browser import ask, capture, chromium, find_chromium, open_page, serving  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        find_chromium() is None, reason="chromium is not installed (apt-get install chromium; `make test` does)"
    ),
]

from tests.conftest import SEEDS  # noqa: E402

SEED_FILE = "003_58ec4efac89fea89.txt"
SEED_QUESTION = "How many prisoners were exchanged on February 5?"
FOLLOW_UP = "How many of them were civilians?"

# Records whether an answer was ever shown while still being written, before it is asked.
WATCH_STREAMING = """() => {
  window.__streamed = [];
  new MutationObserver(() => {
    for (const el of document.querySelectorAll('#chat .msg.streaming')) window.__streamed.push(el.textContent);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("ui-browser")
    shutil.copytree(SEEDS, work / "docs")
    with serving(work / "docs", work / "index") as url:
        yield SimpleNamespace(url=url, index_dir=work / "index")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, chromium(playwright, find_chromium()) as context:
        yield context


@pytest.fixture
def page(browser, server):
    page = open_page(browser, server.url)
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    page.close()


def _library_answer(index_dir, earlier: list[str], question: str) -> str:
    """What ``Chatbot`` itself answers to ``question`` after the ``earlier`` questions."""
    from rag import Chatbot

    bot = Chatbot.from_index(index_dir)
    history = []
    for asked in earlier:
        history += [{"role": "user", "content": asked}, {"role": "assistant", "content": bot.ask(asked, history).text}]
    text = bot.ask(question, history).text
    bot.index.close()
    return text


def _words(text: str) -> list[str]:
    return text.replace("No answer in the documents", "").split()


def upload(page, name: str, content: str | bytes, *others: tuple[str, bytes]) -> str:
    """Add files on the Documents tab; returns the notice shown once they are indexed."""
    page.get_by_role("tab", name="Documents").click()
    files = [(name, content.encode("utf-8") if isinstance(content, str) else content), *others]
    page.locator("#upload input[type=file]").set_input_files(
        files=[{"name": n, "mimeType": "application/octet-stream", "buffer": data} for n, data in files]
    )
    # Uploaded files are listed as table rows; while uploading, the name shows elsewhere.
    for n, _ in files:
        page.locator(f'#upload td[aria-label="{n}"]').wait_for(timeout=60_000)
    page.click("#add")
    page.wait_for_selector("#upload-notice .notice", timeout=60_000)
    notice = page.inner_text("#upload-notice")
    page.get_by_role("tab", name="Chat").click()
    return notice


def test_a_seed_question_gets_a_streamed_cited_answer_and_its_sources(page, server, tmp_path):
    page.evaluate(WATCH_STREAMING)
    answer = ask(page, SEED_QUESTION)
    assert "314" in answer.inner_text()
    assert page.evaluate("window.__streamed.length") > 0, "the answer was never shown while being written"

    marker = answer.locator("a.cite").first
    assert marker.inner_text().startswith("[")
    assert SEED_FILE in marker.get_attribute("title")

    sources = page.locator("#sources")
    assert SEED_FILE in sources.inner_text()
    highlighted = sources.locator("mark").all_inner_texts()
    assert any("314 prisoners" in quote for quote in highlighted)
    assert "line" in sources.locator(".source-lines").first.inner_text()

    follow_up = ask(page, FOLLOW_UP)
    assert _words(follow_up.inner_text()) == _words(_library_answer(server.index_dir, [SEED_QUESTION], FOLLOW_UP))
    assert page.locator("#chat .msg.user-msg").count() == 2
    # Only the latest answer's sources are on the page, so only its markers link to them.
    first = page.locator("#chat .msg.answer").first
    assert first.locator("a.cite").count() == 0 and first.locator("span.cite").count() > 0
    if follow_up.locator(".cite").count():
        assert follow_up.locator("a.cite").count() == follow_up.locator(".cite").count()
    page.screenshot(path=str(tmp_path / "seed-question.png"))
    assert page.dialogs == []


def test_a_refusal_shows_the_nearest_sentence_highlighted_in_its_passage(page, tmp_path):
    answer = ask(page, "How many conditions did Antonov say the Americans were attaching to negotiations?")
    assert "No answer in the documents" in answer.inner_text() and answer.locator(".cite").count() == 0
    assert "came nearest is in the sources panel" in answer.inner_text()
    sources = page.locator("#sources")
    assert "came nearest, judged not to answer" in sources.inner_text()
    assert sources.locator(".nearest mark").inner_text() == "“I would specify three of them."
    assert "line 51" in sources.locator(".nearest .passage-lines").inner_text()
    page.screenshot(path=str(tmp_path / "nearest.png"))


def test_the_screenshot_of_a_refusal_is_taken_with_no_marker_to_hover(page, tmp_path):
    target = tmp_path / "refusal.png"
    capture(page, "What is the capital of Australia?", target)
    assert target.read_bytes().startswith(b"\x89PNG")
    assert "No answer in the documents" in page.locator("#chat .msg.answer").last.inner_text()


def test_clicking_an_example_question_asks_it(page, server):
    example = page.locator("#chat").locator("xpath=ancestor::div[contains(@class,'column')][1]")
    first = example.get_by_role("button").filter(has_text="?").first
    question = first.inner_text().strip()
    first.click()
    done = "#chat .msg.answer:not(.streaming), #chat .msg.error"
    page.wait_for_selector(done, timeout=60_000)
    assert question in page.inner_text("#chat .msg.user-msg")
    assert _words(page.locator(done).first.inner_text()) == _words(_library_answer(server.index_dir, [], question))


def test_an_uploaded_file_is_indexed_and_answers_questions(page):
    notice = upload(
        page,
        "Harbour report (2024).md",
        "# Harbour report\n\nThe lighthouse at Port Quillan is painted green and white.\n"
        "It was rebuilt in 1911 after a storm.\n",
    )
    assert "Added Harbour report (2024).md" in notice
    page.get_by_role("tab", name="Documents").click()
    assert "Harbour report (2024).md" in page.inner_text("#documents")
    documents = page.inner_text("#status").split(" documents")[0].split()[-1]
    page.get_by_role("tab", name="Settings").click()
    page.wait_for_function(
        "count => document.querySelector('#checks').innerText.includes(count + ' documents')", arg=documents
    )
    page.get_by_role("tab", name="Chat").click()

    answer = ask(page, "What colour is the lighthouse at Port Quillan?")
    assert "green" in answer.inner_text()
    assert "Harbour report (2024).md" in page.inner_text("#sources")


def test_a_file_in_another_format_is_refused_with_the_reason_and_the_rest_is_added(page):
    notice = upload(page, "minutes.txt", "The board of Elmstead met on Tuesday.\n", ("slides.pptx", b"PK\x03\x04"))
    assert "Added minutes.txt" in notice
    assert "slides.pptx is not a " in notice
    assert page.dialogs == []


@pytest.mark.slow
def test_markup_in_a_document_shows_as_text_and_never_runs(page):
    payload_doc = (
        "Project Nightjar\n\n"
        "The launch code of Project Nightjar is <script>alert(1)</script> according to the quartermaster.\n"
        "The backup banner of Project Nightjar is <img src=x onerror=alert(1)> and was never printed.\n"
    )
    assert "Added nightjar.md" in upload(page, "nightjar.md", payload_doc)

    answer = ask(page, "What is the launch code of Project Nightjar?")
    assert "<script>alert(1)</script>" in answer.inner_text()
    answer = ask(page, "What is the backup banner of Project Nightjar?")
    assert "<img src=x onerror=alert(1)>" in answer.inner_text()
    assert "<img src=x onerror=alert(1)>" in page.inner_text("#sources")

    # the same document read whole on the Documents tab, chosen from the list
    page.get_by_role("tab", name="Documents").click()
    page.locator("#read-document input").click()
    page.get_by_role("option", name="Project Nightjar (nightjar.md)").click()
    view = page.locator("#document-view")
    page.wait_for_function("() => document.querySelector('#document-view').innerText.includes('quartermaster')")
    assert "<script>alert(1)</script>" in view.inner_text() and "<img src=x onerror=alert(1)>" in view.inner_text()
    assert view.locator("mark").count() == 0, "chosen from the list, nothing is highlighted"

    page.wait_for_timeout(500)  # give a broken image's onerror time to fire, were there one
    assert page.dialogs == []
    assert page.locator("#chat script, #sources script, #chat img[src=x], #sources img").count() == 0
    assert page.locator("#document-view script, #document-view img").count() == 0


def test_an_error_is_a_message_in_the_chat(page):
    answer = ask(page, "Why? " * 1000)
    text = answer.inner_text()
    assert "Could not answer" in text and "shorter question" in text
    assert "Traceback" not in page.inner_text("body")


HARBOUR_PDF_TEXT = (
    "The harbour of Port Quillan was dredged in the spring of 2023 so that larger ships could dock.\n\n"
    + "The quay was lengthened by forty metres and a new crane was installed beside it. " * 16
    + "\n\n"
    + "Fishing boats moor along the eastern wall, where the water stays calm in every season. " * 16
    + "\n\nThe lighthouse at Port Quillan is painted green and white; it was rebuilt in 1911 after a storm.\n\n"
    + "The ferry to Elmstead leaves twice a day in summer and once a day in winter."
)


@pytest.mark.slow
def test_an_uploaded_pdf_is_cited_with_its_page_and_its_passage_opens_highlighted(page, tmp_path):
    from tests.ingest.pdf_files import article_pdf

    pdf = article_pdf("Port Quillan harbour report", HARBOUR_PDF_TEXT)
    assert "Added Port Quillan harbour.pdf" in upload(page, "Port Quillan harbour.pdf", pdf)

    answer = ask(page, "What colour is the lighthouse at Port Quillan?")
    assert "green and white" in answer.inner_text()
    marker = answer.locator("a.cite").first
    assert "Port Quillan harbour.pdf" in marker.get_attribute("title") and ", page 2, line" in marker.get_attribute(
        "title"
    )
    sources = page.locator("#sources")
    assert "Port Quillan harbour report" in sources.inner_text() and "by Seeds Desk" in sources.inner_text()
    assert "page 2, line" in sources.locator(".source-lines").first.inner_text()
    marker.hover()
    page.wait_for_timeout(300)
    shot = tmp_path / "ui-pdf-citation.png"
    page.screenshot(path=str(shot))
    if os.environ.get("RAG_UI_SHOTS"):  # retakes docs/img/ui-pdf-citation.png: RAG_UI_SHOTS=docs/img
        shutil.copyfile(shot, Path(os.environ["RAG_UI_SHOTS"]) / shot.name)

    sources.locator("a.open-doc").first.click()
    view = page.locator("#document-view")
    cited = view.locator("mark.cited").first
    cited.wait_for(timeout=30_000)
    assert page.get_by_role("tab", name="Documents").get_attribute("aria-selected") == "true"
    assert "green and white" in " ".join(view.locator("mark.cited").all_inner_texts())
    assert "Page 2" in view.locator(".doc-page:has(mark.cited)").first.inner_text()
    page.wait_for_function(
        """() => { const r = document.querySelector('#document-view mark.cited').getBoundingClientRect();
                   const box = document.querySelector('#document-view .doc-text').getBoundingClientRect();
                   return r.top >= box.top && r.bottom <= box.bottom && r.top >= 0 && r.bottom <= innerHeight; }""",
        timeout=10_000,
    )
    page.screenshot(path=str(tmp_path / "pdf-passage-opened.png"))
    assert page.dialogs == []


@pytest.mark.slow
def test_an_upload_never_replaces_a_seed_and_an_upload_can_be_removed(page):
    renamed = SEED_FILE.replace(".txt", " (2).txt")
    notice = upload(page, SEED_FILE, "The exchange included 9,999 prisoners.\n")
    assert f"Added {SEED_FILE} as {renamed}" in notice and "is already there and was kept" in notice
    page.get_by_role("tab", name="Documents").click()
    assert SEED_FILE in page.inner_text("#documents") and renamed in page.inner_text("#documents")

    page.locator("#removable input").click()
    page.get_by_role("option", name=renamed).click()
    page.click("#remove")
    page.wait_for_function("() => document.querySelector('#upload-notice').innerText.includes('Removed')")
    assert f"Removed {renamed}." in page.inner_text("#upload-notice")
    page.wait_for_function(
        "name => !document.querySelector('#documents').innerText.includes(name)", arg=renamed, timeout=60_000
    )
    assert SEED_FILE in page.inner_text("#documents")
