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
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| 2"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == 11
    assert 200 <= int(cells[0].replace(",", "")) < 300  # about one chunk per document
    numbers = [float(c.split(" / ")[0].replace(",", "")) for c in cells[1:]]
    assert all(n >= 0 for n in numbers)
    chunks_per_second, disk_mb, build_rss, query_rss, peer_rss = (numbers[i] for i in (1, 2, 3, 6, 9))
    assert chunks_per_second > 0 and disk_mb > 0
    assert build_rss > 10 and query_rss > 10 and peer_rss > 10  # megabytes, not kilobytes
    assert not (tmp_path / "index-200").exists()  # the index is removed after measuring


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
