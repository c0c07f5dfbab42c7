"""The strict support check for written text (``rag.answer.support``): a claim holds only when
its numbers, dates, names and speakers stand in the supporting sentence(s) in the same
relation. Each rule is tested on several cases; the passages are sentences of the seeds."""

from __future__ import annotations

import pytest

from rag.answer.citations import LexicalJudge
from rag.answer.support import Figure, StrictJudge, figures_of, speakers_of, statement_of, strict

EXCHANGE = (
    "After Russia and Ukraine completed their first prisoner swap in months on February 5, he reported that "
    "20 Chechen soldiers were included in the exchange. The post included a video of several soldiers. "
    "The February 5 exchange included 314 prisoners (157 from each side). According to the Russian "
    "investigative outlet Agentstvo, the returned Chechen soldiers were members of the Akhmat special forces "
    "unit captured during Ukraine’s 2024 incursion in Russia’s Kursk region."
)
BEFORE = "Chechnya’s leader Ramzan Kadyrov has softened his stance on prisoners of war. "
TALKS = (
    "Kadyrov, an ally of Vladimir Putin, said he did not think the peace talks would lead anywhere. "
    "However, US Secretary of State Antony Blinken said the US had not seen any evidence that peace talks "
    "between Ukraine and Russia were progressing in a constructive way. This came after Russia’s deputy "
    "defense minister Alexander Fomin said Moscow had decided to scale back operations near Kyiv."
)
PASSAGE = BEFORE + EXCHANGE


def supported(claim: str, passage: str = PASSAGE) -> bool:
    judge = StrictJudge()
    return judge.support(claim, passage) >= judge.threshold


@pytest.mark.parametrize(
    "claim",
    [
        "The February 5 exchange included 314 prisoners.",
        "20 Chechen soldiers were included in the exchange.",
        "Twenty Chechen soldiers were included in the exchange.",
        "Russia and Ukraine completed a prisoner swap on February 5 that included 20 Chechen soldiers.",
        "The February 5 exchange included 314 prisoners exchanged 157 from each side.",
    ],
)
def test_a_number_counting_the_same_thing_is_supported(claim):
    assert supported(claim)


@pytest.mark.parametrize(
    "claim",
    [
        "The February 5 exchange included 20 prisoners.",  # 20 counts Chechen soldiers
        "314 Chechen soldiers were included in the exchange.",  # 314 counts prisoners
        "20 Chechen prisoners were included in the exchange.",
    ],
)
def test_a_number_moved_to_another_thing_or_invented_is_not(claim):
    assert LexicalJudge().support(claim, PASSAGE) >= LexicalJudge.threshold  # the word count lets it through
    assert not supported(claim)


@pytest.mark.parametrize(
    "claim",
    [
        "The February 5 exchange included 390 prisoners.",
        "The February 5 exchange included 314 prisoners and 30 civilians.",
        "Russia and Ukraine completed a prisoner swap that included 200 Chechen soldiers.",
    ],
)
def test_a_number_the_passage_lacks_is_not_supported(claim):
    assert not supported(claim)


@pytest.mark.parametrize(
    "claim",
    [
        "The February 6 exchange included 314 prisoners.",
        "The March 5 exchange included 314 prisoners.",
        "The returned Chechen soldiers were captured during the 2023 incursion in the Kursk region.",
    ],
)
def test_a_date_the_sentence_does_not_state_is_not_supported(claim):
    assert not supported(claim)


def test_each_surname_in_a_sentence_is_read_with_the_sentence_that_names_that_person_in_full():
    passage = (
        "Pavel Novak, a Prague lawyer, arrived in Brno on Monday. Josef Kraus, a security analyst, came later. "
        "The weather was fine. Kraus met Novak at the station."
    )
    question = "Whom did the security analyst meet at the station in Brno?"
    # Kraus is named in full nearer, Novak further back: each surname finds its own sentence
    assert judged(question, "Kraus met Pavel Novak, a Prague lawyer, at the station.", passage)
    assert not judged(question, "Kraus met Pavel Novak, a Vienna lawyer, at the station.", passage)


@pytest.mark.parametrize(
    "claim, holds",
    [
        ("Kadyrov reported that 20 Chechen soldiers were included in the exchange.", True),  # "he reported"
        ("According to Agentstvo, the returned Chechen soldiers were members of the Akhmat unit.", True),
        ("Agentstvo said the returned Chechen soldiers were members of the Akhmat special forces unit.", True),
        ("Kadyrov said the returned Chechen soldiers were members of the Akhmat special forces unit.", False),
        ("Agentstvo reported that 20 Chechen soldiers were included in the exchange.", False),
        ("Kadyrov said the February 5 exchange included 314 prisoners.", False),  # nobody says it
    ],
)
def test_a_statement_is_supported_only_in_its_speakers_mouth(claim, holds):
    assert supported(claim) is holds


