"""Opening an index: no index, a damaged one (rebuilt from the folder), files that may not be
read, and a writer committing a new generation meanwhile."""

import contextlib
import json
import threading

import pytest

from rag import Chatbot
from rag.errors import IndexLocationError, RagError
from rag.ingest.pipeline import update_index
from rag.store.index import Index
from rag.store.manifest import MANIFEST
from tests.store.sample_index import DOCS, settings


def test_no_index_is_a_rag_error(tmp_path):
    with pytest.raises(RagError, match="No index"):
        Index.open(tmp_path)


@pytest.mark.parametrize(
    "damage",
    [
        "truncate-manifest",
        "garbage-manifest",
        "truncate-vectors",
        "truncate-chunks",
        "delete-vectors",
        "garbage-chunks",
        "redimension-vectors",
        "truncate-lexical",
        "garbage-lexical",
        "delete-lexical",
    ],
)
def test_a_damaged_index_is_a_rag_error_and_from_folder_rebuilds_it(tmp_path, damage):
    folder = tmp_path / "docs"
    folder.mkdir()
    for document in DOCS:
        (folder / document.id).write_text(document.text, encoding="utf-8")
    index_dir = tmp_path / "index"
    Chatbot.from_folder(folder, index_dir=index_dir)
    manifest = json.loads((index_dir / MANIFEST).read_text())
    target = {
        "manifest": index_dir / MANIFEST,
        "vectors": index_dir / manifest["files"]["vectors"]["name"],
        "chunks": index_dir / manifest["files"]["chunks"]["name"],
        "lexical": index_dir / manifest["files"]["lexical"]["name"],
    }[damage.split("-")[1]]
    if damage.startswith("truncate"):
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    elif damage.startswith("garbage"):
        target.write_bytes(b"\x00garbage" * (target.stat().st_size // 8 + 1))
        if damage in ("garbage-chunks", "garbage-lexical"):  # same size, so only reading it can notice
            role = damage.split("-")[1]
            target.write_bytes(target.read_bytes()[: manifest["files"][role]["bytes"]])
    elif damage == "redimension-vectors":  # FAISS reads it; only its first search would fail
        data = bytearray(target.read_bytes())
        data[4:8] = (7).to_bytes(4, "little")  # after b"IxM2", the dimension
        target.write_bytes(bytes(data))
    else:
        target.unlink()

    with pytest.raises(RagError, match="damaged|--rebuild"):
        Index.open(index_dir)
    bot = Chatbot.from_folder(folder, index_dir=index_dir)
    assert bot.retrieve("ripe bananas", k=1)[0].source == "b.txt"


@pytest.mark.parametrize("role", ["vectors", "chunks"])
def test_a_data_file_that_may_not_be_read_is_a_permissions_error_not_damage(tmp_path, monkeypatch, role):
    from pathlib import Path

    update_index(tmp_path, DOCS, settings())
    name = json.loads((tmp_path / MANIFEST).read_text())["files"][role]["name"]
    real_open = Path.open

    def open_(path, *args, **kwargs):  # chmod does not lock root out, so the refusal is simulated
        if path.name == name:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)
    with pytest.raises(IndexLocationError) as raised:
        Index.open(tmp_path)
    assert str(raised.value) == (
        f"Cannot read {name} in the index in {tmp_path} (Permission denied). "
        "Give --index-dir a folder you can read, or run as the user who built it."
    )


def test_opening_while_a_writer_replaces_the_index_reads_the_new_generation(tmp_path, monkeypatch):
    import rag.store.index as store

    update_index(tmp_path, DOCS, settings())
    stale = store.read_manifest(tmp_path)
    update_index(tmp_path, DOCS[:2], settings())  # commits generation 2, removes generation 1's files
    calls = []
    real_read_manifest = store.read_manifest

    def read_stale_first(folder):
        calls.append(folder)
        return stale if len(calls) == 1 else real_read_manifest(folder)

    monkeypatch.setattr(store, "read_manifest", read_stale_first)
    index = Index.open(tmp_path)
    assert index.manifest.generation == 2 and sorted(index.manifest.documents) == ["a.txt", "b.txt"]
    index.close()


def test_readers_in_several_threads_keep_answering_while_a_writer_commits_new_generations(tmp_path):
    update_index(tmp_path, DOCS, settings())
    index = Index.open(tmp_path)
    expected = [index.lexical_search([term], 5) for term in ("appl", "banana", "cherri", "grow")]
    errors, rounds = [], []
    done = threading.Event()

    def read():
        try:
            while not done.is_set():
                found = [index.lexical_search([term], 5) for term in ("appl", "banana", "cherri", "grow")]
                assert found == expected  # the generation it opened, whatever the writer does
                assert sorted(c.source for c in index.chunks([i for i, _ in found[3]]).values()) == ["a.txt", "b.txt"]
                rounds.append(1)
        except Exception as error:  # noqa: BLE001 (reported by the main thread)
            errors.append(error)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    for documents in (DOCS[:2], DOCS, DOCS[1:]):  # three commits, each removing the files before it
        update_index(tmp_path, documents, settings())
    done.set()
    for reader in readers:
        reader.join()
    index.close()
    assert errors == [] and rounds
    assert sorted(p.name for p in tmp_path.glob("lexical-*")) == ["lexical-4.bm25"]
    with contextlib.closing(Index.open(tmp_path)) as latest:
        assert [i for i, _ in latest.lexical_search(["appl"], 5)] == []
        assert latest.document_frequencies(["grow", "cherri"]) == {"grow": 1, "cherri": 1}
