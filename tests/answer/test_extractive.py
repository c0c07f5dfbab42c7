"""The offline composer: question types, word-form variants, the evidence it measures, the
abstention model, and the answers it writes. Calibration helpers are checked on synthetic data
with known answers; ClapNQ itself is only read when it is there."""

from __future__ import annotations

import math
import re
from dataclasses import fields, replace

import numpy as np
import pytest

from rag import Chatbot, Document
from rag.answer.citations import split_cited_sentences
from rag.answer.extractive import (
    REFUSAL,
    AbstentionModel,
    ComposerSettings,
    Evidence,
    candidates_from_hits,
    cited_quote,
    closest_worth_showing,
    counted_terms,
    has_answer_type,
    question_type,
    related_terms,
    score_sentences,
    variant_of,
)
from rag.language.lexicon import load_lexicon
from tests.conftest import ROOT, benchmark

CLAPNQ = ROOT.parent / "shared" / "data" / "clapnq_dev"


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


@pytest.mark.parametrize(
    ("term", "others", "found"),
    [
        ("defenc", {"defens", "minist"}, "defens"),
        ("russian", {"russia"}, "russia"),
        ("ukrain", {"ukrainian"}, "ukrainian"),
        ("general", {"generous"}, None),
        ("height", {"heighten"}, None),  # a verb made from the noun, not a form of it
        ("threaten", {"threat"}, None),
        ("arm", {"armi"}, None),  # too short to trust a shared prefix
        ("kyiv", {"kyiv"}, "kyiv"),
    ],
)
def test_word_form_variants_match_but_different_words_do_not(term, others, found):
    assert variant_of(term, frozenset(others)) == found


def test_answer_type_wants_something_the_question_does_not_already_say():
    question = "How many prisoners did Russia release on February 5?"
    assert has_answer_type("number", "Russia released 150 prisoners.", question)
    assert not has_answer_type("number", "Prisoners were released on February 5.", question)
    assert has_answer_type("person", "The talks were led by Vladimir Medinsky.", "Who led the talks?")
    assert has_answer_type("name", "He spoke to AFP about it.", "Which agency did Kasyanov speak to?")
    assert not has_answer_type(None, "Anything at all, 1999.", "Why?")


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


def test_a_count_or_date_the_sentence_lacks_is_evidence_against_answering_but_a_name_is_not(small_bot):
    counted = {s.candidate.text: s.evidence for s in best(small_bot, "How many soldiers guarded the swap?")}
    with_count = counted["In total 314 captives changed hands, officials said."]
    assert (with_count.answer_type, with_count.type_missing) == (1.0, 0.0)
    without = counted["The exchange was brokered by the United Arab Emirates."]
    assert (without.answer_type, without.type_missing) == (0.0, 1.0)
    named = {s.candidate.text: s.evidence for s in best(small_bot, "Who brokered the swap?")}
    for evidence in named.values():
        assert evidence.type_missing == 0.0
    assert named["The exchange was brokered by the United Arab Emirates."].answer_type == 1.0
    untyped = best(small_bot, "Why did it snow late in Moscow?")[0]
    assert untyped.evidence.answer_type == 0.0 and untyped.evidence.type_missing == 0.0


DOCS = [
    Document(
        "swap.txt",
        "Prisoner swap\n\nRussia and Ukraine exchanged prisoners on February 5. "
        "In total 314 captives changed hands, officials said. "
        "The exchange was brokered by the United Arab Emirates.\n",
    ),
    Document(
        "weather.txt",
        "Weather\n\nThe winter in Moscow was mild this year. Snow fell late in December and melted quickly.\n",
    ),
]


@pytest.fixture(scope="module")
def small_bot(tmp_path_factory):
    return Chatbot.from_documents(DOCS, index_dir=tmp_path_factory.mktemp("compose-index"))


def best(bot, question: str):
    hits = bot.retrieve(question, k=bot.top_k)
    return score_sentences(question, candidates_from_hits(hits, 6), bot.index)


def test_the_sentence_holding_the_answer_ranks_first_with_full_evidence(small_bot):
    scored = best(small_bot, "How many captives changed hands in the swap?")
    top = scored[0]
    assert "314 captives" in top.candidate.text
    assert top.evidence.answer_type == 1.0
    assert top.evidence.coverage > 0.7 and top.evidence.missing_share < 0.3
    assert top.evidence.unseen_share == 0.0 and top.evidence.top_passage == 1.0
    assert all(0.0 <= v <= 1.0 for v in top.evidence.as_dict().values())


