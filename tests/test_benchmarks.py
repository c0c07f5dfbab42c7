"""The scale benchmark on a small size: the jobs run in child processes and report figures
that agree with the index they built. Skipped where the SciFact data is absent."""

from __future__ import annotations

import json

import pytest

from tests.conftest import benchmark


@pytest.fixture(scope="module")
def scale():
    module = benchmark("scale")
    if not (module.DATA / "scifact" / "corpus.jsonl").exists():
        pytest.skip("SciFact data not found")
    return module


def test_synthetic_documents_are_the_same_in_every_process(scale):
    first = [d.text for d in scale.documents(5)]
    again = [d.text for d in scale.documents(5)]
    assert first == again and len(set(first)) == 5
    assert all(d.count(". ") == scale.SENTENCES_PER_DOCUMENT - 1 for d in first)


@pytest.mark.slow
def test_a_small_scale_run_measures_our_index_and_the_peer(scale, tmp_path, capsys):
    scale.main(["--sizes", "200", "--workdir", str(tmp_path), "--no-write"])
    lines = capsys.readouterr().out.splitlines()
    ours = [c.strip() for c in next(line for line in lines if line.startswith("| local |")).strip("|").split("|")]
    peer = [c.strip() for c in next(line for line in lines if line.startswith("| bm25s")).strip("|").split("|")]
    assert len(ours) == len(peer) == 11
    assert 200 <= int(ours[1].replace(",", "")) < 300  # about one chunk per document
    build_s, chunks_per_second, disk_mb, build_rss, open_s = (float(ours[i].replace(",", "")) for i in range(2, 7))
    retrieve_median, retrieve_p95 = (float(x) for x in ours[7].split(" / "))
    serve_rss, dense_recall, hybrid_recall = (float(ours[i].replace(",", "")) for i in (8, 9, 10))
    assert build_s >= 0 and open_s >= 0 and chunks_per_second > 0 and disk_mb > 0
    assert 0 < retrieve_median <= retrieve_p95
    assert build_rss > 10 and serve_rss > 10 and float(peer[8].replace(",", "")) > 10  # megabytes, not kilobytes
    # Below the size where the dense index becomes approximate, search is exact: nothing is missed.
    assert dense_recall == hybrid_recall == 1.0
    assert list(tmp_path.iterdir()) == []  # the index is removed after measuring


def test_the_paraphrased_questions_are_valid_prompts_whose_answers_are_in_their_passages():
    paraphrased = benchmark("paraphrased")
    prompts = paraphrased.load_prompts(paraphrased.PROMPTS)
    assert (len(prompts), sum(p.answerable for p in prompts)) == (480, 320)
    assert all(bool(p.expected_answer) == bool(p.expected_sources) == p.answerable for p in prompts)
    if not (benchmark("common").DATA / "clapnq_dev").exists():
        pytest.skip("ClapNQ data not found")
    documents = {d.id: d.text.lower() for d in paraphrased.load()[0]}
    rows = [json.loads(line) for line in paraphrased.PROMPTS.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        passage = documents[row["passage"]]
        assert all(source in documents for source in row["expected_sources"])
        assert all(answer.lower() in passage for answer in row["expected_answer"]), row["question"]


def _answer(text: str, raw: str, *, backend: str = "llm", fallback: str | None = None, citations=(), abstained=False):
    from rag import Answer

    return Answer(
        "q?", text, list(citations), abstained=abstained, raw_text=raw, backend=backend, fallback_reason=fallback
    )


def test_the_llm_benchmark_counts_what_became_of_the_models_sentences():
    from rag import Citation
    from rag.answer.refusal import REFUSAL

    llm_answers = benchmark("llm_answers")
    own, found = (
        Citation(1, "a.txt", 1, 1, "Paris is the capital."),
        Citation(2, "a.txt", 2, 2, "Rome is old.", attributed=True),
    )
    answers = [
        _answer(
            "Paris is the capital [1]. Rome is old [2].",
            "Paris is the capital [1]. It is big. Rome is old.",
            citations=(own, found),
        ),
        _answer("Extractive.", "Nonsense here. More nonsense.", backend="extractive", fallback="not used"),
        _answer("Extractive.", "", backend="extractive"),
        _answer(REFUSAL, REFUSAL, abstained=True),
    ]
    fates = llm_answers.sentence_fates(answers)
    assert fates == llm_answers.Sentences(written=5, as_written=1, attributed=1, model_answers=2, fell_back=1)
    assert fates.dropped == 3


def test_the_llm_benchmark_tables_writers_side_by_side_and_says_where_a_model_is_worse():
    llm_answers = benchmark("llm_answers")
    summary = {"answer_accuracy": 0.9, "false_abstention_rate": 0.1, "faithfulness": 1.0, "prompts": 10}
    summary |= {"latency_median_ms": 10.0, "latency_p95_ms": 20.0}
    base = llm_answers.Row("extractive", "seeds", summary, llm_answers.Sentences(), 0.5)
    model_summary = summary | {"answer_accuracy": 0.7, "false_abstention_rate": 0.05, "latency_median_ms": 300.0}
    model = llm_answers.Row("smollm2", "seeds", model_summary, llm_answers.Sentences(4, 1, 1, 3, 2), 16.0)
    lines = llm_answers.table([base, model]).splitlines()
    assert lines[0] == "| measure | extractive | smollm2 |"
    assert "| answer accuracy (answerable: answered, and the answer holds the fact) | 0.900 | 0.700 |" in lines
    assert "| answers the model's / fallen back to extractive | n/a | 3 / 2 |" in lines
    assert "| not shown (dropped, or in a fallen-back answer) | n/a | 50% (2) |" in lines
    assert "| load time (s) | 0.5 | 16.0 |" in lines
    assert not any(line.startswith("| citation recall") for line in lines)  # no writer has it
    assert llm_answers.worse_than_extractive([base, model]) == [
        "* smollm2 on seeds: answer accuracy 0.700 vs 0.900; median latency 30 times the extractive one."
    ]
