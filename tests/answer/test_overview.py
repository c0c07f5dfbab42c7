"""Overview questions: answered with each document's most central sentences, cited."""

import pytest

from rag import Chatbot, Document
from rag.answer.overview import OverviewRequest, central_sentences, overview_request
from tests.conftest import SEEDS
from tests.test_chatbot import quote_is_verbatim_at_its_lines


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("What are these articles about?", ""),
        ("what is this folder about", ""),
        ("tl;dr", ""),
        ("Summarize the article about Kadyrov", "Kadyrov"),
        ("Please give me a brief summary of the prisoner swap.", "prisoner swap"),
        ("Summarise these documents for me", ""),
        ("An overview of Kasyanov's criticism?", "Kasyanov's criticism"),
        ("What is the main article about?", ""),
        ("What is the first article about?", ""),
        ("What's the article mostly about??", ""),
        ("Summarize everything", ""),
        ("What do the articles say?", ""),
        ("What does the article about Kadyrov say?", "Kadyrov"),
    ],
)
def test_overview_questions_and_their_topic(question, topic):
    assert overview_request(question) == OverviewRequest(topic)


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("What is the Meduza article about?", "Meduza"),
        ("what's the Moscow Times story about", "Moscow Times"),
        ("Summarise the Moscow Times article", "Moscow Times"),
        ("What does the Moscow Times article say?", "Moscow Times"),
        ("what does the Meduza story tell us?", "Meduza"),
    ],
)
def test_overview_questions_that_name_a_document(question, topic):
    assert overview_request(question) == OverviewRequest(topic, names_document=True)


@pytest.mark.parametrize(
    "question",
    [
        "What do the documents say about Putin's health?",
        "Who summarized the report?",
        "How many prisoners were exchanged?",
        "What is the summary judgment procedure?",
        "What is the Meduza article's view of Kadyrov?",
        "What is the war in the story about?",
        "What does Putin say?",
        "What does the report say about the swap?",
    ],
)
def test_other_questions_are_not_overviews(question):
    assert overview_request(question) is None


class _Statistics:
    """Every term in one chunk of ten: all words weigh the same."""

    chunk_count = 10

    def document_frequencies(self, terms):
        return {t: 1 for t in terms}


def test_the_central_sentences_are_the_ones_sharing_most_with_the_document():
    text = (
        "Kettle News\n\n"
        "We use cookies to improve your experience on this website and to show adverts. "
        "The town council voted to repair the old bridge over the river next spring. "
        "The bridge repair will close the river road for three months, the council said. "
        "Short one. "
        "Residents asked the council to keep the river footpath open during the bridge repair."
    )
    spans = central_sentences(text, 2, _Statistics())
    assert [text[start:end] for start, end in spans] == [
        "The town council voted to repair the old bridge over the river next spring.",
        "Residents asked the council to keep the river footpath open during the bridge repair.",
    ]
    # The cookie notice comes last; the heading and "Short one." are never quoted.
    assert len(central_sentences(text, 9, _Statistics())) == 4
    assert text[slice(*central_sentences(text, 4, _Statistics())[0])].startswith("We use cookies")
    assert text[slice(*central_sentences(text, 3, _Statistics())[0])].startswith("The town council")
    # Restricted to a range, only its sentences compete.
    (only,) = central_sentences(text, 3, _Statistics(), [(text.index("The bridge"), text.index("Residents"))])
    assert text[only[0] : only[1]] == "The bridge repair will close the river road for three months, the council said."


def test_what_the_articles_are_about_is_one_cited_sentence_from_each(seeds_bot):
    answer = seeds_bot.ask("What are these articles about?")
    assert not answer.abstained
    assert [c.source for c in answer.citations] == sorted(p.name for p in SEEDS.iterdir())
    # One line per document, each ending with its citation.
    assert [line[-3:] for line in answer.text.split("\n\n")] == ["[1]", "[2]", "[3]", "[4]", "[5]"]
    assert all(quote_is_verbatim_at_its_lines(c) for c in answer.citations)
    assert all(check.supported for check in answer.checks)
    # Boilerplate is not what an article is about.
    assert "sign-up" not in answer.text
    assert "recent reports suggest a rift has emerged between Chechen leader Ramzan Kadyrov" in answer.text


