"""Bad documents folders: the seeds with one bad thing added (a link loop, a link out, a
FIFO, a folder nested 1,200 deep, binary and empty files, a name that is not UTF-8 ...),
indexed from Python, with ``rag index``, as an update of an index built before the bad thing
came, and in a real process for what may block or never end.

Indexing such a folder succeeds with the seeds indexed as always (same chunk counts, same
answer), or fails with a ``RagError``; a folder that holds nothing to index is a
``RagError``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from rag import Chatbot
from tests.conftest import SEEDS
from tests.hardening.harness import (
    SEEDS_QUESTION,
    answers_or_refuses,
    check_cli_ok_or_user_error,
    check_cli_user_error,
    check_process_ok_or_user_error,
    check_process_user_error,
    invoke,
    raises_rag_error,
    release_fifo,
    run_rag,
    snapshot,
)

OUTSIDE_TEXT = "Kettles boil water outside the folder."


def _symlink_loop(folder: Path) -> None:
    (folder / "loop").symlink_to(folder)
    (folder / "sub").mkdir()
    (folder / "sub" / "up").symlink_to("..")


def _link_pair(folder: Path) -> None:
    (folder / "a").symlink_to(folder / "b")
    (folder / "b").symlink_to(folder / "a")


def _link_out_file(folder: Path) -> None:
    outside = folder.parent / "outside.txt"
    outside.write_text(OUTSIDE_TEXT, encoding="utf-8")
    (folder / "outside.txt").symlink_to(outside)


def _link_out_folder(folder: Path) -> None:
    outside = folder.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(OUTSIDE_TEXT, encoding="utf-8")
    (folder / "elsewhere").symlink_to(outside)


def _nested(depth: int):
    def make(folder: Path) -> None:
        deep = folder
        for _ in range(depth):  # one at a time: mkdir(parents=True) recurses once per level
            deep = deep / "d"
            deep.mkdir()
        (deep / "bottom.txt").write_text("Kettles boil water at the bottom.", encoding="utf-8")

    return make


def _fifo(folder: Path) -> None:
    os.mkfifo(folder / "pipe.txt")


def _file(name: str | bytes, data: bytes):
    def make(folder: Path) -> None:
        path = os.path.join(os.fsencode(folder), os.fsencode(name))
        with open(path, "wb") as handle:
            handle.write(data)

    return make


def _link(name: str, target: str):
    def make(folder: Path) -> None:
        (folder / name).symlink_to(target)

    return make


def _unreadable(folder: Path) -> None:
    path = folder / "locked.txt"
    path.write_text("Kettles boil water.", encoding="utf-8")
    path.chmod(0)


ADDED = {
    "symlink-loop": _symlink_loop,
    "symlink-pair-loop": _link_pair,
    "dangling-link": _link("gone.txt", "/nonexistent/gone.txt"),
    "link-out-to-a-file": _link_out_file,
    "link-out-to-a-folder": _link_out_folder,
    "link-to-root": _link("root", "/"),
    "link-to-dev-zero": _link("zero.txt", "/dev/zero"),
    "link-to-dev-urandom": _link("random.txt", "/dev/urandom"),
    "link-to-proc": _link("proc", "/proc/self"),
    "nested-1200-deep": _nested(1200),
    "fifo-file": _fifo,
    "non-utf8-file-name": _file(b"caf\xe9-\xff.txt", b"Kettles boil water."),
    "newline-in-file-name": _file("two\nlines.txt", b"Kettles boil water."),
    "escape-in-file-name": _file("\x1b[31mred.txt", b"Kettles boil water."),
    "binary-file": _file("photo.txt", bytes(range(256)) * 64),
    "nul-bytes-file": _file("nuls.txt", b"\x00" * 10_000),
    "png-file": _file("image.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100),
    "empty-file": _file("empty.txt", b""),
    "whitespace-only-file": _file("blank.txt", b" \n\t\n" * 100),
    "invalid-utf8-file": _file("latin.txt", b"Caf\xe9 \xff\xfe Kettles boil water."),
    "utf16-file": _file("wide.txt", "Kettles boil water.".encode("utf-16")),
    "utf16-without-bom": _file("wide-nobom.txt", "Kettles boil water.".encode("utf-16-le")),
    "bom-only-file": _file("bom.txt", b"\xef\xbb\xbf"),
    "one-huge-line": _file("line.txt", b"kettle " * 300_000),
    "no-sentence-breaks": _file("run.txt", b"word" * 200_000),
    "lone-surrogate-bytes": _file("surrogate.txt", b"Kettles \xed\xa0\x80 boil."),
    "empty-subfolder": lambda folder: (folder / "empty").mkdir(),
    "hidden-folder": _file(".hidden.txt", b"Kettles boil water."),
    "unreadable-file": _unreadable,
}
HANGS_IF_WRONG = ["symlink-loop", "link-to-root", "link-to-dev-zero", "link-to-dev-urandom", "fifo-file"]


def with_added(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "docs"
    shutil.copytree(SEEDS, folder)
    if name == "unreadable-file" and os.geteuid() == 0:
        pytest.skip("root reads a file whatever its permissions")
    ADDED[name](folder)
    return folder


def assert_seeds_indexed(index_dir: Path, baseline) -> None:
    """The five seeds, with their usual chunk counts, and the usual answer."""
    now = snapshot(index_dir)
    seeds = {doc: count for doc, count in now.chunk_counts.items() if doc in baseline.chunk_counts}
    assert seeds == baseline.chunk_counts, f"the seeds were indexed otherwise: {now.chunk_counts}"
    if now.chunk_counts == baseline.chunk_counts:
        assert (now.answer, now.citations) == (baseline.answer, baseline.citations), "the seeds answer changed"
    else:  # another document changes the collection's word statistics, not the best quote
        assert now.citations[:1] == baseline.citations[:1], "the seeds answer changed"
        assert now.answer.split(" [1]")[0] == baseline.answer.split(" [1]")[0], "the seeds answer changed"
    assert not any("outside" in doc or "secret" in doc for doc in now.chunk_counts), "a link out was followed"


def cleanup(folder: Path) -> None:
    if (folder / "pipe.txt").exists():
        release_fifo(folder / "pipe.txt")


@pytest.mark.parametrize("name", list(ADDED))
def test_from_folder(tmp_path, baseline, name):
    folder = with_added(tmp_path, name)
    index_dir = tmp_path / "index"
    try:
        bot = answers_or_refuses(lambda: Chatbot.from_folder(folder, index_dir=index_dir))
    finally:
        cleanup(folder)
    if bot is not None:
        bot.close()
        assert_seeds_indexed(index_dir, baseline)


@pytest.mark.parametrize("name", list(ADDED))
def test_cli_index(tmp_path, baseline, name):
    folder = with_added(tmp_path, name)
    index_dir = tmp_path / "index"
    try:
        result = invoke(["index", folder, "--index-dir", index_dir])
    finally:
        cleanup(folder)
    check_cli_ok_or_user_error(result)
    if result.exit_code == 0:
        assert_seeds_indexed(index_dir, baseline)


@pytest.mark.parametrize("name", list(ADDED))
def test_cli_update(tmp_path, baseline, name):
    """Indexed before the bad thing came: the update keeps every seed, or changes nothing."""
    folder = tmp_path / "docs"
    shutil.copytree(SEEDS, folder)
    index_dir = tmp_path / "index"
    Chatbot.from_folder(folder, index_dir=index_dir, progress=False).close()
    if name == "unreadable-file" and os.geteuid() == 0:
        pytest.skip("root reads a file whatever its permissions")
    ADDED[name](folder)
    try:
        result = invoke(["index", folder, "--index-dir", index_dir])
    finally:
        cleanup(folder)
    check_cli_ok_or_user_error(result)
    assert_seeds_indexed(index_dir, baseline)


@pytest.mark.slow
@pytest.mark.parametrize("name", HANGS_IF_WRONG)
def test_process_index(tmp_path, baseline, name):
    folder = with_added(tmp_path, name)
    index_dir = tmp_path / "index"
    process = run_rag(["index", folder, "--index-dir", index_dir])
    check_process_ok_or_user_error(process)
    if process.returncode == 0:
        assert_seeds_indexed(index_dir, baseline)


def _empty(tmp: Path) -> Path:
    (tmp / "empty").mkdir()
    return tmp / "empty"


def _only(name: str, data: bytes):
    def make(tmp: Path) -> Path:
        folder = tmp / "only"
        folder.mkdir()
        (folder / name).write_bytes(data)
        return folder

    return make


def _only_links_out(tmp: Path) -> Path:
    folder = tmp / "links"
    folder.mkdir()
    (folder / "root").symlink_to("/")
    (folder / "self").symlink_to(folder)
    return folder


def _a_fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "fifo")
    return tmp / "fifo"


def _a_file(tmp: Path) -> Path:
    (tmp / "a.txt").write_text("Kettles boil water.", encoding="utf-8")
    return tmp / "a.txt"


def _loop(tmp: Path) -> Path:
    (tmp / "x").symlink_to(tmp / "y")
    (tmp / "y").symlink_to(tmp / "x")
    return tmp / "x"


NOTHING_TO_INDEX = {
    "a-0-file-folder": _empty,
    "only-empty-files": _only("empty.txt", b""),
    "only-binary-files": _only("bin.txt", bytes(range(256)) * 16),
    "only-other-formats": _only("paper.pdf", b"%PDF-1.4 Kettles"),
    "only-hidden-files": _only(".notes.txt", b"Kettles boil water."),
    "only-links-out": _only_links_out,
    "missing-folder": lambda tmp: tmp / "missing",
    "a-file-not-a-folder": _a_file,
    "a-fifo-not-a-folder": _a_fifo,
    "a-link-loop": _loop,
    "empty-string": lambda tmp: "",
    "nul-in-name": lambda tmp: f"{tmp}/a\0b",
    "name-over-255-bytes": lambda tmp: tmp / ("n" * 300),
}


@pytest.mark.parametrize("name", list(NOTHING_TO_INDEX))
def test_nothing_to_index_from_python(tmp_path, name):
    folder = NOTHING_TO_INDEX[name](tmp_path)
    try:
        raises_rag_error(lambda: Chatbot.from_folder(folder, index_dir=tmp_path / "index"))
    finally:
        if name == "a-fifo-not-a-folder":
            release_fifo(folder)


@pytest.mark.parametrize("name", list(NOTHING_TO_INDEX))
def test_nothing_to_index_cli(tmp_path, name):
    folder = NOTHING_TO_INDEX[name](tmp_path)
    try:
        check_cli_user_error(invoke(["index", folder, "--index-dir", tmp_path / "index"]))
    finally:
        if name == "a-fifo-not-a-folder":
            release_fifo(folder)


@pytest.mark.parametrize("name", list(NOTHING_TO_INDEX))
def test_nothing_to_index_keeps_an_index(tmp_path, index_copy, baseline, name):
    """Pointing an existing index at such a folder, even with --rebuild, loses nothing."""
    from tests.hardening.harness import assert_kept

    folder = NOTHING_TO_INDEX[name](tmp_path)
    try:
        check_cli_user_error(invoke(["index", folder, "--index-dir", index_copy, "--rebuild"]))
    finally:
        if name == "a-fifo-not-a-folder":
            release_fifo(folder)
    assert_kept(index_copy, baseline)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["a-fifo-not-a-folder", "a-link-loop", "only-links-out"])
def test_nothing_to_index_process(tmp_path, name):
    folder = NOTHING_TO_INDEX[name](tmp_path)
    check_process_user_error(run_rag(["index", folder, "--index-dir", tmp_path / "index"]))


def test_the_question_is_not_lost_among_them(tmp_path):
    """Sanity: the answer the battery compares against is the seeds' real answer."""
    assert "314" in snapshot_of_seeds(tmp_path)


def snapshot_of_seeds(tmp_path: Path) -> str:
    with Chatbot.from_folder(SEEDS, index_dir=tmp_path / "i", progress=False) as bot:
        return bot.ask(SEEDS_QUESTION).text
