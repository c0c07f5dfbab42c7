import logging
import os
from dataclasses import replace

import pytest

from rag.errors import DocumentsError
from rag.files import read_bounded
from rag.ingest import readers
from rag.ingest.loading import decode, display_title, load_folder


def test_loads_text_formats_with_ids_relative_to_the_folder(tmp_path):
    (tmp_path / "a.txt").write_text("Alpha text.\n", encoding="utf-8")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "b.md").write_text("# Beta\n\nBeta text.\n", encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / ".hidden.txt").write_text("secret", encoding="utf-8")

    documents = load_folder(tmp_path)

    assert [d.id for d in documents] == ["a.txt", "notes/b.md"]
    assert documents[1].text == "# Beta\n\nBeta text.\n"


def test_links_inside_the_folder_are_followed_once_and_a_link_to_a_parent_does_not_loop(tmp_path):
    library = tmp_path / "library"
    (library / "sub").mkdir(parents=True)
    (library / "a.txt").write_text("Alpha text.\n", encoding="utf-8")
    (library / "sub" / "b.txt").write_text("Beta text.\n", encoding="utf-8")
    (library / "also").symlink_to(library / "sub", target_is_directory=True)
    (library / "loop").symlink_to(library, target_is_directory=True)
    (library / "alias.txt").symlink_to(library / "a.txt")
    (library / ".cache").mkdir()
    (library / ".cache" / "c.txt").write_text("Hidden folder.\n", encoding="utf-8")

    assert [d.id for d in load_folder(library)] == ["a.txt", "alias.txt", "also/b.txt"]


def test_links_out_of_the_folder_are_skipped_with_a_warning_each(tmp_path, caplog):
    library, elsewhere = tmp_path / "library", tmp_path / "elsewhere"
    library.mkdir()
    elsewhere.mkdir()
    (library / "a.txt").write_text("Alpha text.\n", encoding="utf-8")
    (tmp_path / "outside.txt").write_text("Secret salary list.\n", encoding="utf-8")
    (elsewhere / "b.txt").write_text("Beta text.\n", encoding="utf-8")
    (library / "up").symlink_to("..", target_is_directory=True)
    (library / "linked").symlink_to(elsewhere, target_is_directory=True)
    (library / "salaries.txt").symlink_to(tmp_path / "outside.txt")

    with caplog.at_level(logging.WARNING, logger="rag.ingest.loading"):
        documents = load_folder(library)

    assert [d.id for d in documents] == ["a.txt"]
    assert [r.getMessage() for r in caplog.records] == [
        f"skipping {name}: it links to {target}, outside {library} (index that folder itself, or copy the files in)"
        for name, target in [("linked", elsewhere), ("salaries.txt", tmp_path / "outside.txt"), ("up", tmp_path)]
    ]


@pytest.mark.slow
def test_a_folder_nested_thousands_deep_is_read(tmp_path):
    folders = [tmp_path / "d"]
    for _ in range(1200):  # past Python's recursion limit (os.makedirs would recurse too)
        folders.append(folders[-1] / "d")
    for folder in folders:
        folder.mkdir()
    (folders[-1] / "bottom.txt").write_text("At the bottom.\n", encoding="utf-8")
    try:
        assert [d.text for d in load_folder(tmp_path)] == ["At the bottom.\n"]
    finally:  # shutil.rmtree, which cleans tmp_path up, recurses too
        (folders[-1] / "bottom.txt").unlink()
        for folder in reversed(folders):
            folder.rmdir()


def test_a_fifo_in_the_folder_is_passed_over_without_blocking(tmp_path):
    (tmp_path / "a.txt").write_text("Alpha text.\n", encoding="utf-8")
    os.mkfifo(tmp_path / "pipe.txt")

    assert [d.id for d in load_folder(tmp_path)] == ["a.txt"]


