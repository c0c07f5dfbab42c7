"""The chat page without a browser: HTML rendering, safe uploads, the handlers, and the served
app under twenty concurrent clients."""

from __future__ import annotations

import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

pytest.importorskip("gradio")

from rag import RagError  # noqa: E402
from rag.errors import DocumentsError, InvalidQuestionError  # noqa: E402
from rag.ingest.uploads import safe_name, save_upload  # noqa: E402
from rag.records import Answer, Chunk, Citation, Hit  # noqa: E402
from rag_seeds_ui import render  # noqa: E402
from rag_seeds_ui.app import parse_auth  # noqa: E402
from rag_seeds_ui.chat import INDEX_FAILED, UNEXPECTED_ERROR, ChatApp, Conversation, ReadWriteLock  # noqa: E402
from tests.conftest import SEEDS  # noqa: E402

SEED_QUESTION = "How many prisoners were exchanged on February 5?"
SEED_FILE = "003_58ec4efac89fea89.txt"
SEED_TITLE = "Chechnya’s Kadyrov shifts stance on POWs, touting efforts to bring home troops who surrendered in Ukraine"
PAYLOAD = "<script>alert(1)</script> <img src=x onerror=alert(1)> ${alert(1)} {{x}} `y`"


# -- rendering ----------------------------------------------------------------------------


def _citation(marker=1, quote="exchange included 314 prisoners", source="a.txt", start=10, line=2):
    return Citation(marker, source, line, line, quote, start, start + len(quote))


def test_text_escapes_markup_and_template_characters():
    escaped = render.text(PAYLOAD)
    for raw in ("<", ">", "$", "{", "}", "`"):
        assert raw not in escaped
    assert "&lt;script&gt;" in escaped


def test_answer_markers_become_titled_links_to_their_source():
    answer = Answer("q", "It was 314. [1]", citations=[_citation()])
    shown = render.answer_message(answer)
    assert 'href="#source-1"' in shown
    assert "a.txt, line 2" in shown
    assert "\n" not in shown


def test_answer_text_from_documents_is_escaped_in_the_message_and_its_marker_title():
    quote = 'He wrote "<img src=x onerror=alert(1)>".'
    answer = Answer("q", f"{quote} [1]", citations=[_citation(quote=quote)])
    shown = render.answer_message(answer)
    assert "<img" not in shown
    assert "&lt;img src=x onerror=alert(1)&gt;" in shown
    assert 'title="[1]' in shown and "&quot;&lt;img" in shown


def test_abstention_is_labelled_as_such():
    shown = render.answer_message(Answer("q", "The documents do not say.", abstained=True))
    assert "No answer in the documents" in shown
    assert "The documents do not say." in shown


def test_a_follow_up_read_in_the_light_of_the_conversation_says_how_it_was_read():
    answer = Answer(
        "How old is he?", "The documents do not say.", abstained=True, understood_as="How old is <b>Apti</b>?"
    )
    html = render.answer_message(answer)
    assert "Read as: “How old is &lt;b&gt;Apti&lt;/b&gt;?”" in html
    assert "Read as" not in render.answer_message(replace(answer, understood_as=None))
    answered = Answer("Who is he?", "Apti Alaudinov. [1]", [_citation()], understood_as="Who is Apti Alaudinov?")
    assert "Read as: “Who is Apti Alaudinov?”" in render.answer_message(answered)


def test_sources_panel_highlights_the_quote_within_its_surroundings():
    document = "First line.\nThe exchange included 314 prisoners <b>in all</b>.\nLast line."
    start = document.index("exchange")
    quote = "exchange included 314 prisoners"
    citation = Citation(1, "a.txt", 2, 2, quote, start, start + len(quote))
    panel = render.sources_panel(Answer("q", "x [1]", citations=[citation]), lambda source: document)
    assert '<div class="source-name">a.txt</div>' in panel
    assert "line 2" in panel
    assert "First line.<br>The <mark>exchange included 314 prisoners</mark> &lt;b&gt;in all" in panel


