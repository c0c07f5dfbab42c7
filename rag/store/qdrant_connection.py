"""A Qdrant collection as an index: where it is, the client that reaches it, the layout of its
points, and the BM25 arithmetic that keeps its lexical scores the local store's.

Layout. The alias ``NAME`` (``rag`` unless the location names another) points at a physical
collection ``NAME-gN``; a rebuild fills ``NAME-gN+1`` and switches the alias in one request.
A collection holds four kinds of points:

* chunks: integer ids, a dense vector ``dense`` (dot product, as FAISS's inner product) and a
  sparse vector ``terms`` (the BM25 term-frequency part of each term, keyed by term id, under
  Qdrant's IDF modifier), and a payload with the chunk's text, spans, document id, the
  generation that wrote it and ``key`` = ``"GENERATION:DOC_ID"``;
* documents: the whole text, under a UUID made from the same key;
* the vocabulary of one generation (term -> [id, chunks containing it]), in parts;
* the meta point: the manifest (``rag.store.manifest.Manifest``: documents, embedder,
  chunker), the committed generation, the next chunk id, the term count, and the keys whose
  points are no longer wanted but may not be deleted yet. Writing it is the commit.

Readers only see chunks of a committed generation that are not in the meta point's ``stale``
list: the filter that hides a killed writer's points and an updated document's old ones.

Scores. Qdrant's IDF modifier computes Lucene's idf, ln(1 + (N-n+0.5)/(n+0.5)); FTS5's BM25 uses
ln((N-n+0.5)/(n+0.5)), floored at 1e-6. The query gives each term the weight that turns the one
into the other, from the exact document frequencies in the vocabulary, so both stores rank
alike. The stored term-frequency part uses the average chunk length when it was written; after
incremental updates that drifts from the current average (FTS5 uses the current one), and a
rebuild resets it.

Local mode (``qdrant:PATH``) lets one client open a folder at a time, so the clients of this
process are shared by path, and calls on them are serialised (it is not thread-safe).
"""

from __future__ import annotations

import atexit
import contextlib
import math
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.errors import IndexLocationError, RagError
from rag.validation import checked_index_dir

SCHEME = "qdrant:"
DEFAULT_COLLECTION = "rag"
DEFAULT_PORT = 6333
DENSE, TERMS = "dense", "terms"
K1, B = 1.2, 0.75  # FTS5's bm25() constants
_SERVER = re.compile(
    r"^qdrant://(?P<host>[A-Za-z0-9.\-]+)(?::(?P<port>[0-9]{1,5}))?(?:/(?P<collection>[A-Za-z0-9_\-]*))?/?$"
)
_NAMESPACE = uuid.UUID("5b0c1f64-3a53-4d1e-9d0a-6f8b2f3c4e11")
_TIMEOUT_S = 10


@dataclass(frozen=True)
class QdrantLocation:
    """A Qdrant collection: on a server (``url``) or in a local-mode folder (``path``)."""

    collection: str = DEFAULT_COLLECTION
    url: str | None = None
    path: Path | None = None

    def __str__(self) -> str:
        if self.url is not None:
            suffix = "" if self.collection == DEFAULT_COLLECTION else f"/{self.collection}"
            return f"qdrant://{self.url.removeprefix('http://')}{suffix}"
        return f"{SCHEME}{self.path}"


def is_store_url(value: object) -> bool:
    """Whether ``value`` names a Qdrant store rather than an index folder."""
    return isinstance(value, QdrantLocation) or (isinstance(value, str) and value.startswith(SCHEME))


def parse_qdrant(value: str) -> QdrantLocation:
    """``qdrant://HOST[:PORT][/COLLECTION]`` or ``qdrant:PATH``; IndexLocationError otherwise."""
    if value.startswith("qdrant://"):
        match = _SERVER.match(value)
        port = int(match["port"]) if match and match["port"] else DEFAULT_PORT
        if match is None or not 0 < port < 65536:
            raise IndexLocationError(
                f"{value!r} is not a Qdrant address. Write --store qdrant://HOST:PORT (e.g. qdrant://localhost:6333), "
                "optionally with /COLLECTION, or qdrant:PATH for a local folder."
            )
        return QdrantLocation(
            collection=match["collection"] or DEFAULT_COLLECTION, url=f"http://{match['host']}:{port}"
        )
    path = value.removeprefix(SCHEME)
    if not path:
        raise IndexLocationError(
            "qdrant: needs a folder after it: --store qdrant:PATH (local mode) or qdrant://HOST:PORT (a server)."
        )
    return QdrantLocation(path=checked_index_dir(path))


# ----------------------------------------------------------------------------------------
# Clients


