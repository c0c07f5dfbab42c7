import io
import logging
import tracemalloc
import zipfile

import pytest

from rag.ingest import docx as word
from rag.ingest.docx import read_docx
from rag.ingest.extracted import ExtractionError
from rag.ingest.loading import load_folder
from tests.conftest import SEEDS
from tests.ingest.conftest import SEED_AUTHOR, SEED_DATE, render_docx, seed_parts


def _document_bytes(build) -> bytes:
    import docx

    document = docx.Document()
    build(document)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _zip_bomb() -> bytes:
    """A zip laid out like a .docx whose document part inflates to 60 MB of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml", b"\0" * 60_000_000)
    return out.getvalue()


@pytest.mark.parametrize("seed", sorted(SEEDS.glob("*.txt")), ids=lambda path: path.stem)
def test_a_word_file_gives_its_paragraphs_headings_and_properties(seed):
    text = seed.read_text(encoding="utf-8")
    title, body = seed_parts(text)

    extracted = read_docx(render_docx(text))

    assert extracted.text.split("\n\n") == ([title] if title else []) + body, "the heading on a line of its own"
    assert (extracted.title, extracted.author, extracted.date) == (title, SEED_AUTHOR, SEED_DATE)


def test_a_table_is_a_row_per_line_with_cells_between_bars():
    def build(document):
        document.add_paragraph("Casualty figures by month.")
        table = document.add_table(rows=3, cols=3)
        for row, cells in zip(table.rows, [("Month", "Killed", "Wounded"), ("March", "12", "40"), ("", "", "")]):
            for cell, value in zip(row.cells, cells):
                cell.text = value
        merged = table.add_row().cells
        merged[0].merge(merged[1]).text = "April total"
        merged[2].text = "7"
        document.add_heading("Sources", level=2)
        document.add_paragraph("Line one\nstill the same paragraph.")

    extracted = read_docx(_document_bytes(build))

    assert extracted.text == (
        "Casualty figures by month.\n\n"
        "Month | Killed | Wounded\nMarch | 12 | 40\nApril total | 7\n\n"
        "Sources\n\n"
        "Line one still the same paragraph."
    )


def test_a_zip_bomb_is_refused_before_it_is_inflated():
    bomb = _zip_bomb()
    assert len(bomb) < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(ExtractionError, match="it unpacks to 57 MB, far more than a document holds"):
            read_docx(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


def test_a_document_unpacking_past_the_total_limit_is_refused(monkeypatch):
    monkeypatch.setattr(word, "MAX_UNCOMPRESSED_BYTES", 1000)
    with pytest.raises(ExtractionError, match="far more than a document holds"):
        read_docx(_document_bytes(lambda document: document.add_paragraph("Small.")))


def test_bad_word_files_are_skipped_with_one_warning_each_and_the_rest_indexed(tmp_path, caplog):
    (tmp_path / "a.txt").write_text("Alpha text.\n", encoding="utf-8")
    good = render_docx((SEEDS / "003_58ec4efac89fea89.txt").read_text(encoding="utf-8"))
    (tmp_path / "good.docx").write_bytes(good)
    (tmp_path / "bomb.docx").write_bytes(_zip_bomb())
    (tmp_path / "cut.docx").write_bytes(good[: len(good) // 2])
    (tmp_path / "locked.docx").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 4096)
    (tmp_path / "notes.docx").write_bytes(b"Just some text saved with the wrong name.")
    (tmp_path / "blank.docx").write_bytes(_document_bytes(lambda document: document.add_paragraph("   ")))

    with caplog.at_level(logging.WARNING, logger="rag.ingest.loading"):
        documents = load_folder(tmp_path)

    assert [d.id for d in documents] == ["a.txt", "good.docx"]
    messages = sorted(r.getMessage() for r in caplog.records)
    assert messages[0] == "skipping blank.docx: it has no text in it"
    assert messages[1] == (
        "skipping bomb.docx: it unpacks to 57 MB, far more than a document holds (a zip bomb, or damaged); "
        "open and save it again in Word"
    )
    assert messages[2].startswith("skipping cut.docx: it is not a readable Word document (")
    assert messages[3] == (
        "skipping locked.docx: it is password-protected, or an old Word .doc renamed; "
        "save it from Word as .docx without a password"
    )
    assert messages[4] == (
        "skipping notes.docx: it is not a readable Word document (File is not a zip file); open and save it again in Word"
    )
    assert len(messages) == 5
    assert documents[1].title.startswith("Chechnya’s Kadyrov shifts stance")
