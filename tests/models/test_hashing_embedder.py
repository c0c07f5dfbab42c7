import math
import zlib
from collections import Counter

import numpy as np
import pytest

from rag.language.analysis import INDEX_STOPWORDS, index_terms, stem_all, words
from rag.models.embedding import HashingEmbedder

TEXTS = [
    "The lighthouse keeper's cat sat on the lighthouse steps.",
    "",
    "the and of",  # stop words only: no features, a zero vector
    "Zelenskyy",
    "cells cells cells divide; the cells divide again",  # damped counts, a repeated pair
    "Milošević’s trial took years; they'll say it ended in 2006.",
]


def reference_vector(text: str, dim: int) -> np.ndarray:
    """The vector as the module docstring defines it, computed plainly in float64."""

    def add(vector, feature, weight):
        digest = zlib.crc32(feature.encode("utf-8"))
        vector[digest % dim] += (1.0 if digest & (1 << 31) else -1.0) * weight

    vector = np.zeros(dim)
    tokens = [w for w in words(text) if w not in INDEX_STOPWORDS]
    for token, count in Counter(tokens).items():
        scale = 1.0 + math.log(count)
        add(vector, f"w {stem_all([token])[0]}", 1.0 * scale)
        padded = f"<{token}>"
        grams = [padded] if len(padded) <= 4 else [padded[i : i + 4] for i in range(len(padded) - 3)]
        for gram in grams:
            add(vector, f"c {gram}", 0.3 * scale)
    stems = stem_all(tokens)
    for (first, second), count in Counter(zip(stems, stems[1:])).items():
        add(vector, f"p {first} {second}", 0.5 * (1.0 + math.log(count)))
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 0 else vector


@pytest.mark.parametrize("dim", [16, 1024])
def test_vectors_are_the_documented_feature_hashing(dim):
    embedder = HashingEmbedder(dim)
    for text, vector in zip(TEXTS, embedder.embed_documents(TEXTS), strict=True):
        assert vector.dtype == np.float32
        np.testing.assert_allclose(vector, reference_vector(text, dim), atol=1e-6)


def test_a_text_without_index_words_is_a_zero_vector():
    vectors = HashingEmbedder().embed_documents(["", "the and of", "!!"])
    assert not vectors.any()


def test_a_batch_gives_each_text_its_own_vector_bit_for_bit():
    # More texts than one hashing batch, so rows on both sides of a batch boundary are checked.
    texts = [f"{TEXTS[i % len(TEXTS)]} item {i} of {i % 7} lists" for i in range(600)]
    embedder = HashingEmbedder()
    together = embedder.embed_documents(texts)
    alone = np.stack([HashingEmbedder().embed_query(text) for text in texts])
    assert together.shape == (600, 1024)
    assert together.tobytes() == alone.tobytes()


def test_an_empty_batch_is_an_empty_matrix():
    assert HashingEmbedder(32).embed_documents([]).shape == (0, 32)


def test_index_terms_are_the_stems_of_the_words_left_after_the_stop_words():
    text = "Russia’s President took the trains they'll take"
    assert index_terms(text) == ["russia", "presid", "take", "train", "take"]
    terms = index_terms(text)
    terms.append("mutated")  # a caller's list is its own: the next call is unchanged
    assert index_terms(text) == ["russia", "presid", "take", "train", "take"]
