"""Embedders: text → L2-normalised float32 vectors for the FAISS index.

Two implementations share the ``Embedder`` protocol. ``HashingEmbedder`` needs no weights,
so it is the offline default; ``SentenceTransformerEmbedder`` wraps a sentence-transformers
model (a Hugging Face id or a local folder, loaded through ``rag.models.registry``) when one
is configured. ``load_embedder`` picks between them from a name.

The hashing embedder is a signed feature-hashing vectoriser over three views of the text:
stemmed words (what BM25 sees), stemmed word pairs (phrases) and character 4-grams of each
word (spelling variants, names transliterated two ways, compounds). Term counts are damped
with ``1 + log(tf)`` per word. It is stateless: a text's vector never depends on the rest of the
corpus, so an index can be updated one file at a time. Its strength is fuzzy lexical
matching; it knows no synonyms, which is why retrieval fuses it with BM25 rather than
trusting it alone.

A model's query and document prompts come from its own configuration (e5 saves
``"query: "``/``"passage: "``). Older bge and e5 releases define none, though their authors
ask for them, so for those families the prompts in ``KNOWN_PROMPTS`` are used instead. Model
vectors are L2-normalised too, so FAISS inner product is cosine similarity whatever the
model's own similarity function.
"""

from __future__ import annotations

import logging
import math
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.errors import IndexMismatchError, ModelLoadError
from rag.language.analysis import index_words, stem_all
from rag.models.registry import EMBEDDING, load_model, model_fingerprint

logger = logging.getLogger(__name__)

HASHING = "hashing"
HASHING_VERSION = "v2"
_HASHING_ID_RE = re.compile(rf"{HASHING}-(v\d+)-(\d+)")
EMBEDDER_PREFIX = "sentence-transformers:"
# Fewer slots than this and unrelated words collide in most vectors; more and one query's
# vector (and the index, a row per chunk) grows past any use: 65,536 floats are 256 KiB a row.
MIN_HASHING_DIM = 16
MAX_HASHING_DIM = 65536
# Show a progress bar when embedding at least this many texts in one call. Building an index
# draws its own bar (characters indexed) and embeds at most 256 chunks a call, so only bigger
# calls (a benchmark corpus embedded at once) get a bar of their own.
PROGRESS_FROM = 1000

# Model families whose published configuration lacks the prompts their authors recommend.
BGE_QUERY = "Represent this sentence for searching relevant passages: "
KNOWN_PROMPTS: list[tuple[re.Pattern[str], dict[str, str]]] = [
    (re.compile(r"(^|/)(multilingual-)?e5-", re.IGNORECASE), {"query": "query: ", "document": "passage: "}),
    (re.compile(r"(^|/)bge-(small|base|large)-en", re.IGNORECASE), {"query": BGE_QUERY, "document": ""}),
]


