"""``manifest.json``: the record of what an index holds and how it was built, and the checks
that an index may be read or updated by this version with a given embedder and chunker.

The manifest is the index's commit point (see ``rag.store.update``), so it is read
defensively: every entry this version reads is checked for the type this version writes, and
damage is an ``IndexCorruptError`` naming the entry, never a TypeError where it is first used.
A ``manifest.json`` that is not an index's (someone else's file in the folder) is told apart
from a damaged one, so that it is refused rather than rebuilt over. Keys this version does not
know are kept and written back, so an older version updating a newer version's index loses
nothing the newer one can do without.

Compatibility is decided here too, from the entries alone: the embedder by id and dimension,
or by the fingerprint of a local model's files where both entries hold one; the chunker by
equality of its entry (settings, token counter, analyser).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import IndexCorruptError, IndexLocationError, IndexMismatchError
from rag.files import read_bounded
from rag.store.files import check_name_lengths, holds_index_files, is_regular_file, write_json_atomic
from rag.validation import is_name_too_long, shown_path

if TYPE_CHECKING:
    from rag.models.embedding import Embedder

# 2: the lexical index is a bm25s file of its own (``rag.store.terms``); 1: an FTS5 table in the
# chunk database. Format 1 is still read, to be converted by the next update.
FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
MANIFEST = "manifest.json"
# A manifest lists each document's id, sha256, chunk count and title: about 155 bytes each (a
# million one-chunk documents made 155 MB), so this is room for about three million, and a
# bound on what is read into memory.
MANIFEST_LIMIT = 512 * 2**20


@dataclass
class Manifest:
    """What ``manifest.json`` holds, entry by entry."""

    embedder: dict
    chunker: dict
    format_version: int = FORMAT_VERSION
    generation: int = 0
    documents: dict[str, dict] = field(default_factory=dict)
    files: dict[str, dict] = field(default_factory=dict)
    # The folder the documents were read from (absolute), so `rag index` can refresh it and a
    # different folder is noticed; None when they were handed over as Documents.
    source: str | None = None
    # Top-level keys this version does not know (a newer version's), written back unchanged
    # when this version rewrites the manifest.
    unknown: dict = field(default_factory=dict)

    @property
    def chunk_count(self) -> int:
        return sum(d["chunks"] for d in self.documents.values())

    def to_json(self) -> dict:
        """What ``manifest.json`` holds: the entries above, then the unknown keys."""
        data = asdict(self)
        unknown = data.pop("unknown")
        return data | {key: value for key, value in unknown.items() if key not in data}


def read_manifest(folder: Path) -> Manifest | None:
    """The folder's manifest, None when there is none, IndexCorruptError when it is unreadable."""
    path = check_name_lengths(folder) / MANIFEST
    try:
        if not path.exists():
            return None
    except OSError as error:  # the folder's name fits, the manifest's path beside it does not
        if not is_name_too_long(error):
            raise
        raise IndexLocationError(
            f"Cannot read the index in {shown_path(folder)} ({error.strerror}). "
            "Give --index-dir (index_dir= in Python) a shorter path."
        ) from None
    if not is_regular_file(path):
        # A FIFO would hang the read, a link to /dev/zero fill memory.
        raise IndexCorruptError(folder, f"{MANIFEST} is not a regular file")
    try:
        raw = read_bounded(path, MANIFEST_LIMIT)
        if raw is None:
            raise IndexCorruptError(folder, f"{MANIFEST} is over {MANIFEST_LIMIT // 2**20} MiB")
        data = json.loads(raw.decode("utf-8"))
    except PermissionError as error:
        raise IndexLocationError(
            f"Cannot read the index in {shown_path(folder)} ({error.strerror}). Give --index-dir a folder you can read."
        ) from error
    except (OSError, ValueError, RecursionError) as error:  # RecursionError: "[[[[..." nested too deep
        if not holds_index_files(folder):
            raise _foreign_manifest(folder) from error
        raise IndexCorruptError(folder, f"{MANIFEST}: {error}") from error
    if not (isinstance(data, dict) and _MANIFEST_KEYS & data.keys()):
        raise _foreign_manifest(folder)
    version = _entry(folder, data, "format_version", _WHOLE, optional=True)
    if version is not None and version not in READABLE_FORMATS:
        raise IndexMismatchError(
            f"The index in {shown_path(folder)} has format {version}; this version reads "
            f"formats {' and '.join(map(str, READABLE_FORMATS))}. Rebuild it with `rag index FOLDER --index-dir {shown_path(folder)} --rebuild`."
        )
    missing = [key for key in ("embedder", "chunker") if key not in data]
    if missing:
        raise IndexCorruptError(folder, f"{MANIFEST} has no {' or '.join(missing)} entry")
    _check_shape(folder, data)
    # Keys this version does not know are left unread, not refused: a newer version adds a key
    # without changing format_version only when older readers can do without it (a change
    # they cannot read raises the format, refused above), so the index is sound here. They
    # are kept, and written back when this version updates the index.
    known = {key: value for key, value in data.items() if key in _MANIFEST_FIELDS}
    known.setdefault("format_version", 1)  # written before the entry was: format 1
    return Manifest(**known, unknown={key: value for key, value in data.items() if key not in known})