def test_a_fifo_is_not_read_as_a_file(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")

    with pytest.raises(OSError, match="not a regular file"):
        read_bounded(tmp_path / "pipe.txt", 100)


def test_a_name_that_is_not_utf8_gets_a_stable_readable_id(tmp_path):
    folder = os.fsencode(tmp_path)
    with open(os.path.join(folder, b"caf\xe9.txt"), "wb") as handle:
        handle.write(b"Coffee text.\n")

    documents = load_folder(tmp_path)

    assert [(d.id, d.text) for d in documents] == [("café.txt", "Coffee text.\n")]
    documents[0].id.encode("utf-8")  # storable


def test_two_names_that_read_the_same_keep_the_first_with_a_warning(tmp_path, caplog):
    (tmp_path / "café.txt").write_text("UTF-8 name.\n", encoding="utf-8")
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.txt"), "wb") as handle:
        handle.write(b"Windows name.\n")

    with caplog.at_level(logging.WARNING, logger="rag.ingest.loading"):
        documents = load_folder(tmp_path)

    assert [d.id for d in documents] == ["café.txt"]
    assert len(documents) == 1 and "another file's name reads the same" in caplog.text


def test_a_file_over_the_size_limit_is_skipped_with_a_warning(tmp_path, caplog, monkeypatch):
    monkeypatch.setitem(readers.READERS, ".txt", replace(readers.PLAIN_TEXT, max_bytes=1 << 20))
    (tmp_path / "a.txt").write_text("Alpha text.\n", encoding="utf-8")
    (tmp_path / "dump.txt").write_text("x" * ((1 << 20) + 1), encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="rag.ingest.loading"):
        documents = load_folder(tmp_path)

    assert [d.id for d in documents] == ["a.txt"]
    assert [r.getMessage() for r in caplog.records] == [
        "skipping dump.txt: it is over 1 MB, more than a plain-text article holds; split it into smaller files"
    ]


@pytest.mark.parametrize("name", ["", "  "])
def test_an_empty_folder_name_is_a_rag_error_not_the_current_folder(name):
    with pytest.raises(DocumentsError, match="folder name is empty"):
        load_folder(name)


def test_a_folder_that_cannot_be_read_is_named_in_a_warning(tmp_path, caplog, monkeypatch):
    (tmp_path / "a.txt").write_text("Alpha text.\n", encoding="utf-8")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "b.txt").write_text("Beta text.\n", encoding="utf-8")
    real_scandir = os.scandir

    def scandir(path):  # chmod does not lock root out, so the refusal is simulated
        if os.fspath(path) == os.fspath(locked):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with caplog.at_level(logging.WARNING, logger="rag.ingest.loading"):
        documents = load_folder(tmp_path)

    assert [d.id for d in documents] == ["a.txt"]
    assert [r.getMessage() for r in caplog.records] == [f"skipping folder {locked}: cannot read it (Permission denied)"]


def test_files_in_other_formats_are_named_in_one_warning(tmp_path, caplog):
    (tmp_path / "a.txt").write_text("Alpha text.\n", encoding="utf-8")
    for name in ("slides.pptx", "deck.PPTX", "sheet.xlsx", "Makefile"):
        (tmp_path / name).write_bytes(b"x")

    with caplog.at_level(logging.WARNING, logger="rag.ingest.loading"):
        load_folder(tmp_path)

    assert [r.getMessage() for r in caplog.records] == [
        "skipping 4 files not in a format rag reads (2 .pptx, 1 .xlsx, 1 without extension): "
        "save them as .txt, .md, .html or .docx to index them"
    ]


