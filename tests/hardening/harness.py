"""What every hardening case asserts, whatever the input: it ends within ``TIMEOUT_S`` (in a
thread, or a subprocess for what may block the whole interpreter), it raises nothing but a
``RagError`` from Python, the CLI prints one ``Error:`` line and exits 2, and an index that
was there before is still there afterwards, answering the seeds question as it did. Before
the ``Error:`` line, stderr may hold warnings from rag's own loggers (``WARNING rag...``),
which often explain the error, and progress bars; nothing else.

Speed is not asserted: a case fails only when it has not ended after ``TIMEOUT_S``, which no
correct run comes near. A hung thread cannot be killed; it is left as a daemon, and the case
fails with what it was doing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rag import Answer, Chatbot, RagError
from rag.cli import main
from tests.conftest import ROOT

TIMEOUT_S = 60
MEMORY_LIMIT = 6 << 30  # a real `rag` process that reads without end is stopped here
SEEDS_QUESTION = "How many prisoners were exchanged on February 5?"


@dataclass
class Outcome:
    """What a call returned, or the exception it raised."""

    value: object = None
    error: BaseException | None = None


def bounded(call, timeout: float = TIMEOUT_S) -> Outcome:
    """``call()`` in a daemon thread; the case fails when it has not ended after ``timeout``."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as error:  # noqa: BLE001 - the battery reports whatever escapes
            box["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"still running after {timeout} s (hang)")
    return Outcome(box.get("value"), box.get("error"))  # type: ignore[arg-type]


def described(error: BaseException) -> str:
    """``TypeError: ... (at rag/x.py:12 in f)``: the exception and the line it came from."""
    frames = traceback.extract_tb(error.__traceback__)
    inside = [f for f in frames if "/rag/" in f.filename or "/ui/" in f.filename] or frames
    where = f" (at {Path(inside[-1].filename).name}:{inside[-1].lineno} in {inside[-1].name})" if inside else ""
    return f"{type(error).__name__}: {str(error)[:160]}{where}"


def check_rag_error(error: BaseException) -> None:
    if not isinstance(error, RagError):
        pytest.fail(f"escaped as a traceback: {described(error)}")
    message = str(error)
    assert message.strip(), f"{type(error).__name__} with an empty message"
    assert "\n" not in message.strip(), f"a message over several lines: {message[:300]!r}"


def raises_rag_error(call, timeout: float = TIMEOUT_S) -> RagError:
    """The ``RagError`` that ``call()`` raises; the case fails on anything else, or on none."""
    outcome = bounded(call, timeout)
    if outcome.error is None:
        pytest.fail(f"accepted (no RagError); it returned {short(outcome.value)}")
    check_rag_error(outcome.error)
    return outcome.error  # type: ignore[return-value]


def answers_or_refuses(call, timeout: float = TIMEOUT_S) -> object:
    """``call()``'s value, or None when it raised a ``RagError``: input that may be answered."""
    outcome = bounded(call, timeout)
    if outcome.error is not None:
        check_rag_error(outcome.error)
        return None
    return outcome.value


def short(value: object) -> str:
    text = repr(value)
    return text if len(text) < 200 else text[:200] + "..."


def streamed(stream) -> Answer:
    """A stream read to its end, checked to join into its final answer."""
    pieces = list(stream)
    assert isinstance(stream.answer, Answer)
    assert "".join(pieces).strip() == stream.answer.text.strip() or stream.answer.raw_text is not None
    return stream.answer


# ----------------------------------------------------------------------------------------
# The index kept


@dataclass(frozen=True)
class Snapshot:
    """What must not change in an index: its documents, their chunk counts, and an answer."""

    chunk_counts: dict = field(hash=False)
    answer: str
    citations: tuple


def snapshot(index_dir: Path, question: str = SEEDS_QUESTION) -> Snapshot:
    def read() -> Snapshot:
        with Chatbot.from_index(index_dir) as bot:
            answer = bot.ask(question)
            cited = tuple((c.source, c.start_line, c.end_line) for c in answer.citations)
            return Snapshot(dict(bot.chunk_counts), answer.text, cited)

    outcome = bounded(read)
    if outcome.error is not None:
        pytest.fail(f"the index in {index_dir} no longer opens and answers: {described(outcome.error)}")
    return outcome.value  # type: ignore[return-value]


def assert_kept(index_dir: Path, before: Snapshot) -> None:
    """Nothing lost: the same documents, chunk counts and answer to the seeds question."""
    after = snapshot(index_dir)
    assert after.chunk_counts == before.chunk_counts, "documents or chunk counts changed"
    assert (after.answer, after.citations) == (before.answer, before.citations), "the seeds answer changed"


# ----------------------------------------------------------------------------------------
# The command line


def invoke(args: list[str], *, input: str | bytes | None = None, env: dict | None = None) -> Result:
    """``rag ARGS`` in this process (click's runner), bounded."""
    runner = CliRunner()
    outcome = bounded(lambda: runner.invoke(main, [str(a) for a in args], input=input, env=env))
    if outcome.error is not None:
        pytest.fail(f"the runner itself failed: {described(outcome.error)}")
    return outcome.value  # type: ignore[return-value]


def check_cli_user_error(result: Result) -> None:
    """Exit status 2, one ``Error:`` line on stderr, no traceback."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        pytest.fail(f"escaped as a traceback: {described(result.exception)}")
    assert result.exit_code == 2, f"exit {result.exit_code}; stderr: {result.stderr[-300:]!r}"
    check_one_error_line(result.stderr)


def check_cli_ok_or_user_error(result: Result) -> None:
    """Exit 0 with no traceback, or a user error as ``check_cli_user_error`` wants it."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        pytest.fail(f"escaped as a traceback: {described(result.exception)}")
    if result.exit_code != 0:
        check_cli_user_error(result)
    assert "Traceback" not in result.output + result.stderr


def check_one_error_line(stderr: str) -> None:
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, f"expected one Error: line on stderr, got {stderr[-500:]!r}"
    assert stderr.strip().splitlines()[-1] == errors[0], f"lines after the error: {stderr[-500:]!r}"
    non_warnings = [line for line in stderr.strip().splitlines() if not _a_known_notice(line) and "%|" not in line]
    assert non_warnings == errors, f"more than one line on stderr: {stderr[-500:]!r}"


def _a_known_notice(line: str) -> bool:
    # A notice printed before the work starts (tiktoken's, an index being built from seeds/)
    # is not part of the error, nor is a progress bar (a line with "%|") that it interrupted.
    # A warning from rag's own loggers ("WARNING rag.ingest.loading: skipping root: it links to
    # /, outside ...") often explains the error that follows it, so it is allowed too.
    notices = ("tiktoken encoding", "WARNING rag.", "WARNING rag:", "No index at")
    return line.startswith(notices) and not line.startswith("Error: ")


def run_rag(args: list[str], *, env: dict | None = None, input: str | None = None, timeout: float = TIMEOUT_S):
    """``rag ARGS`` as a real process (killed, and the case failed, after ``timeout``)."""
    environment = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT))
    environment.update(env or {})
    command = [sys.executable, "-m", "rag.cli", *[str(a) for a in args]]
    try:
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            errors="replace",
            input=input,
            env=environment,
            cwd=ROOT,
            timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL,
            preexec_fn=_bounded_memory,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`rag {' '.join(map(str, args))[:200]}` still running after {timeout} s (hang); killed")


def _bounded_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def check_process_user_error(process) -> None:
    assert process.returncode == 2, f"exit {process.returncode}; stderr: {process.stderr[-500:]!r}"
    check_one_error_line(process.stderr)


def check_process_ok_or_user_error(process) -> None:
    assert "Traceback" not in process.stderr, process.stderr[-800:]
    if process.returncode != 0:
        check_process_user_error(process)


def release_fifo(path: Path) -> None:
    """Let a reader blocked opening the FIFO ``path`` go on (it reads an end of file), so a
    hung case does not hold on to it for the rest of the session."""
    import stat

    try:
        if not stat.S_ISFIFO(os.lstat(path).st_mode):
            return
        descriptor = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except (OSError, ValueError):
        return  # not a FIFO, or no reader is waiting
    os.close(descriptor)
