import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from rag import Chatbot, Document
from rag.chatbot import index_documents
from rag.errors import IndexCorruptError, IndexLocationError, IndexMismatchError, RagError
from rag.ingest.chunking import ChunkerSettings
from rag.ingest.tokens import APPROXIMATION, TokenCounter
from rag.language.analysis import ANALYZER_ID
from rag.models.embedding import HashingEmbedder
from rag.store.index import MANIFEST, Index, IndexSettings, update_index
from tests.conftest import ROOT


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, counting the texts it embeds."""

    def __init__(self, dim=64):
        super().__init__(dim)
        self.embedded = []

    def embed_documents(self, texts):
        self.embedded.extend(texts)
        return super().embed_documents(texts)


def settings(embedder=None):
    return IndexSettings(embedder or CountingEmbedder(), TokenCounter(APPROXIMATION), ChunkerSettings())


DOCS = [
    Document(id="a.txt", text="Apples grow on trees in orchards. They are red or green."),
    Document(id="b.txt", text="Bananas grow in tropical climates. They are yellow when ripe."),
    Document(id="c.txt", text="Cherries are small stone fruits. Birds love them."),
]


def test_manifest_describes_the_index(tmp_path):
    update_index(tmp_path, DOCS, settings())
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["format_version"] == 1
    assert manifest["embedder"] == {"id": "hashing-v2-64", "dim": 64}
    assert manifest["chunker"] == {
        "max_tokens": 256,
        "overlap_tokens": 48,
        "tokenizer": APPROXIMATION,
        "analyzer": ANALYZER_ID,
    }
    assert manifest["documents"]["a.txt"]["sha256"] == DOCS[0].sha256
    assert manifest["documents"]["a.txt"]["chunks"] == 1
    assert sorted(manifest["files"]) == ["chunks", "vectors"]
    index = Index.open(tmp_path)
    assert index.chunk_count == 3
    assert index.document_chunk_counts() == {"a.txt": 1, "b.txt": 1, "c.txt": 1}


def test_reindexing_touches_only_added_changed_and_removed_files(tmp_path):
    update_index(tmp_path, DOCS, settings())
    embedder = CountingEmbedder()
    changed = Document(id="b.txt", text="Bananas are now blue, say the growers.")
    added = Document(id="d.txt", text="Dates are sweet fruits of the date palm.")
    report = update_index(tmp_path, [DOCS[0], changed, added], settings(embedder))

    assert (report.added, report.changed, report.removed, report.unchanged) == (["d.txt"], ["b.txt"], ["c.txt"], 1)
    assert sorted(embedder.embedded) == sorted([changed.text, added.text])
    index = Index.open(tmp_path)
    assert index.document_chunk_counts() == {"a.txt": 1, "b.txt": 1, "d.txt": 1}
    texts = {c.source: c.text for c in index.chunks(range(1, 100)).values()}
    assert texts == {"a.txt": DOCS[0].text, "b.txt": changed.text, "d.txt": added.text}
    assert index.lexical_search(["cherri"], 5) == []
    assert index.lexical_search(["blue"], 5)[0][0] in index.chunks(range(1, 100))


def test_an_unchanged_folder_writes_nothing(tmp_path):
    update_index(tmp_path, DOCS, settings())
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    embedder = CountingEmbedder()
    report = update_index(tmp_path, DOCS, settings(embedder))
    assert not report.touched and embedder.embedded == []
    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir() if p.name != ".lock"}
    assert after == {k: v for k, v in before.items() if k != ".lock"}


def test_a_new_title_is_a_change(tmp_path):
    update_index(tmp_path, DOCS, settings())
    retitled = Document(id="a.txt", text=DOCS[0].text, title="Orchard notes")
    report = update_index(tmp_path, [retitled, *DOCS[1:]], settings())
    assert (report.added, report.changed, report.removed, report.unchanged) == ([], ["a.txt"], [], 2)
    assert Index.open(tmp_path).manifest.documents["a.txt"]["title"] == "Orchard notes"


def test_old_generation_files_are_removed_after_an_update(tmp_path):
    update_index(tmp_path, DOCS, settings())
    for left_by_a_killed_writer in ("chunks-9.sqlite.tmp", "chunks-9.sqlite.tmp-journal", "vectors-9.faiss.tmp"):
        (tmp_path / left_by_a_killed_writer).write_bytes(b"partial")
    update_index(tmp_path, DOCS[:2], settings())
    names = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert names == ["chunks-2.sqlite", MANIFEST, "vectors-2.faiss"]


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


class _WordEncoding:
    """Stands in for a tiktoken encoding that became available after the index was built."""

    def encode(self, text, disallowed_special=()):
        return text.split()


def test_an_index_keeps_the_token_counter_it_was_built_with_until_a_rebuild(tmp_path, monkeypatch):
    import rag.chatbot

    Chatbot.from_documents(DOCS, tmp_path)  # offline: the approximation
    monkeypatch.setattr(rag.chatbot, "load_token_counter", lambda name: TokenCounter(name, _WordEncoding()))
    changed = [*DOCS[:2], Document(id="c.txt", text="Cherries are small stone fruits. Birds eat them.")]

    index, _, report = index_documents(changed, tmp_path)
    index.close()

    assert str(report) == "0 added, 1 changed, 0 removed, 2 unchanged"
    assert json.loads((tmp_path / MANIFEST).read_text())["chunker"]["tokenizer"] == APPROXIMATION
    Chatbot.from_documents(changed, tmp_path, rebuild=True)
    assert json.loads((tmp_path / MANIFEST).read_text())["chunker"]["tokenizer"] == "cl100k_base"


def test_a_large_document_is_embedded_in_batches_with_progress_in_characters(tmp_path, monkeypatch, capsys):
    import rag.store.index

    class BatchRecorder(CountingEmbedder):
        def __init__(self):
            super().__init__()
            self.batches = []

        def embed_documents(self, texts):
            self.batches.append(len(texts))
            return super().embed_documents(texts)

    monkeypatch.setattr(rag.store.index, "_EMBED_BATCH", 4)
    big = Document(id="big.txt", text=" ".join(f"Sentence number {n} says something new." for n in range(200)))
    embedder = BatchRecorder()
    update_index(
        tmp_path, [big], IndexSettings(embedder, TokenCounter(APPROXIMATION), ChunkerSettings(64, 8)), progress=True
    )

    chunks = json.loads((tmp_path / MANIFEST).read_text())["documents"]["big.txt"]["chunks"]
    assert chunks > 8 and sum(embedder.batches) == chunks
    assert set(embedder.batches[:-1]) == {4}  # the one document is embedded four chunks at a time
    bar = capsys.readouterr().err.split("\r")[-1]
    assert f"{len(big.text) / 1000:.2f}k/{len(big.text) / 1000:.2f}k" in bar and "1/1 documents" in bar


def test_duplicate_document_ids_are_an_error(tmp_path):
    with pytest.raises(RagError, match="share the id"):
        update_index(tmp_path, [DOCS[0], DOCS[0]], settings())


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
    }[damage.split("-")[1]]
    if damage.startswith("truncate"):
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    elif damage.startswith("garbage"):
        target.write_bytes(b"\x00garbage" * (target.stat().st_size // 8 + 1))
        if damage == "garbage-chunks":  # same size, so only SQLite itself can notice
            target.write_bytes(target.read_bytes()[: manifest["files"]["chunks"]["bytes"]])
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


def _edit_manifest(folder, **changes):
    path = folder / MANIFEST
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    for key in [key for key, value in changes.items() if value is None]:
        del manifest[key]
    path.write_text(json.dumps(manifest))


def test_a_manifest_key_this_version_does_not_know_is_left_unread(tmp_path):
    update_index(tmp_path, DOCS, settings())
    _edit_manifest(tmp_path, version=2, written_by={"rag-seeds": "9.0"})
    with contextlib.closing(Index.open(tmp_path)) as index:
        assert index.chunk_count == 3


def test_a_newer_format_with_keys_this_version_does_not_know_is_a_format_mismatch(tmp_path):
    update_index(tmp_path, DOCS, settings())
    _edit_manifest(tmp_path, format_version=2, version=2)
    with pytest.raises(IndexMismatchError) as raised:
        Index.open(tmp_path)
    assert str(raised.value) == (
        f"The index in {tmp_path} has format 2; this version reads format 1. "
        f"Rebuild it with `rag index FOLDER --index-dir {tmp_path} --rebuild`."
    )


def test_a_manifest_without_its_embedder_is_damage_said_plainly(tmp_path):
    update_index(tmp_path, DOCS, settings())
    _edit_manifest(tmp_path, embedder=None)
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
    _edit_manifest(tmp_path, written_by={"rag-seeds": "9.0"}, languages=["en"])

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


@pytest.mark.slow
def test_kill_9_during_indexing_leaves_the_previous_index_usable(tmp_path):
    """A real `rag index` process killed while it writes the next generation."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text(DOCS[0].text, encoding="utf-8")
    index_dir = tmp_path / "index"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    rag = [sys.executable, "-m", "rag.cli"]
    subprocess.run([*rag, "index", str(folder), "--index-dir", str(index_dir)], check=True, env=env, cwd=ROOT)

    rng = np.random.default_rng(0)
    vocabulary = [f"w{i}" for i in range(3000)]
    for n in range(3000):  # enough work that the process is caught mid-write
        words = rng.choice(vocabulary, size=120)
        (folder / f"bulk{n:04d}.txt").write_text(" ".join(words) + ".", encoding="utf-8")
    process = subprocess.Popen(
        [*rag, "index", str(folder), "--index-dir", str(index_dir)], env=env, cwd=ROOT, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while not list(index_dir.glob("*.tmp")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert process.poll() is None, "indexing finished before it could be interrupted"
    process.send_signal(signal.SIGKILL)
    process.wait()

    assert json.loads((index_dir / MANIFEST).read_text())["generation"] == 1
    result = subprocess.run(
        [*rag, "ask", "What colour are apples?", "--index-dir", str(index_dir), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["hits"][0]["source"] == "a.txt"
    # The next run cleans up the interrupted generation and completes.
    subprocess.run(
        [*rag, "index", str(folder), "--index-dir", str(index_dir)], check=True, env=env, cwd=ROOT, capture_output=True
    )
    assert not list(index_dir.glob("*.tmp"))
    assert Index.open(index_dir).chunk_count > 3000


def test_an_index_dir_that_cannot_be_a_folder_is_a_plain_error(tmp_path):
    from rag.errors import IndexLocationError

    a_file = tmp_path / "notes.txt"
    a_file.write_text("not an index", encoding="utf-8")
    docs = [Document(id="a.txt", text="Kettles boil water.")]
    with pytest.raises(IndexLocationError, match=r"notes.txt is a file, not a folder"):
        Chatbot.from_documents(docs, index_dir=a_file)
    with pytest.raises(IndexLocationError, match=r"notes.txt is a file, not a folder"):
        Chatbot.from_index(a_file)
    with pytest.raises(IndexLocationError, match=r"Cannot write the index in .*notes.txt/sub \(Not a directory\)"):
        Chatbot.from_documents(docs, index_dir=a_file / "sub")
    assert a_file.read_text(encoding="utf-8") == "not an index"


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


@pytest.mark.parametrize("content", ['{"name": "my-app", "version": "1.0.0"}', "not json at all"])
def test_a_manifest_json_that_is_not_an_index_is_never_written_over(tmp_path, content):
    (tmp_path / MANIFEST).write_text(content)
    with pytest.raises(IndexLocationError, match=r"manifest.json is not an index's manifest.*empty folder"):
        Chatbot.from_documents(DOCS, tmp_path)
    with pytest.raises(IndexLocationError, match="is not an index's manifest"):
        Chatbot.from_documents(DOCS, tmp_path, rebuild=True)
    assert (tmp_path / MANIFEST).read_text() == content


def test_a_read_only_index_folder_is_a_plain_error_before_anything_is_written(tmp_path):
    Chatbot.from_documents(DOCS, tmp_path).close()
    before = sorted(p.name for p in tmp_path.iterdir())
    refused = pytest.raises(IndexLocationError, match=r"Cannot write the index in .*(not permitted|Permission)")
    with _read_only(tmp_path), refused:
        Chatbot.from_documents(DOCS[:2], tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert len(Chatbot.from_index(tmp_path).index.document_chunk_counts()) == 3


@contextlib.contextmanager
def _read_only(folder):
    """chattr +i where the tests run as root (root writes through chmod), chmod otherwise."""
    as_root = os.geteuid() == 0
    if as_root:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
    try:
        yield
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(0o755)
