import numpy as np
import pytest

from rag import Answer, Chatbot, Citation, Document, RagError
from rag.errors import InvalidQuestionError
from tests.conftest import SEEDS, load_prompts

QUESTION = "How many prisoners were exchanged on February 5?"


def quote_is_verbatim_at_its_lines(citation: Citation, folder=SEEDS) -> bool:
    lines = (folder / citation.source).read_text(encoding="utf-8").split("\n")
    return citation.quote in "\n".join(lines[citation.start_line - 1 : citation.end_line])


def test_ask_answers_with_markers_that_resolve_to_verbatim_quotes(seeds_bot):
    answer = seeds_bot.ask(QUESTION)
    assert isinstance(answer, Answer) and not answer.abstained
    assert "314" in answer.text
    assert "[1]" in answer.text
    markers = {c.marker for c in answer.citations}
    assert markers == {int(m) for m in __import__("re").findall(r"\[(\d+)\]", answer.text)}
    assert any(c.source == "003_58ec4efac89fea89.txt" and c.start_line == 21 for c in answer.citations)
    assert all(quote_is_verbatim_at_its_lines(c) for c in answer.citations)
    assert answer.hits and answer.hits[0].source == "003_58ec4efac89fea89.txt"


def test_a_question_the_articles_do_not_answer_abstains(seeds_bot):
    answer = seeds_bot.ask("What is the capital of Australia?")
    assert answer.abstained
    assert answer.text == "The documents do not say."
    assert answer.citations == []


def test_stream_yields_the_answer_text_then_the_answer(seeds_bot):
    stream = seeds_bot.stream(QUESTION)
    pieces = list(stream)
    assert len(pieces) > 3
    assert "".join(pieces) == stream.answer.text == seeds_bot.ask(QUESTION).text


@pytest.mark.parametrize("question", [prompt["question"] for prompt in load_prompts()])
def test_ask_is_the_stream_run_to_the_end_on_every_seeds_prompt(seeds_bot, question):
    stream = seeds_bot.stream(question)
    pieces = list(stream)
    assert seeds_bot.ask(question) == stream.answer
    assert "".join(pieces) == stream.answer.text


def test_a_follow_up_streams_the_answer_ask_gives_and_how_it_was_read(seeds_bot):
    history = _after(seeds_bot, "Who commands the Akhmat unit?")
    question = "What did he say about the soldiers who surrendered?"
    stream = seeds_bot.stream(question, history=history)
    assert "".join(stream) == stream.answer.text
    assert stream.answer == seeds_bot.ask(question, history=history)
    assert stream.answer.understood_as == "What did Apti Alaudinov say about the soldiers who surrendered?"


def test_a_question_without_words_fails_alike_in_ask_and_once_the_stream_is_read(seeds_bot):
    stream = seeds_bot.stream("the the the")  # checked for words as it is searched, not before
    with pytest.raises(InvalidQuestionError, match="^The question has no words to search for"):
        list(stream)
    with pytest.raises(InvalidQuestionError, match="^The question has no words to search for"):
        seeds_bot.ask("the the the")


def test_retrieve_returns_hits_best_first(seeds_bot):
    hits = seeds_bot.retrieve("prison sentence for discrediting the Russian army", k=3)
    assert len(hits) == 3
    assert hits[0].source == "002_16c963fab6cf1b6f.txt"
    assert hits[0].start_line <= 35 <= hits[0].end_line


def test_follow_up_questions_use_the_history(seeds_bot):
    first = "Who is Harold Chambers?"
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": seeds_bot.ask(first).text}]
    answer = seeds_bot.ask("Which magazine did he write in?", history=history)
    assert answer.understood_as == "Which magazine did Harold Chambers write in?"
    assert "UnHerd" in answer.text
    assert answer.citations[0].source == "000_f2df93452cb9e121.txt"


