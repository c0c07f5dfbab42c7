"""Answers written by a language model behind an OpenAI-compatible chat server: llama.cpp's
``llama-server``, Ollama, vLLM, LM Studio, llama-cpp-python's server.

``RemoteWriter`` is the HTTP twin of ``rag.answer.llm.LLMAnswerer``: the same ``prompt``,
``stream`` and ``generate``, so its output goes down the same path in ``rag.chatbot`` (checked
by ``rag.answer.checking``, the extractive answer when its citations do not hold). The prompt
is the transformers writer's messages (``rag.answer.prompting.build_messages``: the rules as the
system message, the numbered sources as data), sent as they are for the server's own chat
template to render. The answer is streamed (server-sent events) and greedy (temperature 0, no repetition
penalty), as in-process.

What is sent where: the system rules, the retrieved passages, the question and the last turns
of the conversation go to ``POST {url}/chat/completions``, and nothing else; ``GET
{url}/models`` is asked once, when the writer is made, to prove the server is there and to
name its first model when none is given. The key, when a server wants one, comes from the
environment only (``RAG_LLM_API_KEY``, sent as a Bearer token) and is never shown or logged.

Every failure is one ``GenerationError`` line that says what to do: the server is not there,
stops mid-answer, is slower than the timeout, or answers with something that is not a chat
completion (an error object's message is quoted).

Trade-offs made:
- ``http.client`` from the standard library, not an HTTP package: ``--llm-url`` works on the
  core install. Its socket timeout is per read, which is what "between streamed chunks" means.
- The server's tokenizer is not known here, so the prompt is fitted with the index's token
  counter, its counts taken ``TOKEN_MARGIN`` times (small models' vocabularies cut English
  finer than cl100k), to ``GenerationSettings.max_context_tokens`` less the answer's tokens. A
  server started with a smaller window says so, and that message is quoted.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlsplit, urlunsplit

from rag.answer.prompting import GenerationSettings, ModelPrompt, fit_prompt
from rag.errors import GenerationError, RagError
from rag.records import Hit

REMOTE_PREFIX = "openai-chat:"
API_KEY_VARIABLE = "RAG_LLM_API_KEY"
TOKEN_MARGIN = 1.25
QUOTED_CHARS = 160  # of a server's unexpected answer, in the one-line error


@dataclass(frozen=True)
class ServerSettings:
    """How long to wait for a chat server: to connect, and for each piece of the answer (the
    first one comes once the whole prompt is read, which takes longest on a CPU)."""

    connect_timeout: float = 10.0
    read_timeout: float = 120.0

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise RagError(f"{name} must be a number of seconds above 0, not {value!r}.")


def api_base(url: object) -> str:
    """The API root a chat server serves under: ``http://host:8080`` and
    ``http://host:8080/v1/chat/completions`` both mean ``http://host:8080/v1``."""
    if not isinstance(url, str) or not url.strip():
        raise RagError(f"llm_url must be a server's address such as 'http://127.0.0.1:8080', not {url!r}.")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RagError(
            f"llm_url {shown_url(url)!r} is not an http:// or https:// address. Give the chat server's "
            "address, e.g. --llm-url http://127.0.0.1:8080 (llama-server) or http://127.0.0.1:11434 (Ollama)."
        )
    path = parts.path.rstrip("/").removesuffix("/chat/completions").removesuffix("/models")
    return urlunsplit((parts.scheme, parts.netloc, path or "/v1", "", ""))


