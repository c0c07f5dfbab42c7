"""Every public entry checks its arguments in ``rag.validation``: a wrong type, a NUL byte or a
huge count is a ``RagError`` that says what to give, never a TypeError, ValueError or
OverflowError from deep inside."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import Chatbot, Document, RagError, evaluate
from rag.chatbot import open_chatbot
from rag.doctor import diagnose
from rag.errors import DocumentsError, IndexLocationError, PromptsFileError
from rag.settings import Settings
from rag.validation import MAX_PASSAGES, UnknownSettingError, checked_path, shown_path

NOT_PATHS = [None, 5, b"index", ["index"]]


@pytest.mark.parametrize("index_dir", NOT_PATHS)
def test_an_index_dir_that_is_not_a_path_is_a_rag_error_at_every_entry(index_dir, tmp_path):
    docs = [Document(id="a.txt", text="Kadyrov met the envoy in Grozny.")]
    calls = [
        lambda: Chatbot.from_index(index_dir),
        lambda: Chatbot.from_documents(docs, index_dir),
        lambda: Chatbot.from_folder(tmp_path, index_dir=index_dir),
        lambda: open_chatbot(index_dir),
        lambda: diagnose(index_dir),
    ]
    for call in calls:
        with pytest.raises(IndexLocationError, match=f"must be a path, not {type(index_dir).__name__}"):
            call()


def test_a_nul_byte_in_a_path_is_named_escaped_on_one_line(tmp_path):
    with pytest.raises(IndexLocationError, match=r"The index folder a\\x00b holds a NUL byte") as caught:
        Chatbot.from_folder(tmp_path, index_dir="a\0b")
    assert "\0" not in str(caught.value)
    with pytest.raises(DocumentsError, match="NUL byte"):
        Chatbot.from_folder("seeds\0", index_dir=tmp_path)


def test_paths_as_pathlib_or_text_pass_and_an_empty_one_does_not():
    assert checked_path("index", "index folder", "x") == Path("index")
    assert checked_path(Path("a/b"), "index folder", "x") == Path("a/b")
    with pytest.raises(RagError, match="index folder name is empty"):
        checked_path("  ", "index folder", "x")


def test_shown_path_escapes_control_characters_and_keeps_the_rest():
    assert shown_path("notes/a b.txt") == "notes/a b.txt"
    assert shown_path("evil\nError: fake\tline") == "evil\\nError: fake\\tline"
    assert shown_path(Path("x\ry")) == "x\\ry"
    assert shown_path("Grozny\u2028x") == "Grozny\\u2028x"


@pytest.mark.parametrize(
    ("documents", "message"),
    [
        (None, "takes a list of Documents, not NoneType"),
        (Document(id="a.txt", text="one"), r"put the one you have in a list: \[document\]"),
        ("a.txt", "not str"),
        ({"id": "a.txt"}, "not dict"),
    ],
)
def test_from_documents_needs_a_list_of_documents(documents, message, tmp_path):
    with pytest.raises(DocumentsError, match=message):
        Chatbot.from_documents(documents, tmp_path / "index")
    assert not (tmp_path / "index").exists()


@pytest.mark.parametrize("prompts", [None, 5, b"prompts.jsonl", {"question": "x"}])
def test_evaluate_needs_a_path_or_a_list_of_prompts(seeds_bot, prompts):
    with pytest.raises(PromptsFileError, match=f"not {type(prompts).__name__}"):
        evaluate(seeds_bot, prompts)


def test_a_huge_passage_count_is_a_rag_error_not_an_overflow(seeds_bot, seeds_index):
    with pytest.raises(RagError, match=f"k must be a whole number of passages, at most {MAX_PASSAGES:,}"):
        seeds_bot.retrieve("Kadyrov", k=2**70)
    with pytest.raises(RagError, match="top_k must be .* at most"):
        seeds_bot.stream("Kadyrov", top_k=2**70)  # before the first piece is asked for
    with pytest.raises(RagError, match="top_k must be .* at most"):
        Chatbot.from_index(seeds_index, top_k=2**70)
    assert len(seeds_bot.retrieve("Kadyrov", k=MAX_PASSAGES)) > 0


@pytest.mark.parametrize("field", ["embedding_model", "reranker_model", "llm_model"])
def test_a_model_option_that_is_not_text_or_a_path_is_a_rag_error(field, seeds_index):
    with pytest.raises(RagError, match=f"{field} must be a Hugging Face id or a folder path"):
        Chatbot.from_index(seeds_index, **{field: ["x"]})
    with pytest.raises(RagError, match=f"{field} must be"):
        Settings(**{field: 5})
    assert getattr(Settings(**{field: Path("models/x")}), field) == "models/x"


def test_settings_of_the_wrong_type_are_a_rag_error(seeds_index):
    with pytest.raises(RagError, match="settings must be a rag.settings.Settings, not int"):
        Chatbot.from_index(seeds_index, settings=5)
    with pytest.raises(RagError, match="device must be text"):
        Settings(device=["cpu"])
    with pytest.raises(RagError, match="retrieval must be a RetrievalSettings, not dict"):
        Settings(retrieval={})


def test_an_unknown_setting_is_a_rag_error_and_still_a_type_error(seeds_index):
    with pytest.raises(UnknownSettingError) as caught:
        Chatbot.from_index(seeds_index, bogus=1)
    assert isinstance(caught.value, RagError) and isinstance(caught.value, TypeError)


@pytest.mark.parametrize("history", ["hi", 5, [5], [{"role": 5, "content": "x"}]])
def test_history_of_the_wrong_shape_is_a_rag_error(seeds_bot, history):
    with pytest.raises(RagError, match="history must be a list of"):
        seeds_bot.ask("Who is Kadyrov?", history=history)


def test_a_path_too_long_for_the_system_is_a_rag_error_at_every_entry(tmp_path, seeds_bot):
    from rag.evaluation.run import load_prompts

    long_name, long_path = tmp_path / ("n" * 300), tmp_path.joinpath(*["y" * 200] * 25)
    docs = [Document(id="a.txt", text="Kadyrov met the envoy in Grozny.")]
    for path, over in (
        (long_name, "has a name of 300 bytes; file systems allow 255"),
        (long_path, "as a full path; the system allows 4,096"),
    ):
        with pytest.raises(IndexLocationError, match=over):
            Chatbot.from_index(path)
        with pytest.raises(IndexLocationError, match=over):
            Chatbot.from_documents(docs, path)
        with pytest.raises(DocumentsError, match=over):
            Chatbot.from_folder(path, index_dir=tmp_path / "index")
        with pytest.raises(PromptsFileError, match=over):
            load_prompts(path)
        with pytest.raises(PromptsFileError, match=over):
            evaluate(seeds_bot, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing created on the way


def test_an_index_folder_whose_name_is_not_utf8_is_refused_before_anything_is_written(tmp_path):
    index_dir = tmp_path / "idx-\udcff\udcfe"  # the bytes b"idx-\xff\xfe", as Python reads them from the disk
    docs = [Document(id="a.txt", text="Kadyrov met the envoy in Grozny.")]
    with pytest.raises(IndexLocationError, match="not valid UTF-8; the vector library cannot write there") as caught:
        Chatbot.from_documents(docs, index_dir)
    assert "idx-\\udcff\\udcfe" in str(caught.value)  # named, escaped: the message can be printed
    assert not index_dir.exists()


def test_a_newline_in_an_index_path_stays_escaped_in_the_message(tmp_path):
    with pytest.raises(RagError) as caught:
        Chatbot.from_index(tmp_path / "a\nb")
    assert "\n" not in str(caught.value)
    assert f"No index in {tmp_path}/a\\nb." in str(caught.value)


def test_an_empty_document_id_is_a_documents_error():
    with pytest.raises(DocumentsError, match="A Document's id is empty"):
        Document(id="", text="Kettles boil water.")
    with pytest.raises(DocumentsError, match="A Document's id is empty"):
        Document(id="  ", text="Kettles boil water.")


def test_documents_that_are_all_empty_are_refused_by_name(tmp_path):
    docs = [Document(id="a.txt", text=""), Document(id="b.txt", text=" \n ")]
    with pytest.raises(
        DocumentsError, match=r"Nothing to index: the 2 document\(s\) given \(a.txt, b.txt\) hold no text"
    ):
        Chatbot.from_documents(docs, tmp_path / "index")
    assert not (tmp_path / "index").exists()
    bot = Chatbot.from_documents([*docs, Document(id="c.txt", text="Kettles boil water.")], tmp_path / "index")
    assert bot.chunk_counts == {"a.txt": 0, "b.txt": 0, "c.txt": 1}  # with one that has text, all are kept


@pytest.mark.parametrize("question", ["Who is \udcffKadyrov?", "\ud800", "Grozny \udc80?"])
def test_a_question_holding_a_lone_surrogate_is_an_invalid_question(seeds_bot, question):
    from rag.errors import InvalidQuestionError

    with pytest.raises(InvalidQuestionError, match="not valid UTF-8, or a lone surrogate"):
        seeds_bot.ask(question)
