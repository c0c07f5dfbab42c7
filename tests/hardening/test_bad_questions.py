"""Bad questions, asked every way there is: ``ask``, ``stream``, ``retrieve``, ``read_as``,
``rag ask``, ``rag chat``, and a real ``rag ask`` process for the long ones.

A question that cannot be one (not text, empty, blank, too long, no word to search for) is a
``RagError``; an odd one that is still text (markup, right-to-left, control characters amid
words) may be answered or refused, but never raises anything else."""

from __future__ import annotations

import pytest

from rag import Answer, Hit
from tests.hardening.harness import (
    SEEDS_QUESTION,
    answers_or_refuses,
    check_cli_ok_or_user_error,
    check_cli_user_error,
    check_process_ok_or_user_error,
    check_process_user_error,
    invoke,
    raises_rag_error,
    run_rag,
    streamed,
)

MILLION = 10**6

# Not a question: each must be a RagError (exit 2 from the CLI).
NOT_QUESTIONS = {
    "empty": "",
    "space": " ",
    "whitespace-mix": " \t\n\r\x0b\x0c ",
    "ideographic-space": "\u3000\u3000",
    "zero-width-space": "\u200b\u200b",
    "zero-width-joiners": "\u200d\u2060\ufeff",
    "nul-only": "\x00",
    "nuls": "\x00" * 100,
    "control-only": "\x01\x02\x03\x1b\x7f",
    "lone-high-surrogate": "\ud800",
    "lone-low-surrogate": "\udfff",
    "surrogates-only": "\ud83d\ud83d\udc00",
    "huge-1e6-letters": "a" * MILLION,
    "huge-1e6-words": "prisoners " * (MILLION // 10),
    "huge-1e6-newlines": "prisoners" + "\n" * MILLION + "exchange",
    "10k-words-repeated": " ".join(["exchange"] * 10_000),
    "just-over-limit": "x" * 4001,
    "punctuation-only": "?!.,;:…—()[]{}",
    "question-marks": "?" * 500,
    "emoji-only": "😀🔥🎉👍🏽",
    "emoji-zwj-family": "👨‍👩‍👧‍👦",
    "flags-only": "🇺🇦🇷🇺",
    "stop-words-only": "the of and to a in is it",
    "digits-punctuation": "?? ... !!",
    "combining-marks-only": "\u0301\u0300\u0308",
    "private-use-only": "\ue000\uf8ff",
    "noncharacters-only": "\ufffe\uffff",
    "math-symbols-only": "∑∫√∞≠≈",
    "box-drawing": "┌─┐│└┘",
}

# Odd but text: answered or refused with a RagError, never anything else.
ODD_QUESTIONS = {
    "ansi-escape-only": "\x1b[31m\x1b[0m",
    "nul-inside": "How many\x00prisoners were exchanged?",
    "control-inside": "How many\x01\x02 prisoners\x1b[31m were exchanged?",
    "bell-backspace": "Who is\x07\x08 Kadyrov?",
    "lone-surrogate-inside": "How many prisoners\udc80 were exchanged?",
    "high-surrogate-inside": "Who is \ud800Kadyrov?",
    "rtl-arabic": "كم عدد الأسرى الذين تم تبادلهم؟",
    "rtl-hebrew": "מי זה קדירוב?",
    "rtl-override": "\u202eWho is Kadyrov?\u202c",
    "mixed-rtl-ltr": "Who is قديروف Kadyrov?",
    "cjk": "普京是谁？",
    "cyrillic": "Кто такой Кадыров?",
    "zalgo": "Ẃ̸̢h̶͉o̵͕ ̷i̴s̵ ̶K̷a̸d̵y̶r̴o̵v̶?",
    "fullwidth": "Ｗｈｏ ｉｓ Ｋａｄｙｒｏｖ？",
    "ligatures": "Who ﬁnds the ﬂag?",
    "bom-prefixed": "\ufeffWho is Kadyrov?",
    "emoji-inside": "How many prisoners 😀 were exchanged?",
    "script-tag": "<script>alert('x')</script> Who is Kadyrov?",
    "img-onerror": '<img src=x onerror="alert(1)"> prisoners',
    "html-entities": "&lt;b&gt;prisoners&lt;/b&gt; &amp; &#0; &#x110000;",
    "markdown-link": "[prisoners](javascript:alert(1)) **Kadyrov**",
    "sql-injection": "'; DROP TABLE chunks; -- prisoners",
    "sql-union": "prisoners' UNION SELECT * FROM sqlite_master --",
    "fts-or": 'prisoners" OR "x',
    "fts-unbalanced-quote": '"prisoners',
    "fts-near": "NEAR(prisoners exchange, 2)",
    "fts-column": "text:prisoners",
    "fts-star": "prisoners* AND NOT exchange",
    "fts-caret": "^prisoners",
    "fts-keywords-only": "AND OR NOT NEAR",
    "fts-parens": "((((prisoners",
    "fts-minus": "-prisoners +exchange",
    "format-string": "%s%s%n%x {0} {question} prisoners",
    "template-injection": "{{7*7}} ${jndi:ldap://x/a} prisoners",
    "path-traversal": "../../../etc/passwd prisoners",
    "regex-metacharacters": r".*+?[](){}|\^$ prisoners \d\w",
    "backslashes": "\\\\\\ prisoners \\",
    "newlines-between-words": "How\nmany\nprisoners\nwere\nexchanged?",
    "crlf": "Who is Kadyrov?\r\n\r\n",
    "tabs": "How\tmany\tprisoners?",
    "long-word-at-limit": "a" * 3999 + "?",
    "many-words-at-limit": ("prisoners " * 400)[:3999],
    "one-char": "x",
    "digits-only": "314 157 20",
    "unicode-max": "\U0010ffff prisoners",
    "quotes-galore": '""""""""\'\'\'\'“”‘’ prisoners',
    "dotted-names": "Who is A.B.C.D.E.F.G.H.I.J.K.?",
    "capitalised-unknowns": "Who Is Zzyzx Qwerty Asdfgh Kadryov Zelenskyy?",
    "misspelt-many": "Kadryov Zelenskyy Putn Medinsky Alaudinov Chambrs?",
}

STRING_CASES = [pytest.param(q, id=name) for name, q in {**NOT_QUESTIONS, **ODD_QUESTIONS}.items()]
NOT_TEXT = [
    pytest.param(None, id="None"),
    pytest.param(5, id="int"),
    pytest.param(5.0, id="float"),
    pytest.param(True, id="bool"),
    pytest.param(b"Who is Kadyrov?", id="bytes"),
    pytest.param(bytearray(b"Who is Kadyrov?"), id="bytearray"),
    pytest.param(["Who is Kadyrov?"], id="list"),
    pytest.param(("Who is Kadyrov?",), id="tuple"),
    pytest.param({}, id="empty-dict"),
    pytest.param({"question": "Who is Kadyrov?"}, id="dict"),
    pytest.param({"Who is Kadyrov?"}, id="set"),
    pytest.param(object(), id="object"),
]


def expect_for(question) -> str:
    return "error" if not isinstance(question, str) or question in NOT_QUESTIONS.values() else "either"


@pytest.mark.parametrize("question", STRING_CASES + NOT_TEXT)
def test_ask(reading, question):
    if expect_for(question) == "error":
        raises_rag_error(lambda: reading.ask(question))
    else:
        answer = answers_or_refuses(lambda: reading.ask(question))
        assert answer is None or isinstance(answer, Answer)


@pytest.mark.parametrize("question", STRING_CASES + NOT_TEXT)
def test_stream(reading, question):
    if expect_for(question) == "error":
        raises_rag_error(lambda: streamed(reading.stream(question)))
    else:
        answers_or_refuses(lambda: streamed(reading.stream(question)))


@pytest.mark.parametrize("question", STRING_CASES + NOT_TEXT)
def test_retrieve(reading, question):
    if expect_for(question) == "error":
        raises_rag_error(lambda: reading.retrieve(question))
    else:
        hits = answers_or_refuses(lambda: reading.retrieve(question))
        assert hits is None or all(isinstance(hit, Hit) for hit in hits)


@pytest.mark.parametrize("question", STRING_CASES)
def test_cli_ask(shared_index, baseline, question):
    from tests.hardening.harness import assert_kept

    result = invoke(["ask", question, "--index-dir", shared_index])
    if expect_for(question) == "error":
        check_cli_user_error(result)
    else:
        check_cli_ok_or_user_error(result)
    assert_kept(shared_index, baseline)


@pytest.mark.parametrize("question", STRING_CASES)
def test_cli_ask_json(shared_index, question):
    import json

    result = invoke(["ask", question, "--index-dir", shared_index, "--json"])
    if expect_for(question) == "error":
        check_cli_user_error(result)
    else:
        check_cli_ok_or_user_error(result)
        if result.exit_code == 0:
            assert isinstance(json.loads(result.stdout)["text"], str)


# A question line in `rag chat`: an error is one line and the conversation goes on.
CHAT_CASES = [pytest.param(q, id=name) for name, q in {**NOT_QUESTIONS, **ODD_QUESTIONS}.items() if "\n" not in q]


@pytest.mark.parametrize("question", CHAT_CASES)
def test_cli_chat_goes_on_after_it(shared_index, question):
    result = invoke(
        ["chat", "--index-dir", shared_index],
        input=f"{question}\n{SEEDS_QUESTION}\nexit\n".encode("utf-8", "surrogatepass"),
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        from tests.hardening.harness import described

        pytest.fail(f"escaped as a traceback: {described(result.exception)}")
    assert result.exit_code == 0, result.stderr[-300:]
    assert "Traceback" not in result.output + result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("Error: ")]) <= 1
    assert "314 prisoners" in result.output, "the question after it was not answered"


