"""The HTTP writer (``rag.answer.remote``) against stub servers on 127.0.0.1: what is sent, and
every way a server can fail (test_llama_server.py: against a real one)."""

from __future__ import annotations

import json
import logging
import re

import pytest
from click.testing import CliRunner
from model_passages import hit

from rag import Chatbot, RagError
from rag.answer.prompting import GenerationSettings, build_messages
from rag.answer.remote import REMOTE_PREFIX, RemoteWriter, ServerSettings, api_base
from rag.cli import main
from rag.settings import Settings
from tests.answer.chat_servers import (
    QUESTION,
    StubChatServer,
    answering,
    chunk,
    cut_off,
    events,
    free_port,
    json_reply,
    one_line_error,
    quote_is_verbatim_at_its_lines,
    reply,
    sleeping,
    stalling,
)

KEY = "sk-test-5ecret"
HTML = "<!doctype html><html><head><title>Router login</title></head><body>Sign in</body></html>"


def citing_the_314_sentence(handler) -> None:
    """Answer with the sources' sentence about 314 prisoners, cited: what a good model writes."""
    user = handler.stub_received[-1].body["messages"][1]["content"]
    for number, text in re.findall(r'<source id="(\d+)"[^>]*>\n(.*?)\n</source>', user, re.DOTALL):
        for sentence in re.findall(r"[^.!?]*\b314\b[^.!?]*[.!?]", " ".join(text.split())):
            return answering(f"{sentence.strip()} [{number}]")(handler)
    answering("No source mentions it.")(handler)


def answers(chat):
    """Parametrize a test's ``stub`` to answer with ``chat`` (a good, cited answer otherwise)."""
    return pytest.mark.parametrize("stub", [chat], indirect=True, ids=[""])


@pytest.fixture
def stub(request):
    """A stub chat server on 127.0.0.1; see ``answers``."""
    chat = getattr(request, "param", None)
    with StubChatServer(chat=lambda handler: None) as server:

        def answer(handler) -> None:
            handler.stub_received = server.received
            (chat or citing_the_314_sentence)(handler)

        server.chat = answer
        yield server


# -- what is sent -------------------------------------------------------------------------------


def test_the_server_gets_the_transformers_writers_messages_streamed_greedy_with_the_key(stub, seeds_index, monkeypatch):
    monkeypatch.setenv("RAG_LLM_API_KEY", KEY)
    bot = Chatbot.from_index(seeds_index, llm_url=stub.url)
    answer = bot.ask(QUESTION)

    listed, asked = stub.received
    assert (listed.method, listed.path) == ("GET", "/v1/models")
    assert (asked.method, asked.path) == ("POST", "/v1/chat/completions")
    assert asked.headers["Authorization"] == f"Bearer {KEY}"
    assert {k: asked.body[k] for k in ("model", "stream", "temperature", "repeat_penalty", "max_tokens")} == {
        "model": "stub-model",
        "stream": True,
        "temperature": 0,
        "repeat_penalty": 1.0,  # greedy as in-process: llama-cpp-python's server defaults to 1.1
        "max_tokens": GenerationSettings().max_new_tokens,
    }
    prompt = bot.llm.prompt(QUESTION, answer.hits)
    assert asked.body["messages"] == build_messages(QUESTION, prompt.passages) == list(prompt.messages)
    assert answer.backend == f"{REMOTE_PREFIX}stub-model@{stub.url}/v1" == bot.llm.id
    assert bot.backends["answers"] == f"{bot.llm.id}, checked, extractive fallback"
    assert answer.fallback_reason is None and answer.citations
    assert "314" in answer.text and re.search(r"\[\d\]$", answer.text)
    assert all(quote_is_verbatim_at_its_lines(c) for c in answer.citations)


def test_the_stream_gives_the_servers_pieces_as_they_come(stub, seeds_index):
    bot = Chatbot.from_index(seeds_index, llm_url=stub.url)
    stream = bot.stream(QUESTION)
    pieces = list(stream)
    assert len(pieces) > 5 and "".join(pieces) == stream.answer.raw_text
    assert stream.answer.backend == bot.llm.id


