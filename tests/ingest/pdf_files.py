"""Real PDF files for the tests and the benchmark, drawn with reportlab: an article over several
pages in one or two columns with a running header and a numbered footer, lines broken with
hyphens, a page that is only an image (a scan), a damaged file and a password-protected one."""

from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

PAGE_SIZE = (420, 595)  # A5 in points: short pages, so an article spans several
HEADER = "The Seeds Review"
FOOTER = "Page {number}"


def article_pdf(title: str, text: str, *, columns: int = 1, running_lines: bool = True) -> bytes:
    """``text`` (paragraphs separated by blank lines) typeset, with ``HEADER`` and ``FOOTER`` on
    every page when ``running_lines``; ``title`` goes in the document information."""
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph

    out = io.BytesIO()
    margin, gap = 36, 14
    width, height = PAGE_SIZE
    column_width = (width - 2 * margin - gap * (columns - 1)) / columns
    frames = [
        Frame(margin + i * (column_width + gap), margin, column_width, height - 2 * margin, id=f"column{i}")
        for i in range(columns)
    ]
    document = BaseDocTemplate(out, pagesize=PAGE_SIZE, title=title, author="Seeds Desk")
    document.addPageTemplates([PageTemplate(frames=frames, onPage=_running_lines if running_lines else _no_lines)])
    styles = getSampleStyleSheet()
    body = [Paragraph(escape(" ".join(p.split())), styles["BodyText"]) for p in text.split("\n\n") if p.strip()]
    document.build(body)
    return out.getvalue()


def _no_lines(canvas, document) -> None:
    pass


def _running_lines(canvas, document) -> None:
    canvas.saveState()
    canvas.setFont("Helvetica", 8)
    width, height = PAGE_SIZE
    canvas.drawString(36, height - 24, HEADER)
    canvas.drawCentredString(width / 2, 18, FOOTER.format(number=document.page))
    canvas.restoreState()


def lines_pdf(pages: list[list[str]]) -> bytes:
    """Each page's lines drawn as they are, one under another: hyphens and ligatures stay."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas as pdf_canvas

    pdfmetrics.registerFont(TTFont("Vera", "Vera.ttf"))  # shipped with reportlab; draws ligatures
    out = io.BytesIO()
    canvas = pdf_canvas.Canvas(out, pagesize=PAGE_SIZE)
    for lines in pages:
        canvas.setFont("Vera", 11)
        for number, line in enumerate(lines):
            canvas.drawString(40, PAGE_SIZE[1] - 50 - 16 * number, line)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def scanned_pdf() -> bytes:
    """A page holding only a picture of text: no text layer."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas as pdf_canvas

    out = io.BytesIO()
    canvas = pdf_canvas.Canvas(out, pagesize=PAGE_SIZE)
    canvas.drawImage(ImageReader(io.BytesIO(_grey_image())), 40, 300, width=300, height=200)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _grey_image() -> bytes:
    """A small grey PNG, written by hand (zlib and struct) so no imaging package is needed."""
    import struct
    import zlib

    width, height = 30, 20
    rows = b"".join(b"\x00" + bytes([128] * width) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def encrypted_pdf(plain: bytes, password: str = "s3cret") -> bytes:
    """``plain`` locked with a password (RC4, which pypdf undoes without extra packages)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(plain)))
    writer.encrypt(user_password=password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def malformed_pdf(plain: bytes) -> bytes:
    """The start of a real PDF and then noise: the header is there, the rest is not."""
    return plain[:200] + b"\x00garbage\xff" * 50


def write_seed_pdfs(seeds: Path, folder: Path, *, columns_of=lambda i: 2 if i % 2 else 1) -> list[Path]:
    """Each seed article typeset as a PDF in ``folder`` (every other one in two columns), named
    as the seed with ``.pdf`` for ``.txt``. Each line of a seed is a paragraph of its own, as in
    the Word and web-page renderings (``tests/ingest/conftest.py``): a table row, a list item,
    and in seed 004, which puts a paragraph on each line with no blank line between, a paragraph."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i, path in enumerate(sorted(seeds.glob("*.txt"))):
        lines = path.read_text(encoding="utf-8").splitlines()
        pdf = folder / f"{path.stem}.pdf"
        pdf.write_bytes(
            article_pdf(path.stem, "\n\n".join(line for line in lines if line.strip()), columns=columns_of(i))
        )
        written.append(pdf)
    return written
