"""Bad index folders, given to ``from_index``, ``from_documents``, ``from_folder``, ``rag ask``
and ``rag index``.

Opening what is not an index is a ``RagError``. Writing may succeed where the path can be a
folder, but never at the cost of what was there: a file stays as it was, a FIFO stays a FIFO,
and the files of a folder of other things stay, byte for byte."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rag import Chatbot, Document
from tests.conftest import SEEDS
from tests.hardening.harness import (
    answers_or_refuses,
    check_cli_ok_or_user_error,
    check_process_ok_or_user_error,
    invoke,
    raises_rag_error,
    release_fifo,
    run_rag,
)

DOCS = [Document(id="kettle.txt", text="Kettles boil water. A kettle switches itself off.")]
KETTLE_QUESTION = "What do kettles boil?"


def _file(tmp: Path) -> Path:
    path = tmp / "notes.txt"
    path.write_text("my notes, not an index", encoding="utf-8")
    return path


def _fifo(tmp: Path) -> Path:
    path = tmp / "pipe"
    os.mkfifo(path)
    return path


def _garbage(tmp: Path) -> Path:
    folder = tmp / "garbage"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(bytes(range(256)) * 4)
    (folder / "todo.txt").write_text("buy milk", encoding="utf-8")
    (folder / "manifest.txt").write_text("not json", encoding="utf-8")
    (folder / "sub").mkdir()
    (folder / "sub" / "deep.bin").write_bytes(b"\x00" * 100)
    return folder


def _stale_index_files(tmp: Path) -> Path:
    """A folder without a manifest, holding files named as an index's data files are."""
    folder = tmp / "stale"
    folder.mkdir()
    (folder / "chunks-1.sqlite").write_bytes(b"my own database, not an index's")
    (folder / "vectors-1.faiss").write_bytes(b"my own vectors")
    (folder / "readme.txt").write_text("keep these", encoding="utf-8")
    return folder


def _foreign_manifest(tmp: Path) -> Path:
    folder = tmp / "other-app"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"name": "my web app", "version": 3}', encoding="utf-8")
    (folder / "data.bin").write_bytes(b"\x01\x02")
    return folder


def _dangling_link(tmp: Path) -> Path:
    link = tmp / "dangling"
    link.symlink_to(tmp / "nowhere" / "at-all")
    return link


def _link_to_file(tmp: Path) -> Path:
    link = tmp / "link-to-file"
    link.symlink_to(_file(tmp))
    return link


def _link_loop(tmp: Path) -> Path:
    (tmp / "loop-a").symlink_to(tmp / "loop-b")
    (tmp / "loop-b").symlink_to(tmp / "loop-a")
    return tmp / "loop-a"


PATHS = {
    "a-file": _file,
    "under-a-file": lambda tmp: _file(tmp) / "sub",
    "a-fifo": _fifo,
    "a-component-over-255-bytes": lambda tmp: tmp / ("x" * 300),
    "a-path-over-4096-bytes": lambda tmp: tmp.joinpath(*["y" * 200] * 25),
    "non-existent-deep-path": lambda tmp: tmp.joinpath(*[f"d{i}" for i in range(60)]),
    "a-folder-of-garbage": _garbage,
    "a-foreign-manifest": _foreign_manifest,
    "a-folder-with-files-named-as-an-index": _stale_index_files,
    "a-dangling-symlink": _dangling_link,
    "a-symlink-to-a-file": _link_to_file,
    "a-symlink-loop": _link_loop,
    "dev-null": lambda tmp: Path("/dev/null"),
    "proc": lambda tmp: Path("/proc/self"),
    "an-empty-folder": lambda tmp: (tmp / "empty").mkdir() or tmp / "empty",
    "nul-in-name": lambda tmp: f"{tmp}/a\0b",
    "newline-in-name": lambda tmp: tmp / "a\nb",
    "non-utf8-name": lambda tmp: Path(os.fsdecode(bytes(tmp) + b"/idx-\xff\xfe")),
}
NOT_PATHS = {
    "None": None,
    "int": 5,
    "float": 1.5,
    "bytes": b"..",
    "list": [".."],
    "dict": {"path": "x"},
    "object": object(),
}


def fingerprint(path) -> object:
    """What must survive: a file's bytes, a FIFO's kind, a folder's files and their bytes."""
    if not isinstance(path, (str, Path)) or "\0" in str(path):
        return None
    try:
        return _fingerprint(Path(path))
    except OSError:  # a name too long to look up, a loop: nothing there to keep
        return None