def test_a_question_naming_someone_the_passage_never_mentions_is_refused(seeds_bot):
    # The analyst Harold Chambers wrote in UnHerd; nothing says Putin wrote in any magazine.
    assert "UnHerd" in seeds_bot.ask("Which magazine did Harold Chambers write in?").text
    assert seeds_bot.ask("Which magazine did Putin write in?").abstained


def test_a_follow_up_with_a_pronoun_is_answered_from_the_conversation(seeds_bot):
    first = "How many prisoners were exchanged on February 5?"
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": seeds_bot.ask(first).text}]
    answer = seeds_bot.ask("How many of them were civilians?", history=history)
    assert not answer.abstained
    assert "150 soldiers and seven civilians" in answer.text
    assert answer.citations[0].source == "003_58ec4efac89fea89.txt"


def _after(bot, first: str) -> list[dict]:
    return [{"role": "user", "content": first}, {"role": "assistant", "content": bot.ask(first).text}]


def test_he_in_a_follow_up_is_the_person_a_who_question_was_answered_with(seeds_bot):
    history = _after(seeds_bot, "Who commands the Akhmat unit?")
    answer = seeds_bot.ask("What did he say about the soldiers who surrendered?", history=history)
    assert answer.question == "What did he say about the soldiers who surrendered?"
    assert answer.understood_as == "What did Apti Alaudinov say about the soldiers who surrendered?"
    assert "Alaudinov, said that Chechnya wouldn’t seek the return" in answer.text
    assert answer.to_dict()["understood_as"] == answer.understood_as


def test_a_question_answered_as_asked_says_so(seeds_bot):
    assert seeds_bot.ask("Who commands the Akhmat unit?").understood_as is None
    history = _after(seeds_bot, "Who commands the Akhmat unit?")
    assert seeds_bot.ask("Did Kadyrov say he would bring them home?", history=history).understood_as is None


@pytest.mark.parametrize("question", ["?!?!...", "the the the", "—"])
def test_a_question_with_no_words_to_search_for_is_a_rag_error(seeds_bot, question):
    for call in (seeds_bot.ask, seeds_bot.retrieve):
        with pytest.raises(InvalidQuestionError, match="^The question has no words to search for"):
            call(question)


def test_a_follow_up_is_checked_for_words_with_its_conversation(seeds_bot):
    history = [{"role": "user", "content": "How many prisoners were exchanged on February 5?"}]
    assert seeds_bot.ask("And then?", history=history).hits
    with pytest.raises(InvalidQuestionError):
        seeds_bot.ask("And then?")


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_or_blank_questions_are_rag_errors(seeds_bot, question):
    with pytest.raises(InvalidQuestionError, match="empty"):
        seeds_bot.ask(question)
    with pytest.raises(RagError):
        seeds_bot.stream(question)
    with pytest.raises(RagError):
        seeds_bot.retrieve(question)


@pytest.mark.parametrize("top_k", [0, -1, 2.5, True, "3"])
def test_a_passage_count_that_is_not_a_positive_whole_number_is_a_rag_error(seeds_bot, top_k):
    with pytest.raises(RagError, match=f"top_k must be a whole number of passages, at least 1; got {top_k!r}"):
        seeds_bot.ask("Who is Harold Chambers?", top_k=top_k)


def test_passage_counts_are_honoured_down_to_zero_for_retrieve(seeds_bot):
    assert len(seeds_bot.ask("Who is Harold Chambers?", top_k=np.int64(2)).hits) == 2
    assert seeds_bot.retrieve("Who is Harold Chambers?", k=0) == []
    with pytest.raises(RagError, match="k must be a whole number of passages, at least 0; got -1"):
        seeds_bot.retrieve("Who is Harold Chambers?", k=-1)


def test_a_question_that_is_not_text_is_a_rag_error(seeds_bot):
    with pytest.raises(InvalidQuestionError, match="must be text"):
        seeds_bot.ask(None)


