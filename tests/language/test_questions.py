"""What a question asks: its type, the names it gives, what it counts, its terms' relatives,
and whether a sentence holds the kind of thing asked for. Each rule is checked on the example
that motivated it; none needs an index."""

from __future__ import annotations

import pytest

from rag.language.lexicon import load_lexicon
from rag.language.patterns import DATE_RE, NUMBER_RE, PLACE_NAME_RE, YEAR_RE
from rag.language.questions import (
    analyse_question,
    capitalised_runs,
    counted_terms,
    has_answer_type,
    people,
    question_type,
    related_terms,
    surnames,
    things_of_kind,
)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many prisoners were exchanged on February 5?", "number"),
        ("how long can someone be jailed for it", "number"),
        ("number of players in the nfl", "number"),
        ("When did the first chucky movie come out?", "date"),
        ("On what day of the week did he record the message?", "date"),
        ("Which top American diplomat said that?", "person"),
        ("who has played chad dimera", "person"),
        ("In which Russian region were they seized?", "place"),
        ("Where did Zelensky hold the briefing?", "place"),
        # an origin, which a story may answer as well as a place
        ("where does the term cherry picker come from", None),
        ("where does the bronx get its name from", None),
        ("where did harvey originate", None),
        ("where does the cedar river begin and end", "place"),
        ("Which news agency interviewed him?", "name"),
        ("The loss of which Russian warship enraged Putin?", "name"),
        ("How did the insiders who spoke to Bloomberg describe the war?", None),  # "who" is relative
        ("what is the role of the prime minister in canada", None),
        ("Which specific Middle Eastern country did he talk to?", "place"),
        # not opened by a wh-word: the last one that asks for a kind of thing decides
        ("According to Antonov, the troops should go back to where they were before which date?", "date"),
        ("In spring 2023, how many captives did he decline to see?", "number"),
    ],
)
def test_the_opening_wh_word_decides_the_question_type(question, kind):
    assert question_type(question) == kind


def test_answer_type_wants_something_the_question_does_not_already_say():
    question = "How many prisoners did Russia release on February 5?"
    assert has_answer_type("number", "Russia released 150 prisoners.", question)
    assert not has_answer_type("number", "Prisoners were released on February 5.", question)
    assert has_answer_type("person", "The talks were led by Vladimir Medinsky.", "Who led the talks?")
    assert has_answer_type("name", "He spoke to AFP about it.", "Which agency did Kasyanov speak to?")
    assert not has_answer_type(None, "Anything at all, 1999.", "Why?")


def test_a_title_or_a_place_is_not_the_name_of_an_agency_or_a_newspaper():
    lexicon = load_lexicon()
    question = "Which news agency interviewed Putin's former prime minister Mikhail Kasyanov?"
    biography = (
        "Mikhail Kasyanov, Russia's prime minister from 2000-2004, previously worked closely with Putin, "
        "and served during his first stint as President."
    )
    assert things_of_kind("name", biography, lexicon) == ["Kasyanov", "Putin"]
    assert not has_answer_type("name", biography, question, lexicon=lexicon)
    assert has_answer_type("name", "His comments were made in an interview with AFP.", question, lexicon=lexicon)
    assert things_of_kind("name", "Zedillo spoke as Mexico's President and to Ukraine’s Prime Minister.") == []
    owners_and_titles = (
        "He met South Korea's envoy, the Netherlands’ minister, the Secretary-General and the Vice-President."
    )
    assert things_of_kind("name", owners_and_titles, lexicon) == []
    # Without WordNet a place cannot be told from a name; titles still can.
    assert things_of_kind("name", biography) == ["Kasyanov", "Russia's", "Putin"]
    # Who-questions are answered by places as often as by people ("Who won?" "Britain.").
    assert "Russia's" in things_of_kind("person", biography, lexicon)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("It ran in The Economist, Politico and The Guardian.", ["The Economist", "Politico", "The Guardian"]),
        (
            "It ran in The Hollywood Reporter, People and The Diplomat.",
            ["The Hollywood Reporter", "People", "The Diplomat"],
        ),
        ("The Kansas City Chiefs met the Los Angeles Kings.", ["Kansas City Chiefs", "Los Angeles Kings"]),
        ("He sold it to MAN and then met Prime Minister Mishustin.", ["MAN", "Prime Minister Mishustin", "MAN"]),
        ("A U-boat sank the Lusitania.", ["U-boat", "Lusitania"]),  # a place alone may name a ship
    ],
)
def test_outlets_teams_firms_and_ships_stay_names(text, names):
    assert things_of_kind("name", text, load_lexicon()) == names