def test_a_summary_of_a_topic_comes_from_the_document_about_it(seeds_bot):
    answer = seeds_bot.ask("Give me a summary of the prisoner swap")
    assert {c.source for c in answer.citations} == {"003_58ec4efac89fea89.txt"}
    assert len(answer.citations) == 3
    assert "completed their first prisoner swap in months on February 5" in " ".join(answer.text.split())
    assert all(quote_is_verbatim_at_its_lines(c) for c in answer.citations)


def test_a_summary_of_something_the_documents_do_not_cover_is_refused(seeds_bot):
    assert seeds_bot.ask("Summarize the article about the FIFA World Cup").abstained


def test_an_overview_of_many_documents_says_how_many_it_left_out(tmp_path):
    documents = [
        Document(id=f"note{n:02d}.txt", text=f"Note {n}.\n\nThe kettle number {n} was bought in Leeds in the spring.")
        for n in range(10)
    ]
    answer = Chatbot.from_documents(documents, tmp_path / "idx").ask("What are these notes about?")
    assert [c.source for c in answer.citations] == [f"note{n:02d}.txt" for n in range(8)]
    assert answer.text.endswith("[8]\n\n(2 more documents are not summarised here; ask about one by name.)")
    assert answer.citations[0].quote == "The kettle number 0 was bought in Leeds in the spring."
    assert answer.citations[0].start_line == 3


def test_a_document_of_short_sentences_is_summarised_not_left_out(tmp_path):
    documents = [
        Document("festival.md", "# Festival\n\nThe **annual harbour festival** opens with fireworks over the water.\n"),
        Document(
            "lighthouse.txt",
            "The lighthouse\n\nIngrid Solberg keeps the lighthouse. She has worked there since 2001.\n",
        ),
    ]
    answer = Chatbot.from_documents(documents, tmp_path / "idx").ask("What are these documents about?")
    assert [c.source for c in answer.citations] == ["festival.md", "lighthouse.txt"]
    assert answer.citations[1].quote == "Ingrid Solberg keeps the lighthouse."
    # Markdown's marks stay in the quote, not in the answer, as in any answer.
    assert answer.citations[0].quote == "The **annual harbour festival** opens with fireworks over the water."
    assert answer.text.startswith("The annual harbour festival opens with fireworks over the water. [1]\n\n")


def test_an_article_named_by_its_outlet_is_the_one_whose_heading_names_it(seeds_bot):
    # "Moscow" and "Times" are both in the Financial Times article; only one heading says
    # "The Moscow Times", and that article is summarised whole, not its sentences on Moscow.
    answer = seeds_bot.ask("Summarise the Moscow Times article")
    assert {c.source for c in answer.citations} == {"001_7766d24d19bfa5ea.txt"}
    assert "a rift has emerged between Chechen leader Ramzan Kadyrov and President Vladimir Putin" in answer.text
    assert all(quote_is_verbatim_at_its_lines(c) for c in answer.citations)


def test_what_an_article_named_by_its_outlet_is_about_is_its_substance_not_its_masthead(seeds_bot):
    answer = seeds_bot.ask("What is the Meduza article about?")
    assert {c.source for c in answer.citations} == {"003_58ec4efac89fea89.txt"}
    assert "currently reading Meduza" not in answer.text
    assert min(c.start_line for c in answer.citations) > 10  # past the masthead, into the reporting
    assert "the returned Chechen soldiers were members of the Akhmat special forces unit" in answer.text


def test_a_topic_in_an_articles_opening_paragraph_is_not_its_heading(seeds_bot):
    # "security services" is in the first lines of 000, as body text, not as a title: the
    # summary comes from the passages on the topic.
    answer = seeds_bot.ask("Summarise the security services")
    assert {c.source for c in answer.citations} == {"002_16c963fab6cf1b6f.txt"}
    assert "more pressure on Putin than the military services" in answer.text


def test_an_article_named_by_an_outlet_that_is_not_here_is_refused(seeds_bot):
    # "Express" is not named anywhere; "expressed doubts" is a different word.
    assert seeds_bot.ask("What is the Express article about?").abstained
