"""The shorter claims inside a written sentence (``rag.answer.clauses``): exact cuts."""

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
        ("The soldiers who returned were Chechens.", "The soldiers who returned were Chechens."),  # restrictive
        ("A plain sentence.", "A plain sentence."),
    ],
)
def test_a_non_restrictive_clause_is_cut_and_a_restrictive_one_kept(sentence, cut):
    assert without_non_restrictive(sentence) == cut


@pytest.mark.parametrize(
    "sentence, clauses",
    [
        (
            "The Telegram message is in Turkish, and the answer is Turkey.",
            ["The Telegram message is in Turkish.", "The answer is Turkey."],
        ),
        ("He met Putin, but he left early; nobody knew why!", ["He met Putin!", "He left early!", "Nobody knew why!"]),
        ("Russia and Ukraine exchanged 314 prisoners.", ["Russia and Ukraine exchanged 314 prisoners."]),  # no comma
    ],
)
def test_coordinated_clauses_are_each_a_sentence(sentence, clauses):
    assert coordinated_clauses(sentence) == clauses