def test_a_200000_character_question_is_refused_with_a_clear_message(seeds_bot):
    with pytest.raises(InvalidQuestionError, match="200,000 characters"):
        seeds_bot.ask("prisoners " * 19_999 + "exchanged.")


def test_a_long_but_allowed_question_is_answered(seeds_bot):
    question = "How many prisoners were exchanged? " + "Please be precise about the numbers involved. " * 80
    assert len(question) < 4000
    answer = seeds_bot.ask(question)
    assert answer.hits


def test_from_documents_cites_document_ids_and_lines(tmp_path):
    documents = [
        Document(id="notes/a", text="Title line\n\nThe vault code is 4417. It opens the north door."),
        Document(id="b", text="Nothing about codes here, only gardens and roses."),
    ]
    bot = Chatbot.from_documents(documents, tmp_path)
    answer = bot.ask("What is the vault code?")
    assert "4417" in answer.text
    assert answer.citations[0].source == "notes/a"
    assert answer.citations[0].start_line == answer.citations[0].end_line == 3
    assert answer.citations[0].quote == "The vault code is 4417."


def test_a_one_sentence_index_answers_a_question_with_a_word_it_has_never_seen(tmp_path):
    # "colour" is in no chunk; in an index this small it must not outweigh "sky" and "Xanadu".
    bot = Chatbot.from_documents([Document(id="a", text="The sky over Xanadu is green.")], tmp_path)
    answer = bot.ask("What colour is the sky over Xanadu?")
    assert answer.text == "The sky over Xanadu is green. [1]"
    assert bot.ask("Who won the 2018 FIFA World Cup?").abstained


