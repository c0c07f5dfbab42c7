"""Damage that opening an index does not read: found by `rag doctor`, repaired by the next update."""

import contextlib
import fcntl

import numpy as np

from rag.doctor import diagnose
from rag.ingest.pipeline import update_index
from rag.store.files import describe_size
from rag.store.health import check_contents, stale_files
from rag.store.index import Index
from rag.store.manifest import read_manifest
from rag.store.terms import TermsIndex
from tests.store.sample_index import DOCS, settings


def chunk_file(folder):
    return folder / read_manifest(folder).files["chunks"]["name"]


def corrupt_id_map(folder):
    """Change one chunk id in the lexical file's id map, in place: the damage a disk's bit rot
    does, which opening (sizes and counts) does not read."""
    path = folder / read_manifest(folder).files["lexical"]["name"]
    offset = TermsIndex.open(path).ids.offset
    ids = np.memmap(path, dtype=np.int64, mode="r+", offset=offset, shape=(1,))
    ids[0] += 1000
    ids.flush()
    del ids


def searches(folder):
    with contextlib.closing(Index.open(folder)) as index:
        return [index.lexical_search([term], 5) for term in ("appl", "banana", "cherri", "grow")]


def index_check(folder):
    return next(c for c in diagnose(folder) if c.name == "index")


def test_a_damaged_lexical_index_is_found_by_doctor_and_rebuilt_from_the_stored_terms(tmp_path):
    embedder = settings().embedder
    update_index(tmp_path, DOCS, settings(embedder))
    expected = searches(tmp_path)
    check = index_check(tmp_path)
    size = describe_size((tmp_path / "lexical-1.bm25").stat().st_size)
    assert check.ok and f", lexical bm25s (robertson), memory-mapped, {size}, " in check.detail
    corrupt_id_map(tmp_path)

    check = index_check(tmp_path)
    assert not check.ok and check.broken
    assert "lexical-1.bm25 maps other chunk ids than the database holds" in check.detail

    embedder.embedded.clear()
    report = update_index(tmp_path, DOCS, settings(embedder))  # no document changed, none re-read
    assert (
        report.lexical == "damaged lexical index rebuilt (lexical-1.bm25 maps other chunk ids than the database holds)"
    )
    assert (report.added, report.changed, report.repaired, embedder.embedded) == ([], [], [], [])
    assert read_manifest(tmp_path).files["lexical"]["name"] == "lexical-2.bm25"
    assert index_check(tmp_path).ok
    assert searches(tmp_path) == expected


def test_a_document_whose_stored_text_no_longer_matches_its_sha256_is_re_read(tmp_path):
    embedder = settings().embedder
    update_index(tmp_path, DOCS, settings(embedder))
    path = chunk_file(tmp_path)
    data = path.read_bytes()
    at = data.find(b"Bananas grow in tropical")
    assert at > 0
    path.write_bytes(data[:at] + b"b" + data[at + 1 :])  # one bit: "B" is 0x42, "b" 0x62

    check = index_check(tmp_path)
    assert not check.ok
    assert "the stored text or chunks of 1 document(s) do not match the manifest (b.txt)" in check.detail
    assert check_contents(path, read_manifest(tmp_path)).damaged_documents == ["b.txt"]

    embedder.embedded.clear()
    report = update_index(tmp_path, DOCS, settings(embedder))
    assert (report.added, report.changed, report.removed, report.repaired) == ([], [], [], ["b.txt"])
    assert str(report) == "0 added, 0 changed, 0 removed, 3 unchanged; repaired: 1 damaged document(s) re-read (b.txt)"
    assert embedder.embedded == [DOCS[1].text]
    with contextlib.closing(Index.open(tmp_path)) as index:
        assert index.document_text("b.txt") == DOCS[1].text
    assert index_check(tmp_path).ok


def test_temporary_files_of_killed_writers_are_listed_by_doctor_and_removed_by_the_next_update(tmp_path):
    update_index(tmp_path, DOCS, settings())
    (tmp_path / "chunks-5.sqlite.tmp").write_bytes(b"x" * 3000)
    (tmp_path / "vectors-5.faiss.tmp").write_bytes(b"x" * 20)
    (tmp_path / "chunks-6.sqlite.tmp-journal").write_bytes(b"x" * 512)
    (tmp_path / "notes.tmp").write_bytes(b"someone else's")
    (tmp_path / "vectors-4.faiss").write_bytes(b"x" * 2)  # renamed into place, never committed

    assert [(p.name, size) for p, size in stale_files(tmp_path)] == [
        ("chunks-5.sqlite.tmp", 3000),
        ("chunks-6.sqlite.tmp-journal", 512),
        ("vectors-5.faiss.tmp", 20),
    ]
    assert [p.name for p, _ in stale_files(tmp_path, read_manifest(tmp_path))] == [
        "chunks-5.sqlite.tmp",
        "chunks-6.sqlite.tmp-journal",
        "vectors-4.faiss",
        "vectors-5.faiss.tmp",
    ]
    check = next(c for c in diagnose(tmp_path) if c.name == "index files")
    assert (check.ok, check.broken) == (False, False)
    assert check.detail == (
        f"4 file(s) left by interrupted runs in {tmp_path}, 3.5 kB: chunks-5.sqlite.tmp (3.0 kB), "
        f"chunks-6.sqlite.tmp-journal (512 bytes), vectors-4.faiss (2 bytes), vectors-5.faiss.tmp (20 bytes). "
        f"The next `rag index --index-dir {tmp_path}` removes them."
    )

    report = update_index(tmp_path, DOCS, settings())  # nothing changed: no generation written
    assert not report.touched
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".lock",
        ".rag-index",  # the marker that tells the index's files from anyone else's
        "chunks-1.sqlite",
        "lexical-1.bm25",
        "manifest.json",
        "notes.tmp",
        "vectors-1.faiss",
    ]
    assert not any(c.name == "index files" for c in diagnose(tmp_path))


def test_a_live_writers_temporary_files_are_not_called_stale(tmp_path):
    update_index(tmp_path, DOCS, settings())
    (tmp_path / "chunks-2.sqlite.tmp").write_bytes(b"x" * 100)
    with open(tmp_path / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a writer in another process holds it
        assert stale_files(tmp_path) == []
        fcntl.flock(lock, fcntl.LOCK_UN)
    assert [p.name for p, _ in stale_files(tmp_path)] == ["chunks-2.sqlite.tmp"]
