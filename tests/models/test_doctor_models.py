"""``rag doctor``'s model lines: each configured model loaded to prove it loads, with its
device and dimension, and a line that says so when it does not load."""

from __future__ import annotations

from click.testing import CliRunner

from rag.answer.llm import cpu_has_bf16
from rag.cli import main
from rag.doctor import diagnose


def test_doctor_lists_each_model_with_its_device_and_dimension(tiny_models, neural_index):
    checks = {
        c.name: c
        for c in diagnose(
            neural_index,
            embedding_model=str(tiny_models.embedder),
            reranker_model=str(tiny_models.reranker),
            llm_model=str(tiny_models.llm),
        )
    }
    assert checks["embedder"].ok and checks["reranker"].ok and checks["llm"].ok
    assert checks["embedder"].detail == (
        f"sentence-transformers:{tiny_models.embedder}, dim 32, sentence-transformers, loads, "
        "query prompt 'query: ', document prompt 'passage: ', device cpu"
    )
    assert checks["reranker"].detail == (
        f"cross-encoder:{tiny_models.reranker}, loads, device cpu, dim 32, max length 512"
    )
    dtype = "bfloat16" if cpu_has_bf16() else "float32"  # "auto": bfloat16 where the CPU computes it
    assert checks["llm"].detail.startswith(
        f"transformers:{tiny_models.llm} (transformers, {dtype}, 1 thread), loads, device cpu, dim 32, "
    )
    assert checks["llm"].detail.endswith("parameters, window 1024 tokens, chat template")


def test_doctor_names_the_embedder_the_index_was_built_with_when_none_is_named(tiny_models, neural_index):
    # `rag ask --index-dir` on this index embeds questions with the tiny model, so doctor says so.
    embedder = {c.name: c for c in diagnose(neural_index)}["embedder"]
    assert embedder.ok
    assert embedder.detail.startswith(f"sentence-transformers:{tiny_models.embedder}, dim 32, sentence-transformers")
    assert embedder.detail.endswith(", as the index records")


def test_doctor_reports_what_does_not_load(tmp_path):
    checks = {c.name: c for c in diagnose(tmp_path, reranker_model=str(tmp_path / "gone"), llm_model=None)}
    assert not checks["reranker"].ok
    assert "does not exist" in checks["reranker"].detail
    assert checks["llm"].ok and checks["llm"].detail.startswith("none configured: extractive answers")


def test_rag_doctor_exits_1_when_a_named_model_does_not_load(tmp_path):
    result = CliRunner().invoke(
        main, ["doctor", "--index-dir", str(tmp_path), "--reranker-model", str(tmp_path / "gone")]
    )
    assert result.exit_code == 1
    assert "--  reranker" in result.output
    assert "--  index          none in" in result.output  # no index yet is not a failure by itself


def test_rag_doctor_prints_the_model_lines(tiny_models, tmp_path):
    result = CliRunner().invoke(
        main, ["doctor", "--index-dir", str(tmp_path), "--reranker-model", str(tiny_models.reranker)]
    )
    assert result.exit_code == 0
    assert f"ok  reranker       cross-encoder:{tiny_models.reranker}, loads, device cpu" in result.output
    assert "ok  llm            none configured" in result.output