_TEXT, _TEXT_OR_NULL, _WHOLE, _OBJECT = "text", "text or null", "a whole number", "an object"
_IS = {
    _TEXT: lambda value: isinstance(value, str),
    _TEXT_OR_NULL: lambda value: value is None or isinstance(value, str),
    _WHOLE: lambda value: isinstance(value, int) and not isinstance(value, bool),
    _OBJECT: lambda value: isinstance(value, dict),
}
_CHUNKER_ENTRIES = {"max_tokens": _WHOLE, "overlap_tokens": _WHOLE, "tokenizer": _TEXT, "analyzer": _TEXT}


def _check_shape(folder: Path, data: dict) -> None:
    """Every entry this version reads has the type this version writes. A hand-edited or
    corrupted manifest (``"documents": []``) is damage named here, in one place, rather than a
    TypeError wherever the entry happens to be used first."""
    _entry(folder, data, "generation", _WHOLE, optional=True)
    _entry(folder, data, "source", _TEXT_OR_NULL, optional=True)
    embedder = _entry(folder, data, "embedder", _OBJECT)
    _entry(folder, embedder, "id", _TEXT, "embedder.id")
    _entry(folder, embedder, "dim", _WHOLE, "embedder.dim")
    _entry(folder, embedder, "fingerprint", _TEXT, "embedder.fingerprint", optional=True)
    chunker = _entry(folder, data, "chunker", _OBJECT)
    for key, kind in _CHUNKER_ENTRIES.items():
        _entry(folder, chunker, key, kind, f"chunker.{key}", optional=True)
    documents = _entry(folder, data, "documents", _OBJECT, optional=True) or {}
    for doc_id in documents:
        name = f"documents[{json.dumps(doc_id, ensure_ascii=False)}]"  # ids hold dots: "a.txt"
        document = _entry(folder, documents, doc_id, _OBJECT, name)
        _entry(folder, document, "sha256", _TEXT, f"{name}.sha256")
        _entry(folder, document, "chunks", _WHOLE, f"{name}.chunks")
        for key in ("title", "author", "date"):  # author and date: written since readers of HTML and Word
            _entry(folder, document, key, _TEXT_OR_NULL, f"{name}.{key}", optional=True)
    files = _entry(folder, data, "files", _OBJECT, optional=True) or {}
    for role in files:
        entry = _entry(folder, files, role, _OBJECT, f"files.{role}")
        _entry(folder, entry, "name", _TEXT, f"files.{role}.name")
        _entry(folder, entry, "bytes", _WHOLE, f"files.{role}.bytes")


def _entry(folder: Path, parent: dict, key: str, kind: str, name: str | None = None, *, optional: bool = False):
    """``parent[key]`` when it is of ``kind``; None when it is absent and ``optional``;
    otherwise IndexCorruptError naming the entry (``name``, by default ``key``)."""
    name = name or key
    if key not in parent:
        if optional:
            return None
        raise IndexCorruptError(folder, f"{MANIFEST} has no {name} entry")
    value = parent[key]
    if not _IS[kind](value):
        raise IndexCorruptError(folder, f"{MANIFEST}: {name} should be {kind}, not {_json_kind(value)}")
    return value


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a list" if isinstance(value, list) else "an object"


def has_manifest(folder: str | Path) -> bool:
    """Whether ``folder`` holds a manifest (an index, or the start of one); IndexLocationError
    when the folder's name cannot be one, or it cannot be looked into."""
    path = check_name_lengths(Path(folder)) / MANIFEST
    try:
        return path.exists()
    except OSError as error:
        raise IndexLocationError(
            f"Cannot look into {shown_path(folder)} ({error.strerror or error}). Give --index-dir a folder you can read."
        ) from error


def existing_manifest(folder: str | Path) -> Manifest | None:
    """The folder's manifest when it holds a sound one; None when there is none or it is
    damaged (a damaged index is rebuilt, so what it was built with no longer matters)."""
    try:
        return read_manifest(Path(folder))
    except IndexCorruptError:
        return None


_MANIFEST_KEYS = frozenset(["format_version", "embedder", "chunker", "files", "documents"])
_MANIFEST_FIELDS = frozenset(f.name for f in fields(Manifest)) - {"unknown"}


