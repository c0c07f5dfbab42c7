"""Turning a plain-text file's bytes into text: the one decoding every reader of plain text
(folders, uploads, file names) shares.

UTF-16 when a BOM says so, else UTF-8 (with or without a BOM) with each byte that is not
valid UTF-8 read as Windows-1252 (Latin-1 for the five bytes it leaves undefined), which
decodes anything; so the only failure is data that is not text at all (NUL bytes, or mostly
control characters), given as None. Line endings become ``\\n`` so line numbers match editors.
"""

from __future__ import annotations

import re

_BINARY_SNIFF_BYTES = 8192

STRAY_BYTE_RE = re.compile("[\udc80-\udcff]")  # what surrogateescape leaves for a byte that is not UTF-8


def decode(raw: bytes) -> str | None:
    """Text from bytes, or None for binary data."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16", errors="replace")
    elif b"\x00" in raw[:_BINARY_SNIFF_BYTES]:
        return None
    else:
        text = decode_8bit(raw)
    if _mostly_control_characters(text):
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode_8bit(raw: bytes) -> str:
    """UTF-8 wherever the bytes are valid UTF-8, Windows-1252 for each byte that is not.

    A UTF-8 file with one pasted Windows-1252 quote keeps its other accents, and a file
    wholly in Windows-1252 or Latin-1 decodes as that, in one pass over the bytes.
    """
    text = raw.decode("utf-8-sig", errors="surrogateescape")
    return STRAY_BYTE_RE.sub(lambda m: _legacy_character(ord(m.group()) - 0xDC00), text)


def _legacy_character(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:  # the five bytes Windows-1252 leaves undefined
        return bytes([byte]).decode("latin-1")


def _mostly_control_characters(text: str) -> bool:
    sample = text[:_BINARY_SNIFF_BYTES]
    if not sample:
        return False
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f")
    return control / len(sample) > 0.1