def test_a_folder_with_binary_empty_and_latin1_files_indexes_the_rest(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (folder / "empty.md").write_bytes(b"")
    (folder / "cafe.txt").write_bytes("Le café de Genève ouvre à 7 heures.".encode("latin-1"))
    (folder / "plain.txt").write_text("The lighthouse keeper is named Morwenna.", encoding="utf-8")
    bot = Chatbot.from_folder(folder, index_dir=tmp_path / "index")
    assert sorted(bot.documents) == ["cafe.txt", "plain.txt"]
    assert bot.ask("Who is the lighthouse keeper?").citations[0].quote == "The lighthouse keeper is named Morwenna."
    assert bot.retrieve("café Genève", k=1)[0].text == "Le café de Genève ouvre à 7 heures."


def test_chunk_counts_are_each_documents_chunks_and_documents_is_the_same_mapping(seeds_bot):
    counts = seeds_bot.chunk_counts
    assert sorted(counts) == sorted(path.name for path in SEEDS.iterdir() if path.suffix == ".txt")
    assert all(isinstance(count, int) and count > 0 for count in counts.values())
    assert sum(counts.values()) == seeds_bot.index.manifest.chunk_count
    assert seeds_bot.documents == counts


def test_a_missing_folder_is_a_rag_error(tmp_path):
    with pytest.raises(RagError, match="not found"):
        Chatbot.from_folder(tmp_path / "missing", index_dir=tmp_path / "index")


def test_refresh_indexes_files_added_to_the_folder(seeds_copy, tmp_path):
    bot = Chatbot.from_folder(seeds_copy, index_dir=tmp_path / "index")
    (seeds_copy / "new.md").write_text("# Weather\n\nThe harbour froze solid in January 1963.\n", encoding="utf-8")
    report = bot.refresh()
    assert report.added == ["new.md"] and report.unchanged == 5
    assert "new.md" in bot.documents
    assert "1963" in bot.ask("When did the harbour freeze?").text
    assert bot.index.manifest.source == str(seeds_copy.resolve()), "the index still knows its folder"


def test_title_reads_each_indexed_documents_title_for_display(seeds_bot):
    assert seeds_bot.title("003_58ec4efac89fea89.txt") == (
        "Chechnya’s Kadyrov shifts stance on POWs, touting efforts to bring…"
    )
    assert seeds_bot.title("004_7efb122e67c28a6b.txt") is None, "it opens with a paragraph"
    assert seeds_bot.title("no-such-file.txt") is None


def test_title_is_cut_at_the_length_asked_for(seeds_bot):
    whole = "Chechnya’s Kadyrov shifts stance on POWs, touting efforts to bring home troops who surrendered in Ukraine"
    assert seeds_bot.title("003_58ec4efac89fea89.txt", max_chars=110) == whole
    assert seeds_bot.title("003_58ec4efac89fea89.txt", max_chars=30) == "Chechnya’s Kadyrov shifts…"
    assert seeds_bot.title("003_58ec4efac89fea89.txt").endswith("to bring…"), "each length is kept apart"


def test_a_changed_file_shows_its_new_title_after_a_refresh(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# Harbour report\n\nThe harbour froze in 1963.\n", encoding="utf-8")
    bot = Chatbot.from_folder(folder, index_dir=tmp_path / "index")
    assert bot.title("a.md") == "Harbour report"
    (folder / "a.md").write_text("# Winter of 1963\n\nThe harbour froze in 1963.\n", encoding="utf-8")
    bot.refresh()
    assert bot.title("a.md") == "Winter of 1963"


def test_a_file_that_cannot_be_read_stays_in_the_index_as_it_was(seeds_copy, tmp_path, monkeypatch, caplog):
    import os

    bot = Chatbot.from_folder(seeds_copy, index_dir=tmp_path / "index")
    locked = sorted(bot.documents)[0]
    chunks = bot.documents[locked]
    (seeds_copy / "new.md").write_text("The harbour froze solid in January 1963.\n", encoding="utf-8")
    real_open = os.open

    def refusing_open(path, *args, **kwargs):  # chmod does not lock root out, so the refusal is simulated
        if os.path.basename(os.fspath(path)) == locked:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    with caplog.at_level("WARNING"):
        report = bot.refresh()
    assert (report.added, report.removed, report.unchanged) == (["new.md"], [], 5)
    assert bot.documents[locked] == chunks
    assert [r.getMessage() for r in caplog.records if locked in r.getMessage()] == [
        f"skipping {locked}: cannot read it (Permission denied)",
        f"{locked} stays in the index as it was last read; index again once it can be read",
    ]
    reopened = Chatbot.from_folder(seeds_copy, index_dir=tmp_path / "index")
    assert reopened.documents[locked] == chunks

    monkeypatch.undo()
    (seeds_copy / locked).unlink()
    assert bot.refresh().removed == [locked], "a file that is gone is removed"


def test_top_k_per_question_leaves_the_bot_default_alone(seeds_bot):
    assert len(seeds_bot.ask(QUESTION, top_k=2).hits) == 2
    assert len(seeds_bot.ask(QUESTION).hits) == seeds_bot.top_k == 5
    stream = seeds_bot.stream(QUESTION, top_k=3)
    list(stream)
    assert len(stream.answer.hits) == 3


def test_a_chatbot_used_as_a_context_manager_closes_its_index(tmp_path):
    with Chatbot.from_documents([Document(id="a.txt", text="Kettles boil water.")], tmp_path / "idx") as bot:
        assert bot.ask("What do kettles boil?").citations
    with pytest.raises(RagError, match=r"idx was closed. Open it again to ask more."):
        bot.retrieve("kettles")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda d: Chatbot.from_documents(["hello"], d), "must be rag.Document records, not str"),
        (lambda d: Chatbot.from_documents([Document(id=1, text="x")], d), "Document's id must be text, not int"),
        (lambda d: Chatbot.from_documents([Document(id="a.txt", text=b"x")], d), "text must be text, not bytes"),
        (lambda d: Chatbot.from_folder(None, d), "The folder must be a path, not NoneType"),
    ],
)
def test_wrong_argument_types_are_rag_errors_that_say_what_to_pass(tmp_path, build, message):
    with pytest.raises(RagError, match=message):
        build(tmp_path / "index")


