"""The question set over the seeds (tests/prompts/seeds.jsonl): answers cite the right file and
contain the key fact, out-of-scope questions abstain, and every quote is verbatim."""

import re

import pytest

from tests.conftest import load_prompts
from tests.test_chatbot import quote_is_verbatim_at_its_lines

PROMPTS = load_prompts("seeds.jsonl")


def normalised(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def is_correct(prompt: dict, answer) -> bool:
    cited = {c.source for c in answer.citations}
    fact = any(normalised(expected) in normalised(answer.text) for expected in prompt["expected_answer"])
    return not answer.abstained and fact and bool(cited & set(prompt["expected_sources"]))


def test_the_question_set_is_broad():
    answerable = [p for p in PROMPTS if p["answerable"]]
    assert len(PROMPTS) >= 30 and len(PROMPTS) - len(answerable) >= 8
    assert {s for p in answerable for s in p["expected_sources"]} == {
        "000_f2df93452cb9e121.txt",
        "001_7766d24d19bfa5ea.txt",
        "002_16c963fab6cf1b6f.txt",
        "003_58ec4efac89fea89.txt",
        "004_7efb122e67c28a6b.txt",
    }


@pytest.mark.xfail(
    strict=True,
    reason="not met yet: 31 of 54 answerable prompts are answered right (target 49); the lexical "
    "composer refuses paraphrases whose words the articles never use (docs/EVALUATION.md)",
)
def test_at_least_90_percent_of_answerable_questions_cite_the_file_and_state_the_fact(seeds_bot):
    answerable = [p for p in PROMPTS if p["answerable"]]
    misses = [p["question"] for p in answerable if not is_correct(p, seeds_bot.ask(p["question"]))]
    assert len(misses) <= 0.1 * len(answerable), "\n".join(misses)


def test_answers_that_are_given_are_right(seeds_bot):
    """Floor for today's behaviour: when it answers an answerable prompt, it is right."""
    answers = [(p, seeds_bot.ask(p["question"])) for p in PROMPTS if p["answerable"]]
    given = [(p, a) for p, a in answers if not a.abstained]
    right = [p for p, a in given if is_correct(p, a)]
    assert len(right) >= 31
    assert len(right) >= 0.85 * len(given)


@pytest.mark.xfail(
    strict=True,
    reason="not met yet: 11 of 12 abstain; 'Who replaced Mikhail Kasyanov ...?' is answered from a "
    "sentence that lacks only the verb",
)
def test_every_unanswerable_question_abstains(seeds_bot):
    answered = {}
    for prompt in (p for p in PROMPTS if not p["answerable"]):
        answer = seeds_bot.ask(prompt["question"])
        if not answer.abstained:
            answered[prompt["question"]] = answer.text
    assert not answered, answered


def test_out_of_scope_questions_abstain(seeds_bot):
    unanswerable = [p for p in PROMPTS if not p["answerable"]]
    abstained = [p for p in unanswerable if seeds_bot.ask(p["question"]).abstained]
    assert len(abstained) >= 10
    for question in ("What is the capital of Australia?", "Who won the 2018 FIFA World Cup?"):
        assert seeds_bot.ask(question).abstained, question


def test_every_citation_quote_is_verbatim_at_its_line_range(seeds_bot):
    for prompt in PROMPTS:
        for citation in seeds_bot.ask(prompt["question"]).citations:
            assert quote_is_verbatim_at_its_lines(citation), (prompt["question"], citation)