def shown_url(url: str) -> str:
    """``url`` without a user name or password in it, for messages and status lines."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, ""))


class RemoteWriter:
    """A chat server that writes answers from numbered passages; see the module docstring."""

    def __init__(
        self,
        url: str,
        model: str | None = None,
        *,
        settings: GenerationSettings | None = None,
        server: ServerSettings | None = None,
    ) -> None:
        self.url = api_base(url)
        self.settings = settings or GenerationSettings()
        self.server = server or ServerSettings()
        self.window = self.settings.max_context_tokens
        self.models = self._served_models()
        if model is not None and str(model).strip():
            self.name = str(model).strip()
        elif self.models:
            self.name = self.models[0]
        else:
            raise GenerationError(
                f"The chat server at {shown_url(self.url)} lists no model. Name one with --llm-model "
                "(llm_model=), or load one into the server."
            )

    @property
    def id(self) -> str:
        return f"{REMOTE_PREFIX}{self.name}@{shown_url(self.url)}"

    @property
    def description(self) -> str:
        """What status lines call it: the server and the model it serves."""
        return self.id

    def describe(self) -> str:
        """What ``rag doctor`` says of it."""
        key = f"key from {API_KEY_VARIABLE}" if _api_key() else f"no key ({API_KEY_VARIABLE} unset)"
        served = ", ".join(self.models[:5]) + (" …" if len(self.models) > 5 else "") if self.models else "none listed"
        return (
            f"{self.id}, answers, serves {served}, prompt up to {self.window} tokens, {key}, "
            f"timeouts {self.server.connect_timeout:g} s to connect, {self.server.read_timeout:g} s between pieces"
        )

    def count_tokens(self, text: str) -> int:
        from rag.ingest.tokens import load_token_counter

        return math.ceil(TOKEN_MARGIN * load_token_counter().count(text))

    def prompt(
        self,
        question: str,
        hits: Sequence[Hit],
        history: Sequence[Mapping[str, str]] | None = None,
        rules: str | None = None,
    ) -> ModelPrompt:
        """The messages for ``question``, trimmed to the window less the answer's tokens."""
        budget = self.window - self.settings.max_new_tokens
        rendered: dict[str, list[dict[str, str]]] = {}

        def render(messages: list[dict[str, str]]) -> str:
            # The messages behind each layout tried: the server is sent the ones that fitted.
            text = "\n\n".join(m["content"] for m in messages)
            rendered[text] = messages
            return text

        fitted = fit_prompt(question, hits, history, render, self.count_tokens, budget, self.settings, rules)
        messages = tuple(rendered[fitted.text]) if fitted.passages else ()
        return replace(fitted, messages=tuple(messages))

    def generate(self, prompt: ModelPrompt) -> str:
        return "".join(self.stream(prompt))

    def stream(self, prompt: ModelPrompt) -> Iterator[str]:
        """The answer's text, piece by piece, as the server sends it (nothing without passages).
        Stopping early closes the connection, which tells the server to stop writing."""
        if not prompt.passages:
            return
        messages = list(getattr(prompt, "messages", ())) or [{"role": "user", "content": prompt.text}]
        body = {
            "model": self.name,
            "messages": messages,
            "stream": True,
            "max_tokens": self.settings.max_new_tokens,
            "temperature": 0,
            "seed": 0,
            # No penalty on tokens already in the context: llama-cpp-python's server applies 1.1
            # unless told otherwise, which pushes a model off the very words it should quote (on
            # the seeds it turned 2 right answers wrong). Not an OpenAI field: llama.cpp's servers
            # read it, others ignore it (or refuse it, and their message is quoted).
            "repeat_penalty": 1.0,
        }
        connection, response = self._open("POST", "/chat/completions", body)
        try:
            yield from self._pieces(response)
        except (OSError, http.client.HTTPException) as error:
            raise self._broken(error, "while writing the answer", self.server.read_timeout) from error
        finally:
            connection.close()

    # -- HTTP ---------------------------------------------------------------------------------

    def _served_models(self) -> list[str]:
        connection, response = self._open("GET", "/models", None)
        try:
            payload = self._json(response, "GET /models")
        finally:
            connection.close()
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise GenerationError(
                f"The server at {shown_url(self.url)} answered GET /models with JSON that is not a model list "
                f"({_quoted(json.dumps(payload))}). Check that --llm-url is an OpenAI-compatible chat server."
            )
        return [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]

    def _open(self, method: str, path: str, body: dict | None):
        """The connection and its response, status checked: an error status is a GenerationError
        quoting the server's own message."""
        parts = urlsplit(self.url)
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = kind(parts.hostname, parts.port, timeout=self.server.connect_timeout)
        headers = {"Accept": "text/event-stream" if body and body.get("stream") else "application/json"}
        if _api_key():
            headers["Authorization"] = f"Bearer {_api_key()}"
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            connection.connect()
        except OSError as error:
            connection.close()
            raise self._broken(error, "to connect", self.server.connect_timeout) from error
        connection.sock.settimeout(self.server.read_timeout)  # from now on: the wait for each read
        try:
            connection.request(method, parts.path + path, body=data, headers=headers)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise self._broken(error, f"after {method} {path}", self.server.read_timeout) from error
        if response.status >= 400:
            try:
                text = response.read(64_000).decode("utf-8", "replace")
            except (OSError, http.client.HTTPException):
                text = ""
            connection.close()
            raise GenerationError(
                f"The chat server at {shown_url(self.url)} refused {method} {path} with HTTP {response.status}: "
                f"{_error_message(text) or response.reason}. {_advice(response.status)}"
            )
        return connection, response

    def _json(self, response, what: str) -> object:
        kind = response.getheader("Content-Type", "") or "no content type"
        try:
            text = response.read(1_000_000).decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as error:
            raise self._broken(error, f"after {what}", self.server.read_timeout) from error
        try:
            return json.loads(text)
        except ValueError:
            raise GenerationError(
                f"The server at {shown_url(self.url)} answered {what} with {kind}, not JSON "
                f"({_quoted(text)}). Check that --llm-url is an OpenAI-compatible chat server."
            ) from None

    def _pieces(self, response) -> Iterator[str]:
        """The content of each server-sent event; a reply that is one JSON completion (a server
        that does not stream) gives its content at once."""
        kind = (response.getheader("Content-Type", "") or "").lower()
        if "text/event-stream" not in kind:
            yield self._whole_completion(self._json(response, "POST /chat/completions"))
            return
        finished = False
        for raw in response:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue  # blank separators, comments (": ping"), event names
            data = line[len("data:") :].strip()
            if data == "[DONE]":
                return
            piece, finished_now = self._chunk_piece(data)
            finished = finished or finished_now
            if piece:
                yield piece
        if not finished:
            raise GenerationError(
                f"The chat server at {shown_url(self.url)} stopped before the answer was finished "
                "(the stream ended without its last event). Check that the server is still running, then ask again."
            )

    def _chunk_piece(self, data: str) -> tuple[str, bool]:
        """One event's text and whether it ends the answer; an error event is a GenerationError."""
        try:
            chunk = json.loads(data)
        except ValueError:
            chunk = None
        choices = chunk.get("choices") if isinstance(chunk, dict) else None
        if not isinstance(choices, list):
            message = _error_message(data) if isinstance(chunk, dict) else ""
            raise GenerationError(
                f"The chat server at {shown_url(self.url)} sent "
                + (
                    f"an error while writing: {message}."
                    if message
                    else f"an event that is not a chat chunk ({_quoted(data)})."
                )
                + " Check the server's log."
            )
        if not choices:
            return "", False  # usage statistics and the like
        choice = choices[0] if isinstance(choices[0], dict) else {}
        delta = choice.get("delta") or choice.get("message") or {}
        content = delta.get("content") if isinstance(delta, dict) else None
        return (content if isinstance(content, str) else ""), bool(choice.get("finish_reason"))

    def _whole_completion(self, payload: object) -> str:
        choices = payload.get("choices") if isinstance(payload, dict) else None
        message = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            return content
        error = _error_message(json.dumps(payload))
        raise GenerationError(
            f"The chat server at {shown_url(self.url)} answered "
            + (
                f"with an error: {error}."
                if error
                else f"with JSON that is not a chat completion ({_quoted(json.dumps(payload))})."
            )
            + " Check that --llm-url is an OpenAI-compatible chat server."
        )

    def _broken(self, error: BaseException, where: str, timeout: float) -> GenerationError:
        """The one-line message for a connection that failed ``where``, waiting up to ``timeout``."""
        url = shown_url(self.url)
        if isinstance(error, ConnectionRefusedError):
            return GenerationError(
                f"Nothing answers at {url} (connection refused). Start the chat server "
                "(`llama-server -m model.gguf --port 8080`, `ollama serve`) or fix --llm-url."
            )
        if isinstance(error, socket.gaierror):
            return GenerationError(f"The host of {url} is not known ({error.strerror}). Fix --llm-url.")
        if isinstance(error, TimeoutError):
            waited = "did not accept a connection within" if where == "to connect" else "sent nothing for"
            return GenerationError(
                f"The chat server at {url} {waited} {timeout:g} s{'' if where == 'to connect' else ' ' + where}. "
                "Raise the timeout "
                "(--llm-timeout, RAG_LLM_TIMEOUT), use a smaller model, or check that the server is not stuck."
            )
        return GenerationError(
            f"The connection to the chat server at {url} broke {where} ({type(error).__name__}: "
            f"{_quoted(str(error)) or 'closed'}). Check that the server is still running, then ask again."
        )


