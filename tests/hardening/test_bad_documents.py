"""Bad documents for ``Chatbot.from_documents``, into a new folder and over an existing index.

What is not a sequence of ``Document`` (None, one Document, strings, dicts), duplicate ids,
and ids or texts that cannot be stored are a ``RagError``; an existing index is left as it
was. Odd but valid documents (empty or huge text) are indexed or refused, never a traceback."""

from __future__ import annotations

import pytest

from rag import Chatbot, Document
from tests.hardening.harness import answers_or_refuses, assert_kept, raises_rag_error

KETTLE = Document(id="kettle.txt", text="Kettles boil water. A kettle switches itself off.")
TEA = Document(id="tea.txt", text="Tea is brewed with boiling water.")


class Lookalike:
    """Has a Document's attributes without being one."""

    id = "fake.txt"
    text = "Kettles boil water."
    title = None


NOT_DOCUMENTS = {
    "None": lambda: None,
    "a-single-document": lambda: KETTLE,
    "a-string": lambda: "Kettles boil water.",
    "bytes": lambda: b"Kettles boil water.",
    "an-int": lambda: 5,
    "a-dict-of-documents": lambda: {"kettle.txt": KETTLE},
    "empty-list": lambda: [],
    "empty-tuple": lambda: (),
    "list-of-none": lambda: [None],
    "list-of-str": lambda: ["Kettles boil water."],
    "list-of-dicts": lambda: [{"id": "a.txt", "text": "Kettles boil water."}],
    "list-of-tuples": lambda: [("a.txt", "Kettles boil water.")],
    "a-lookalike": lambda: [Lookalike()],
    "document-then-none": lambda: [KETTLE, None],
    "duplicate-ids": lambda: [KETTLE, KETTLE],
    "duplicate-ids-other-text": lambda: [KETTLE, Document(id="kettle.txt", text="Other text.")],
    "only-empty-texts": lambda: [Document(id="a.txt", text=""), Document(id="b.txt", text="   ")],
    "empty-id": lambda: [Document(id="", text="Kettles boil water.")],
}
ODD_DOCUMENTS = {
    "a-generator": lambda: (d for d in [KETTLE, TEA]),
    "a-tuple": lambda: (KETTLE, TEA),
    "one-empty-text-among-others": lambda: [KETTLE, Document(id="empty.txt", text="")],
    "nul-in-id": lambda: [Document(id="a\0b.txt", text="Kettles boil water.")],
    "whitespace-id": lambda: [Document(id="   ", text="Kettles boil water.")],
    "newline-in-id": lambda: [Document(id="a\nb.txt", text="Kettles boil water.")],
    "slashes-in-id": lambda: [Document(id="../../etc/passwd", text="Kettles boil water.")],
    "absolute-id": lambda: [Document(id="/etc/passwd", text="Kettles boil water.")],
    "huge-id": lambda: [Document(id="x" * 100_000, text="Kettles boil water.")],
    "rtl-id": lambda: [Document(id="קומקום.txt", text="Kettles boil water.")],
    "huge-text-5e6": lambda: [Document(id="big.txt", text="Kettles boil water. " * 250_000)],
    "one-huge-sentence": lambda: [Document(id="run.txt", text="kettle " * 500_000)],
    "nul-in-text": lambda: [Document(id="nul.txt", text="Kettles\0 boil\0 water.")],
    "control-text": lambda: [Document(id="ctl.txt", text="\x01\x02\x1b[31mKettles boil water.\x7f")],
    "title-huge": lambda: [Document(id="t.txt", text="Kettles boil water.", title="T" * 100_000)],
    "many-tiny-documents": lambda: [Document(id=f"d{i}.txt", text=f"Kettle {i} boils.") for i in range(3000)],
}


def test_lone_surrogates_are_refused_when_the_document_is_made():
    for fields in ({"id": "a\ud800.txt", "text": "x"}, {"id": "a.txt", "text": "Kettles \udcff boil."}):
        raises_rag_error(lambda f=fields: Document(**f))
    raises_rag_error(lambda: Document(id="a.txt", text="x", title="\ud800"))
    raises_rag_error(lambda: Document(id=5, text="x"))
    raises_rag_error(lambda: Document(id="a.txt", text=None))


CASES = [pytest.param("error", make, id=name) for name, make in NOT_DOCUMENTS.items()] + [
    pytest.param("either", make, id=name, marks=pytest.mark.slow if "huge" in name or "many" in name else ())
    for name, make in ODD_DOCUMENTS.items()
]


@pytest.mark.parametrize("expect,make", CASES)
def test_into_a_new_folder(tmp_path, expect, make):
    call = lambda: Chatbot.from_documents(make(), index_dir=tmp_path / "index")  # noqa: E731
    if expect == "error":
        raises_rag_error(call)
    else:
        bot = answers_or_refuses(call)
        if bot is not None:
            answers_or_refuses(lambda: bot.ask("What do kettles boil?"))
            bot.close()


@pytest.mark.parametrize("expect,make", CASES)
def test_over_an_existing_index(index_copy, baseline, expect, make):
    """Bad documents given for an index that holds the seeds: refused, and the seeds kept."""
    outcome_is_error = expect == "error"
    call = lambda: Chatbot.from_documents(make(), index_dir=index_copy)  # noqa: E731
    if outcome_is_error:
        raises_rag_error(call)
        assert_kept(index_copy, baseline)
    else:
        bot = answers_or_refuses(call)
        if bot is None:
            assert_kept(index_copy, baseline)
        else:
            bot.close()


@pytest.mark.parametrize("expect,make", [c for c in CASES if c.values[0] == "error"])
def test_a_bad_rebuild_keeps_the_index(index_copy, baseline, expect, make):
    raises_rag_error(lambda: Chatbot.from_documents(make(), index_dir=index_copy, rebuild=True))
    assert_kept(index_copy, baseline)