@answers(answering("The sky is green and the moon is cheese [1]."))
def test_an_unsupported_answer_falls_back_to_the_extractive_one(stub, seeds_index):
    answer = Chatbot.from_index(seeds_index, llm_url=stub.url).ask(QUESTION)
    assert answer.backend == "extractive"
    assert answer.fallback_reason.startswith("The language model's answer was not used")
    assert answer.raw_text == "The sky is green and the moon is cheese [1]."
    assert answer.citations and all(quote_is_verbatim_at_its_lines(c) for c in answer.citations)


def test_a_named_model_is_sent_and_no_key_no_header(stub, seeds_index, monkeypatch):
    monkeypatch.delenv("RAG_LLM_API_KEY", raising=False)
    bot = Chatbot.from_index(seeds_index, llm_url=stub.url + "/v1/chat/completions", llm_model="qwen2.5:0.5b")
    bot.ask(QUESTION)
    assert stub.received[-1].body["model"] == "qwen2.5:0.5b"
    assert "Authorization" not in stub.received[-1].headers
    assert bot.llm.id == f"{REMOTE_PREFIX}qwen2.5:0.5b@{stub.url}/v1"


def test_the_key_is_never_shown_or_logged(stub, seeds_index, monkeypatch, caplog):
    monkeypatch.setenv("RAG_LLM_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    bot = Chatbot.from_index(seeds_index, llm_url=stub.url)
    bot.ask(QUESTION)
    shown = [bot.llm.describe(), bot.llm.id, repr(bot.settings), json.dumps(bot.backends), caplog.text]
    assert all(KEY not in text for text in shown)
    assert "key from RAG_LLM_API_KEY" in bot.llm.describe()


@answers(json_reply(200, {"choices": [{"message": {"role": "assistant", "content": "Not streamed."}}]}))
def test_a_server_that_does_not_stream_gives_its_whole_answer(stub):
    writer = RemoteWriter(stub.url)
    passages = [hit("The February 5 exchange included 314 prisoners.", "a.txt")]
    assert writer.generate(writer.prompt(QUESTION, passages)) == "Not streamed."
    assert stub.received[-1].body["stream"] is True


def test_no_passages_no_request(stub):
    writer = RemoteWriter(stub.url)
    prompt = writer.prompt(QUESTION, [])
    assert (prompt.passages, prompt.messages, writer.generate(prompt)) == ([], (), "")
    assert [r.method for r in stub.received] == ["GET"]


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/v1"),
        ("http://localhost:11434/v1/", "http://localhost:11434/v1"),
        ("https://example.org/v1/chat/completions", "https://example.org/v1"),
        ("http://gpu-box:8000/api/openai/v1", "http://gpu-box:8000/api/openai/v1"),
    ],
)
def test_the_api_root_is_found_from_the_address_as_typed(url, base):
    assert api_base(url) == base


@pytest.mark.parametrize("url", ["ftp://host/v1", "127.0.0.1:8080", "http://", "", 8080])
def test_an_address_that_is_not_http_is_refused_when_the_settings_are_made(url):
    with pytest.raises(RagError, match="llm_url"):
        Settings(llm_url=url)


def test_the_server_settings_must_be_server_settings():
    with pytest.raises(RagError, match="llm_server must be a ServerSettings, not int"):
        Settings(llm_server=30)


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf"), "10", True])
def test_timeouts_must_be_positive_seconds(seconds):
    with pytest.raises(RagError, match="read_timeout must be a number of seconds above 0"):
        ServerSettings(read_timeout=seconds)


# -- every way a server fails: one line -------------------------------------------------------------