class Embedder(Protocol):
    """What the index needs from an embedder."""

    @property
    def id(self) -> str:
        """Recorded in the index manifest; two embedders with the same id give the same vectors."""

    @property
    def dim(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Shape ``(len(texts), dim)``, float32, rows of unit length."""

    def embed_query(self, text: str) -> np.ndarray:
        """Shape ``(dim,)``, float32, unit length."""


class HashingEmbedder:
    """Weight-free embedder: signed feature hashing of words, word pairs and character 4-grams."""

    WORD_WEIGHT = 1.0
    PAIR_WEIGHT = 0.5
    CHAR_GRAM_WEIGHT = 0.3
    CHAR_GRAM = 4

    def __init__(self, dim: int = 1024) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or not MIN_HASHING_DIM <= dim <= MAX_HASHING_DIM:
            raise ModelLoadError(
                f"The offline embedder's dimension must be a whole number from {MIN_HASHING_DIM} to "
                f"{MAX_HASHING_DIM:,}, not {dim!r}: {HASHING}-{HASHING_VERSION}-1024, for one."
            )
        self._dim = dim

    @property
    def id(self) -> str:
        return f"{HASHING}-{HASHING_VERSION}-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        matrix = np.zeros((len(texts), self._dim), dtype=np.float32)
        for start in range(0, len(texts), _BATCH):
            self._fill(matrix[start : start + _BATCH], texts[start : start + _BATCH])
        return matrix

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def _fill(self, matrix: np.ndarray, texts: Sequence[str]) -> None:
        """Write the vectors of ``texts`` into the rows of ``matrix`` (zeros).

        A batch is hashed with a few numpy calls rather than a dozen per text, which is most of
        the time at a chunk's size. Each vector is what it would be alone, bit for bit: rows
        share no slots, and within a row the additions (in float32, words then pairs, in order)
        are the same as one text's.
        """
        features, scales, word_counts, pair_names, pair_damping, pair_counts = [], [], [], [], [], []
        word_features, log = self._word_features, math.log
        for tokens, row_stems in map(index_words, texts):
            # Damping applies per word: a word said three times counts 1 + log 3 for its stem
            # and for each of its character grams alike.
            counts = Counter(tokens)
            features += map(word_features, counts)
            scales += [1.0 + log(count) for count in counts.values()]
            word_counts.append(len(counts))
            pairs = Counter(zip(row_stems, row_stems[1:]))
            pair_names += [f"p {first} {second}".encode() for first, second in pairs]
            pair_damping += [1.0 + log(count) for count in pairs.values()]
            pair_counts.append(len(pairs))
        if not features:
            return
        word_slots, word_values = self._word_vectors(features, scales, word_counts)
        pair_slots, pair_values = self._pair_vectors(pair_names, pair_damping, pair_counts)
        values = np.concatenate([word_values, pair_values]).astype(np.float32)
        np.add.at(matrix.reshape(-1), np.concatenate([word_slots, pair_slots]), values)
        for vector in matrix:
            norm = float(np.linalg.norm(vector))
            if norm > 0:
                vector /= norm

    def _word_vectors(
        self, features: list[tuple[np.ndarray, np.ndarray]], scales: list[float], per_row: list[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Flat slots (row * dim + slot) and damped, signed weights of the words' features
        (``per_row``: how many words each row has)."""
        lengths = [len(slots) for slots, _ in features]
        rows = np.repeat(np.repeat(np.arange(len(per_row), dtype=np.int64), per_row), lengths)
        slots = np.concatenate([slots for slots, _ in features]) + rows * self._dim
        return slots, np.concatenate([values for _, values in features]) * np.repeat(scales, lengths)

    def _pair_vectors(
        self, names: list[bytes], damping: list[float], per_row: list[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Flat slots and damped, signed weights of stem pairs: hashed in one pass rather than
        cached one by one (most of a chunk's pairs are new), with ``_slot``'s arithmetic."""
        digests = np.fromiter(map(zlib.crc32, names), np.int64, len(names))
        signs = np.where(digests & _SIGN_BIT, 1.0, -1.0)
        rows = np.repeat(np.arange(len(per_row), dtype=np.int64), per_row)
        return digests % self._dim + rows * self._dim, signs * self.PAIR_WEIGHT * np.asarray(damping, dtype=np.float64)

    @lru_cache(maxsize=1 << 18)  # noqa: B019 - bounded, and an embedder lives as long as its index
    def _word_features(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """Slots and signed weights of one word: its stem and its character grams."""
        features = [(f"w {stem_all([token])[0]}", self.WORD_WEIGHT)]
        features += [(gram, self.CHAR_GRAM_WEIGHT) for gram in _char_grams(token, self.CHAR_GRAM)]
        slots = np.empty(len(features), dtype=np.int64)
        values = np.empty(len(features), dtype=np.float32)
        for position, (feature, weight) in enumerate(features):
            slots[position], sign = self._slot(feature)
            values[position] = sign * weight
        return slots, values

    def _slot(self, feature: str) -> tuple[int, float]:
        digest = zlib.crc32(feature.encode("utf-8"))
        return digest % self._dim, 1.0 if digest & _SIGN_BIT else -1.0


_SIGN_BIT = 1 << 31  # a feature's sign: the top bit of its crc32
_BATCH = 256  # texts hashed together: fewer numpy calls per text, a few MB at most


def _char_grams(word: str, n: int) -> list[str]:
    padded = f"<{word}>"
    if len(padded) <= n:
        return ["c " + padded]
    return ["c " + padded[i : i + n] for i in range(len(padded) - n + 1)]


def load_embedder(name: str | None = None, *, device: str | None = None) -> Embedder:
    """The embedder called ``name``: None or ``"hashing"`` for the offline default, else a
    sentence-transformers model (a Hugging Face id or a local folder).

    An embedder's ``id``, as recorded in an index manifest, is also a name: ``"hashing-v2-1024"``
    or ``"sentence-transformers:<id or absolute folder>"``.
    """
    if name is None or name == HASHING:
        return HashingEmbedder()
    version = _HASHING_ID_RE.fullmatch(name.strip()) if isinstance(name, str) else None
    if version and version[1] == HASHING_VERSION:
        return HashingEmbedder(dim=int(version[2]))
    if version:
        # Not a model name: an index built by an earlier offline embedder, whose vectors this
        # version cannot reproduce.
        raise IndexMismatchError(
            f"The index was built by the offline embedder {name}, from an earlier version of rag; this "
            f"version has {HASHING}-{HASHING_VERSION}. Rebuild the index: `rag index FOLDER --index-dir DIR "
            "--rebuild` (rebuild=True in Python)."
        )
    return SentenceTransformerEmbedder(name.removeprefix(EMBEDDER_PREFIX), device=device)


# ----------------------------------------------------------------------------------------
# A sentence-transformers model


def known_prompts(name: str) -> dict[str, str]:
    """Prompts that the family of model ``name`` expects but may not define ({} if none known)."""
    for pattern, prompts in KNOWN_PROMPTS:
        if pattern.search(name):
            return dict(prompts)
    return {}


def _sentence_transformer(path: str, device: str):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device=device)


class SentenceTransformerEmbedder:
    """A sentence-transformers model as an ``Embedder``: prompted, batched, normalised."""

    def __init__(self, name: str, *, device: str | None = None, batch_size: int = 32) -> None:
        loaded = load_model(EMBEDDING, name, _sentence_transformer, device=device)
        self.name = loaded.path
        self.model = loaded.model
        self.batch_size = batch_size
        self.device = str(self.model.device)
        # sentence-transformers 6 renamed get_sentence_embedding_dimension; the project allows >= 3.
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        dim = dimension()
        if not dim:
            raise ModelLoadError(f"The embedding model {name!r} does not say its output dimension.")
        self._dim = int(dim)
        self.query_prompt, self.document_prompt = self._prompts()

    @property
    def id(self) -> str:
        """Recorded in the index manifest; ``load_embedder(id)`` loads this model again."""
        return f"{EMBEDDER_PREFIX}{self.name}"

    @property
    def dim(self) -> int:
        return self._dim

    @cached_property
    def fingerprint(self) -> str | None:
        """For a model in a local folder, ``model_fingerprint`` of the folder: recorded in the
        index manifest beside ``id``, so the index opens with the same model moved elsewhere.
        None for a Hugging Face id, which names the model wherever the cache is."""
        return model_fingerprint(self.name) if Path(self.name).is_dir() else None

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return self._encode(list(texts), self.document_prompt)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text], self.query_prompt)[0]

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            prompt=prompt or None,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=len(texts) >= PROGRESS_FROM,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _prompts(self) -> tuple[str, str]:
        """The model's own query and document prompts; the family's known ones if it has none."""
        own = self.model.prompts or {}
        query = own.get("query") or ""
        document = next((own[key] for key in ("document", "passage", "corpus") if own.get(key)), "")
        if not query and not document:
            fallback = known_prompts(self.name)
            query, document = fallback.get("query", ""), fallback.get("document", "")
            if fallback:
                logger.info("%s defines no prompts; using its family's: %r / %r", self.name, query, document)
        return query, document