def test_a_surname_alone_stands_for_the_full_name_the_question_gives(tmp_path):
    article = Document(
        "analysis.txt",
        "The rift\n\nHarold Chambers, a political and security analyst, has followed Chechnya for a decade. "
        "He expects the rift between the two men to widen. Few others agree. Officials in Grozny declined "
        "to comment. Writing in UnHerd magazine, Chambers concluded that the rift would grow.\n",
    )
    bot = Chatbot.from_documents([article, DOCS[1]], index_dir=tmp_path)
    top = best(bot, "In which magazine did Harold Chambers publish his view?")[0]
    assert top.candidate.text.startswith("Writing in UnHerd magazine")
    # "harold" is met through "Chambers": only "publish" of the four known terms is missing.
    assert top.evidence.missing_share == 0.25 and top.evidence.coverage == pytest.approx(0.75, abs=1e-12)


def test_a_sentence_whose_passage_mentions_none_of_the_questions_names_is_marked(small_bot):
    elsewhere = best(small_bot, "Who brokered the exchange between Finland and Norway?")
    assert elsewhere and all(s.names_absent for s in elsewhere)
    one_named = best(small_bot, "Who brokered the exchange between Finland and Russia?")
    swap = [s for s in one_named if s.candidate.source == "swap.txt"]
    assert swap and not any(s.names_absent for s in swap)
    unnamed = best(small_bot, "Who brokered the exchange?")
    assert not any(s.names_absent for s in unnamed)


def test_a_short_sentence_holding_what_was_asked_is_not_taken_for_a_heading(tmp_path):
    tower = Document("tower.txt", "Brisk tower\n\nThe Brisk tower is 120 metres tall.\nIt opened in 1999.\n")
    bot = Chatbot.from_documents([tower, DOCS[1]], index_dir=tmp_path)
    answer = bot.ask("When did the Brisk tower open?")
    assert "It opened in 1999." in answer.text
    from rag.answer.extractive import _shape_penalty

    scorer = ComposerSettings().scorer
    assert _shape_penalty("It opened in 1999.", scorer, typed=True) == 0.0
    assert _shape_penalty("It opened then.", scorer, typed=False) == scorer.heading_penalty
    assert _shape_penalty("Brisk tower 1999", scorer, typed=True) == scorer.heading_penalty


def test_the_word_a_how_question_measures_by_gets_no_relatives():
    lexicon = load_lexicon()
    _, related = related_terms("How old is Apti Alaudinov?", lexicon)
    assert related["old"] == ()  # not "worn", whose stem "wear" is in "wearing a sweatshirt"
    _, related = related_terms("Which old ship sank?", lexicon)
    assert ("wear",) in related["old"]


def test_an_age_the_passage_does_not_give_is_refused(tmp_path):
    text = "Apti Alaudinov, wearing a grey sweatshirt, spoke to reporters in Kursk. He commands the Akhmat unit."
    bot = Chatbot.from_documents([Document("a", text)], index_dir=tmp_path)
    assert bot.ask("How old is Apti Alaudinov?").abstained
    assert not bot.ask("Which unit does Apti Alaudinov command?").abstained


def test_unseen_terms_are_counted_apart_from_coverage(small_bot):
    top = best(small_bot, "What is the capital of Australia?")[0]
    assert top.evidence.unseen_share == pytest.approx(1.0)
    assert top.evidence.coverage == 0.0


def test_the_abstention_model_is_a_logistic_function_of_the_evidence():
    model = AbstentionModel(
        bias=-1.0,
        coverage=2.0,
        passage_coverage=0.0,
        missing_share=0.0,
        rare_coverage=0.0,
        unseen_share=-1.0,
        answer_type=0.0,
        type_missing=-2.0,
        top_passage=0.0,
        threshold=0.5,
    )
    evidence = Evidence(0.75, 0.0, 0.0, 0.0, 0.5, 0.0, 1.0, 0.0)
    assert model.probability(evidence) == pytest.approx(1 / (1 + math.exp(-(-1.0 + 1.5 - 0.5 - 2.0))))


def test_out_of_scope_questions_get_the_refusal_and_no_citations(small_bot):
    for question in ("What is the capital of Australia?", "Can you give me a recipe for banana bread?"):
        answer = small_bot.ask(question)
        assert answer.abstained and answer.text == REFUSAL and answer.citations == []