def test_sources_panel_shows_each_cited_files_title_escaped_above_its_name():
    document = "Intro.\nThe exchange included 314 prisoners.\n"
    citations = [_citation(1, source="a.txt"), _citation(2, source="b.txt")]
    titles = {"a.txt": "Talks <b>stall</b>"}
    panel = render.sources_panel(Answer("q", "x [1] y [2]", citations=citations), lambda s: document, titles.get)
    assert '<div class="source-title">Talks &lt;b&gt;stall&lt;/b&gt;</div><div class="source-name">a.txt</div>' in panel
    assert '<section class="source-file"><div class="source-name">b.txt</div>' in panel, "no title: the name alone"


def test_a_refusal_titles_the_nearest_sentences_file_and_each_file_in_the_closest_list_once():
    document = "Talks went on.\nHe said there were three conditions.\nThen they left.\n"
    quote = "He said there were three conditions."
    start = document.index(quote)
    closest = Citation(0, "talks.txt", 2, 2, quote, start, start + len(quote))
    hits = [Hit(Chunk(n, "talks.txt", document, 0, len(document), n, n + 1), 0.1) for n in (1, 5)]
    answer = Answer("q", "no", hits=hits, abstained=True, closest=closest)
    panel = render.sources_panel(answer, lambda source: document, {"talks.txt": "Talks in Istanbul"}.get)
    nearest, listed = panel.split("closest passages searched")
    assert nearest.count('<div class="source-title">Talks in Istanbul</div><span class="source-name">talks.txt') == 1
    assert listed.count('<div class="source-title">Talks in Istanbul</div><span class="source-name">talks.txt') == 1
    assert listed.count('<span class="source-name">talks.txt') == 2


def test_passage_in_context_finds_the_quote_when_offsets_are_stale():
    document = "Intro. " * 100 + "The quoted sentence. " + "Outro. " * 100
    citation = Citation(1, "a.txt", 1, 1, "The quoted sentence.", 0, 5)
    before, quote, after = render.passage_in_context(citation, document, context=30)
    assert quote == "The quoted sentence."
    assert before.startswith("…") and after.endswith("…")
    assert len(before) < 40 and len(after) < 40


def test_passage_in_context_without_the_document_shows_the_quote_alone():
    assert render.passage_in_context(_citation(), None) == ("", "exchange included 314 prisoners", "")


def test_abstained_answer_lists_the_closest_passages_escaped():
    chunk = Chunk(1, "x<y>.txt", "<script>alert(1)</script> nearby text", 0, 10, 3, 4)
    panel = render.sources_panel(Answer("q", "no", hits=[Hit(chunk, 0.1)], abstained=True), lambda s: None)
    assert "closest passages" in panel
    assert "x&lt;y&gt;.txt" in panel and "&lt;script&gt;" in panel and "<script" not in panel


def test_a_refusal_shows_the_nearest_sentence_marked_in_its_passage():
    document = "Talks went on.\nHe said there were three conditions <of> peace.\nThen they left.\n"
    quote = "He said there were three conditions <of> peace."
    start = document.index(quote)
    closest = Citation(0, "talks.txt", 2, 2, quote, start, start + len(quote))
    chunk = Chunk(1, "talks.txt", document, 0, len(document), 1, 3)
    answer = Answer("q", "no", hits=[Hit(chunk, 0.1)], abstained=True, closest=closest)
    panel = render.sources_panel(answer, lambda source: document if source == "talks.txt" else None)
    assert "came nearest, judged not to answer" in panel
    assert "<mark>He said there were three conditions &lt;of&gt; peace.</mark>" in panel
    assert panel.index("came nearest") < panel.index("closest passages searched")
    without = render.sources_panel(replace(answer, closest=None), lambda source: document)
    assert "came nearest" not in without and "<mark>" not in without
    assert "came nearest is in the sources panel" in render.answer_message(answer)
    assert "came nearest" not in render.answer_message(replace(answer, closest=None))
    assert "came nearest" not in render.answer_message(answer, linked=False)  # an earlier answer


def test_documents_table_escapes_names_and_totals_chunks():
    table = render.documents_table({"a.txt": 3, "<b>.md": 2})
    assert "&lt;b&gt;.md" in table and "<b>" not in table
    assert "2 documents" in table and ">5<" in table


