"""The chatbot over a Qdrant collection: the seeds question set answered as on the folder store,
the CLI's --store on index, ask and doctor, and a real server when RAG_QDRANT_URL names one."""

import json
import os
import subprocess
import sys
import uuid
from dataclasses import asdict

import pytest

pytest.importorskip("qdrant_client")

from rag import Chatbot  # noqa: E402
from tests.conftest import ROOT, SEEDS  # noqa: E402

PROMPTS = ROOT / "tests" / "prompts" / "seeds.jsonl"


def _questions() -> list[str]:
    return [json.loads(line)["question"] for line in PROMPTS.read_text(encoding="utf-8").splitlines() if line.strip()]


def _answers(bot: Chatbot) -> list[tuple]:
    return [(a.text, [asdict(c) for c in a.citations]) for a in map(bot.ask, _questions())]


@pytest.mark.slow
def test_the_seeds_questions_get_the_same_answers_on_both_stores(seeds_index, tmp_path):
    with Chatbot.from_index(seeds_index) as local, Chatbot.from_folder(SEEDS, f"qdrant:{tmp_path}") as remote:
        assert type(remote.index).__name__ == "QdrantIndex"
        assert remote.chunk_counts == local.chunk_counts
        assert _answers(remote) == _answers(local)


@pytest.mark.slow
def test_the_cli_indexes_asks_and_checks_a_qdrant_store(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    store = f"qdrant:{tmp_path / 'q'}"

    def rag(*args):
        return subprocess.run(
            [sys.executable, "-m", "rag.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True
        )

    indexed = rag("index", str(SEEDS), "--store", store)
    assert indexed.returncode == 0, indexed.stderr
    assert indexed.stdout.strip().endswith("5 added, 0 changed, 0 removed, 0 unchanged.")
    asked = rag("ask", "Who is Harold Chambers?", "--store", store, "--json")
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["hits"][0]["source"].endswith(".txt")
    doctor = rag("doctor", "--store", store)
    assert doctor.returncode == 0, doctor.stdout
    [line] = [line for line in doctor.stdout.splitlines() if " store " in line]
    assert line.startswith("ok ") and "collection rag-g1, generation 1): 5 documents" in line and "53 chunks" in line


@pytest.mark.skipif(
    not os.environ.get("RAG_QDRANT_URL"), reason="no Qdrant server: set RAG_QDRANT_URL=qdrant://HOST:PORT"
)
def test_a_real_server_answers_as_local_mode(seeds_index):
    from rag.store.location import checked_store
    from rag.store.qdrant_connection import connect

    store = f"{os.environ['RAG_QDRANT_URL'].rstrip('/')}/rag-test-{uuid.uuid4().hex[:8]}"
    try:
        with Chatbot.from_index(seeds_index) as local, Chatbot.from_folder(SEEDS, store) as remote:
            questions = _questions()
            assert [remote.ask(q).text for q in questions] == [local.ask(q).text for q in questions]
            assert not remote.refresh().touched
    finally:  # the test's collections off the server
        connection = connect(checked_store(store))
        name = connection.location.collection
        for collection in connection.client.get_collections().collections:
            if collection.name.startswith(f"{name}-g"):
                connection.client.delete_collection(collection.name)
        connection.close()


@pytest.mark.slow
def test_a_bot_on_a_qdrant_store_refreshes_its_folder_and_doctor_reports_it(seeds_copy, tmp_path):
    from rag.doctor import diagnose

    with Chatbot.from_folder(seeds_copy, f"qdrant:{tmp_path / 'q'}") as bot:
        (seeds_copy / "zanzibar.txt").write_text("Zanzibar exports cloves and nutmeg.\n", encoding="utf-8")
        report = bot.refresh()
        assert (report.added, report.changed, report.removed, report.unchanged) == (["zanzibar.txt"], [], [], 5)
        assert bot.index.generation == 2 and bot.chunk_counts["zanzibar.txt"] == 1
        assert bot.retrieve("Which island exports cloves?", 1)[0].chunk.source == "zanzibar.txt"
        [store] = [check for check in diagnose(bot.index.folder) if check.name == "store"]
        assert store.ok and "generation 2): 6 documents" in store.detail and "54 chunks" in store.detail


def test_store_names_where_the_index_is_in_each_builder(tmp_path):
    from rag import Document, RagError

    place = f"qdrant:{tmp_path / 'q'}"
    documents = [Document("a.txt", "The ferry to Hel leaves at nine.\n")]
    with Chatbot.from_documents(documents, store=place) as built:
        assert type(built.index).__name__ == "QdrantIndex"
    with Chatbot.from_index(store=place) as opened:
        assert type(opened.index).__name__ == "QdrantIndex"
        assert opened.chunk_counts == {"a.txt": 1}
    with Chatbot.from_folder(SEEDS, store=str(tmp_path / "folder")) as folder_bot:
        assert type(folder_bot.index).__name__ == "Index" and len(folder_bot.chunk_counts) == 5
    with pytest.raises(RagError, match="name two places for one index"):
        Chatbot.from_index(tmp_path / "elsewhere", store=place)
    with pytest.raises(RagError, match="must be a path, not NoneType"):
        Chatbot.from_documents(documents)