def test_a_server_that_is_not_running_is_one_line_when_the_bot_is_made(seeds_index):
    port = free_port()
    message = one_line_error(lambda: Chatbot.from_index(seeds_index, llm_url=f"http://127.0.0.1:{port}"))
    assert message.startswith(f"Nothing answers at http://127.0.0.1:{port}/v1 (connection refused).")
    assert "llama-server -m model.gguf" in message


def test_a_server_that_goes_away_after_the_bot_is_made_is_one_line_at_the_question(seeds_index):
    with StubChatServer(chat=answering("unused")) as server:
        bot = Chatbot.from_index(seeds_index, llm_url=server.url)
    message = one_line_error(lambda: bot.ask(QUESTION))
    assert message.startswith(f"Nothing answers at {server.url}/v1 (connection refused)")


@answers(sleeping(30))
def test_a_server_slower_than_the_timeout_is_one_line(stub, seeds_index):
    bot = Chatbot.from_index(seeds_index, llm_url=stub.url, llm_server=ServerSettings(read_timeout=0.2))
    message = one_line_error(lambda: bot.ask(QUESTION))
    assert message.startswith(f"The chat server at {stub.url}/v1 sent nothing for 0.2 s after POST /chat/completions.")
    assert "--llm-timeout" in message


@answers(stalling(chunk("The exchange"), 30))
def test_a_server_that_stalls_mid_answer_is_one_line(stub, seeds_index):
    bot = Chatbot.from_index(seeds_index, llm_url=stub.url, llm_server=ServerSettings(read_timeout=0.2))
    stream = bot.stream(QUESTION)
    message = one_line_error(lambda: list(stream))
    assert message.startswith(f"The chat server at {stub.url}/v1 sent nothing for 0.2 s while writing the answer.")


@answers(events(chunk("The exchange"), chunk(" included"), done=False))
def test_a_stream_cut_short_is_one_line_not_half_an_answer(stub, seeds_index):
    stream = Chatbot.from_index(seeds_index, llm_url=stub.url).stream(QUESTION)
    message = one_line_error(lambda: list(stream))
    assert message.startswith(f"The chat server at {stub.url}/v1 stopped before the answer was finished")


@answers(cut_off(chunk("The exchange"), chunk(" included")))
def test_a_connection_dropped_mid_answer_is_one_line(stub, seeds_index):
    stream = Chatbot.from_index(seeds_index, llm_url=stub.url).stream(QUESTION)
    message = one_line_error(lambda: list(stream))
    # http.client reads a chunked body cut short as its end: the missing last event tells.
    assert message.startswith(f"The chat server at {stub.url}/v1 stopped before the answer was finished")
    assert message.endswith("Check that the server is still running, then ask again.")


@pytest.mark.parametrize(
    ("chat", "expected"),
    [
        (reply(200, "text/html", HTML), "answered POST /chat/completions with text/html, not JSON (<!doctype html>"),
        (
            json_reply(400, {"error": {"message": "Requested tokens (5000) exceed context window of 2048"}}),
            "refused POST /chat/completions with HTTP 400: Requested tokens (5000) exceed context window of 2048.",
        ),
        (json_reply(404, {"error": "model 'llama3' not found, try pulling it first"}), "model 'llama3' not found"),
        (json_reply(401, {"detail": "Invalid API key"}), "HTTP 401: Invalid API key. Set the server's key in"),
        (reply(502, "text/html", HTML), "refused POST /chat/completions with HTTP 502: Bad Gateway."),
        (json_reply(200, {"id": "x", "result": "hello"}), 'with JSON that is not a chat completion ({"id": "x"'),
        (events({"error": {"message": "out of memory"}}), "sent an error while writing: out of memory."),
        (events("not json at all"), "sent an event that is not a chat chunk (not json at all)"),
    ],
)
def test_what_is_not_a_chat_completion_is_one_line_quoting_the_server(seeds_index, chat, expected):
    with StubChatServer(chat=chat) as server:
        bot = Chatbot.from_index(seeds_index, llm_url=server.url)
        message = one_line_error(lambda: bot.ask(QUESTION))
    assert expected in message and f" at {server.url}/v1 " in message