@pytest.mark.parametrize(
    "claim, holds",
    [
        ("Blinken said the US had not seen any evidence that peace talks were progressing.", True),
        ("Antony Blinken said the US had not seen evidence that the talks were progressing.", True),
        ("Kadyrov said the US had not seen any evidence that peace talks were progressing.", False),
        ("Putin said the US had not seen any evidence that peace talks were progressing.", False),
        ("Fomin said Moscow had decided to scale back operations near Kyiv.", True),
        ("Blinken said Moscow had decided to scale back operations near Kyiv.", False),
    ],
)
def test_a_person_named_elsewhere_in_the_passage_is_not_the_speaker(claim, holds):
    assert supported(claim, TALKS) is holds


@pytest.mark.parametrize(
    "claim",
    [
        "Ukraine and Poland exchanged 314 prisoners on February 5.",
        "The returned Chechen soldiers were members of the Wagner unit.",
    ],
)
def test_a_name_the_sentences_do_not_hold_is_not_supported(claim):
    assert not supported(claim)


@pytest.mark.parametrize(
    "claim",
    [
        "Kadyrov’s Akhmat special forces unit softened his stance on prisoners of war.",
        "The Akhmat special forces unit included 314 prisoners.",
        "Ramzan Kadyrov softened his stance after the February 5 exchange of 314 prisoners.",
    ],
)
def test_words_scattered_over_the_passage_do_not_support_a_claim(claim):
    # Every word is in the passage, spread over sentences that do not lean on one another.
    assert LexicalJudge().support(claim, PASSAGE) >= LexicalJudge.threshold
    assert not supported(claim)


def test_a_sentence_that_leans_on_the_one_before_is_read_with_it():
    passage = "Ramzan Kadyrov leads Chechnya. He has softened his stance on prisoners of war."
    span = StrictJudge().best_span("Ramzan Kadyrov has softened his stance on prisoners of war.", passage)
    assert (span.start, span.end) == (0, len(passage))


def test_the_best_span_is_the_supporting_sentence():
    span = StrictJudge().best_span("The February 5 exchange included 314 prisoners.", PASSAGE)
    assert PASSAGE[span.start : span.end] == "The February 5 exchange included 314 prisoners (157 from each side)."
    assert span.score == 1.0


def test_what_a_sentence_states():
    assert figures_of("The exchange included 314 prisoners (157 from each side) on February 5, 2024.") == (
        Figure("314", frozenset({"prison"})),
        Figure("157", frozenset()),
    )
    stated = statement_of("Kadyrov may say that 20 soldiers returned in May.")
    assert stated.dates == frozenset({"may"})  # the month, not the verb
    assert stated.figures == (Figure("20", frozenset({"soldier"})),)
    assert speakers_of("“We will win,” said Ramzan Kadyrov.") == frozenset({"kadyrov"})
    assert speakers_of("He said he would stay.", before="Apti Alaudinov arrived in Moscow.") == frozenset({"alaudinov"})


def test_any_judge_is_made_strict_once():
    lexical = LexicalJudge()
    judge = strict(lexical)
    assert judge.base is lexical and judge.threshold == lexical.threshold
    assert strict(judge) is judge
    assert isinstance(strict(None).base, LexicalJudge)


@pytest.mark.parametrize(
    "claim",
    [
        "The article mentions that the February 5 exchange included 314 prisoners.",
        "According to the sources, the February 5 exchange included 314 prisoners.",
        "The answer to this question is: the February 5 exchange included 314 prisoners.",
    ],
)
def test_a_frame_about_the_documents_is_not_part_of_the_claim(claim):
    span = StrictJudge().best_span(claim, PASSAGE)
    assert span.score == 1.0  # "article", "sources", "answer" need no support
    assert PASSAGE[span.start : span.end].startswith("The February 5 exchange included 314 prisoners")
    assert LexicalJudge().support(claim, PASSAGE) == 1.0  # the word count reads the claim alike


def test_the_word_count_reads_a_framed_bare_answer_as_its_figure():
    assert LexicalJudge().support("The answer is: 314.", PASSAGE) == 1.0
    assert LexicalJudge().support("The answer is: 315.", PASSAGE) == 0.0  # a figure the passage lacks


@pytest.mark.parametrize(
    "question, claim",
    [
        ("How many prisoners did the February 5 exchange include?", "The February 5 exchange included prisoners."),
        (
            "Which outlet said the returned soldiers were Akhmat members?",
            "An outlet said the returned soldiers were Akhmat members.",
        ),
        ("Did Kadyrov soften his stance on prisoners of war?", "Kadyrov softened his stance on prisoners of war."),
    ],
)
def test_a_claim_that_only_restates_the_question_is_not_supported(question, claim):
    assert supported(claim)  # true, and every word is in the passage ...
    assert StrictJudge(question=question).support(claim, PASSAGE) == 0.0  # ... but it adds nothing