def _fingerprint(path: Path) -> object:
    if path.is_symlink():
        return ("link", os.readlink(path))
    if not path.exists() or str(path).startswith(("/proc", "/dev")):
        return None
    if stat.S_ISFIFO(path.stat().st_mode):
        return "fifo"
    if path.is_file():
        return path.read_bytes()
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def assert_nothing_lost(path, before) -> None:
    after = fingerprint(path)
    if isinstance(before, dict):
        assert isinstance(after, dict), f"{path} is no longer a folder"
        lost = {name for name, data in before.items() if after.get(name) != data}
        assert not lost, f"files lost or changed: {sorted(lost)}"
    elif before is not None:
        assert after == before, f"{path} was changed"


@pytest.fixture(params=list(PATHS), ids=list(PATHS))
def bad_path(request, tmp_path):
    path = PATHS[request.param](tmp_path)
    yield request.param, path
    if request.param == "a-fifo":
        release_fifo(path)


@pytest.mark.parametrize("value", list(NOT_PATHS.values()), ids=list(NOT_PATHS))
@pytest.mark.parametrize("surface", ["from_index", "from_documents", "from_folder"])
def test_not_a_path(surface, value):
    calls = {
        "from_index": lambda: Chatbot.from_index(value),
        "from_documents": lambda: Chatbot.from_documents(DOCS, index_dir=value),
        "from_folder": lambda: Chatbot.from_folder(SEEDS, index_dir=value),
    }
    raises_rag_error(calls[surface])


def test_from_index(bad_path):
    name, path = bad_path
    before = fingerprint(path)
    raises_rag_error(lambda: Chatbot.from_index(path))
    assert_nothing_lost(path, before)


def test_from_documents(bad_path):
    name, path = bad_path
    before = fingerprint(path)
    bot = answers_or_refuses(lambda: Chatbot.from_documents(DOCS, index_dir=path))
    if bot is not None:
        assert [c.source for c in bot.ask(KETTLE_QUESTION).citations][:1] == ["kettle.txt"]
    assert_nothing_lost(path, before)


def test_from_folder(bad_path):
    name, path = bad_path
    before = fingerprint(path)
    bot = answers_or_refuses(lambda: Chatbot.from_folder(SEEDS, index_dir=path))
    if bot is not None:
        assert "314" in bot.ask("How many prisoners were exchanged on February 5?").text
    assert_nothing_lost(path, before)


def test_cli_ask(bad_path):
    name, path = bad_path
    before = fingerprint(path)
    check_cli_ok_or_user_error(invoke(["ask", "Who is Harold Chambers?", "--index-dir", path]))
    assert_nothing_lost(path, before)


def test_cli_index(bad_path):
    name, path = bad_path
    before = fingerprint(path)
    check_cli_ok_or_user_error(invoke(["index", SEEDS, "--index-dir", path]))
    assert_nothing_lost(path, before)


# Real processes for what may block: a FIFO read or written by mistake blocks in open().
PROCESS_PATHS = ["a-fifo", "a-symlink-loop", "a-folder-of-garbage", "a-foreign-manifest", "dev-null"]


@pytest.mark.slow
@pytest.mark.parametrize("command", ["ask", "index", "doctor"])
@pytest.mark.parametrize("name", PROCESS_PATHS)
def test_process(tmp_path, name, command):
    path = PATHS[name](tmp_path)
    before = fingerprint(path)
    args = {"ask": ["ask", "Who is Harold Chambers?"], "index": ["index", SEEDS], "doctor": ["doctor"]}[command]
    process = run_rag([*args, "--index-dir", path])
    if command == "doctor":
        assert process.returncode in (0, 1) and "Traceback" not in process.stderr, process.stderr[-500:]
    else:
        check_process_ok_or_user_error(process)
    assert_nothing_lost(path, before)


def test_a_read_only_folder(index_copy, baseline):
    from tests.hardening.harness import assert_kept

    index_copy.chmod(0o555)
    try:
        probe = index_copy / "probe"
        try:
            probe.write_text("x")
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.skip("this user writes to read-only folders anyway (root)")
        answers_or_refuses(lambda: Chatbot.from_folder(SEEDS, index_dir=index_copy, rebuild=True))
        check_cli_ok_or_user_error(invoke(["index", SEEDS, "--index-dir", index_copy, "--rebuild"]))
    finally:
        index_copy.chmod(0o755)
    assert_kept(index_copy, baseline)
