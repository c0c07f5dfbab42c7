"""The writer removes only the index's own files: a folder that is not an index's, holding files
named as data files, is refused and kept; a folder in place of a data file or the manifest is
never removed with its contents; a first build killed before its manifest is still recovered."""

import contextlib
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from rag.errors import IndexCorruptError, IndexLocationError
from rag.ingest.pipeline import update_index
from rag.store.health import stale_files
from rag.store.index import Index
from rag.store.manifest import MANIFEST
from rag.store.ownership import MARKER
from tests.conftest import ROOT
from tests.store.sample_index import DOCS, settings


def contents(folder):
    """Every file under ``folder`` (but the lock), with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def chunk_counts(folder):
    with contextlib.closing(Index.open(folder)) as index:
        return index.document_chunk_counts()


@pytest.mark.parametrize("rebuild", [False, True], ids=["update", "rebuild"])
@pytest.mark.parametrize(
    "names",
    [
        ("chunks-1.sqlite", "vectors-1.faiss"),
        ("vectors-7.faiss",),
        ("chunks-2.sqlite.tmp", "chunks-2.sqlite.tmp-journal"),
    ],
    ids=["data-files", "one-of-another-generation", "temporary-names"],
)
def test_files_named_as_data_files_in_a_folder_that_is_no_index_are_refused_and_kept(tmp_path, names, rebuild):
    for name in names:
        (tmp_path / name).write_bytes(f"my own {name}, not an index's".encode())
    (tmp_path / "readme.txt").write_text("keep these", encoding="utf-8")
    before = contents(tmp_path)

    with pytest.raises(IndexLocationError) as caught:
        update_index(tmp_path, DOCS, settings(), rebuild=rebuild, repair=True)

    message = str(caught.value)
    assert message.startswith(f"{tmp_path} is not an index (it has no {MANIFEST}), but holds files named as an index's")
    assert f"({', '.join(sorted(names))})" in message
    assert contents(tmp_path) == before  # nothing removed, written over or added beside them


def test_a_folder_of_other_files_gets_an_index_and_keeps_them(tmp_path):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    update_index(tmp_path, DOCS, settings())
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".lock",
        MARKER,
        "chunks-1.sqlite",
        "lexical-1.bm25",
        MANIFEST,
        "notes.txt",
        "vectors-1.faiss",
    ]


def test_an_index_of_an_earlier_version_without_the_marker_is_updated_and_gets_it(tmp_path):
    update_index(tmp_path, DOCS, settings())
    (tmp_path / MARKER).unlink()
    report = update_index(tmp_path, DOCS[:2], settings())
    assert report.removed == ["c.txt"]
    assert (tmp_path / MARKER).is_file()
    assert chunk_counts(tmp_path) == {"a.txt": 1, "b.txt": 1}


def test_an_index_built_here_whose_manifest_was_deleted_is_rebuilt_over(tmp_path):
    update_index(tmp_path, DOCS, settings())
    (tmp_path / MANIFEST).unlink()
    update_index(tmp_path, DOCS[:1], settings())
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "chunks-2.sqlite",
        "lexical-2.bm25",
        MANIFEST,
        "vectors-2.faiss",
    ]


# A first build killed at two points: as it starts its database, and just before its commit.
KILLED_FIRST_BUILD = """
import os, sys
from pathlib import Path
import rag.store.update as update
from rag.ingest.pipeline import update_index
from tests.store.sample_index import DOCS, settings

target = sys.argv[2]
original = getattr(update, target)

def killed(*args, **kwargs):
    original(*args, **kwargs)
    os._exit(9)  # as kill -9 would: no cleanup, no finally

setattr(update, target, killed)
update_index(Path(sys.argv[1]), DOCS, settings())
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("target", "left"),
    [
        ("create_database", ["chunks-1.sqlite.tmp"]),
        ("write_manifest", ["chunks-1.sqlite", "lexical-1.bm25", MANIFEST, "vectors-1.faiss"]),
        ("write_json_atomic", ["chunks-1.sqlite", "lexical-1.bm25", "vectors-1.faiss"]),
    ],
    ids=["at-the-first-data-file", "after-the-commit", "before-the-commit"],
)
def test_a_first_build_killed_at_any_point_is_completed_by_the_next_run(tmp_path, target, left):
    index_dir = tmp_path / "index"
    script = textwrap.dedent(KILLED_FIRST_BUILD)
    if target == "write_json_atomic":  # the data files renamed into place, the manifest not written
        script = script.replace("import rag.store.update as update", "import rag.store.manifest as update")
        script = script.replace("    original(*args, **kwargs)\n", "")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.run([sys.executable, "-c", script, str(index_dir), target], env=env, cwd=ROOT)
    assert process.returncode == 9
    assert sorted(p.name for p in index_dir.iterdir() if not p.name.startswith(".")) == left
    assert (index_dir / MARKER).is_file()

    update_index(index_dir, DOCS, settings())
    assert chunk_counts(index_dir) == {"a.txt": 1, "b.txt": 1, "c.txt": 1}
    generation = 2 if "chunks-1.sqlite" in left and MANIFEST not in left else 1  # above the uncommitted one
    assert sorted(p.name for p in index_dir.iterdir() if not p.name.startswith(".")) == [
        f"chunks-{generation}.sqlite",
        f"lexical-{generation}.bm25",
        MANIFEST,
        f"vectors-{generation}.faiss",
    ]


