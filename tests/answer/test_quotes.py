"""How a quote reads: its ending, a pronoun or a qualifier at its start, and the quote as an
answer shows it."""

from __future__ import annotations

import pytest

from rag.answer.citations import split_cited_sentences
from rag.answer.quotes import cited_quote, ends_like_a_sentence, opens_by_qualifying, opens_with_pronoun


@pytest.mark.parametrize(
    ("text", "ends"),
    [("It ended.", True), ("“It ended!”", True), ("Was it? ", True), ("And then…", True), ("Staff", False)],
)
def test_a_sentence_ends_with_its_mark_closing_quotes_aside(text, ends):
    assert ends_like_a_sentence(text) is ends


@pytest.mark.parametrize(
    ("sentence", "leans"),
    [
        ("He was especially outraged by the sinking of the cruiser Moscow.", True),
        ("These include the defence minister and the chief of staff.", True),
        ("“They rebuilt it,” he said.", True),
        ("This is the third exchange this year.", False),  # "this" points at an event it names
        ("Hezbollah denied it.", False),  # "he" inside a word
    ],
)
def test_a_sentence_opening_with_a_pronoun_leans_on_the_one_before(sentence, leans):
    assert opens_with_pronoun(sentence) is leans


@pytest.mark.parametrize(
    ("sentence", "qualifies"),
    [
        ("Not in a medical sense but in political terms.”", True),
        ("However, the talks went on.", True),
        ("Nothing came of it.", False),
    ],
)
def test_a_sentence_opening_with_a_qualifier_qualifies_the_one_before(sentence, qualifies):
    assert opens_by_qualifying(sentence) is qualifies


def test_a_quote_that_ends_without_a_full_stop_stays_its_own_sentence():
    text = " ".join(
        [cited_quote("Regional Autonomy Increased independence from Moscow", 1), cited_quote("It ended.", 2)]
    )
    assert text == "Regional Autonomy Increased independence from Moscow [1]. It ended. [2]"
    assert [s.markers for s in split_cited_sentences(text)] == [(1,), (2,)]


@pytest.mark.parametrize(
    ("quote", "shown"),
    [
        ("| Lisbon | 40 |", "Lisbon 40 [2]."),
        ("## Staff", "Staff [2]."),
        ("• Strategic alliances: he may seek allies.", "Strategic alliances: he may seek allies. [2]"),
        ("- The **Lisbon** office opened in 1999.", "The Lisbon office opened in 1999. [2]"),
        ("It is 300 metres tall.[12]", "It is 300 metres tall. [2]"),  # the document's own footnote
    ],
)
def test_markdown_marks_and_footnotes_are_left_out_of_the_answer(quote, shown):
    assert cited_quote(quote, 2) == shown
