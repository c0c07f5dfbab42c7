"""Many visitors at once: answers given on several threads are the ones given one at a time,
questions are answered while the index is rewritten, and a streamed answer is redrawn at
most as often as the page asks."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("gradio")

from rag import Chatbot  # noqa: E402
from rag.store.manifest import read_manifest  # noqa: E402
from rag_seeds_ui.chat import ChatApp, Conversation  # noqa: E402
from tests.conftest import SEEDS  # noqa: E402

PROMPTS = Path(__file__).resolve().parent.parent / "prompts" / "seeds.jsonl"
SEED_QUESTION = "How many prisoners were exchanged on February 5?"
NEW_FILE = "zz_new.txt"
NEW_TEXT = "The Zorblatt Gazette reported that the lighthouse keeper counted 4,711 gulls on Tuesday.\n"
WAIT_S = 60  # a bound on waiting for another thread, far above what any step takes


def _questions() -> list[str]:
    with open(PROMPTS, encoding="utf-8") as handle:
        return [json.loads(line)["question"] for line in handle if line.strip()]


def _final(outputs) -> tuple:
    *_, last = outputs
    return last


@pytest.mark.slow
def test_answers_given_on_eight_threads_are_the_ones_given_one_at_a_time(seeds_bot):
    questions = _questions()
    serial = [seeds_bot.ask(question) for question in questions]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(seeds_bot.ask, questions * 3))
    assert sum(not answer.abstained for answer in serial) > len(questions) // 3, "too few answers to compare"
    assert concurrent == serial * 3


@pytest.mark.slow
def test_the_neural_embedder_and_reranker_answer_on_eight_threads_as_on_one(tiny_models, tmp_path):
    models = {"embedding_model": str(tiny_models.embedder), "reranker_model": str(tiny_models.reranker)}
    bot = Chatbot.from_folder(SEEDS, index_dir=tmp_path / "index", progress=False, **models)
    questions = _questions()[:8]
    try:
        serial = [bot.ask(question) for question in questions]
        with ThreadPoolExecutor(max_workers=8) as pool:
            concurrent = list(pool.map(bot.ask, questions * 2))
    finally:
        bot.close()
    assert bot.backends["reranker"] != "none (fused order)"
    assert concurrent == serial * 2


@pytest.mark.slow
def test_the_page_answers_concurrent_visitors_as_it_answers_one(seeds_bot, seeds_index):
    app = ChatApp(seeds_bot, index_dir=seeds_index)
    questions = _questions()[:18]

    def drawn(question: str) -> tuple:
        _, shown, sources, conversation = _final(app.ask(question, 5, Conversation()))
        return shown, sources, conversation.history

    serial = [drawn(question) for question in questions]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(drawn, questions * 2))
    assert concurrent == serial * 2


def test_an_answer_written_at_once_is_drawn_once_and_every_piece_when_asked(seeds_bot, seeds_index):
    every_piece = list(ChatApp(seeds_bot, index_dir=seeds_index, redraw_every_s=0).ask(SEED_QUESTION, 5, None))
    at_most_hourly = list(ChatApp(seeds_bot, index_dir=seeds_index, redraw_every_s=3600).ask(SEED_QUESTION, 5, None))
    words = len(seeds_bot.ask(SEED_QUESTION).text.split(" "))
    assert words > 5
    assert len(every_piece) == 1 + words + 1, "searching, each word, then the answer"
    assert len(at_most_hourly) == 2, "searching, then the answer"
    assert every_piece[-1][1] == at_most_hourly[-1][1]


class _GatedEmbedder:
    """The bot's embedder, held at its first document batch until ``release`` is set."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self.embedding = threading.Event()
        self.release = threading.Event()

    @property
    def id(self) -> str:
        return self.embedder.id

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def embed_query(self, text: str):
        return self.embedder.embed_query(text)

    def embed_documents(self, texts):
        self.embedding.set()
        assert self.release.wait(WAIT_S), "the test never released the indexing"
        return self.embedder.embed_documents(texts)


@pytest.fixture
def chat_page(seeds_copy, tmp_path):
    bot = Chatbot.from_folder(seeds_copy, index_dir=tmp_path / "index", progress=False)
    yield ChatApp(bot, index_dir=tmp_path / "index")
    bot.close()


def _reindex_in_background(chat_page: ChatApp) -> tuple[threading.Thread, list]:
    notices: list = []
    thread = threading.Thread(target=lambda: notices.append(chat_page.reindex()), daemon=True)
    thread.start()
    return thread, notices


@pytest.mark.slow
def test_questions_are_answered_while_the_page_reindexes(chat_page):
    before = _final(chat_page.ask(SEED_QUESTION, 5, Conversation()))
    (chat_page.bot.folder / NEW_FILE).write_text(NEW_TEXT, encoding="utf-8")
    gate = _GatedEmbedder(chat_page.bot.embedder)
    chat_page.bot.embedder = gate
    indexing, notices = _reindex_in_background(chat_page)
    try:
        assert gate.embedding.wait(WAIT_S), "re-indexing never reached the new file"
        during = _final(chat_page.ask(SEED_QUESTION, 5, Conversation()))
        assert indexing.is_alive(), "the question was answered only after indexing ended"
    finally:
        gate.release.set()
        indexing.join(WAIT_S)
    assert during[1] == before[1], "the answer from the index as it was"
    assert "Re-read" in notices[0][0] and NEW_FILE in chat_page.bot.chunk_counts
    after = _final(chat_page.ask("How many gulls did the lighthouse keeper count?", 5, Conversation()))
    assert "4,711" in after[1][-1]["content"] and NEW_FILE in after[2]


@pytest.mark.slow
def test_the_new_index_takes_over_only_once_the_questions_in_flight_are_answered(chat_page):
    (chat_page.bot.folder / NEW_FILE).write_text(NEW_TEXT, encoding="utf-8")
    generation = read_manifest(chat_page.index_dir).generation
    with chat_page.lock.reading():  # a question in flight
        indexing, notices = _reindex_in_background(chat_page)
        committed = threading.Event()

        def watch():
            while indexing.is_alive() and not committed.is_set():
                manifest = read_manifest(chat_page.index_dir)
                if manifest is not None and manifest.generation > generation:
                    committed.set()
                committed.wait(0.01)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        watcher.join(WAIT_S)
        assert committed.is_set(), "the new index was not written while a question was in flight"
        assert indexing.is_alive() and NEW_FILE not in chat_page.bot.chunk_counts, "swapped under a running question"
    indexing.join(WAIT_S)
    assert not indexing.is_alive() and NEW_FILE in chat_page.bot.chunk_counts
    assert "Re-read" in notices[0][0]
