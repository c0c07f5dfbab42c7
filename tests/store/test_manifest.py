"""The manifest: what it records, how damage and foreign files are told apart, keys of other
versions, and whether an embedder or chunker fits the index."""

import contextlib
import json

import pytest

from rag import Chatbot
from rag.errors import IndexCorruptError, IndexLocationError, IndexMismatchError
from rag.ingest.pipeline import update_index
from rag.ingest.tokens import APPROXIMATION
from rag.language.analysis import ANALYZER_ID
from rag.models.embedding import HashingEmbedder
from rag.store.index import Index
from rag.store.manifest import MANIFEST
from tests.store.sample_index import DOCS, edit_manifest, settings


def test_manifest_describes_the_index(tmp_path):
    update_index(tmp_path, DOCS, settings())
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["format_version"] == 2
    assert manifest["embedder"] == {"id": "hashing-v2-64", "dim": 64}
    assert manifest["chunker"] == {
        "max_tokens": 212,
        "overlap_tokens": 40,
        "tokenizer": APPROXIMATION,
        "analyzer": ANALYZER_ID,
    }
    assert manifest["documents"]["a.txt"]["sha256"] == DOCS[0].sha256
    assert manifest["documents"]["a.txt"]["chunks"] == 1
    assert sorted(manifest["files"]) == ["chunks", "lexical", "vectors"]
    index = Index.open(tmp_path)
    assert index.chunk_count == 3
    assert index.document_chunk_counts() == {"a.txt": 1, "b.txt": 1, "c.txt": 1}


def test_another_embedder_is_a_clear_error_unless_rebuilding(tmp_path):
    update_index(tmp_path, DOCS, settings(HashingEmbedder(64)))
    with pytest.raises(IndexMismatchError, match=r"hashing-v2-64.*--rebuild"):
        update_index(tmp_path, DOCS, settings(HashingEmbedder(128)))
    update_index(tmp_path, DOCS, settings(HashingEmbedder(128)), rebuild=True)
    assert json.loads((tmp_path / MANIFEST).read_text())["embedder"]["dim"] == 128


def test_opening_without_an_embedder_uses_the_one_the_index_was_built_with(tmp_path):
    Chatbot.from_documents(DOCS, tmp_path, embedding_model="hashing-v2-128")
    bot = Chatbot.from_index(tmp_path)
    assert bot.embedder.id == "hashing-v2-128"
    with pytest.raises(IndexMismatchError):
        Chatbot.from_documents(DOCS, tmp_path, embedding_model="hashing-v2-64")
    with pytest.raises(IndexMismatchError, match="hashing-v2-128"):
        Chatbot.from_index(tmp_path, embedding_model="hashing-v2-64")


def test_an_index_from_an_earlier_offline_embedder_asks_for_a_rebuild_not_a_model_download(tmp_path):
    Chatbot.from_documents(DOCS, tmp_path)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    manifest["embedder"]["id"] = "hashing-v1-1024"
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match=r"hashing-v1-1024.*earlier version.*--rebuild"):
        Chatbot.from_index(tmp_path)
    rebuilt = Chatbot.from_documents(DOCS, tmp_path, rebuild=True)
    assert rebuilt.embedder.id == "hashing-v2-1024"
    assert rebuilt.retrieve(DOCS[0].text.split()[0], k=1)


def test_a_manifest_key_this_version_does_not_know_is_left_unread(tmp_path):
    update_index(tmp_path, DOCS, settings())
    edit_manifest(tmp_path, version=2, written_by={"rag-seeds": "9.0"})
    with contextlib.closing(Index.open(tmp_path)) as index:
        assert index.chunk_count == 3


def test_a_newer_format_with_keys_this_version_does_not_know_is_a_format_mismatch(tmp_path):
    update_index(tmp_path, DOCS, settings())
    edit_manifest(tmp_path, format_version=3, version=3)
    with pytest.raises(IndexMismatchError) as raised:
        Index.open(tmp_path)
    assert str(raised.value) == (
        f"The index in {tmp_path} has format 3; this version reads formats 1 and 2. "
        f"Rebuild it with `rag index FOLDER --index-dir {tmp_path} --rebuild`."
    )


def test_a_manifest_without_its_embedder_is_damage_said_plainly(tmp_path):
    update_index(tmp_path, DOCS, settings())
    edit_manifest(tmp_path, embedder=None)
    with pytest.raises(IndexCorruptError) as raised:
        Index.open(tmp_path)
    assert str(raised.value) == (
        f"The index in {tmp_path} is damaged (manifest.json has no embedder entry). "
        f"Rebuild it with `rag index FOLDER --index-dir {tmp_path} --rebuild`."
    )