def test_a_refusal_shows_the_sentence_that_came_near_only_when_it_came_near(small_bot):
    question = "How many captives changed hands in the prisoner swap?"
    settings = small_bot.composer_settings
    hits = small_bot.retrieve(question)
    best = score_sentences(question, candidates_from_hits(hits, settings.evidence_hits), small_bot.index, settings)[0]
    p = settings.abstention.probability(best.evidence)
    assert 0.5 < p < 0.999 and not best.names_absent

    strict = ComposerSettings(abstention=AbstentionModel(threshold=0.999))
    answer = Chatbot(small_bot.index, small_bot.embedder, composer=strict).ask(question)
    assert answer.abstained and answer.text == REFUSAL and answer.citations == []
    closest = answer.closest
    assert closest.marker == 0 and "314" in closest.quote
    assert {d.id: d.text for d in DOCS}[closest.source][closest.start_char : closest.end_char] == closest.quote
    assert answer.to_dict()["closest"]["quote"] == closest.quote

    assert closest_worth_showing(best, AbstentionModel(threshold=2 * p - 0.01)) is best
    assert closest_worth_showing(best, AbstentionModel(threshold=2 * p + 0.01)) is None
    assert closest_worth_showing(replace(best, names_absent=True), AbstentionModel(threshold=0.999)) is None
    assert small_bot.ask("What is the capital of Australia?").closest is None
    assert small_bot.ask(question).closest is None  # answered: nothing to add


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


def test_a_number_of_the_thing_counted_leads_the_answer(tmp_path):
    text = (
        "The February 5 prisoner exchange included 20 Chechen soldiers, he reported. "
        "Talks went on. "
        "The February 5 exchange included 314 prisoners (157 from each side)."
    )
    bot = Chatbot.from_documents([Document("a", text)], index_dir=tmp_path)
    bot.composer_settings = replace(bot.composer_settings, second_sentence_ratio=0.5)  # both are chosen
    quotes = [c.quote for c in bot.ask("How many prisoners were exchanged on February 5?").citations]
    assert quotes == [
        "The February 5 exchange included 314 prisoners (157 from each side).",
        "The February 5 prisoner exchange included 20 Chechen soldiers, he reported.",
    ]
    # Without a sentence that says it in so many words, the chosen ones read in document order.
    starts = [c.start_char for c in bot.ask("What happened on February 5?").citations]
    assert starts == sorted(starts)


def test_a_heading_may_answer_but_never_pads_an_answer(tmp_path):
    text = (
        "Putin and Kadyrov Sour Over Secret Talks in the Gulf – The Moscow Times\n\n"
        "The secret talks in the Gulf angered Putin, officials said. "
        "Kadyrov denied that any talks had taken place.\n"
    )
    bot = Chatbot.from_documents([Document("a.txt", text), DOCS[1]], index_dir=tmp_path)
    bot.composer_settings = replace(bot.composer_settings, second_sentence_ratio=0.1)  # all may join
    quotes = [c.quote for c in bot.ask("What did Putin say about the secret talks?").citations]
    assert quotes == [
        "The secret talks in the Gulf angered Putin, officials said.",
        "Kadyrov denied that any talks had taken place.",
    ]


def test_a_table_row_without_a_full_stop_may_join_the_best_sentence(tmp_path):
    row = (
        "Leeds Friday Leeds Saturday The Strokes Pulp Weezer Muse Ash The Hives Foo Fighters Slipknot Incubus "
        "NOFX Amen Guns N' Roses (Leeds) Raging Speedhorn (Reading)"
    )
    text = f"Line-up\n\nThe Strokes and Pulp headlined the Leeds festival line-up.\n{row}\n"
    bot = Chatbot.from_documents([Document("a.txt", text), DOCS[1]], index_dir=tmp_path)
    bot.composer_settings = replace(bot.composer_settings, second_sentence_ratio=0.1)
    quotes = [c.quote for c in bot.ask("Which band played only at Leeds in the line-up with The Strokes?").citations]
    assert row in quotes


def quotes_answering(text: str, index_dir):
    """Asking one document beside an unrelated one, one sentence chosen: what is quoted besides
    that sentence is what the composer added to it."""
    bot = Chatbot.from_documents([Document("a.txt", text), DOCS[1]], index_dir=index_dir)
    bot.composer_settings = replace(bot.composer_settings, max_sentences=1)
    return lambda question: [c.quote for c in bot.ask(question).citations]


