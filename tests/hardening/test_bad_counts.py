"""Bad passage counts: ``retrieve(k=)``, ``ask(top_k=)``, ``stream(top_k=)`` and the
constructors' ``top_k=``. A count that is not a whole number of passages (0 for the
answering calls) is a ``RagError``; a huge one is capped or refused, never a crash in FAISS."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from rag import Answer, Chatbot
from tests.hardening.harness import answers_or_refuses, raises_rag_error, streamed

QUESTION = "How many prisoners were exchanged on February 5?"

NOT_COUNTS = {
    "zero": 0,
    "minus-one": -1,
    "minus-2**70": -(2**70),
    "float-1.5": 1.5,
    "float-5.0": 5.0,
    "str-5": "5",
    "str-empty": "",
    "bytes-5": b"5",
    "true": True,
    "false": False,
    "nan": math.nan,
    "inf": math.inf,
    "minus-inf": -math.inf,
    "list-5": [5],
    "dict": {"k": 5},
    "complex": 5 + 0j,
    "decimal-5.5": Decimal("5.5"),
    "fraction-1/2": Fraction(1, 2),
    "numpy-float": np.float64(5.0),
    "numpy-zero": np.int64(0),
    "numpy-bool": np.bool_(True),
    "object": object(),
}
HUGE_COUNTS = {
    "2**31": 2**31,
    "2**63": 2**63,
    "2**70": 2**70,
    "10**100": 10**100,
    "numpy-int64-max": np.int64(2**63 - 1),
    "numpy-uint64-max": np.uint64(2**64 - 1),
    "numpy-int32-5": np.int32(5),
}

CASES = [pytest.param("error", k, id=name) for name, k in NOT_COUNTS.items()] + [
    pytest.param("either", k, id=name) for name, k in HUGE_COUNTS.items()
]


def check(expect: str, call) -> None:
    if expect == "error":
        raises_rag_error(call)
    else:
        value = answers_or_refuses(call)
        if isinstance(value, Answer):
            assert "314" in value.text, "a huge count changed the answer"
        elif isinstance(value, list):
            assert len(value) <= 100, "more passages than the index holds"


@pytest.mark.parametrize("expect,k", CASES)
def test_retrieve_k(reading, expect, k):
    check(expect if k != 0 else "either", lambda: reading.retrieve(QUESTION, k=k))  # k=0: no passages


@pytest.mark.parametrize("expect,k", CASES)
def test_ask_top_k(reading, expect, k):
    check(expect, lambda: reading.ask(QUESTION, top_k=k))


@pytest.mark.parametrize("expect,k", CASES)
def test_stream_top_k(reading, expect, k):
    check(expect, lambda: streamed(reading.stream(QUESTION, top_k=k)))


@pytest.mark.parametrize("expect,k", CASES)
def test_from_index_top_k(shared_index, expect, k):
    check(expect, lambda: Chatbot.from_index(shared_index, top_k=k).ask(QUESTION))


def test_retrieve_k_none_is_an_error(reading):
    raises_rag_error(lambda: reading.retrieve(QUESTION, k=None))


def test_ask_top_k_none_is_the_default(reading):
    assert "314" in reading.ask(QUESTION, top_k=None).text