def test_documents_table_shows_each_files_title_escaped_above_its_name():
    table = render.documents_table({"a.txt": 3, "b.txt": 2}, {"a.txt": "Talks <b>stall</b>"}.get)
    assert '<td class="doc-name"><div class="source-title">Talks &lt;b&gt;stall&lt;/b&gt;</div>' in table
    assert '<td class="doc-name"><div class="source-name">b.txt</div></td>' in table, "no title: the name alone"


def test_line_ranges_read_naturally():
    assert render.ranges_label([(11, 11)]) == "line 11"
    assert render.ranges_label([(11, 11), (21, 23), (11, 11)]) == "lines 11, 21–23"
    assert render.ranges_label([(21, 21), (11, 11), (17, 17)]) == "lines 11, 17, 21"


# -- uploads ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("notes.txt", "notes.txt"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\evil.md", "evil.md"),
        (".bashrc.md", "bashrc.md"),
        ("Harbour report (draft) #2.TXT", "Harbour report (draft) _2.txt"),
        ("<img src=x onerror=alert(1)>.md", "img src_x onerror_alert(1).md"),
        ("tab\there\x00.txt", "tabhere.txt"),
        ("...txt", "upload.txt"),
        ("a" * 300 + ".md", "a" * 97 + ".md"),
    ],
)
def test_safe_name_keeps_a_plain_name_inside_the_folder(name, expected):
    assert safe_name(name) == expected


@pytest.mark.parametrize("name", ["slides.pptx", "script.py", "noextension", "archive.txt.zip", ""])
def test_safe_name_refuses_other_formats(name):
    with pytest.raises(DocumentsError, match=r"\.md, \.pdf, \.txt"):
        safe_name(name)


def test_save_upload_writes_inside_the_folder(tmp_path):
    path = save_upload(tmp_path / "docs", "../outside.txt", b"Some text.")
    assert path == (tmp_path / "docs" / "outside.txt").resolve()
    assert path.read_text() == "Some text."
    assert not (tmp_path / "outside.txt").exists()
    assert sorted(p.name for p in (tmp_path / "docs").iterdir()) == [".uploads.json", "outside.txt"]


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"x" * 101, "the limit is 100 bytes"), (b"\x00\x01\x02binary", "does not look like text"), (b"  \n", "empty")],
)
def test_save_upload_refuses_large_binary_and_empty_files(tmp_path, data, message):
    with pytest.raises(DocumentsError, match=message):
        save_upload(tmp_path, "a.txt", data, max_bytes=100)
    assert list(tmp_path.iterdir()) == []


# -- handlers -----------------------------------------------------------------------------


def _last(generator):
    outputs = list(generator)
    return outputs, outputs[-1]


@pytest.fixture
def app(seeds_copy, tmp_path):
    from rag import Chatbot

    bot = Chatbot.from_folder(seeds_copy, index_dir=tmp_path / "index")
    yield ChatApp(bot, index_dir=tmp_path / "index", max_upload_bytes=10_000)
    bot.index.close()


def test_ask_streams_then_shows_the_cited_answer_and_its_sources(app):
    outputs, (box, shown, sources, conversation) = _last(app.ask(SEED_QUESTION, 5, Conversation()))
    assert outputs[0][0] == "", "the question box is cleared at once"
    assert any("streaming" in str(o[1][-1]["content"]) for o in outputs[:-1]), "no intermediate answer was shown"
    assert [m["role"] for m in shown] == ["user", "assistant"]
    assert "314" in shown[-1]["content"] and 'class="cite"' in shown[-1]["content"]
    assert SEED_FILE in sources and "<mark>" in sources
    assert f'<div class="source-title">{SEED_TITLE}</div>' in sources, "the page has room for the whole title"
    assert conversation.history[0] == {"role": "user", "content": SEED_QUESTION}
    assert "314" in conversation.history[1]["content"] and "<" not in conversation.history[1]["content"]