def test_a_year_is_not_a_count_and_a_person_is_not_a_place():
    lexicon = load_lexicon()
    assert not has_answer_type("number", "The soldiers were captured in 2024.", "How many soldiers died?")
    assert has_answer_type("number", "He was jailed in 2006.", "In what year was he jailed?")
    # An age is a count of years, which a calendar year gives only as a year of birth.
    assert not has_answer_type("number", "He spoke in September 2024.", "How old is he?")
    assert has_answer_type("number", "He was born in 1976.", "How old is he?")
    assert has_answer_type("number", "He is 47 years old.", "How old is he?")
    assert has_answer_type(
        "place", "Talks were held near Kyiv and Chernihiv.", "Near which city besides Kyiv?", lexicon=lexicon
    )
    assert not has_answer_type(
        "place", "The talks of Vladimir Putin and Ramzan Kadyrov.", "Which country hosted them?", lexicon=lexicon
    )
    assert has_answer_type("place", "The envoy said Ukraine was ready.", "Which country was ready?", lexicon=lexicon)


@pytest.mark.parametrize(
    "sentence",
    [
        "The talks resumed in April.",  # a month
        "He grew in influence in Russian foreign policy.",  # a nationality
        "Kadyrov spoke about it on Telegram in a voice message.",  # neither is a place
    ],
)
def test_a_name_after_a_preposition_is_a_place_only_if_wordnet_does_not_know_it_as_something_else(sentence):
    assert has_answer_type("place", sentence, "Where did it happen?", lexicon=load_lexicon()) is False


def test_without_the_lexicon_any_name_after_a_preposition_of_place_is_a_place():
    assert has_answer_type("place", "The talks resumed in April.", "Where did it happen?")
    assert not has_answer_type("place", "The envoy said Ukraine was ready.", "Which country was ready?")


@pytest.mark.parametrize(
    ("question", "terms"),
    [
        ("How many prisoners were swapped?", ["prison"]),
        ("In spring 2023, how many freed Chechen captives did he decline to see?", ["freed", "chechen", "captiv"]),
        ("How many anonymous Kremlin insiders talked to Bloomberg?", ["anonym", "kremlin", "insid"]),
        ("How much did it cost?", []),
    ],
)
def test_a_how_many_question_counts_the_words_after_how_many(question, terms):
    assert counted_terms(question) == terms


@pytest.mark.parametrize(
    ("sentence", "counts"),
    [
        ("It freed 314 captives.", True),
        ("Five Chechen POWs were freed.", True),  # a relative of "captives"
        ("It freed 20 Chechen soldiers.", False),  # a number, of something else
        ("On February 5 captives were freed.", False),  # a day of the month, not a count
        ("In 2024 captives were freed.", False),  # a year, not a count
    ],
)
def test_a_count_is_a_number_of_the_thing_counted(sentence, counts):
    assert analyse_question("How many captives were freed?", load_lexicon()).counts(sentence) is counts


def test_the_word_a_how_question_measures_by_gets_no_relatives():
    lexicon = load_lexicon()
    _, related = related_terms("How old is Apti Alaudinov?", lexicon)
    assert related["old"] == ()  # not "worn", whose stem "wear" is in "wearing a sweatshirt"
    _, related = related_terms("Which old ship sank?", lexicon)
    assert ("wear",) in related["old"]


@pytest.mark.parametrize(
    ("text", "runs"),
    [
        ("Mesut Özil scored.", ["Mesut Özil"]),  # any alphabet
        ("Osama bin Laden hid.", ["Osama bin Laden"]),  # a particle inside a name
        ("He met Ursula von der Leyen. Then he left.", ["Ursula von der Leyen"]),
        ("The Kremlin said so.", ["Kremlin"]),  # a function word opening a sentence
        ("Meanwhile Lavrov spoke.", ["Lavrov"]),  # a common word opening a sentence
    ],
)
def test_names_are_runs_of_capitalised_words_less_a_sentences_capitalised_opening(text, runs):
    assert capitalised_runs(text, load_lexicon().knows) == runs


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Apti Alaudinov spoke with Kadyrov on Telegram.", ["Apti Alaudinov", "Kadyrov"]),  # full names first
        ("Fighting in Russia’s Kursk region went on, Kadyrov’s men said.", ["Kadyrov"]),  # places are not people
        ("Chechen leader Ramzan Kadyrov met Putin in Grozny.", ["Ramzan Kadyrov", "Putin"]),  # "Chechen" is a word
    ],
)
def test_people_are_names_that_are_neither_places_nor_words(text, found):
    assert people(text, load_lexicon()) == found


def test_a_full_names_first_terms_point_to_its_surname():
    assert surnames([["harold", "chamber"], ["putin"], ["chris", "costa"]]) == {"harold": "chamber", "chris": "costa"}
    q = analyse_question("Did Harold Chambers write for UnHerd?")
    assert q.names == [["harold", "chamber"], ["unherd"]] and q.surnames == {"harold": "chamber"}


@pytest.mark.parametrize(
    ("text", "years"),
    [("in 1192", True), ("in 1999", True), ("in 2024", True), ("314", False), ("2150", False), ("999", False)],
)
def test_one_pattern_says_what_a_year_is_for_dates_and_for_counts(text, years):
    number = NUMBER_RE.findall(text)[0]
    assert bool(YEAR_RE.match(number)) is years
    assert bool(DATE_RE.search(text)) is years


def test_a_name_after_to_may_be_a_person_but_after_in_a_place():
    assert [n for pair in PLACE_NAME_RE.findall("He spoke to Putin in Grozny.") for n in pair if n] == ["Grozny"]
