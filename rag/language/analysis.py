"""Turning text into terms: the one analyser shared by lexical search, the hashing embedder and
the answer composer, so that all three agree on what a "word" is.

Trade-offs: a Snowball (Porter 2) stemmer and Lucene's 33 English stop words for indexing, as
BM25 baselines use, so lexical scores are comparable with published figures; a longer stop list
(``QUESTION_STOPWORDS``) only when judging which words of a *question* carry its meaning.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

from rag.language.wordlists import INDEX_STOPWORDS, IRREGULAR_FORMS, QUERY_STOPWORDS, QUESTION_STOPWORDS

__all__ = [
    "ANALYZER_ID",
    "INDEX_STOPWORDS",
    "QUERY_STOPWORDS",
    "QUESTION_STOPWORDS",
    "fold",
    "index_terms",
    "index_words",
    "query_terms",
    "question_terms",
    "question_words",
    "stem_all",
    "words",
]

# Recorded in each index's manifest: an index searched with a different analyser would miss.
# The word lists are in rag.language.wordlists: a change there changes this too.
ANALYZER_ID = "snowball-en+irregular-v1"

_COMBINING_RE = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_APOSTROPHE_RE = re.compile(r"['’](s|d|ll|re|ve|m|t)$")


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    # No word cache: a corpus outgrows PyStemmer's 10,000 words, and purging stems 2x slower.
    return Stemmer.Stemmer("english", 0)


def fold(text: str) -> str:
    """Lower-case and strip accents, so "Milošević" matches "Milosevic"."""
    text = text.casefold()
    if text.isascii():
        return text
    return _COMBINING_RE.sub("", unicodedata.normalize("NFKD", text))


def words(text: str) -> list[str]:
    """Folded words with possessive and contracted endings removed ("Russia’s" → "russia")."""
    # Most words have no apostrophe and skip the endings: this is the hot path of indexing.
    return [
        IRREGULAR_FORMS.get(w, w) if "'" not in w and "’" not in w else _unended(w)
        for w in _WORD_RE.findall(fold(text))
    ]


def _unended(word: str) -> str:
    word = _APOSTROPHE_RE.sub("", word).replace("’", "").replace("'", "")
    return IRREGULAR_FORMS.get(word, word)


def stem_all(tokens: list[str]) -> list[str]:
    return _stemmer().stemWords(tokens)


def index_terms(text: str) -> list[str]:
    """Stemmed terms of a passage, in order, without the index stop words."""
    return list(index_words(text)[1])


def index_words(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A passage's words without the index stop words, and their stems (its index terms). An
    index analyses each chunk twice (lexical index, hashing embedder) at most 256 chunks apart,
    so the last 512 passages up to ``CACHED_CHARS`` long are kept (a few MB)."""
    return _cached_index_words(text) if len(text) <= CACHED_CHARS else _index_words(text)


def _index_words(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    kept = [w for w in words(text) if w not in INDEX_STOPWORDS]
    return tuple(kept), tuple(stem_all(kept))


CACHED_CHARS = 20_000  # a chunk of 212 tokens is about 1,000 characters of prose
_cached_index_words = lru_cache(maxsize=512)(_index_words)


def query_terms(text: str) -> list[str]:
    """Stemmed terms of a search query, without the words that only make it a question (all
    of its index terms if that leaves nothing: "Who was The Who?")."""
    kept = [w for w in words(text) if w not in QUERY_STOPWORDS]
    return stem_all(kept) if kept else index_terms(text)


def question_words(text: str) -> list[str]:
    """The words that carry a question's meaning, unstemmed, in order."""
    return [w for w in words(text) if w not in QUESTION_STOPWORDS and len(w) > 1 or w.isdigit()]


def question_terms(text: str) -> list[str]:
    """Distinct stemmed terms that carry a question's meaning, in order of first appearance."""
    return list(dict.fromkeys(stem_all(question_words(text))))