@pytest.mark.parametrize(
    "question, claim, holds",
    [
        (
            "How many prisoners did the February 5 exchange include?",
            "The February 5 exchange included 314 prisoners.",
            True,
        ),
        (
            "Which outlet reported on the returned soldiers?",
            "Agentstvo reported that the returned Chechen soldiers were Akhmat members.",
            True,
        ),
        (
            "Which outlet reported on the returned soldiers?",
            "Meduza reported that the returned Chechen soldiers were Akhmat members.",
            False,
        ),
        (
            "What did the post include?",
            "The post included a video of several soldiers in camouflage with Russian flags.",
            False,
        ),
    ],
)
def test_what_a_claim_adds_to_the_question_must_be_in_its_support(question, claim, holds):
    judge = StrictJudge(question=question)
    assert (judge.support(claim, PASSAGE) >= judge.threshold) is holds


def test_a_strict_judge_is_made_again_for_another_question():
    judge = strict(None, "How many prisoners?")
    assert judge.question == "How many prisoners?"
    assert strict(judge, "How many prisoners?") is judge
    assert strict(judge, "Who reported it?").question == "Who reported it?"


SECRET_TALKS = (
    "Sources suggest that the secret talks aim to establish a coalition on regional security issues, "
    "perhaps undermining Moscow’s influence in the area."
)
HARDLINERS = (
    "On the contrary, it is increasingly relying on a narrowing circle of “hard line” advisers, the agency "
    "writes. These include Minister of Defense Sergei Shoigu, Chief of General Staff Valery Gerasimov and "
    "Secretary of the Russian Security Council Nikolai Patrushev."
)
KRAUS = (
    "Josef Kraus, a security analyst at Masaryk University, also believes that Russia is now playing for "
    "everything and can therefore resort to other monstrosities. Then I’m afraid there may be an escalation "
    "using weapons of mass destruction, “Kraus told the Connexionblog."
)
CAPTIVE = (
    "In another interview recorded by Ukrainian photojournalist Yan Dobronosov, a Chechen POW named Magomed "
    "Zarakhmatov recalled being taken captive in the village of Sverdlikovo on August 14 — less than a week "
    "after Ukraine began its offensive."
)


def judged(question: str, claim: str, passage: str) -> bool:
    judge = StrictJudge(question=question)
    return judge.support(claim, passage) >= judge.threshold


def test_a_person_the_question_names_needs_support_unless_named_in_the_question_s_own_words():
    question = "What did Kadyrov's father do for a living?"
    passage = "The visit was approved by Russian President Vladimir Putin, who praised the family."
    assert not judged(question, "Kadyrov's father, Vladimir Kadyrov, is a Russian President.", passage)
    assert not judged(question, "Kadyrov is a Russian President.", passage)
    assert judged(question, "Kadyrov's father was praised by Russian President Vladimir Putin.", passage)


def test_a_name_or_date_the_question_gives_needs_no_support_but_a_new_one_does():
    question = "What do sources say the secret Middle East talks involving Kadyrov aim to establish?"
    claim = "The secret Middle East talks involving Kadyrov aim to establish a coalition on regional security issues."
    assert not supported(claim, SECRET_TALKS), "read alone, the passage names neither Kadyrov nor the Middle East"
    assert judged(question, claim, SECRET_TALKS)
    assert not judged(question, claim.replace("security issues", "security issues in Syria"), SECRET_TALKS)
    assert not judged(question, claim + " Talks began in 2023.", SECRET_TALKS)


@pytest.mark.parametrize(
    "claim, speakers",
    [
        ("Harold Chambers, an analyst, called Kadyrov’s support a gamble.", set()),  # "called" names no speaker
        ("The outlet, Agentstvo, reported that the returned Chechens had been captured.", set()),
        ("“We will win,” said Ramzan Kadyrov.", {"kadyrov"}),
        ("“It is a gamble,” Chambers wrote, according to Agentstvo.", {"chamber", "agentstvo"}),
    ],
)
def test_only_a_verb_that_inverts_after_a_quotation_names_the_speaker_after_it(claim, speakers):
    assert speakers_of(claim) == frozenset(speakers)


def test_a_short_answer_is_judged_with_its_question():
    question = "In which village was Chechen POW Magomed Zarakhmatov taken captive?"
    assert judged(question, "Sverdlikovo, Ukraine", CAPTIVE)
    assert not judged(question, "Kursk", CAPTIVE + " Fighting went on in the Kursk region.")
    assert not supported("Sverdlikovo, Ukraine", CAPTIVE), "without the question it states nothing to check"