def test_the_documents_tab_shows_each_seeds_title_above_its_file_name(app):
    table = app.documents()
    assert (
        f'<td class="doc-name"><div class="source-title">{SEED_TITLE}</div>'
        '<div class="source-name">003_58ec4efac89fea89.txt</div></td>'
    ) in table
    assert '<td class="doc-name"><div class="source-name">004_7efb122e67c28a6b.txt</div></td>' in table


class RecordingBot:
    """Stands in for ``Chatbot``: answers from a script and records what it was asked."""

    def __init__(self, error: Exception | None = None):
        self.calls: list[tuple[str, list, int]] = []
        self.error = error
        self.top_k = 5
        self.index = self

    def document_text(self, source):
        return None

    def title(self, source, max_chars=70):
        return None

    def author(self, source):
        return None

    def date(self, source):
        return None

    def stream(self, question, history=None, *, top_k=None):
        from rag import AnswerStream

        self.calls.append((question, list(history or []), top_k or self.top_k))
        if self.error is not None:
            raise self.error
        answer = Answer(question, f"Answer to {question}")

        def pieces():
            yield answer.text
            yield answer

        return AnswerStream(pieces())


def test_follow_up_questions_pass_the_plain_history():
    bot = RecordingBot()
    app = ChatApp(bot, index_dir=".")
    *_, (_, _, _, first) = app.ask("Who?", 5, Conversation())
    *_, (_, shown, _, second) = app.ask("And then?", 5, first)
    assert bot.calls[1][1] == [
        {"role": "user", "content": "Who?"},
        {"role": "assistant", "content": "Answer to Who?"},
    ]
    assert len(shown) == 4 and len(second.history) == 4
    assert len(first.history) == 2, "the earlier conversation state must not be changed in place"


def test_an_earlier_answers_markers_stop_linking_when_a_new_answer_takes_the_sources_panel(app):
    *_, (_, _, _, first) = app.ask(SEED_QUESTION, 5, Conversation())
    assert 'href="#source-1"' in first.shown[-1]["content"]
    *_, (_, shown, sources, second) = app.ask("Which magazine did Harold Chambers write in?", 5, first)
    earlier, latest = shown[1]["content"], shown[3]["content"]
    assert "href=" not in earlier and '<span class="cite" title="[1] 003_58ec4efac89fea89.txt' in earlier
    assert 'href="#source-1"' in latest and 'id="source-1"' in sources and "000_f2df93452cb9e121.txt" in sources
    assert second.latest is not None and "UnHerd" in second.latest.text


def test_a_markers_label_names_its_files_title_in_the_latest_and_earlier_answers(app):
    label = f'title="[1] 003_58ec4efac89fea89.txt “{SEED_TITLE}”, line '
    *_, (_, _, _, first) = app.ask(SEED_QUESTION, 5, Conversation())
    assert label in first.shown[-1]["content"]
    *_, (_, shown, _, _) = app.ask("Which magazine did Harold Chambers write in?", 5, first)
    assert label in shown[1]["content"], "drawn again unlinked, the earlier answer's markers keep the title"


def test_a_markers_label_escapes_its_files_title():
    shown = render.answer_message(Answer("q", "It was 314. [1]", citations=[_citation()]), title=lambda s: "<b>x</b>")
    assert "a.txt “&lt;b&gt;x&lt;/b&gt;”, line 2" in shown and "<b>" not in shown


def test_passages_setting_applies_to_one_question_without_changing_the_shared_bot():
    bot = RecordingBot()
    app = ChatApp(bot, index_dir=".")
    list(app.ask("Who?", 12, Conversation()))
    assert bot.calls[0][2] == 12
    assert bot.top_k == 5


def test_an_empty_question_does_nothing():
    bot = RecordingBot()
    outputs = list(ChatApp(bot, index_dir=".").ask("   ", 5, Conversation()))
    assert len(outputs) == 1 and outputs[0][1] == [] and bot.calls == []


def test_a_user_error_is_shown_in_the_chat_and_the_question_goes_back_in_the_box():
    app = ChatApp(RecordingBot(InvalidQuestionError("The question is too long; ask a shorter one.")), index_dir=".")
    question = "why " * 500
    *_, (box, shown, sources, conversation) = app.ask(question, 5, Conversation())
    assert box == question.strip()
    assert shown[0]["content"].endswith('… <span class="note">(1,999 characters)</span></div>')
    assert "Could not answer" in shown[-1]["content"]
    assert "ask a shorter one" in shown[-1]["content"]
    assert conversation.history == [] and len(conversation.shown) == 2


