"""Bad prompts files for ``rag eval``: read by ``load_prompts``, run by ``rag.evaluate`` and
``rag eval``, and in a real process for what may block (a FIFO) or blow the stack (JSON
nested 100,000 deep).

A file that is not a prompts file is a ``PromptsFileError`` naming the line; an odd but valid
one (a raw U+2028 inside a string, a question of punctuation alone) is evaluated or refused,
never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag import RagError, evaluate
from rag.evaluation.run import load_prompts
from tests.hardening.harness import (
    answers_or_refuses,
    check_cli_ok_or_user_error,
    check_cli_user_error,
    check_process_ok_or_user_error,
    check_process_user_error,
    invoke,
    raises_rag_error,
    release_fifo,
    run_rag,
)

GOOD = b'{"question": "How many prisoners were exchanged on February 5?", "expected_answer": ["314"]}\n'

NOT_PROMPTS = {
    "invalid-json": b'{"question": "Who is Kadyrov?",\n',
    "single-quotes": b"{'question': 'Who is Kadyrov?'}\n",
    "trailing-garbage": b'{"question": "Who is Kadyrov?"} x\n',
    "nested-100000-brackets": b"[" * 100_000 + b"\n",
    "nested-100000-objects": b'{"a":' * 100_000 + b"\n",
    "nested-100000-closed": b"[" * 100_000 + b"]" * 100_000 + b"\n",
    "5000-digit-integer": b'{"question": "Who is Kadyrov?", "answerable": ' + b"9" * 5000 + b"}\n",
    "5000-digit-question": b'{"question": ' + b"9" * 5000 + b"}\n",
    "huge-float": b'{"question": "Who?", "answerable": 1e999999}\n',
    "nan-literal": b'{"question": NaN}\n',
    "question-int": b'{"question": 5}\n',
    "question-null": b'{"question": null}\n',
    "question-list": b'{"question": ["Who is Kadyrov?"]}\n',
    "question-object": b'{"question": {"text": "Who is Kadyrov?"}}\n',
    "question-empty": b'{"question": ""}\n',
    "question-blank": b'{"question": "   "}\n',
    "question-missing": b'{"expected_answer": ["314"]}\n',
    "question-too-long": b'{"question": "' + b"a" * 5000 + b'"}\n',
    "sources-int": b'{"question": "Who is Kadyrov?", "expected_sources": 5}\n',
    "sources-list-of-int": b'{"question": "Who is Kadyrov?", "expected_sources": [1, 2]}\n',
    "sources-object": b'{"question": "Who is Kadyrov?", "expected_sources": {"a": 1}}\n',
    "answer-list-of-null": b'{"question": "Who is Kadyrov?", "expected_answer": [null]}\n',
    "answer-nested-list": b'{"question": "Who is Kadyrov?", "expected_answer": [["314"]]}\n',
    "answerable-string": b'{"question": "Who is Kadyrov?", "answerable": "yes"}\n',
    "answerable-int": b'{"question": "Who is Kadyrov?", "answerable": 1}\n',
    "answerable-null": b'{"question": "Who is Kadyrov?", "answerable": null}\n',
    "top-level-array": b'[{"question": "Who is Kadyrov?"}]\n',
    "top-level-string": b'"Who is Kadyrov?"\n',
    "top-level-null": b"null\n",
    "top-level-number": b"5\n",
    "good-then-bad": GOOD + b'{"question": 5}\n',
    "empty-file": b"",
    "blank-lines-only": b"\n\n   \n\t\n",
    "comments-only": b"# a comment\n# another\n",
    "binary": bytes(range(256)) * 8,
    "nul-bytes": b"\x00" * 1000,
    "invalid-utf8": b'{"question": "Who is \xff\xfe Kadyrov?"}\n',
    "utf16-with-bom": '{"question": "Who is Kadyrov?"}\n'.encode("utf-16"),
    "one-huge-line": b'{"question": "Who?", "x": "' + b"a" * 10_000_000 + b'"',
}
ODD_PROMPTS = {
    "raw-u2028-in-string": '{"question": "How many prisoners\u2028were exchanged on February 5?"}\n'.encode(),
    "raw-u2029-in-string": '{"question": "Who is \u2029Kadyrov?"}\n'.encode(),
    "raw-nel-in-string": '{"question": "Who is \x85Kadyrov?"}\n'.encode(),
    "form-feed-between": GOOD + b"\x0c\n" + GOOD,
    "punctuation-only-question": b'{"question": "?!..."}\n',
    "stop-words-question": b'{"question": "the of and"}\n',
    "lone-surrogate-escape": b'{"question": "\\ud800"}\n',
    "lone-surrogate-inside": b'{"question": "Who is \\ud800Kadyrov?"}\n',
    "nul-escape-in-question": b'{"question": "Who is\\u0000 Kadyrov?"}\n',
    "unknown-keys": b'{"question": "Who is Kadyrov?", "colour": "blue", "expected_answers": ["x"]}\n',
    "bom-then-good": b"\xef\xbb\xbf" + GOOD,
    "crlf-lines": GOOD.replace(b"\n", b"\r\n") * 2,
    "sources-null": b'{"question": "Who is Kadyrov?", "expected_sources": null}\n',
    "duplicate-keys": b'{"question": 5, "question": "Who is Kadyrov?"}\n',
    "no-final-newline": GOOD.rstrip(),
}


def _write(tmp: Path, data: bytes) -> Path:
    path = tmp / "prompts.jsonl"
    path.write_bytes(data)
    return path


def _fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "prompts.jsonl")
    return tmp / "prompts.jsonl"


def _folder(tmp: Path) -> Path:
    (tmp / "prompts.jsonl").mkdir()
    return tmp / "prompts.jsonl"


def _link_loop(tmp: Path) -> Path:
    (tmp / "prompts.jsonl").symlink_to(tmp / "prompts.jsonl")
    return tmp / "prompts.jsonl"


NOT_FILES = {
    "a-missing-file": lambda tmp: tmp / "missing.jsonl",
    "a-directory": _folder,
    "a-self-link": _link_loop,
    "dev-null": lambda tmp: Path("/dev/null"),
    "name-over-255-bytes": lambda tmp: tmp / ("p" * 300 + ".jsonl"),
}

CASES = (
    [pytest.param("error", lambda tmp, d=data: _write(tmp, d), id=name) for name, data in NOT_PROMPTS.items()]
    + [pytest.param("either", lambda tmp, d=data: _write(tmp, d), id=name) for name, data in ODD_PROMPTS.items()]
    + [pytest.param("error", make, id=name) for name, make in NOT_FILES.items()]
)
# Read in this process, a FIFO blocks a thread that cannot be stopped: once, here, and in a
# real process below.
FIFO = [pytest.param("error", _fifo, id="a-fifo", marks=pytest.mark.slow)]


@pytest.fixture
def made(tmp_path):
    made_paths: list[Path] = []

    def make(maker) -> Path:
        path = maker(tmp_path)
        made_paths.append(path)
        return path

    yield make
    for path in made_paths:
        release_fifo(path)  # a reader a hung case left blocked on a FIFO; nothing otherwise


@pytest.mark.parametrize("expect,maker", CASES + FIFO)
def test_load_prompts(made, expect, maker):
    path = made(maker)
    if expect == "error":
        raises_rag_error(lambda: load_prompts(path))
    else:
        prompts = answers_or_refuses(lambda: load_prompts(path))
        assert prompts is None or all(p.question.strip() for p in prompts)


@pytest.mark.parametrize("expect,maker", CASES)
def test_evaluate(reading, made, expect, maker):
    path = made(maker)
    if expect == "error":
        raises_rag_error(lambda: evaluate(reading, path, progress=False))
    else:
        answers_or_refuses(lambda: evaluate(reading, path, progress=False))


@pytest.mark.parametrize("expect,maker", CASES)
def test_cli_eval(shared_index, made, expect, maker):
    path = made(maker)
    result = invoke(["eval", path, "--index-dir", shared_index])
    if expect == "error":
        check_cli_user_error(result)
    else:
        check_cli_ok_or_user_error(result)


PROCESS_CASES = {
    "a-fifo": ("error", _fifo),
    "nested-100000-brackets": ("error", lambda tmp: _write(tmp, NOT_PROMPTS["nested-100000-brackets"])),
    "nested-100000-objects": ("error", lambda tmp: _write(tmp, NOT_PROMPTS["nested-100000-objects"])),
    "5000-digit-integer": ("error", lambda tmp: _write(tmp, NOT_PROMPTS["5000-digit-integer"])),
    # Only in a process of bounded memory: read whole, /dev/zero would fill this one's.
    "dev-zero": ("error", lambda tmp: Path("/dev/zero")),
    "dev-urandom": ("error", lambda tmp: Path("/dev/urandom")),
    "raw-u2028-in-string": ("either", lambda tmp: _write(tmp, ODD_PROMPTS["raw-u2028-in-string"])),
}


@pytest.mark.slow
@pytest.mark.parametrize("expect,maker", PROCESS_CASES.values(), ids=PROCESS_CASES.keys())
def test_process_eval(shared_index, tmp_path, expect, maker):
    path = maker(tmp_path)
    process = run_rag(["eval", path, "--index-dir", shared_index])
    if expect == "error":
        check_process_user_error(process)
    else:
        check_process_ok_or_user_error(process)


def test_a_raw_line_separator_inside_a_string_is_one_prompt(tmp_path):
    """JSON allows U+2028 raw inside a string; it is not a line break of the JSON-lines file."""
    path = _write(tmp_path, ODD_PROMPTS["raw-u2028-in-string"])
    try:
        prompts = load_prompts(path)
    except RagError as error:
        pytest.fail(f"a valid file refused: {error}")
    assert [p.question for p in prompts] == ["How many prisoners\u2028were exchanged on February 5?"]