class Connection:
    """A client and the lock its calls take (local mode is not thread-safe)."""

    def __init__(self, location: QdrantLocation, client, lock: threading.RLock) -> None:
        self.location = location
        self.client = client
        self.lock = lock

    @contextlib.contextmanager
    def calling(self) -> Iterator:
        """The client, for calls made under the lock; Qdrant's errors as RagErrors."""
        with self.lock, qdrant_errors(self.location):
            yield self.client

    def close(self) -> None:
        _release(self)


_shared: dict[Path, list] = {}  # local folder -> [client, lock, users]
_shared_lock = threading.Lock()


def connect(location: QdrantLocation) -> Connection:
    """A connection to ``location``: a new client for a server, the process's shared one for a
    local folder; a RagError saying what to do when the folder is another process's."""
    from qdrant_client import QdrantClient

    if location.url is not None:
        return Connection(location, QdrantClient(url=location.url, timeout=_TIMEOUT_S), threading.RLock())
    path = location.path.resolve()
    with _shared_lock:
        if path not in _shared:
            try:
                path.mkdir(parents=True, exist_ok=True)
                client = QdrantClient(path=str(path))
            except (RuntimeError, OSError) as error:
                raise IndexLocationError(
                    f"Cannot open the Qdrant folder {location.path} ({error}). Local mode lets one process use it at "
                    "a time: stop the other one, or run a Qdrant server and use --store qdrant://HOST:PORT."
                ) from error
            if not _shared:
                atexit.register(_close_all)  # a client closed by its own __del__ at exit warns
            _shared[path] = [client, threading.RLock(), 0]
        entry = _shared[path]
        entry[2] += 1
        return Connection(location, entry[0], entry[1])


def _release(connection: Connection) -> None:
    if connection.location.url is not None:
        with contextlib.suppress(Exception):
            connection.client.close()
        return
    path = connection.location.path.resolve()
    with _shared_lock:
        entry = _shared.get(path)
        if entry is None or entry[0] is not connection.client:
            return
        entry[2] -= 1
        if entry[2] <= 0:
            del _shared[path]
            with contextlib.suppress(Exception):
                entry[0].close()


def _close_all() -> None:
    with _shared_lock:
        entries = list(_shared.values())
        _shared.clear()
    for client, _, _ in entries:
        with contextlib.suppress(Exception):
            client.close()


@contextlib.contextmanager
def qdrant_errors(location: QdrantLocation) -> Iterator[None]:
    """Qdrant's and the network's errors as one RagError saying what to do."""
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    try:
        yield
    except UnexpectedResponse as error:
        raise RagError(
            f"The Qdrant server at {location} refused a request ({error.status_code}: {error.reason_phrase})."
        ) from error
    except (ResponseHandlingException, ConnectionError, TimeoutError) as error:
        raise RagError(
            f"Cannot reach the Qdrant server at {location} ({error}). Start it (see docs/QDRANT.md: "
            "`docker compose up -d qdrant`), or give --store the address it listens on."
        ) from error


# ----------------------------------------------------------------------------------------
# Layout


def physical_name(location: QdrantLocation, generation: int) -> str:
    return f"{location.collection}-g{generation}"


def generation_of_collection(location: QdrantLocation, name: str) -> int | None:
    prefix = f"{location.collection}-g"
    rest = name.removeprefix(prefix)
    return int(rest) if name.startswith(prefix) and rest.isdigit() else None


def point_key(generation: int, doc_id: str) -> str:
    return f"{generation}:{doc_id}"


def meta_id() -> str:
    return str(uuid.uuid5(_NAMESPACE, "meta"))


def document_point_id(key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"document:{key}"))


def vocabulary_point_id(generation: int, part: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"vocabulary:{generation}:{part}"))


def live_filter(generation: int, stale: list[str]):
    """Chunks of committed generations, less the keys the meta point calls stale."""
    from qdrant_client import models

    return models.Filter(
        must=[models.FieldCondition(key="generation", range=models.Range(lte=generation))],
        must_not=[models.FieldCondition(key="key", match=models.MatchAny(any=stale))] if stale else None,
    )


def resolve_alias(client, location: QdrantLocation) -> str | None:
    """The collection the alias points at; None when there is no index there yet."""
    for alias in client.get_aliases().aliases:
        if alias.alias_name == location.collection:
            return alias.collection_name
    return None


# ----------------------------------------------------------------------------------------
# BM25


def term_frequency_part(tf: int, length: int, average_length: float) -> float:
    """BM25's saturated term frequency, stored as the sparse value (Qdrant multiplies in idf)."""
    norm = K1 * (1 - B + B * length / average_length) if average_length > 0 else K1
    return tf * (K1 + 1) / (tf + norm)


def query_weight(chunks: int, frequency: int) -> float:
    """The query value of a term that turns Qdrant's idf into FTS5's for the same counts."""
    ratio = (chunks - frequency + 0.5) / (frequency + 0.5)
    fts5_idf = max(math.log(ratio), 1e-6) if ratio > 0 else 1e-6
    return fts5_idf / math.log(1 + ratio)