def test_an_unexpected_error_is_a_sentence_not_a_traceback(caplog):
    app = ChatApp(RecordingBot(RuntimeError("secret internal detail")), index_dir=".")
    *_, (_, shown, _, _) = app.ask("Who?", 5, Conversation())
    assert UNEXPECTED_ERROR in shown[-1]["content"]
    assert "Traceback" not in shown[-1]["content"] and "secret internal detail" not in shown[-1]["content"]
    assert "secret internal detail" in caplog.text


def test_upload_indexes_new_files_and_refuses_bad_ones(app, tmp_path):
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    good = incoming / "lighthouse.md"
    good.write_text("The lighthouse at Port Quillan is painted green and white.")
    bad = incoming / "big.txt"
    bad.write_text("y" * 20_000)
    notice, documents, status = app.upload([str(good), str(bad)], progress=lambda *a, **k: None)
    added, refused = notice.split("</div>")[:2]
    assert 'class="notice ok"' in added and "Added lighthouse.md (1 chunk)." in added
    assert 'class="notice bad"' in refused and "big.txt is 20 KB; the limit is 10 KB" in refused
    assert "lighthouse.md" in documents and "6 documents" in status
    assert (app.bot.folder / "lighthouse.md").exists() and not (app.bot.folder / "big.txt").exists()
    *_, (_, shown, sources, _) = app.ask("What colour is the lighthouse at Port Quillan?", 5, Conversation())
    assert "green" in shown[-1]["content"] and "lighthouse.md" in sources


def test_reindex_picks_up_files_changed_on_disk(app):
    (app.bot.folder / "extra.txt").write_text("The ferry to Port Quillan leaves at dawn.")
    notice, documents, _ = app.reindex(progress=lambda *a, **k: None)
    assert "1 added" in notice and "extra.txt" in documents


def test_a_failed_reindex_is_a_notice_and_the_old_index_stays(tmp_path, caplog):
    bot = RecordingBot()
    bot.folder = tmp_path
    bot.chunk_counts = {"a.txt": 1}
    bot.backends = {"answers": "extractive"}

    def refresh(progress=None, swapping=None):
        raise RuntimeError("disk on fire")

    bot.refresh = refresh
    notice, documents, _ = ChatApp(bot, index_dir=".").reindex(progress=lambda *a, **k: None)
    assert INDEX_FAILED in notice and "disk on fire" not in notice
    assert "a.txt" in documents and "disk on fire" in caplog.text


def test_examples_are_offered_only_for_indexed_seed_files():
    bot = RecordingBot()
    bot.chunk_counts = {SEED_FILE: 3}
    assert ChatApp(bot, index_dir=".").examples() == [
        "How many prisoners were exchanged on February 5?",
        "Who is Kadyrov?",
        "What is the capital of Australia?",
    ]
    bot.chunk_counts = {"001_7766d24d19bfa5ea.txt": 3, "notes.txt": 1}
    assert ChatApp(bot, index_dir=".").examples() == ["What are these articles about?"]


def test_each_seed_example_shows_what_it_is_offered_for(seeds_bot):
    from rag_seeds_ui.chat import SEED_EXAMPLES

    for question, source in SEED_EXAMPLES:
        answer = seeds_bot.ask(question)
        if question == "What is the capital of Australia?":
            assert answer.abstained
        else:
            assert not answer.abstained, question
            assert source in {c.source for c in answer.citations}, question


def test_backend_status_comes_from_the_doctor_checks(app):
    checks = app.checks()
    assert "embedder" in checks and "index" in checks and "✓" in checks


@pytest.mark.parametrize(
    ("value", "expected"), [(None, None), ("", None), ("ann:s3cret", ("ann", "s3cret")), ("a:b:c", ("a", "b:c"))]
)
def test_parse_auth(value, expected):
    assert parse_auth(value) == expected