# Real processes, for the cases where a whole interpreter is at stake (argv holds no NUL and
# at most 128 KiB per argument, so the longest go through `rag chat`'s stdin).
PROCESS_CASES = {
    "huge-100k-argument": ("error", ["ask", "a" * 100_000]),
    "10k-words-argument": ("error", ["ask", " ".join(["exchange"] * 10_000)]),
    "punctuation-argument": ("error", ["ask", "?!..."]),
    "lone-surrogate-argument": ("either", ["ask", "Who is \udcffKadyrov?"]),
    "rtl-argument": ("either", ["ask", "מי זה קדירוב?"]),
    "script-argument": ("either", ["ask", "<script>alert(1)</script> Kadyrov"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("expect,args", PROCESS_CASES.values(), ids=PROCESS_CASES.keys())
def test_process_ask(shared_index, expect, args):
    process = run_rag([*args, "--index-dir", shared_index])
    if expect == "error":
        check_process_user_error(process)
    else:
        check_process_ok_or_user_error(process)


@pytest.mark.slow
@pytest.mark.parametrize("line", ["a" * MILLION, "prisoners " * 100_000, "\x00" * 1000, "\udcff\udcfe"])
def test_process_chat_survives_a_huge_or_broken_line(shared_index, line):
    data = f"{line}\n{SEEDS_QUESTION}\nexit\n".encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    process = run_rag(["chat", "--index-dir", shared_index], input=data)
    assert process.returncode == 0, process.stderr[-500:]
    assert "Traceback" not in process.stderr
    assert "314 prisoners" in process.stdout