def test_a_sentence_opening_with_a_pronoun_brings_the_sentence_that_says_who(tmp_path):
    text = (
        "The Kremlin and the fleet\n\n"
        "The head of the Kremlin lost interest in the peace agreement. "
        "He was especially outraged by the sinking of the cruiser Moscow. "
        "Talks went on elsewhere.\n\n"
        "The Harbour\n"
        "They rebuilt the harbour wall of Sevastopol after the storm.\n"
    )
    ask = quotes_answering(text, tmp_path)
    quotes = ask("Who was outraged by the sinking of the cruiser?")
    assert quotes == [
        "The head of the Kremlin lost interest in the peace agreement.",
        "He was especially outraged by the sinking of the cruiser Moscow.",
    ]
    # A heading before it says nothing about who "they" are: the sentence stands alone.
    quotes = ask("Who rebuilt the harbour wall of Sevastopol?")
    assert quotes == ["They rebuilt the harbour wall of Sevastopol after the storm."]


def test_a_sentence_opening_with_it_or_these_brings_the_sentence_that_says_what(tmp_path):
    text = (
        "The bank\n\n"
        "The Federal Reserve System is composed of several layers. "
        "It is governed by the Board of Governors in Washington. "
        "The advisers\n\n"
        "The president relies on a narrowing circle of hard-line advisers. "
        "These include the defence minister and the chief of staff.\n"
    )
    ask = quotes_answering(text, tmp_path)
    quotes = ask("Who governs it from Washington?")
    assert quotes == [
        "The Federal Reserve System is composed of several layers.",
        "It is governed by the Board of Governors in Washington.",
    ]
    quotes = ask("Does the circle include the defence minister?")
    assert quotes[-1] == "These include the defence minister and the chief of staff."
    assert quotes[-2] == "The president relies on a narrowing circle of hard-line advisers."


def test_a_sentence_that_qualifies_the_best_one_follows_it(tmp_path):
    text = (
        "The former minister and the president\n\n"
        "The former minister knew the president for years. "
        "“By looking at him I saw that the president is exhausted. "
        "Not in a medical sense but in political terms.” "
        "The minister now lives abroad.\n"
    )
    ask = quotes_answering(text, tmp_path)
    quotes = ask("Is the president exhausted?")
    assert quotes == [
        "“By looking at him I saw that the president is exhausted.",
        "Not in a medical sense but in political terms.”",
    ]
    # A sentence after it that does not qualify it stays out.
    quotes = ask("Where does the minister live now?")
    assert quotes == ["The minister now lives abroad."]


def test_answers_quote_verbatim_and_every_sentence_carries_its_marker(small_bot):
    answer = small_bot.ask("How many captives changed hands in the prisoner swap?")
    assert not answer.abstained and "314" in answer.text
    texts = {d.id: d.text for d in DOCS}
    for citation in answer.citations:
        assert texts[citation.source][citation.start_char : citation.end_char] == citation.quote
    sentences = split_cited_sentences(answer.text)
    assert [s.markers for s in sentences] == [(c.marker,) for c in answer.citations]
    assert all(check.supported for check in answer.checks)


def test_a_quote_that_ends_without_a_full_stop_stays_its_own_sentence():
    text = " ".join(
        [cited_quote("Regional Autonomy Increased independence from Moscow", 1), cited_quote("It ended.", 2)]
    )
    assert text == "Regional Autonomy Increased independence from Moscow [1]. It ended. [2]"
    assert [s.markers for s in split_cited_sentences(text)] == [(1,), (2,)]


def test_markdown_marks_stay_in_the_quote_but_not_in_the_answer(tmp_path):
    report = Document(
        "report.md",
        "# Annual report\n\n## Staff\n\n| Office | Staff |\n|---|---|\n| Lisbon | 40 |\n\n"
        "- The **Lisbon** office opened in 1999.\n",
    )
    bot = Chatbot.from_documents([report, DOCS[1]], index_dir=tmp_path)
    answer = bot.ask("When did the Lisbon office open?")
    assert answer.text.startswith("The Lisbon office opened in 1999. [1]")
    assert answer.citations[0].quote == "- The **Lisbon** office opened in 1999."
    assert cited_quote("| Lisbon | 40 |", 2) == "Lisbon 40 [2]."
    assert cited_quote("## Staff", 3) == "Staff [3]."
    assert (
        cited_quote("• Strategic alliances: he may seek allies.", 4) == "Strategic alliances: he may seek allies. [4]"
    )


