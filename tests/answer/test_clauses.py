"""The shorter claims inside a written sentence (``rag.answer.clauses``): exact cuts, and the
cuts not made because they could change what the sentence asserts."""

from __future__ import annotations

import pytest

from rag.answer.clauses import coordinated_clauses, without_non_restrictive


@pytest.mark.parametrize(
    "sentence, cut",
    [
        (
            "The newspaper cited the Financial Times, which is a Russian news outlet, as the source.",
            "The newspaper cited the Financial Times as the source.",
        ),
        ("Kadyrov, who rules Chechnya, said 20 soldiers returned.", "Kadyrov said 20 soldiers returned."),
        ("The talks were in Istanbul, where Erdogan hosted them.", "The talks were in Istanbul."),
        ("Putin wants a success by Victory Day, which is on May 9", "Putin wants a success by Victory Day"),
        # a comma inside a number does not end the clause
        ("Russia, which had captured 1,200 soldiers, returned them on Friday.", "Russia returned them on Friday."),
        ("He lives in Washington, D.C., which has 700,000 residents.", "He lives in Washington, D.C."),
    ],
)
def test_a_non_restrictive_clause_is_cut(sentence, cut):
    assert without_non_restrictive(sentence) == cut


@pytest.mark.parametrize(
    "sentence",
    [
        "The soldiers who returned were Chechens.",  # restrictive: it says which soldiers
        "20 Chechen soldiers were returned to Russia, which Ukrainian officials have firmly denied.",
        "20 soldiers were returned, which is not what Kyiv said.",
        'He moved to Paris, where he said, "I am free," and stayed.',  # a quotation is one claim
        "A plain sentence.",
        "",
    ],
)
def test_no_cut_where_it_could_change_what_is_asserted(sentence):
    assert without_non_restrictive(sentence) == sentence


@pytest.mark.parametrize(
    "sentence, clauses",
    [
        (
            "The Telegram message is in Turkish, and the answer is Turkey.",
            ["The Telegram message is in Turkish.", "The answer is Turkey."],
        ),
        ("He met Putin, and he left early; the talks never ended!", ["He met Putin!", "He left early!"]),  # "never"
        ("Russia and Ukraine exchanged 314 prisoners.", ["Russia and Ukraine exchanged 314 prisoners."]),
    ],
)
def test_coordinated_clauses_are_each_a_sentence_less_those_that_negate(sentence, clauses):
    assert coordinated_clauses(sentence) == clauses


@pytest.mark.parametrize(
    "sentence",
    [
        "Not 20, but 30 Chechen soldiers were returned to Russia.",  # ", but" is never cut
        "The prisoners came from Kharkiv, Sumy, and Donetsk.",  # a list
        "He arrived at 9 a.m., and left at 5 p.m.",  # the second has no subject of its own
        "The article mentions that talks stalled, and that the Kremlin was angered.",  # both what it mentions
        'Zelensky said, "No, 20 soldiers were not returned, and the rest were conscripts."',
    ],
)
def test_no_split_where_it_could_change_what_is_asserted(sentence):
    assert coordinated_clauses(sentence) == [sentence]