@pytest.mark.parametrize("value", ["nopassword", ":x", "x:"])
def test_parse_auth_refuses_malformed_values(value):
    with pytest.raises(RagError, match="user:password"):
        parse_auth(value)


def test_read_write_lock_holds_questions_back_while_reindexing():
    lock = ReadWriteLock()
    events = []

    def write():
        with lock.writing():
            events.append("write")

    with lock.reading():
        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.05)
        assert events == [], "a writer must wait for the questions in flight"
    writer.join(timeout=5)
    assert events == ["write"]


# -- served app -----------------------------------------------------------------------------

# Distinct questions for the concurrent clients; each client's answer must be the one the
# library gives to that question, so a mix-up between sessions cannot pass.
CONCURRENT_QUESTIONS = [
    SEED_QUESTION,
    "Which ousted Serbian leader did security expert Chris Costa compare Putin to?",
    "Who is the Ukrainian foreign minister who met Sergei Lavrov in early March?",
    "In which magazine did Harold Chambers publish his view that Kadyrov may not be standing where he thinks he is?",
    "What is the capital of Australia?",
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from rag_seeds_ui.browser import serving

    work = tmp_path_factory.mktemp("ui-served")
    shutil.copytree(SEEDS, work / "docs")
    with serving(work / "docs", work / "index") as url:
        yield url, work / "index"


def test_the_server_listens_on_loopback_only(served):
    url, _ = served
    assert url.startswith("http://127.0.0.1:")


@pytest.mark.slow
def test_twenty_clients_at_once_get_their_own_correct_answers(served):
    from gradio_client import Client

    from rag import Chatbot

    url, index_dir = served
    library = Chatbot.from_index(index_dir)
    expected = {question: library.ask(question) for question in CONCURRENT_QUESTIONS}
    title = ChatApp(library, index_dir=index_dir).title  # as the page cuts titles
    drawn = {question: render.answer_message(answer, title=title) for question, answer in expected.items()}
    library.index.close()
    assert "314" in expected[SEED_QUESTION].text

    questions = [CONCURRENT_QUESTIONS[i % len(CONCURRENT_QUESTIONS)] for i in range(20)]
    start = threading.Barrier(len(questions), timeout=60)

    def one(question):
        client = Client(url, verbose=False)
        start.wait()
        _, shown, sources = client.submit(question, 5, api_name="/ask").result(timeout=60)
        return question, shown, sources

    with ThreadPoolExecutor(max_workers=len(questions)) as pool:
        results = list(pool.map(one, questions, timeout=120))
    assert len(results) == 20
    for question, shown, sources in results:
        texts = [part["text"] for message in shown for part in message["content"]]
        assert texts == [render.user_message(question), drawn[question]], (
            "each client must see only its own question and the library's answer to it"
        )
        for citation in expected[question].citations:
            assert citation.source in sources


def test_a_taken_port_is_a_user_error(app):
    import socket

    from rag_seeds_ui.app import build, serve

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RagError, match=f"127.0.0.1:{port}.*free --port"):
            serve(build(app), port=port, block=False)


# uvicorn's server thread ends by raising SystemExit when it cannot bind; Gradio then raises.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.slow
def test_an_address_not_on_this_machine_is_one_user_error_and_no_server_log(app, capfd):
    from rag_seeds_ui.app import build, serve
    from rag_seeds_ui.browser import free_port

    with pytest.raises(RagError, match="10.255.255.1:.*not this machine's"):
        serve(build(app), host="10.255.255.1", port=free_port(), block=False)
    captured = capfd.readouterr()
    assert "error while attempting to bind" not in captured.err + captured.out


def test_login_is_required_when_auth_is_set(seeds_copy, tmp_path):
    import httpx
    from gradio_client import Client

    from rag_seeds_ui.browser import serving

    with serving(seeds_copy, tmp_path / "index", auth=("ann", "s3cret")) as url:
        assert httpx.get(url + "gradio_api/info").status_code == 401
        client = Client(url, auth=("ann", "s3cret"), verbose=False)
        _, shown, _ = client.predict(SEED_QUESTION, 5, api_name="/ask")
        assert "314" in shown[-1]["content"][0]["text"]
