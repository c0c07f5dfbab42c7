"""``rag eval`` and ``rag.evaluate``: each metric formula on hand-built cases with known answers,
the prompts file, the report, the NLI judge's plumbing, and the acceptance figures on seeds/."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from rag import Answer, Citation, Document, RagError, evaluate
from rag.answer.citations import LexicalJudge, split_cited_sentences
from rag.chatbot import Chatbot
from rag.cli import main
from rag.errors import ModelLoadError, PromptsFileError, ReportError
from rag.evaluation.metrics import (
    balanced_accuracy,
    citation_precision,
    citation_recall,
    contains_answer,
    judge_sentences,
    percentile,
    retrieval_rank,
    rouge_l,
    token_f1,
)
from rag.evaluation.report import write_report
from rag.evaluation.results import Prompt
from rag.evaluation.run import load_prompts, score_answer, summarize
from rag.records import Chunk, Hit
from tests.conftest import PROMPTS, benchmark

PARIS = "Paris is the capital of France."
BANANAS = "Bananas are yellow and rich in potassium."
JUDGE = LexicalJudge()


def verdicts_for(text: str, passages: dict[int, str]):
    return judge_sentences(split_cited_sentences(text), passages, JUDGE)


# ----------------------------------------------------------------------------------------
# Metric formulas on hand-built cases


def test_a_sentence_with_two_citations_of_which_one_is_irrelevant():
    verdicts = verdicts_for("Paris is the capital of France [1][2].", {1: PARIS, 2: BANANAS})
    assert [v.supported for v in verdicts] == [True]
    # [1] alone supports the sentence; [2] alone does not and [1] supports it without [2].
    assert verdicts[0].relevant == (True, False)
    assert citation_recall(verdicts) == 1.0
    assert citation_precision(verdicts) == 0.5


def test_two_citations_each_needed_are_both_relevant():
    verdicts = verdicts_for("Bananas are yellow and Paris is a capital [1][2].", {1: PARIS, 2: BANANAS})
    assert verdicts[0].supported
    assert verdicts[0].relevant == (True, True)  # neither alone suffices, neither is redundant
    assert citation_precision(verdicts) == 1.0


def test_an_unsupported_sentence_counts_against_recall_and_its_citation_against_precision():
    text = "Paris is the capital of France [1]. The Eiffel Tower is 330 metres tall [1]."
    verdicts = verdicts_for(text, {1: PARIS})
    assert [v.supported for v in verdicts] == [True, False]
    assert citation_recall(verdicts) == 0.5
    assert citation_precision(verdicts) == 0.5


def test_a_sentence_without_citations_is_unsupported_and_cites_nothing():
    verdicts = verdicts_for("Paris is the capital of France.", {1: PARIS})
    assert verdicts[0].markers == () and not verdicts[0].supported
    assert citation_recall(verdicts) == 0.0
    assert citation_precision(verdicts) == 0.0


def test_a_marker_that_points_at_nothing_makes_its_sentence_unsupported():
    # As ALCE's code scores it: a citation out of range voids the sentence's support.
    verdicts = verdicts_for("Paris is the capital of France [1][7].", {1: PARIS})
    assert not verdicts[0].supported and verdicts[0].relevant == (False, False)
    assert citation_recall(verdicts) == 0.0 and citation_precision(verdicts) == 0.0


def test_an_answer_with_no_sentences_has_no_citation_figures():
    assert citation_recall([]) is None and citation_precision([]) is None


@pytest.mark.parametrize(
    ("text", "expected", "found"),
    [
        ("He was sentenced to 15 years [1].", ["15 years"], True),
        ("It was Milošević.", ["Milosevic"], True),
        ("the U.N. said so", ["U.N"], True),
        ("He met them often.", ["ten"], False),  # whole words only
        ("Nothing here.", ["Turkey", "Ankara"], False),
        ("In TURKEY, talks began.", ["Turkey", "Ankara"], True),
    ],
)
def test_answer_matching_ignores_case_punctuation_and_accents(text, expected, found):
    assert contains_answer(text, expected) is found


def test_retrieval_rank_is_the_first_expected_source():
    assert retrieval_rank(["a", "b", "c", "b"], ["b"]) == 2
    assert retrieval_rank(["a", "b"], ["z"]) is None


def test_percentile_matches_numpy():
    values = [3.0, 1.0, 10.0, 7.0, 2.5, 8.0]
    for q in (50, 95, 0, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert percentile([], 50) is None


def test_the_benchmarks_p95_is_the_same_interpolated_percentile():
    # Seven samples, as the seeds benchmark's builds: position 0.95 * 6 = 5.7 lies between the
    # sorted values 7 and 9. (A nearest-rank p95 would say 9, the slowest run.)
    values = [5.0, 1.0, 4.0, 2.0, 3.0, 9.0, 7.0]
    assert benchmark("common").p95(values) == percentile(values, 95) == pytest.approx(8.4)


def test_token_f1_and_rouge_l_on_known_cases():
    assert token_f1("The cat sat on the mat", "a cat sat on a mat") == 1.0
    # prediction: cat sat (2 tokens); reference: cat sat on mat (4): P=1, R=.5, F1=2/3
    assert token_f1("cat sat", "cat sat on mat") == pytest.approx(2 / 3)
    assert token_f1("dog", "cat") == 0.0
    # LCS of [cat sat mat] and [mat cat sat] is [cat sat]: P = R = 2/3
    assert rouge_l("cat sat mat", "mat cat sat") == pytest.approx(2 / 3)


def test_balanced_accuracy_averages_the_recall_of_both_classes():
    predicted = [True, True, False, False, True]
    actual = [True, True, True, False, False]
    assert balanced_accuracy(predicted, actual) == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert balanced_accuracy([True], [True]) is None


# ----------------------------------------------------------------------------------------
# Per-prompt scores and the summary


def hit(source: str) -> Hit:
    return Hit(Chunk(0, source, "text", 0, 4, 1, 1), 1.0)


def cited_answer(question: str, text: str, quotes: dict[int, tuple[str, str]], hits: list[str]) -> Answer:
    citations = [Citation(n, source, 1, 1, quote) for n, (source, quote) in quotes.items()]
    return Answer(question=question, text=text, citations=citations, hits=[hit(s) for s in hits])


def abstention(question: str, hits: list[str]) -> Answer:
    return Answer(question=question, text="The documents do not say.", hits=[hit(s) for s in hits], abstained=True)


def test_score_answer_on_a_correct_answer_with_one_irrelevant_citation():
    prompt = Prompt("What is the capital of France?", ("paris.txt",), ("Paris",), True)
    answer = cited_answer(
        prompt.question,
        "Paris is the capital of France [1][2].",
        {1: ("paris.txt", PARIS), 2: ("fruit.txt", BANANAS)},
        ["fruit.txt", "paris.txt"],
    )
    result = score_answer(prompt, answer, 12.0, JUDGE)
    assert result.retrieval_rank == 2
    assert result.metrics == {
        "retrieval_hit_rate": 1.0,
        "answer_accuracy": 1.0,
        "citation_recall": 1.0,
        "citation_precision": 0.5,
        "faithfulness": 1.0,
        "abstention_accuracy": None,
        "false_abstention_rate": 0.0,
    }


def test_score_answer_on_abstentions():
    unanswerable = Prompt("Who won the 2018 World Cup?", answerable=False)
    right = score_answer(unanswerable, abstention(unanswerable.question, ["a.txt"]), 1.0, JUDGE)
    assert right.metrics["abstention_accuracy"] == 1.0
    assert right.metrics["false_abstention_rate"] is None and right.metrics["answer_accuracy"] is None
    assert right.metrics["citation_recall"] is None and right.verdicts == []

    answerable = Prompt("What is the capital of France?", ("paris.txt",), ("Paris",), True)
    wrong = score_answer(answerable, abstention(answerable.question, ["paris.txt"]), 1.0, JUDGE)
    assert wrong.metrics["false_abstention_rate"] == 1.0
    assert wrong.metrics["answer_accuracy"] == 0.0
    assert wrong.metrics["retrieval_hit_rate"] == 1.0  # retrieval found it; the composer declined


def test_summary_averages_prompts_but_pools_faithfulness_over_sentences():
    france = Prompt("What is the capital of France?", ("paris.txt",), ("Paris",), True)
    tower = Prompt("How tall is the Eiffel Tower?", ("paris.txt",), ("330",), True)
    cup = Prompt("Who won the 2018 World Cup?", answerable=False)
    results = [
        score_answer(
            france, cited_answer(france.question, f"{PARIS} [1]", {1: ("paris.txt", PARIS)}, ["paris.txt"]), 10, JUDGE
        ),
        score_answer(
            tower,
            cited_answer(
                tower.question,
                "Paris is the capital of France [1]. The Eiffel Tower is 330 metres tall [1]. It is iron [1].",
                {1: ("paris.txt", PARIS)},
                ["other.txt"],
            ),
            20,
            JUDGE,
        ),
        score_answer(
            cup, cited_answer(cup.question, f"{BANANAS} [1]", {1: ("fruit.txt", BANANAS)}, ["fruit.txt"]), 40, JUDGE
        ),
    ]
    summary = summarize(results)
    assert summary["retrieval_hit_rate"] == 0.5
    assert summary["answer_accuracy"] == 1.0
    assert summary["abstention_accuracy"] == 0.0
    assert summary["false_abstention_rate"] == 0.0
    # Per answer (ALCE): recall 1, 1/3, 1 -> mean 7/9. Pooled: 3 of 5 sentences supported.
    assert summary["citation_recall"] == pytest.approx(7 / 9)
    assert summary["faithfulness"] == pytest.approx(3 / 5)
    assert summary["latency_median_ms"] == 20 and summary["latency_p95_ms"] == pytest.approx(38.0)
    assert (summary["prompts"], summary["answerable"], summary["unanswerable"]) == (3, 2, 1)


class ScriptedBot:
    """Answers from a dict, so evaluate() can be checked without an index."""

    top_k = 2

    def __init__(self, answers: dict[str, Answer]) -> None:
        self.answers = answers

    def ask(self, question: str) -> Answer:
        return self.answers[question]


def scripted() -> tuple[ScriptedBot, list[dict]]:
    prompts = [
        {"question": "What is the capital of France?", "expected_sources": ["paris.txt"], "expected_answer": ["Paris"]},
        {"question": "Who won the 2018 World Cup?", "answerable": False, "note": "unknown keys are ignored"},
    ]
    bot = ScriptedBot(
        {
            prompts[0]["question"]: cited_answer(
                prompts[0]["question"], f"{PARIS} [1]", {1: ("paris.txt", PARIS)}, ["paris.txt", "x.txt"]
            ),
            prompts[1]["question"]: abstention(prompts[1]["question"], ["x.txt"]),
        }
    )
    return bot, prompts


def test_evaluate_takes_prompt_dicts_and_gives_every_metric():
    bot, prompts = scripted()
    result = evaluate(bot, prompts, progress=False)
    assert result.judge == "lexical"
    for name in ("retrieval_hit_rate", "answer_accuracy", "citation_recall", "citation_precision", "faithfulness"):
        assert result.summary[name] == 1.0, name
    assert result.summary["abstention_accuracy"] == 1.0 and result.summary["false_abstention_rate"] == 0.0
    data = json.loads(json.dumps(result.to_dict()))
    assert data["prompts"][0]["sentences"][0]["supported"] is True
    assert data["prompts"][0]["citations"][0]["source"] == "paris.txt"


# ----------------------------------------------------------------------------------------
# The prompts file


def write_lines(path, lines: list[str]):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_prompts_reads_the_design_format_and_skips_blank_lines(tmp_path):
    path = write_lines(
        tmp_path / "p.jsonl",
        [
            json.dumps(
                {"question": "Q1?", "expected_sources": ["a.txt"], "expected_answer": ["x"], "answerable": True}
            ),
            "",
            json.dumps({"question": "Q2?", "answerable": False, "extra": 1}),
        ],
    )
    prompts = load_prompts(path)
    assert prompts[0] == Prompt("Q1?", ("a.txt",), ("x",), True, line=1)
    assert prompts[1].answerable is False and prompts[1].line == 3


def test_a_misspelt_key_is_named_in_one_warning_and_other_unknown_keys_pass_quietly(tmp_path, caplog):
    lines = [
        {"question": "Q1?", "expected_answers": ["314"], "note": "mine"},
        {"question": "Q2?", "expected_source": ["a.txt"], "expected_answers": ["x"], "topic": "swap"},
    ]
    path = write_lines(tmp_path / "p.jsonl", [json.dumps(line) for line in lines])
    with caplog.at_level(logging.WARNING, logger="rag.evaluation.run"):
        prompts = load_prompts(path)
    assert [p.expected_answer for p in prompts] == [(), ()]
    assert [r.getMessage() for r in caplog.records] == [
        f'{path}: ignoring "expected_answers", "expected_source"; did you mean "expected_answer", "expected_sources"?'
    ]


@pytest.mark.parametrize(
    "bad",
    [
        '{"question": "Q?"',
        '["a list"]',
        '{"answerable": true}',
        '{"question": "Q?", "answerable": "yes"}',
        json.dumps({"question": "Why? " * 1000}),
    ],
)
def test_a_malformed_line_is_an_error_naming_the_line(tmp_path, bad):
    path = write_lines(tmp_path / "p.jsonl", [json.dumps({"question": "Fine?"}), bad])
    with pytest.raises(PromptsFileError, match="line 2"):
        load_prompts(path)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("[" * 100_000, "nested too deeply"),
        ('{"question": "Q?", "n": ' + "7" * 5000 + "}", "a number in it is too long to read"),
        (json.dumps({"question": "?!"}), "no words to search for"),
        (json.dumps({"question": "the of"}), "no words to search for"),
    ],
)
def test_json_python_will_not_read_and_unsearchable_questions_name_their_line(tmp_path, bad, message):
    path = write_lines(tmp_path / "p.jsonl", [json.dumps({"question": "Fine?"}), bad])
    with pytest.raises(PromptsFileError, match=f"p.jsonl, line 2: .*{message}"):
        load_prompts(path)


def test_an_unsearchable_prompt_given_in_code_is_named_before_any_is_asked(seeds_bot):
    with pytest.raises(PromptsFileError, match="line 2: The question has no words"):
        evaluate(seeds_bot, [{"question": "Who is Kadyrov?"}, {"question": "...?"}])


def test_a_line_separator_inside_a_json_string_is_not_a_line_break(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"question": "Who is\u2028Kadyrov?"}\n{"question": "Q2?"}\r\n', encoding="utf-8")
    assert load_prompts(path) == [Prompt("Who is\u2028Kadyrov?", line=1), Prompt("Q2?", line=2)]


def test_a_prompts_file_that_is_not_a_regular_file_is_refused_at_once(tmp_path):
    import os

    fifo = tmp_path / "prompts.jsonl"
    os.mkfifo(fifo)  # no writer: a plain read would wait for one forever
    with pytest.raises(PromptsFileError, match="Cannot read the prompts file .*prompts.jsonl: not a regular file"):
        load_prompts(fifo)
    with pytest.raises(PromptsFileError, match="Cannot read the prompts file /dev/zero"):
        load_prompts("/dev/zero")


def test_a_prompts_file_past_the_size_limit_is_refused(tmp_path, monkeypatch):
    import rag.evaluation.run

    monkeypatch.setattr(rag.evaluation.run, "MAX_PROMPTS_BYTES", 64)
    path = write_lines(tmp_path / "p.jsonl", [json.dumps({"question": f"Question {n}?"}) for n in range(10)])
    with pytest.raises(PromptsFileError, match="p.jsonl is larger than .*, too large for a prompts file"):
        load_prompts(path)


def test_a_missing_prompts_file_is_a_rag_error(tmp_path):
    with pytest.raises(RagError, match="No prompts file"):
        load_prompts(tmp_path / "nope.jsonl")
    with pytest.raises(RagError, match="is a folder. Give the path of a .jsonl file"):
        load_prompts(tmp_path)


def test_a_prompts_file_with_a_byte_order_mark_reads(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"question": "Q1?"}).encode() + b"\n")
    assert load_prompts(path) == [Prompt("Q1?", line=1)]


@pytest.fixture(scope="module")
def small_index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small")
    (folder / "paris.txt").write_text(
        "Paris is the capital of France. The city has about two million inhabitants.\n", encoding="utf-8"
    )
    (folder / "fruit.txt").write_text(
        "Bananas are yellow and rich in potassium. They grow in the tropics.\n", encoding="utf-8"
    )
    index_dir = folder.parent / f"{folder.name}-index"
    Chatbot.from_folder(folder, index_dir=index_dir)
    return folder, index_dir


def test_cli_exits_2_naming_the_malformed_line(tmp_path, small_index):
    folder, index_dir = small_index
    path = write_lines(tmp_path / "p.jsonl", [json.dumps({"question": "Fine?"}), "{not json"])
    result = CliRunner().invoke(main, ["eval", str(path), "--folder", str(folder), "--index-dir", str(index_dir)])
    assert result.exit_code == 2
    assert "line 2" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_cli_writes_json_and_both_report_formats(tmp_path, small_index):
    folder, index_dir = small_index
    path = write_lines(
        tmp_path / "p.jsonl",
        [
            json.dumps(
                {
                    "question": "What is the capital of France?",
                    "expected_sources": ["paris.txt"],
                    "expected_answer": ["Paris"],
                }
            ),
            json.dumps({"question": "Who painted the Mona Lisa?", "answerable": False}),
        ],
    )
    runner = CliRunner()
    for report in ("report.md", "report.html"):
        args = ["eval", str(path), "--folder", str(folder), "--index-dir", str(index_dir)]
        result = runner.invoke(main, [*args, "--json", str(tmp_path / "out.json"), "--report", str(tmp_path / report)])
        assert result.exit_code == 0, result.output
        assert "answer_accuracy" in result.output and "latency p95" in result.output
    written = json.loads((tmp_path / "out.json").read_text())
    summary = written["summary"]
    assert summary["answer_accuracy"] == 1.0 and summary["abstention_accuracy"] == 1.0
    assert written["settings"] == {
        "embedding_model": None,
        "reranker_model": None,
        "llm_model": None,
        "embedder": "hashing-v2-1024",
        "dense_weight": 0.1,
    }
    markdown = (tmp_path / "report.md").read_text()
    assert "| answer_accuracy | 1.000 |" in markdown and "paris.txt, line 1" in markdown
    assert {p.name for p in (tmp_path / "report_files").iterdir()} == {
        "metrics.png",
        "latency.png",
        "retrieval_rank.png",
    }
    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "✓" in page


def test_markdown_cells_keep_apostrophes_but_not_markup_or_column_breaks():
    from rag.evaluation.report import markdown_report

    question = "Was it Kadyrov's <b>choice</b> | or not?"
    bot = ScriptedBot({question: abstention(question, ["x.txt"])})
    images = dict.fromkeys(["metrics", "latency", "retrieval_rank"], "x.png")
    page = markdown_report(evaluate(bot, [{"question": question, "answerable": False}], progress=False), images)
    assert "Was it Kadyrov's &lt;b&gt;choice&lt;/b&gt; \\| or not?" in page


def test_a_wrong_refusal_whose_nearest_sentence_holds_the_answer_says_so():
    from rag.evaluation.report import html_report, markdown_report

    questions = ["What is the capital of France?", "What does France export?"]
    near = replace(abstention(questions[0], ["paris.txt"]), closest=Citation(0, "paris.txt", 1, 1, PARIS))
    bot = ScriptedBot({questions[0]: near, questions[1]: abstention(questions[1], ["paris.txt"])})
    prompts = [{"question": q, "expected_answer": ["Paris"]} for q in questions]
    result = evaluate(bot, prompts, progress=False)
    assert result.summary["false_abstention_rate"] == 1.0  # a refusal still counts as one
    assert result.to_dict()["prompts"][0]["closest"]["quote"] == PARIS
    assert result.to_dict()["prompts"][1]["closest"] is None
    images = dict.fromkeys(["metrics", "latency", "retrieval_rank"], "x.png")
    page = markdown_report(result, images)
    assert "| abstained (wrong; the nearest sentence holds the answer) |" in page
    assert f"The documents do not say.<br>Nearest sentence, not cited: “{PARIS}” (paris.txt, line 1)" in page
    assert "| abstained (wrong) |" in page
    assert f"Nearest sentence, not cited: “{PARIS}”" in html_report(result, images)


def test_the_report_shows_each_cited_or_nearest_files_title_beside_its_name():
    from rag.evaluation.report import html_report, markdown_report

    class TitledBot(ScriptedBot):
        def title(self, source):
            return {"paris.txt": "France <at> a glance"}.get(source)

    bot, prompts = scripted()
    refused = "What does France export?"
    near = replace(abstention(refused, ["paris.txt"]), closest=Citation(0, "paris.txt", 1, 1, PARIS))
    result = evaluate(TitledBot({**bot.answers, refused: near}), [*prompts, {"question": refused}], progress=False)
    assert result.titles == {"paris.txt": "France <at> a glance"}
    images = dict.fromkeys(["metrics", "latency", "retrieval_rank"], "x.png")
    page = markdown_report(result, images)
    assert "| [1] paris.txt “France &lt;at&gt; a glance”, line 1 |" in page
    assert f"Nearest sentence, not cited: “{PARIS}” (paris.txt “France &lt;at&gt; a glance”, line 1)" in page
    page = html_report(result, images)
    assert "<div>[1] paris.txt “France &lt;at&gt; a glance”, line 1<div class" in page
    assert "(paris.txt “France &lt;at&gt; a glance”, line 1)" in page


def test_a_report_with_an_unknown_suffix_is_refused_before_asking(tmp_path):
    bot, prompts = scripted()
    with pytest.raises(ReportError, match=r"\.html or \.md"):
        write_report(evaluate(bot, prompts, progress=False), tmp_path / "report.pdf")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"report": "{tmp}/folder.md"}, "folder.md: it is a folder"),
        ({"json_out": "{tmp}/folder.md"}, "folder.md: it is a folder"),
        ({"json_out": "{tmp}/p.jsonl/out.json"}, r"Cannot write .*out.json \(.*\)\. Give a path you can write to"),
        ({"report": "{tmp}/p.jsonl/r.html"}, r"Cannot write .*r.html \(.*\)\. Give a path you can write to"),
        ({"report": "{tmp}/r.md", "missing": "matplotlib"}, "A report's plots need matplotlib"),
    ],
)
def test_output_paths_and_the_plotting_library_are_checked_before_asking(tmp_path, monkeypatch, options, message):
    import importlib.util

    from rag.evaluation.run import run_eval_command

    (tmp_path / "folder.md").mkdir()
    missing = options.pop("missing", None)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == missing else real_find_spec(name, *a)
    )
    prompts_file = tmp_path / "p.jsonl"
    prompts_file.write_text('{"question": "q?", "answerable": false}\n', encoding="utf-8")

    class NeverAsked:
        def ask(self, question):
            raise AssertionError("asked before the output paths were checked")

    paths = {key: value.format(tmp=tmp_path) for key, value in options.items()}
    with pytest.raises(ReportError, match=message):
        run_eval_command(NeverAsked(), prompts_file, echo=lambda *_: None, **paths)


# ----------------------------------------------------------------------------------------
# The NLI judge, with a tiny random model (plumbing only: its verdicts mean nothing)


def build_tiny_nli(folder, labels: dict[int, str]):
    from transformers import BertConfig, BertForSequenceClassification

    from tests.tiny_models import build_wordpiece_tokenizer

    wrapped = build_wordpiece_tokenizer(folder, vocab_size=120, texts=[PARIS, BANANAS], model_max_length=128)
    import torch

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=wrapped.vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=128,
        num_labels=len(labels),
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_nli(tmp_path_factory):
    pytest.importorskip("sentence_transformers")
    folder = tmp_path_factory.mktemp("tiny-nli")
    return build_tiny_nli(folder, {0: "contradiction", 1: "entailment", 2: "neutral"})


def test_loading_the_nli_judge_draws_no_progress_bar(tiny_nli, capfd):
    from rag.evaluation.nli import CrossEncoderJudge

    capfd.readouterr()
    CrossEncoderJudge(str(tiny_nli), max_length=64)
    assert "Loading weights" not in capfd.readouterr().err


def test_the_nli_judge_scores_entailment_probability_and_plugs_into_evaluate(tiny_nli):
    from rag.evaluation.nli import CrossEncoderJudge

    judge = CrossEncoderJudge(str(tiny_nli), max_length=64)
    assert judge.entailment_output == 1  # the tiny model labels its outputs, entailment second
    score = judge.support(PARIS, PARIS)
    assert 0.0 <= score <= 1.0
    assert judge.support_many([(PARIS, PARIS), (BANANAS, PARIS)])[0] == pytest.approx(score, abs=1e-6)
    bot, prompts = scripted()
    result = evaluate(bot, prompts, judge=judge, progress=False)
    assert result.judge == f"nli:{tiny_nli}"
    sentence = result.results[0].verdicts[0]
    assert sentence.score == pytest.approx(score, abs=1e-6)
    assert sentence.supported == (score >= 0.5)


def test_rag_judge_model_picks_the_nli_judge_for_the_command(tiny_nli, tmp_path, monkeypatch):
    from rag.evaluation.run import run_eval_command

    bot, prompts = scripted()
    path = write_lines(tmp_path / "p.jsonl", [json.dumps(p) for p in prompts])
    monkeypatch.setenv("RAG_JUDGE_MODEL", str(tiny_nli))
    printed = []
    result = run_eval_command(bot, path, echo=printed.append)
    assert result.judge == f"nli:{tiny_nli}" and printed[0] == f"Judge: nli:{tiny_nli}"


def test_evaluate_uses_the_bots_own_judge_when_none_is_given():
    class Strict:
        name = "strict"
        threshold = 2.0  # nothing reaches it

        def support(self, claim, passage):
            return 1.0

    bot, prompts = scripted()
    bot.judge = Strict()
    result = evaluate(bot, prompts, progress=False)
    assert result.judge == "strict" and result.summary["faithfulness"] == 0.0


def test_an_nli_judge_without_an_entailment_label_is_refused(tmp_path):
    pytest.importorskip("sentence_transformers")
    from rag.evaluation.nli import CrossEncoderJudge

    folder = build_tiny_nli(tmp_path / "m", {0: "positive", 1: "negative"})
    with pytest.raises(ModelLoadError, match="entailment"):
        CrossEncoderJudge(str(folder))


def test_a_missing_nli_model_is_a_model_load_error(tmp_path):
    pytest.importorskip("sentence_transformers")
    from rag.evaluation.nli import CrossEncoderJudge

    with pytest.raises(ModelLoadError, match="The NLI model folder .* does not exist"):
        CrossEncoderJudge(str(tmp_path / "no-such-model"))


# ----------------------------------------------------------------------------------------
# Acceptance on the seeds question set (issue 5)


# ----------------------------------------------------------------------------------------
# Acceptance on the seeds question set (issue 5); figures and discussion in docs/EVALUATION.md


@pytest.fixture(scope="module")
def seeds_summary(seeds_bot):
    return evaluate(seeds_bot, PROMPTS / "seeds.jsonl", progress=False).summary


def test_seeds_answers_are_faithful_and_cite_precisely(seeds_summary):
    assert seeds_summary["faithfulness"] >= 0.95
    assert seeds_summary["citation_precision"] >= 0.95 and seeds_summary["citation_recall"] >= 0.95
    assert seeds_summary["retrieval_hit_rate"] >= 0.95


@pytest.mark.xfail(
    reason="not reached by the offline lexical composer: answer_accuracy 0.574, abstention_accuracy 0.917, "
    "false_abstention_rate 0.407 (docs/EVALUATION.md)",
    strict=True,
)
def test_seeds_question_set_meets_every_issue_5_target(seeds_summary):
    assert seeds_summary["answer_accuracy"] >= 0.9
    assert seeds_summary["abstention_accuracy"] == 1.0
    assert seeds_summary["false_abstention_rate"] <= 0.05


def test_documents_path_gives_the_same_figures_as_a_folder(tmp_path):
    docs = [Document("paris.txt", PARIS), Document("fruit.txt", BANANAS)]
    bot = Chatbot.from_documents(docs, index_dir=tmp_path / "i")
    result = evaluate(bot, [Prompt("What is the capital of France?", ("paris.txt",), ("Paris",))], progress=False)
    assert result.summary["retrieval_hit_rate"] == 1.0


def test_quotes_are_shown_between_quotation_marks_without_doubling_their_own():
    from rag.records import in_quotes

    assert in_quotes("The swap included\n314 prisoners.") == "“The swap included 314 prisoners.”"
    assert in_quotes("“I just know these people.") == "“I just know these people.”"
    assert (
        in_quotes("Not in a medical sense — I knew a different Putin.”")
        == "“Not in a medical sense — I knew a different Putin.”"
    )
    assert in_quotes("“It is a gamble.”") == "“It is a gamble.”"