def test_a_manifest_nested_too_deep_to_parse_is_damage_not_a_traceback(tmp_path):
    update_index(tmp_path, DOCS, settings())
    (tmp_path / MANIFEST).write_text("[" * 100_000)
    with pytest.raises(IndexCorruptError) as raised:
        Index.open(tmp_path)
    assert raised.value.detail.startswith("manifest.json: ")
    update_index(tmp_path, DOCS, settings(), rebuild=True)
    with contextlib.closing(Index.open(tmp_path)) as index:
        assert index.chunk_count == 3


def _set(*path, to):
    """An edit of the manifest: the entry at ``path`` set to ``to``."""

    def edit(manifest):
        entry = manifest
        for key in path[:-1]:
            entry = entry[key]
        entry[path[-1]] = to

    return edit


WRONG_TYPES = {
    "documents-list": (_set("documents", to=[]), "documents should be an object, not a list"),
    "document-text": (_set("documents", "a.txt", to="x"), 'documents["a.txt"] should be an object, not text'),
    "chunks-text": (
        _set("documents", "a.txt", "chunks", to="x"),
        'documents["a.txt"].chunks should be a whole number, not text',
    ),
    "sha256-number": (
        _set("documents", "a.txt", "sha256", to=5),
        'documents["a.txt"].sha256 should be text, not a whole number',
    ),
    "embedder-number": (_set("embedder", to=5), "embedder should be an object, not a whole number"),
    "embedder-id-number": (_set("embedder", "id", to=5), "embedder.id should be text, not a whole number"),
    "chunker-list": (_set("chunker", to=[]), "chunker should be an object, not a list"),
    "tokenizer-number": (_set("chunker", "tokenizer", to=5), "chunker.tokenizer should be text, not a whole number"),
    "files-list": (_set("files", to=[]), "files should be an object, not a list"),
    "file-name-number": (_set("files", "chunks", "name", to=5), "files.chunks.name should be text, not a whole number"),
    "file-bytes-text": (
        _set("files", "vectors", "bytes", to="12"),
        "files.vectors.bytes should be a whole number, not text",
    ),
    "generation-text": (_set("generation", to="1"), "generation should be a whole number, not text"),
    "source-number": (_set("source", to=5), "source should be text or null, not a whole number"),
    "format-version-true": (_set("format_version", to=True), "format_version should be a whole number, not true"),
}


@pytest.mark.parametrize(("edit", "detail"), WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_a_manifest_entry_of_the_wrong_type_is_damage_named_not_a_traceback(tmp_path, edit, detail):
    update_index(tmp_path, DOCS, settings())
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    edit(manifest)
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    damaged = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != ".lock"}

    for attempt in (lambda: Index.open(tmp_path), lambda: update_index(tmp_path, DOCS[:2], settings())):
        with pytest.raises(IndexCorruptError) as raised:
            attempt()
        assert raised.value.detail == f"manifest.json: {detail}"
        assert str(raised.value).endswith(f"Rebuild it with `rag index FOLDER --index-dir {tmp_path} --rebuild`.")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != ".lock"} == damaged

    update_index(tmp_path, DOCS[:2], settings(), rebuild=True)
    with contextlib.closing(Index.open(tmp_path)) as index:
        assert index.document_chunk_counts() == {"a.txt": 1, "b.txt": 1}


def test_manifest_keys_this_version_does_not_know_are_kept_when_it_rewrites_the_manifest(tmp_path):
    update_index(tmp_path, DOCS, settings())
    edit_manifest(tmp_path, written_by={"rag-seeds": "9.0"}, languages=["en"])

    update_index(tmp_path, DOCS[:2], settings())  # a new generation
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["generation"] == 2 and sorted(manifest["documents"]) == ["a.txt", "b.txt"]
    assert (manifest["written_by"], manifest["languages"]) == ({"rag-seeds": "9.0"}, ["en"])

    update_index(tmp_path, DOCS[:2], settings(), source=tmp_path)  # only the source is rewritten
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["source"] == str(tmp_path.resolve())
    assert (manifest["written_by"], manifest["languages"]) == ({"rag-seeds": "9.0"}, ["en"])

    update_index(tmp_path, DOCS[:2], settings(), rebuild=True)  # from nothing: nothing of the old one
    assert "written_by" not in json.loads((tmp_path / MANIFEST).read_text())


@pytest.mark.parametrize("content", ['{"name": "my-app", "version": "1.0.0"}', "not json at all"])
def test_a_manifest_json_that_is_not_an_index_is_never_written_over(tmp_path, content):
    (tmp_path / MANIFEST).write_text(content)
    with pytest.raises(IndexLocationError, match=r"manifest.json is not an index's manifest.*empty folder"):
        Chatbot.from_documents(DOCS, tmp_path)
    with pytest.raises(IndexLocationError, match="is not an index's manifest"):
        Chatbot.from_documents(DOCS, tmp_path, rebuild=True)
    assert (tmp_path / MANIFEST).read_text() == content