@pytest.mark.parametrize(
    ("message", "fault"),
    [({"role": "user"}, "text content"), ({"content": "hi"}, "role"), ({"role": "user", "content": 3}, "text content")],
)
def test_a_history_message_without_a_role_or_content_is_named(seeds_bot, message, fault):
    history = [{"role": "user", "content": "Who is Harold Chambers?"}, message]
    with pytest.raises(RagError, match=f"^History message 2 has no {fault}: history must be a list"):
        seeds_bot.ask("Which magazine did he write in?", history=history)


def test_history_content_given_as_text_parts_is_read_as_its_text(seeds_bot):
    first = "How many prisoners were exchanged on February 5?"
    parts = [{"role": "user", "content": [{"type": "text", "text": first}, {"type": "file", "path": "x.png"}]}]
    answer = seeds_bot.ask("How many of them were civilians?", history=parts)
    assert "150 soldiers and seven civilians" in answer.text


@pytest.mark.parametrize("history", ["hello", {"role": "user", "content": "hi"}, ["hi"]])
def test_a_history_that_is_not_a_list_of_messages_is_a_rag_error(seeds_bot, history):
    with pytest.raises(RagError, match=r"history must be a list of \{'role'"):
        seeds_bot.ask("Which magazine did he write in?", history=history)


def test_a_long_follow_up_to_a_long_question_is_answered_not_refused_for_their_joint_length(seeds_bot):
    # Both are within the limit; only together, as the follow-up is searched, are they over it.
    previous = "Who commands the Akhmat unit? " + "Please be precise about the names. " * 80
    question = "What did he say about " + "the prisoners " * 200
    history = [{"role": "user", "content": previous}, {"role": "assistant", "content": "Apti Alaudinov. [1]"}]
    answer = seeds_bot.ask(question, history)
    assert answer.hits


def test_a_follow_up_near_the_length_limit_is_answered_as_asked_when_naming_the_person_would_pass_it(seeds_bot):
    history = [
        {"role": "user", "content": "Who commands the Akhmat unit?"},
        {"role": "assistant", "content": "Alaudinov commands the Akhmat special forces unit. [1]"},
    ]
    question = "What did he say about the prisoners? " + "Please be precise. " * 208 + "Thank you."
    assert len(question) == 3999  # "Alaudinov" for "he" would make it 4,006
    answer = seeds_bot.ask(question, history)
    assert answer.understood_as is None and answer.hits
    assert seeds_bot.ask("What did he say about the prisoners?", history).understood_as == (
        "What did Alaudinov say about the prisoners?"
    )


def test_the_sentence_that_names_what_was_asked_leads_the_answer(seeds_bot):
    # Three Costa sentences are chosen; the one naming the Serbian leader reads first, not in
    # the article's order (the chat page offers this question as an example).
    answer = seeds_bot.ask("Which Serbian leader did Chris Costa compare Putin to?")
    assert answer.citations[0].quote.startswith("Mr Costa compared Putin to Slobodan Milošević")
    assert len(answer.citations) > 1


def test_a_quote_is_not_cut_from_the_sentence_that_qualifies_it(seeds_bot):
    answer = seeds_bot.ask("Is Putin sick?")
    quotes = [c.quote for c in answer.citations]
    assert quotes[0].endswith("I saw that Putin is already out of it.")
    assert quotes[1].startswith("Not in a medical sense but in political terms")


def test_a_sentence_opening_with_this_stands_alone(seeds_bot):
    # "This came after ... Fomin said ..." points at an event; the sentence before it, a quote
    # about brutality, would lead the answer to who said it.
    answer = seeds_bot.ask("Who said Russia would scale back operations near Kyiv?")
    assert answer.citations[0].quote.startswith("This came after Russia’s deputy defense minister Alexander Fomin")
