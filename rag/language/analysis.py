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

# Recorded in each index's manifest: an index searched with a different analyser would miss.
ANALYZER_ID = "snowball-en+irregular-v1"

# Lucene's English stop words, the list BM25 baselines (Pyserini, bm25s) use.
INDEX_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    ]
)

# Words that make a sentence a question, left out of search queries: "what" or "did" that an
# article happens to repeat would otherwise outweigh the question's subject ("Putin" is in
# every article, "what" in few). Only question-forming words, so claims and keyword queries
# search exactly as before.
QUERY_STOPWORDS = INDEX_STOPWORDS | frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "do",
        "does",
        "did",
        "were",
        "has",
        "have",
        "had",
        "can",
        "could",
        "would",
        "should",
    ]
)

# Words that shape a question but say nothing about its topic. Kept short and generic: every
# word here is one the composer will never require to find in the evidence.
QUESTION_STOPWORDS = INDEX_STOPWORDS | frozenset(
    [
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "any",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "nor",
        "now",
        "off",
        "once",
        "only",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "than",
        "them",
        "themselves",
        "those",
        "through",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "many",
        "much",
        "according",
        "tell",
        "say",
        "said",
        "says",
        "describe",
        "described",
        "mention",
        "mentioned",
        "named",
        "name",
        "kind",
        "type",
        "happen",
        "happened",
        "article",
        "articles",
        "document",
        "documents",
        "text",
        "give",
        "given",
        "one",
        "ones",
        "someone",
        "something",
        "anything",
        "thing",
        "things",
        "way",
        "ways",
        "make",
        "made",
        "get",
        "got",
        "like",
        "well",
    ]
)

# Irregular English verb forms, mapped to the base form so "froze" finds "freeze" and "took"
# finds "take": a stemmer only strips suffixes. Generic grammar, not tuned to any corpus.
_IRREGULAR = {
    form: base
    for base, forms in (
        line.split(":")
        for line in [
            "arise:arose,arisen",
            "be:was,were,been",
            "become:became",
            "begin:began,begun",
            "bite:bit,bitten",
            "blow:blew,blown",
            "break:broke,broken",
            "bring:brought",
            "build:built",
            "buy:bought",
            "catch:caught",
            "choose:chose,chosen",
            "come:came",
            "dig:dug",
            "do:did,done",
            "draw:drew,drawn",
            "drink:drank,drunk",
            "drive:drove,driven",
            "eat:ate,eaten",
            "fall:fell,fallen",
            "feel:felt",
            "fight:fought",
            "find:found",
            "flee:fled",
            "fly:flew,flown",
            "forbid:forbade,forbidden",
            "forget:forgot,forgotten",
            "forgive:forgave,forgiven",
            "freeze:froze,frozen",
            "get:got,gotten",
            "give:gave,given",
            "go:went,gone",
            "grow:grew,grown",
            "hang:hung",
            "have:had",
            "hear:heard",
            "hide:hid,hidden",
            "hold:held",
            "keep:kept",
            "know:knew,known",
            "lay:laid",
            "lead:led",
            "leave:left",
            "lend:lent",
            "lose:lost",
            "make:made",
            "mean:meant",
            "meet:met",
            "pay:paid",
            "ride:rode,ridden",
            "ring:rang,rung",
            "rise:rose,risen",
            "run:ran",
            "say:said",
            "see:saw,seen",
            "seek:sought",
            "sell:sold",
            "send:sent",
            "shake:shook,shaken",
            "shoot:shot",
            "show:shown",
            "shrink:shrank,shrunk",
            "sing:sang,sung",
            "sink:sank,sunk",
            "sit:sat",
            "sleep:slept",
            "speak:spoke,spoken",
            "spend:spent",
            "stand:stood",
            "steal:stole,stolen",
            "stick:stuck",
            "strike:struck",
            "swear:swore,sworn",
            "swim:swam,swum",
            "take:took,taken",
            "teach:taught",
            "tear:tore,torn",
            "tell:told",
            "think:thought",
            "throw:threw,thrown",
            "understand:understood",
            "wake:woke,woken",
            "wear:wore,worn",
            "win:won",
            "write:wrote,written",
            "withdraw:withdrew,withdrawn",
        ]
    )
    for form in forms.split(",")
}

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
        _IRREGULAR.get(w, w) if "'" not in w and "’" not in w else _unended(w) for w in _WORD_RE.findall(fold(text))
    ]


def _unended(word: str) -> str:
    word = _APOSTROPHE_RE.sub("", word).replace("’", "").replace("'", "")
    return _IRREGULAR.get(word, word)


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