RELEASED = (
    "The February 5 exchange included 314 prisoners (157 from each side). According to Ukrainian media "
    "reports, 150 soldiers and seven civilians were among those released from Russian captivity."
)


@pytest.mark.parametrize(
    "claim, holds",
    [
        ("150 soldiers were released from Russian captivity.", True),
        ("150 Chechen soldiers were released from Russian captivity.", False),  # it counts soldiers of no kind
        ("The exchange included 314 prisoners exchanged.", True),  # "exchange" is said in the sentence
    ],
)
def test_what_a_number_counts_must_be_said_in_its_own_sentence(claim, holds):
    assert supported(claim, EXCHANGE + " " + RELEASED) is holds


@pytest.mark.parametrize(
    "answer, holds",
    [
        ("20.", True),
        ("The answer is: 20.", True),
        ("20 soldiers", True),
        ("150", False),  # 150 counts soldiers, not Chechen soldiers
        ("314", False),  # 314 counts prisoners
        ("21", False),
    ],
)
def test_a_bare_number_answering_how_many_counts_what_the_question_counts(answer, holds):
    question = "How many Chechen soldiers did Kadyrov say were included in the February 5 exchange?"
    assert judged(question, answer, PASSAGE + " " + RELEASED) is holds


def test_a_sentence_that_calls_by_surname_a_person_named_in_full_before_is_read_with_that_one():
    question = "Which Masaryk University security analyst warned of the possible use of weapons of mass destruction?"
    claim = "The Masaryk University security analyst, Josef Kraus, warned of the possible use of weapons of mass destruction."
    judge = StrictJudge(question=question)
    span = judge.best_span(claim, KRAUS)
    assert span.score >= judge.threshold
    assert KRAUS[span.start : span.end] == KRAUS, "both sentences: the second says it, the first says who Kraus is"
    # A quote often runs over several sentences before its speaker is named by surname: the
    # nearest sentence naming him in full says who he is, and the ones between are not read.
    apart = KRAUS.replace("Then I’m afraid", "Meanwhile, Ukraine said. Then I’m afraid")
    span = judge.best_span(claim, apart)
    assert span.score >= judge.threshold and apart[span.start : span.end] == apart
    assert not judged(question, "Ukraine said Josef Kraus warned of weapons of mass destruction.", apart)
    other = KRAUS.replace("Then I’m afraid", "Pavel Kraus, his brother, disagreed. Then I’m afraid")
    assert not judged(question, claim, other), "the nearest Kraus named in full is Pavel"


@pytest.mark.parametrize(
    "claim, holds",
    [
        ("The Chief of General Staff is Sergei Shoigu.", False),
        ("The Chief of General Staff is Valery Gerasimov.", True),
        ("The advisers include Chief of General Staff Valery Gerasimov.", True),
        ("The Russian Security Council is headed by Sergei Shoigu.", False),
        ("The advisers include Minister of Defense Sergei Shoigu.", True),
    ],
)
def test_a_title_goes_with_the_person_the_passage_gives_it_to(claim, holds):
    question = "Who is in Putin's circle of hard-line advisers?"
    assert judged(question, claim, HARDLINERS) is holds


@pytest.mark.parametrize(
    "claim, about",
    [
        ("The returned soldiers were members of the Akhmat unit.", True),
        ("The source is the Russian investigative outlet Agentstvo.", False),  # true, but no answer
        ("The answer is: Akhmat.", True),  # a bare answer is read with its question
    ],
)
def test_a_claim_is_about_the_question_when_it_shares_a_word_of_meaning_with_it(claim, about):
    judge = StrictJudge(question="To which Chechen special forces unit did the returned soldiers belong?")
    assert judge.is_about_the_question(claim) is about
    assert StrictJudge().is_about_the_question(claim), "without a question, any claim is"


def test_a_bare_number_is_found_where_its_sentence_says_what_it_counts_before_it():
    passage = "Of the 314 prisoners returned to Russia, 20 were Chechen soldiers, Kadyrov said."
    assert judged("How many Chechen soldiers were returned?", "20.", passage)
    assert not judged("How many Chechen soldiers were returned?", "314.", passage)
    assert not supported("20 prisoners were returned to Russia.", passage), "20 counts Chechen soldiers"


@pytest.mark.parametrize("claim", ["According to the article, no.", "The answer is: no."])
def test_a_frame_around_nothing_is_read_as_written(claim):
    assert LexicalJudge().support(claim, PASSAGE) < LexicalJudge.threshold  # not 1.0 for no words
