"""Questions that ask what a name is, and the sentences that say it."""

from __future__ import annotations

import pytest

from rag import Chatbot, Document
from rag.answer.definitions import defined_name, describes
from rag.language.lexicon import load_lexicon


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("Who is Kadyrov?", "Kadyrov"),
        ("who was Ramzan Kadyrov", "Ramzan Kadyrov"),
        ("What is Grozny Inform?", "Grozny Inform"),
        ("Who is the Russian envoy in Washington?", None),  # wants a name, not a description
        ("Who is Kadyrov meeting?", None),
        ("who is jamie in halloween 4", None),
    ],
)
def test_a_definition_question_is_one_that_asks_what_a_name_is(question, name):
    assert defined_name(question) == name


@pytest.mark.parametrize(
    ("sentence", "name", "expected"),
    [
        ("This comes at a time when Kadyrov, the head of Chechnya, has been vocal.", "Kadyrov", True),
        ("Mikhail Kasyanov, Russia’s prime minister from 2000-2004, worked with Putin.", "Kasyanov", True),
        ("The talks between Chechen leader Ramzan Kadyrov and Moscow stalled.", "Ramzan Kadyrov", True),
        ("In an interview with the government-run news agency Grozny Inform, he spoke.", "Grozny Inform", True),
        ("Russian Foreign Minister Sergei Lavrov was not willing to agree.", "Lavrov", True),
        ("In September, the unit’s commander, Apti Alaudinov, said so.", "Apti Alaudinov", True),
        ("According to Chambers, Kadyrov’s rule was brutal.", "Chambers", False),  # a source, then the report
        ("In his speech, Kadyrov said he would not surrender.", "Kadyrov", False),
        ("“We will win,” says Kadyrov.", "Kadyrov", False),
        ("It could challenge Putin’s control.", "Putin", False),
        ("Relations Between Putin and Kadyrov Sour Over Secret Talks", "Putin", False),
        ("Kadyrov announced that he would not meet them.", "Kadyrov", False),
    ],
)
def test_a_sentence_describes_a_name_beside_it_or_by_a_title_before_it(sentence, name, expected):
    assert describes(sentence, name, load_lexicon()) is expected


def test_who_is_asks_get_the_sentence_that_says_who(tmp_path):
    text = (
        "Kadyrov announced on Monday that talks had stalled. "
        "Kadyrov said the talks would not go on. "
        "The delay angered Moscow, and Kadyrov, the head of Chechnya, left the meeting early."
    )
    bot = Chatbot.from_documents([Document("news", text)], index_dir=tmp_path)
    answer = bot.ask("Who is Kadyrov?")
    assert not answer.abstained
    assert [c.quote for c in answer.citations] == [
        "The delay angered Moscow, and Kadyrov, the head of Chechnya, left the meeting early."
    ]