def _foreign_manifest(folder: Path) -> IndexLocationError:
    """A manifest.json without an index's keys, or unreadable beside no index files, belongs to
    someone else: an error, never 'damaged, rebuilding' over their file."""
    return IndexLocationError(
        f"{folder / MANIFEST} is not an index's manifest, and indexing there would replace it. "
        "Give --index-dir an empty folder or one that holds an index."
    )


def write_manifest(folder: Path, data: dict) -> None:
    """Replace the folder's manifest with ``data`` atomically: this is what commits an update."""
    write_json_atomic(folder / MANIFEST, data)


def check_not_foreign(folder: Path) -> None:
    """A rebuild does not read the old index, but still never writes over a manifest that is
    not an index's."""
    with contextlib.suppress(IndexCorruptError, IndexMismatchError):
        read_manifest(folder)


def data_file(folder: Path, manifest: Manifest, role: str) -> Path:
    """The ``role`` file ("chunks", "vectors" or "lexical") the manifest names, present with the size it
    records; IndexCorruptError otherwise."""
    entry = manifest.files.get(role)
    if not isinstance(entry, dict) or "name" not in entry:
        raise IndexCorruptError(folder, f"the manifest names no {role} file")
    path = folder / entry["name"]
    if not path.exists():
        raise IndexCorruptError(folder, f"{entry['name']} is missing")
    if not is_regular_file(path):
        raise IndexCorruptError(folder, f"{entry['name']} is not a regular file")
    size = path.stat().st_size
    if size != entry.get("bytes"):
        raise IndexCorruptError(folder, f"{entry['name']} has {size} bytes, the manifest says {entry.get('bytes')}")
    return path


def embedder_entry(embedder: Embedder) -> dict:
    """How the manifest records an embedder: its id and dimension, and for a model in a local
    folder the fingerprint of the model's files (``rag.models.registry.model_fingerprint``)."""
    entry = {"id": embedder.id, "dim": embedder.dim}
    fingerprint = getattr(embedder, "fingerprint", None)
    if fingerprint:
        entry["fingerprint"] = fingerprint
    return entry


def check_embedder(folder: Path, manifest: Manifest, embedder: dict) -> None:
    """IndexMismatchError unless the index was built with ``embedder`` (its manifest entry).

    The id and dimension must be the same; where both entries hold a fingerprint, the
    fingerprints must be the same instead of the ids: a model folder moved or installed
    elsewhere is the same model, and a folder whose model was replaced is not. Manifests
    written before fingerprints were recorded are compared by id and dimension, as then."""
    recorded = manifest.embedder
    if _same_embedder(recorded, embedder):
        return
    if recorded.get("id") == embedder["id"] and recorded.get("dim") == embedder["dim"]:
        raise IndexMismatchError(
            f"The index in {shown_path(folder)} was built with the embedder {embedder['id']}, but the model there has "
            f"changed since (its files' fingerprint was {recorded.get('fingerprint')}, now "
            f"{embedder.get('fingerprint')}), so its vectors would not match the index's. Put back the model "
            f"the index was built with, or rebuild with `rag index FOLDER --index-dir {shown_path(folder)} --rebuild` "
            "(rebuild=True in Python)."
        )
    raise IndexMismatchError(
        f"The index in {shown_path(folder)} was built with the embedder {recorded.get('id')} "
        f"(dim {recorded.get('dim')}), not {embedder['id']} (dim {embedder['dim']}). "
        f"Use the same embedding model, or rebuild with `rag index FOLDER --index-dir {shown_path(folder)} --rebuild` "
        "(rebuild=True in Python)."
    )


def _same_embedder(recorded: dict, current: dict) -> bool:
    if recorded.get("dim") != current["dim"]:
        return False
    fingerprints = recorded.get("fingerprint"), current.get("fingerprint")
    schemes = {fingerprint.partition(":")[0] for fingerprint in fingerprints if fingerprint}
    if not all(fingerprints) or len(schemes) != 1:  # an older manifest, a Hugging Face id, another scheme
        return recorded.get("id") == current["id"]
    return fingerprints[0] == fingerprints[1]


def check_compatible(folder: Path, manifest: Manifest, embedder: dict, chunker: dict) -> None:
    """IndexMismatchError unless the index was built with this embedder and chunker (their
    manifest entries): an update must not mix vectors or chunks made two ways."""
    check_embedder(folder, manifest, embedder)
    if manifest.chunker != chunker:
        raise IndexMismatchError(
            f"The index in {shown_path(folder)} was chunked with {manifest.chunker}, not {chunker}. "
            f"Rebuild it with `rag index FOLDER --index-dir {shown_path(folder)} --rebuild` (rebuild=True in Python)."
        )
