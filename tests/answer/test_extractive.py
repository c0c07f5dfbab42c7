"""The offline composer's answers: which sentences it chooses, in what order, what they bring
along (the sentence saying who "he" is, the one qualifying the best), how quotes read in the
answer, and when it refuses. What each sentence offers is tests/answer/test_evidence.py's."""

from __future__ import annotations

from dataclasses import replace

from rag import Chatbot, Document
from rag.answer.candidates import candidates_from_hits
from rag.answer.citations import split_cited_sentences
from rag.answer.evidence import (
    AbstentionModel,
    ComposerSettings,
    Evidence,
    answer_probability,
    closest_worth_showing,
    likeliest,
    score_sentences,
    shape_penalty,
    should_abstain,
)
from rag.answer.extractive import picked_sentences
from rag.answer.quotes import cited_quote
from rag.answer.refusal import REFUSAL
from tests.answer.corpus import DOCS


def test_a_short_sentence_holding_what_was_asked_is_not_taken_for_a_heading(tmp_path):
    tower = Document("tower.txt", "Brisk tower\n\nThe Brisk tower is 120 metres tall.\nIt opened in 1999.\n")
    bot = Chatbot.from_documents([tower, DOCS[1]], index_dir=tmp_path)
    answer = bot.ask("When did the Brisk tower open?")
    assert "It opened in 1999." in answer.text

    scorer = ComposerSettings().scorer
    assert shape_penalty("It opened in 1999.", scorer, typed=True) == 0.0
    assert shape_penalty("It opened then.", scorer, typed=False) == scorer.heading_penalty
    assert shape_penalty("Brisk tower 1999", scorer, typed=True) == scorer.heading_penalty


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


def _covering(share: float) -> Evidence:
    return Evidence(share, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def test_the_answer_stands_or_falls_by_the_likeliest_sentence_it_would_quote(small_bot):
    # P = sigmoid(4 * coverage - 2): 0.5 at half the question covered.
    model = AbstentionModel(-2.0, 4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, threshold=0.5)
    question = "How many captives changed hands in the prisoner swap?"
    settings = small_bot.composer_settings
    hits = small_bot.retrieve(question)
    scored = score_sentences(question, candidates_from_hits(hits, settings.evidence_hits), small_bot.index, settings)
    best, runner_up, third = (replace(s, evidence=_covering(c)) for s, c in zip(scored, (0.25, 0.75, 0.5)))

    assert answer_probability(best, model) < 0.5 < answer_probability(runner_up, model)
    assert likeliest([best, runner_up, third], model) is runner_up
    assert likeliest([best, replace(runner_up, names_absent=True), third], model) is third
    assert answer_probability(replace(runner_up, names_absent=True), model) == 0.0
    assert likeliest([best, replace(best, evidence=_covering(0.25))], model) is best  # the first of equals
    # A best sentence about something else (its passage names nothing the question names) is
    # what the answer would lead with: it decides, and the answer is refused.
    off_topic = replace(best, names_absent=True)
    assert likeliest([off_topic, runner_up], model) is off_topic
    assert should_abstain(off_topic, model) and not should_abstain(runner_up, model)


def test_runners_up_are_picked_only_when_nearly_as_good_and_saying_something_new(small_bot):
    question = "How many captives changed hands in the prisoner swap?"
    settings = small_bot.composer_settings
    hits = small_bot.retrieve(question)
    scored = score_sentences(question, candidates_from_hits(hits, settings.evidence_hits), small_bot.index, settings)
    picked = picked_sentences(scored, settings)
    assert picked[0] is scored[0] and 1 <= len(picked) <= settings.max_sentences
    assert all(s.score >= settings.second_sentence_ratio * scored[0].score for s in picked)
    only_best = ComposerSettings(second_sentence_ratio=1.01)
    assert picked_sentences(scored, only_best) == [scored[0]]


def test_a_runner_up_that_answers_saves_an_answer_whose_best_sentence_does_not(seeds_bot):
    """Over the seeds, the sentence covering most of the question is the one before "according
    to the FT ...", from another passage; the sentence that says what Putin told Michel is
    quoted beside it, and it is the one the abstention model finds likely to answer."""
    question = "What did Putin tell European Council President Charles Michel Ukraine had put up, according to the FT?"
    settings = seeds_bot.composer_settings
    hits = seeds_bot.retrieve(question)
    scored = score_sentences(question, candidates_from_hits(hits, settings.evidence_hits), seeds_bot.index, settings)
    picked = picked_sentences(scored, settings)
    model = settings.abstention
    assert answer_probability(scored[0], model) < model.threshold
    deciding = likeliest(picked, model)
    assert "built a wall" in deciding.candidate.text and answer_probability(deciding, model) >= model.threshold

    answer = seeds_bot.ask(question)
    assert not answer.abstained and "built a wall" in answer.text
    assert any("built a wall" in c.quote for c in answer.citations)


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