@pytest.mark.parametrize(
    ("models", "expected"),
    [
        (reply(200, "text/html", HTML), "answered GET /models with text/html, not JSON (<!doctype html>"),
        (json_reply(200, {"models": ["a"]}), "answered GET /models with JSON that is not a model list"),
        (json_reply(200, {"data": []}), "lists no model. Name one with --llm-model"),
        (reply(404, "text/plain", "404 page not found"), "refused GET /models with HTTP 404: 404 page not found."),
    ],
)
def test_an_address_that_is_no_chat_server_is_one_line_when_the_bot_is_made(seeds_index, models, expected):
    with StubChatServer(chat=answering("unused"), models=models) as server:
        message = one_line_error(lambda: Chatbot.from_index(seeds_index, llm_url=server.url))
    assert expected in message


# -- the command line and the chat page ---------------------------------------------------------


def test_the_cli_says_a_server_failure_in_one_line_and_exits_2(seeds_index):
    port = free_port()
    result = CliRunner().invoke(
        main, ["ask", QUESTION, "--index-dir", str(seeds_index), "--llm-url", f"http://127.0.0.1:{port}"]
    )
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert result.stderr.startswith(f"Error: Nothing answers at http://127.0.0.1:{port}/v1 (connection refused).")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--llm-url", "ftp://host"], {}, "Error: llm_url 'ftp://host' is not an http:// or https:// address."),
        ([], {"RAG_LLM_URL": "localhost:8080"}, "Error: llm_url 'localhost:8080' is not an http:// or https://"),
    ],
)
def test_the_cli_refuses_an_address_in_one_line(seeds_index, args, env, expected):
    result = CliRunner().invoke(main, ["ask", QUESTION, "--index-dir", str(seeds_index), *args], env=env)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert result.stderr.startswith(expected) and len(result.stderr.strip().splitlines()) == 1


@answers(sleeping(30))
def test_the_cli_takes_the_timeout_from_the_environment(stub, seeds_index):
    env = {"RAG_LLM_URL": stub.url, "RAG_LLM_TIMEOUT": "0.2"}
    result = CliRunner().invoke(main, ["ask", QUESTION, "--index-dir", str(seeds_index)], env=env)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: The chat server at {stub.url}/v1 sent nothing for 0.2 s")


def test_the_cli_answers_through_the_server(stub, seeds_index):
    args = ["ask", QUESTION, "--index-dir", str(seeds_index), "--llm-url", stub.url, "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["backend"] == f"{REMOTE_PREFIX}stub-model@{stub.url}/v1"


def test_doctor_names_the_server_or_says_why_it_does_not_answer(stub, seeds_index):
    good = CliRunner().invoke(main, ["doctor", "--index-dir", str(seeds_index), "--llm-url", stub.url])
    assert f"ok  llm            {REMOTE_PREFIX}stub-model@{stub.url}/v1, answers, serves stub-model" in good.output
    port = free_port()
    bad = CliRunner().invoke(main, ["doctor", "--index-dir", str(seeds_index), "--llm-url", f"http://127.0.0.1:{port}"])
    assert bad.exit_code == 1
    assert f"--  llm            Nothing answers at http://127.0.0.1:{port}/v1 (connection refused)" in bad.output


@pytest.mark.slow  # importing gradio
@answers(reply(200, "text/html", HTML))
def test_the_chat_page_shows_a_server_failure_as_its_error_message(stub, seeds_index):
    pytest.importorskip("gradio")
    from rag_seeds_ui.chat import ChatApp, Conversation

    app = ChatApp(Chatbot.from_index(seeds_index, llm_url=stub.url), index_dir=str(seeds_index))
    *_, (question_box, shown, _, conversation) = app.ask(QUESTION, 5, Conversation())
    assert question_box == QUESTION and conversation.history == []
    assert "answered POST /chat/completions with text/html, not JSON" in shown[-1]["content"]