def load_remote(
    url: str | None,
    model: str | None = None,
    *,
    settings: GenerationSettings | None = None,
    server: ServerSettings | None = None,
) -> RemoteWriter | None:
    """The chat server at ``url``, or None when no address is configured."""
    if url is None or not str(url).strip():
        return None
    return RemoteWriter(url, model, settings=settings, server=server)


def _api_key() -> str | None:
    return os.environ.get(API_KEY_VARIABLE, "").strip() or None


def _error_message(text: str) -> str:
    """An error object's message (OpenAI's ``{"error": {"message": …}}``, Ollama's ``{"error":
    "…"}``, FastAPI's ``{"detail": …}``), on one line; "" when ``text`` holds none."""
    try:
        payload = json.loads(text)
    except ValueError:
        return _quoted(text) if text.strip() and not text.lstrip().startswith("<") else ""
    if not isinstance(payload, dict):
        return ""
    error = payload.get("error", payload.get("detail"))
    if isinstance(error, dict):
        error = error.get("message") or error.get("msg") or json.dumps(error)
    elif isinstance(error, list) and error:
        error = error[0].get("msg") if isinstance(error[0], dict) else error[0]
    return _quoted(str(error)) if error else ""


def _quoted(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= QUOTED_CHARS else line[: QUOTED_CHARS - 1] + "…"


def _advice(status: int) -> str:
    if status in (401, 403):
        return f"Set the server's key in {API_KEY_VARIABLE}."
    if status == 404:
        return "Check --llm-url (the API root, e.g. http://127.0.0.1:8080/v1) and --llm-model."
    return "Check the server's log."
