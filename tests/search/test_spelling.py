"""Names spelt otherwise than the index spells them are read its way, and the answer says so."""

import pytest

from rag.language.analysis import stem_all
from rag.search.spelling import one_edit, respell


class _Index:
    """Term statistics over a handful of words, each in ``counts[word]`` chunks."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.frequencies = {stem_all([word])[0]: n for word, n in counts.items()}
        self.chunk_count = 100

    def document_frequencies(self, terms):
        return {t: self.frequencies.get(t, 0) for t in terms}


ENGLISH = {"poisoned", "anyone", "prisoners"}
INDEX = _Index({"kadyrov": 5, "kadyrova": 1, "zelensky": 3, "prison": 4, "kremlin": 9, "putin": 9, "said": 9})


def knows(word: str) -> bool:
    return word in ENGLISH


def test_one_edit_leaves_out_adds_or_swaps_a_letter_and_changes_one_only_when_asked():
    assert {"kadyrov", "kadrov", "kadryova"} <= one_edit("kadryov")
    assert "kadyrov" not in one_edit("kadirov")
    assert "kadyrov" in one_edit("kadirov", change=True)
    assert "kadryov" not in one_edit("kadryov")
    # 3 left out, 2 swapped, 26 x 4 added less 3 alike ("aabc" twice, ...); 25 x 3 changed.
    assert len(one_edit("abc")) == 3 + 2 + 101
    assert len(one_edit("abc", change=True)) == 3 + 2 + 101 + 75


@pytest.mark.parametrize(
    ("question", "read_as"),
    [
        ("What did Kadryov say?", "What did Kadyrov say?"),  # two letters swapped
        ("Who is Zelenskyy?", "Who is Zelensky?"),  # one added
        ("What did Kadirov say?", "What did Kadyrov say?"),  # one changed, in a name
        ("what did kadryov say?", "what did kadryov say?"),  # a lower-case word is left as written
        ("Did the Kremilin say so?", "Did the Kremlin say so?"),
        ("Was anyone poisoned?", "Was anyone poisoned?"),  # an English word: a paraphrase, not a slip
        ("Did Putn say so?", "Did Putn say so?"),  # too short to guess
        ("What did Kadyrov say?", "What did Kadyrov say?"),  # the index knows it
    ],
)
def test_a_word_the_index_lacks_is_respelt_as_the_index_spells_it(question, read_as):
    assert respell(question, INDEX, knows) == read_as


def test_of_several_spellings_one_edit_away_the_most_frequent_wins():
    assert respell("Kadyrovv", INDEX, knows) == "Kadyrov"  # 5 chunks against "Kadyrova"'s 1
    assert respell("Kadyrovv", _Index({"kadyrov": 1, "kadyrova": 5}), knows) == "Kadyrova"


def test_a_misspelt_name_is_answered_and_the_answer_says_how_it_was_read(seeds_bot):
    answer = seeds_bot.ask("What did Kadryov say about prisoners?")
    assert not answer.abstained
    assert answer.understood_as == "What did Kadyrov say about prisoners?"
    assert answer.question == "What did Kadryov say about prisoners?"
    assert {c.source for c in answer.citations} == {"003_58ec4efac89fea89.txt"}
    # The article's own misspelling ("Medisnky") is found from the usual one.
    medinsky = seeds_bot.ask("Who is Medinsky?")
    assert "chief negotiator Vladimir Medisnky" in medinsky.text
    assert medinsky.understood_as == "Who is Medisnky?"