def test_the_documents_own_footnote_markers_stay_in_the_quote_but_not_in_the_answer(tmp_path):
    footnoted = Document(
        "tower.txt",
        "Tower\n\nThe Grey Tower stands in Lisbon.[3] It is 300 metres tall.[12] Building it took nine years.[4]\n",
    )
    bot = Chatbot.from_documents([footnoted, DOCS[1]], index_dir=tmp_path)
    answer = bot.ask("How tall is the Grey Tower?")
    assert answer.text == "The Grey Tower stands in Lisbon. [1] It is 300 metres tall. [2]"
    assert [c.quote for c in answer.citations] == ["The Grey Tower stands in Lisbon.[3]", "It is 300 metres tall.[12]"]
    assert [(c.markers, c.supported) for c in answer.checks] == [((1,), True), ((2,), True)]


def test_composer_settings_can_turn_abstention_off(small_bot):
    never = ComposerSettings(abstention=AbstentionModel(threshold=0.0))
    bot = Chatbot(small_bot.index, small_bot.embedder, composer=never)
    assert not bot.ask("Who won the 2018 FIFA World Cup?").abstained


# ----------------------------------------------------------------------------------------
# Calibration: the fitting code on synthetic data, and the shipped numbers against the docs


@pytest.fixture(scope="module")
def calibration():
    return benchmark("calibrate_abstention")


def test_the_logistic_fit_recovers_known_coefficients(calibration):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20000, 2))
    truth = np.array([-0.5, 2.0, -1.0])
    p = 1 / (1 + np.exp(-(truth[0] + x @ truth[1:])))
    y = (rng.random(len(p)) < p).astype(float)
    beta = calibration.fit_logistic(x, y, np.ones(len(y)), l2=0.0)
    assert beta == pytest.approx(truth, abs=0.08)


def test_sample_weights_give_each_kind_of_negative_its_share(calibration):
    Sample = calibration.Sample

    class Q:
        def __init__(self, answerable):
            self.prompt = type("P", (), {"answerable": answerable})()

    samples = [Sample(Q(True), "clapnq", None)] * 4 + [Sample(Q(False), "clapnq", None)] * 2
    samples += [Sample(Q(True), "seeds", None)] * 8
    weights = calibration.sample_weights(samples)
    assert weights[:4].sum() == pytest.approx(4)
    assert weights[4:6].sum() == pytest.approx(4 * calibration.NEGATIVE_WEIGHTS["on_topic"])
    assert weights[6:].sum() == pytest.approx(4 * calibration.NEGATIVE_WEIGHTS["out_of_scope"])


def test_the_shipped_numbers_are_the_ones_docs_evaluation_records():
    page = (ROOT / "docs" / "EVALUATION.md").read_text(encoding="utf-8")
    line = next(line for line in page.splitlines() if line.startswith("- weights:"))
    recorded = {name: float(value) for name, value in re.findall(r"(\w+)=([+-]?\d+\.\d+)", line)}
    shipped = AbstentionModel()
    assert recorded == {f.name: getattr(shipped, f.name) for f in fields(shipped) if f.name != "threshold"}
    threshold = re.search(r"P\(answerable\) >= \*\*(\d\.\d+)\*\*", page)
    assert threshold and float(threshold.group(1)) == shipped.threshold


@pytest.mark.skipif(not CLAPNQ.exists(), reason="ClapNQ dev is not in ../shared/data")
def test_the_clapnq_converter_keeps_every_question_and_its_passage():
    clapnq = benchmark("clapnq")
    documents, questions = clapnq.load(CLAPNQ)
    ids = {d.id for d in documents}
    assert len(questions) == 600 and sum(q.prompt.answerable for q in questions) == 300
    assert all(q.prompt.expected_sources[0] in ids for q in questions)
    assert all(q.references for q in questions if q.prompt.answerable)
    assert not any(q.references for q in questions if not q.prompt.answerable)
    held_out = sum(q.held_out for q in questions)
    assert 250 < held_out < 350
    assert [q.held_out for q in questions] == [clapnq.split(q.id) == "test" for q in questions]