@pytest.mark.parametrize("name", ["chunks-1.sqlite", "vectors-1.faiss"])
def test_an_empty_folder_in_place_of_a_data_file_is_damage_that_a_rebuild_repairs(tmp_path, name):
    update_index(tmp_path, DOCS, settings())
    (tmp_path / name).unlink()
    (tmp_path / name).mkdir()

    with pytest.raises(IndexCorruptError, match=f"{name} is not a regular file"):
        Index.open(tmp_path)
    update_index(tmp_path, DOCS, settings(), rebuild=True)
    assert chunk_counts(tmp_path) == {"a.txt": 1, "b.txt": 1, "c.txt": 1}
    assert not (tmp_path / name).exists()  # an empty folder carries nothing: removed


@pytest.mark.parametrize("name", ["chunks-1.sqlite", "vectors-1.faiss"])
def test_a_folder_with_contents_in_place_of_a_data_file_is_left_with_a_warning(tmp_path, caplog, name):
    update_index(tmp_path, DOCS, settings())
    (tmp_path / name).unlink()
    (tmp_path / name).mkdir()
    (tmp_path / name / "mine.txt").write_text("keep me", encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="rag.store.ownership"):
        report = update_index(tmp_path, DOCS, settings(), repair=True)
    assert report.rebuilt == f"{name} is not a regular file"
    assert chunk_counts(tmp_path) == {"a.txt": 1, "b.txt": 1, "c.txt": 1}
    assert (tmp_path / name / "mine.txt").read_text(encoding="utf-8") == "keep me"
    assert [r.getMessage() for r in caplog.records if r.name == "rag.store.ownership"] == [
        f"Cannot remove {name} from the index in {tmp_path} (Directory not empty); it is not part of the index. "
        "Move it elsewhere if it is yours, or remove it."
    ]


def test_the_next_generation_goes_above_a_folder_in_its_way(tmp_path):
    update_index(tmp_path, DOCS, settings())
    (tmp_path / "chunks-2.sqlite").mkdir()
    (tmp_path / "chunks-2.sqlite" / "mine.txt").write_text("keep me", encoding="utf-8")

    update_index(tmp_path, DOCS[:2], settings())
    assert Index.open(tmp_path).manifest.generation == 3
    assert chunk_counts(tmp_path) == {"a.txt": 1, "b.txt": 1}
    assert (tmp_path / "chunks-2.sqlite" / "mine.txt").read_text(encoding="utf-8") == "keep me"


def test_an_empty_folder_in_place_of_the_manifest_is_replaced_by_a_rebuild(tmp_path):
    update_index(tmp_path, DOCS, settings())
    (tmp_path / MANIFEST).unlink()
    (tmp_path / MANIFEST).mkdir()

    with pytest.raises(IndexCorruptError, match=f"{MANIFEST} is not a regular file"):
        update_index(tmp_path, DOCS, settings())
    update_index(tmp_path, DOCS, settings(), rebuild=True)
    assert chunk_counts(tmp_path) == {"a.txt": 1, "b.txt": 1, "c.txt": 1}


def test_a_folder_with_contents_in_place_of_the_manifest_is_not_removed(tmp_path):
    update_index(tmp_path, DOCS, settings())
    (tmp_path / MANIFEST).unlink()
    (tmp_path / MANIFEST).mkdir()
    (tmp_path / MANIFEST / "mine.txt").write_text("keep me", encoding="utf-8")
    before = contents(tmp_path)

    with pytest.raises(IndexLocationError, match=r"is a folder \(Directory not empty\), where the index keeps"):
        update_index(tmp_path, DOCS, settings(), rebuild=True)
    assert contents(tmp_path) == before


def test_files_named_as_leftovers_in_a_folder_that_is_no_index_are_not_called_leftovers(tmp_path):
    (tmp_path / "chunks-2.sqlite.tmp").write_bytes(b"mine")
    assert stale_files(tmp_path) == []  # `rag doctor` would say the next `rag index` removes them
    (tmp_path / MARKER).write_text("", encoding="utf-8")  # a first build killed after its first file
    assert [(p.name, size) for p, size in stale_files(tmp_path)] == [("chunks-2.sqlite.tmp", 4)]
