"""Bad settings from the environment and their Python twins: ``RAG_DEVICE``, embedder names
(``RAG_EMBEDDING_MODEL``, ``embedding_model=``), reranker and language-model names, and
``RAG_JUDGE_MODEL``. Each is a ``RagError`` (exit 2) up front, offline: ``HF_HUB_OFFLINE=1``
is set and the Hub's address points nowhere, so a case that tries the network hangs and fails
instead of passing by luck. The index asked is left as it was."""

from __future__ import annotations

import pytest

from rag import Chatbot, Document
from tests.conftest import PROMPTS, SEEDS
from tests.hardening.harness import (
    answers_or_refuses,
    assert_kept,
    check_cli_ok_or_user_error,
    check_cli_user_error,
    check_process_user_error,
    invoke,
    raises_rag_error,
    run_rag,
)

OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_ENDPOINT": "http://10.255.255.1:9"}

DEVICES = {
    "tpu": "error",
    "cuda:99": "error",
    "quantum": "error",
    "cpu;rm -rf /": "error",
    "CPU": "either",
    "": "either",  # unset, in effect
}
EMBEDDERS = {
    "hashing-v2-8": "error",
    "hashing-v2-0": "error",
    "hashing-v2--1": "error",
    "hashing-v2-99999999999999": "error",
    "hashing-v1-1024": "error",
    "hashing-v3-1024": "error",
    "hashing-v2-1024x": "error",
    "nonexistent/model": "error",
    "org/nonexistent-model-name": "error",
    "/no/such/folder": "error",
    "./missing-relative-folder": "error",
    "~/no-such-model-here": "error",
    "sentence-transformers:/no/such": "error",
    " ": "error",
    "a" * 5000: "error",
    "hashing\n": "error",
}
OTHER_MODELS = {
    "RAG_RERANKER_MODEL=nonexistent/reranker": ("RAG_RERANKER_MODEL", "nonexistent/reranker"),
    "RAG_RERANKER_MODEL=/no/such": ("RAG_RERANKER_MODEL", "/no/such"),
    "RAG_LLM_MODEL=nonexistent/llm": ("RAG_LLM_MODEL", "nonexistent/llm"),
    "RAG_LLM_MODEL=/no/such": ("RAG_LLM_MODEL", "/no/such"),
    "RAG_EMBEDDING_MODEL=seeds-file": ("RAG_EMBEDDING_MODEL", str(next(SEEDS.iterdir()))),
    "RAG_EMBEDDING_MODEL=seeds-folder": ("RAG_EMBEDDING_MODEL", str(SEEDS)),
}


def _id(name: str) -> str:
    return repr(name)[1:-1][:40] or "empty"


@pytest.mark.parametrize("device,expect", DEVICES.items(), ids=[_id(d) for d in DEVICES])
def test_device_cli_ask(shared_index, baseline, device, expect):
    result = invoke(
        ["ask", "Who is Harold Chambers?", "--index-dir", shared_index], env={**OFFLINE, "RAG_DEVICE": device}
    )
    (check_cli_user_error if expect == "error" else check_cli_ok_or_user_error)(result)
    assert_kept(shared_index, baseline)


@pytest.mark.parametrize("device,expect", DEVICES.items(), ids=[_id(d) for d in DEVICES])
def test_device_cli_index(tmp_path, device, expect):
    result = invoke(["index", SEEDS, "--index-dir", tmp_path / "index"], env={**OFFLINE, "RAG_DEVICE": device})
    (check_cli_user_error if expect == "error" else check_cli_ok_or_user_error)(result)


@pytest.mark.parametrize("device,expect", DEVICES.items(), ids=[_id(d) for d in DEVICES])
def test_device_python(shared_index, device, expect):
    call = lambda: Chatbot.from_index(shared_index, device=device).ask("Who is Harold Chambers?")  # noqa: E731
    if expect == "error":
        raises_rag_error(call)
    else:
        answers_or_refuses(call)


@pytest.mark.parametrize("name", EMBEDDERS, ids=[_id(n) for n in EMBEDDERS])
def test_embedder_cli_ask(shared_index, baseline, name):
    result = invoke(
        ["ask", "Who is Harold Chambers?", "--index-dir", shared_index], env={**OFFLINE, "RAG_EMBEDDING_MODEL": name}
    )
    check_cli_user_error(result)
    assert_kept(shared_index, baseline)


@pytest.mark.parametrize("name", EMBEDDERS, ids=[_id(n) for n in EMBEDDERS])
def test_embedder_cli_index_over_an_index(index_copy, baseline, name):
    result = invoke(["index", SEEDS, "--index-dir", index_copy], env={**OFFLINE, "RAG_EMBEDDING_MODEL": name})
    check_cli_user_error(result)
    assert_kept(index_copy, baseline)


@pytest.mark.parametrize("name", EMBEDDERS, ids=[_id(n) for n in EMBEDDERS])
def test_embedder_cli_index_new(tmp_path, name):
    check_cli_user_error(
        invoke(["index", SEEDS, "--index-dir", tmp_path / "index"], env={**OFFLINE, "RAG_EMBEDDING_MODEL": name})
    )


@pytest.mark.parametrize("name", EMBEDDERS, ids=[_id(n) for n in EMBEDDERS])
def test_embedder_from_index(shared_index, name):
    raises_rag_error(lambda: Chatbot.from_index(shared_index, embedding_model=name))


@pytest.mark.parametrize("name", EMBEDDERS, ids=[_id(n) for n in EMBEDDERS])
def test_embedder_from_documents(tmp_path, name):
    docs = [Document(id="kettle.txt", text="Kettles boil water.")]
    raises_rag_error(lambda: Chatbot.from_documents(docs, index_dir=tmp_path / "index", embedding_model=name))


@pytest.mark.parametrize("variable,value", OTHER_MODELS.values(), ids=OTHER_MODELS.keys())
def test_other_models_cli_ask(shared_index, baseline, variable, value):
    result = invoke(["ask", "Who is Harold Chambers?", "--index-dir", shared_index], env={**OFFLINE, variable: value})
    check_cli_user_error(result)
    assert_kept(shared_index, baseline)


@pytest.mark.parametrize("judge", ["{tmp}/missing-judge", "nonexistent/judge", "{tmp}", "/no/such/judge"])
def test_judge_model_cli_eval(shared_index, tmp_path, judge):
    judge = judge.format(tmp=tmp_path)
    result = invoke(
        ["eval", PROMPTS / "seeds.jsonl", "--index-dir", shared_index], env={**OFFLINE, "RAG_JUDGE_MODEL": judge}
    )
    check_cli_user_error(result)


PROCESS_CASES = {
    "RAG_DEVICE=tpu": ({"RAG_DEVICE": "tpu"}, ["ask", "Who is Harold Chambers?"]),
    "nonexistent-embedder": ({"RAG_EMBEDDING_MODEL": "nonexistent/model"}, ["ask", "Who is Harold Chambers?"]),
    "hashing-v2-8": ({"RAG_EMBEDDING_MODEL": "hashing-v2-8"}, ["ask", "Who is Harold Chambers?"]),
    "missing-judge": ({"RAG_JUDGE_MODEL": "/no/such/judge"}, ["eval", str(PROMPTS / "seeds.jsonl")]),
    "nonexistent-llm": ({"RAG_LLM_MODEL": "nonexistent/llm"}, ["ask", "Who is Harold Chambers?"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("env,args", PROCESS_CASES.values(), ids=PROCESS_CASES.keys())
def test_process(shared_index, env, args):
    check_process_user_error(run_rag([*args, "--index-dir", shared_index], env={**OFFLINE, **env}))