def test_binary_and_empty_files_are_skipped_with_one_warning_each(tmp_path, caplog):
    (tmp_path / "good.txt").write_text("Readable.", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.md").write_text("  \n\n ", encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="rag.ingest.loading"):
        documents = load_folder(tmp_path)

    assert [d.id for d in documents] == ["good.txt"]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3
    assert any("binary.txt" in m and "binary" in m for m in messages)
    assert any("empty.txt" in m and "empty" in m for m in messages)
    assert any("blank.md" in m for m in messages)


def test_latin1_and_windows_1252_files_decode(tmp_path):
    (tmp_path / "latin1.txt").write_bytes("Café au lait à Genève.".encode("latin-1"))
    (tmp_path / "cp1252.txt").write_bytes("“Quoted” – dash".encode("cp1252"))
    texts = {d.id: d.text for d in load_folder(tmp_path)}
    assert texts["latin1.txt"] == "Café au lait à Genève."
    assert texts["cp1252.txt"] == "“Quoted” – dash"


def test_utf8_bom_utf16_and_crlf_are_normalised():
    assert decode("\ufeffLine one\r\nLine two\r".encode()) == "Line one\nLine two\n"
    assert decode("Hello\r\nworld".encode("utf-16")) == "Hello\nworld"
    assert decode(b"\x00\x01\x02binary") is None


def test_a_utf8_file_with_one_windows_1252_byte_keeps_its_other_accents():
    raw = "Café in Genève, ".encode() + b"\x93quoted\x94 once; na" + "ïve.".encode()
    assert decode(raw) == "Café in Genève, “quoted” once; naïve."


def test_bytes_windows_1252_leaves_undefined_decode_as_latin_1():
    assert decode(b"A\x81B\x9dC\xe9") == "A\x81B\x9dCé"


def test_missing_folder_is_a_rag_error(tmp_path):
    with pytest.raises(DocumentsError, match="Folder not found"):
        load_folder(tmp_path / "nope")


def test_a_file_instead_of_a_folder_is_a_rag_error(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(DocumentsError, match="is a file"):
        load_folder(path)


def test_a_folder_without_text_is_a_rag_error(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"\x00\x01")
    with pytest.raises(DocumentsError, match="No articles to index"):
        load_folder(tmp_path)


def test_document_sha256_is_of_the_utf8_text():
    from rag import Document

    assert Document(id="a", text="abc").sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize(
    ("text", "title"),
    [
        (
            "Skip to main content\nnews\n\nKadyrov shifts stance on POWs | World | The Daily\n\nThe war went on.\n",
            "Kadyrov shifts stance on POWs",
        ),
        (
            "\n  Skip to content \nMenu\n=====\n12/03/2022\nTalks  stall\tin Istanbul\nBody.\n",
            "Talks stall in Istanbul",
        ),
        ("---\n## Prisoner  exchange notes ##\n\nThe exchange included 314 prisoners.\n", "Prisoner exchange notes"),
        ("# Chechnya\n\nA region of Russia.\n", "Chechnya"),
        ("Will the talks in Istanbul end the war?\n\nNobody knows yet.\n", "Will the talks in Istanbul end the war?"),
    ],
)
def test_display_title_passes_over_boilerplate_to_the_first_short_line(text, title):
    assert display_title(text) == title


@pytest.mark.parametrize(
    "text",
    [
        "Vladimir Putin is concentrating only on capturing territory and has lost interest in talks.\nMore.\n",
        "Skip to content\nHe said no.\nPutin and Kadyrov\n",  # a short sentence opens it
        "The leaders met, and then:\nthey talked.\n",
        " ".join(["word"] * 26) + "\n",  # too long for a title, though it does not end like a sentence
        "Skip to content\nMenu\nnews\n\n",
        "one\ntwo\nthree\nfour\nfive\nA title too far down\n",
    ],
)
def test_display_title_is_none_when_the_text_opens_without_a_title(text):
    assert display_title(text) is None


def test_a_long_display_title_is_cut_at_a_word_with_an_ellipsis():
    text = "Chechnya’s Kadyrov shifts stance on POWs, touting efforts to bring home troops who surrendered\n\nBody.\n"
    assert display_title(text) == "Chechnya’s Kadyrov shifts stance on POWs, touting efforts to bring…"
    assert display_title(text, max_chars=30) == "Chechnya’s Kadyrov shifts…"
    assert display_title(text, max_chars=200) == text.splitlines()[0]


def test_a_folder_with_a_name_that_is_not_utf8_indexes_and_cites_it(tmp_path):
    from rag import Chatbot

    folder = tmp_path / "docs"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.txt"), "wb") as handle:
        handle.write(b"The cafe opened in 1921 on the main square.\n")

    answer = Chatbot.from_folder(folder, index_dir=tmp_path / "index").ask("When did the cafe open?")

    assert [(c.source, c.start_line) for c in answer.citations] == [("café.txt", 1)]


def test_reading_a_small_file_sets_aside_no_more_than_it_holds(tmp_path):
    import tracemalloc

    (tmp_path / "a.txt").write_text("Alpha text.\n", encoding="utf-8")
    tracemalloc.start()
    try:
        raw = read_bounded(tmp_path / "a.txt", 64 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert raw == b"Alpha text.\n"
    assert peak < 8 << 20, "not the 64 MB limit set aside for every file"


def test_a_file_known_to_be_over_the_limit_is_not_read(tmp_path):
    (tmp_path / "big.txt").write_bytes(b"x" * 1001)
    assert read_bounded(tmp_path / "big.txt", 1000) is None
    assert read_bounded(tmp_path / "big.txt", 1001) == b"x" * 1001
