"""Fixtures of the hardening battery: the seeds index as it was built (its snapshot), a
copy shared by the cases that only read, and a private copy for a case that may write."""

from __future__ import annotations

import shutil

import pytest

from rag import Chatbot
from tests.conftest import remove_tree
from tests.hardening.harness import assert_kept, snapshot


@pytest.fixture(autouse=True)
def removed_without_recursion(tmp_path):
    """Each case's folder removed here, iteratively: a case nests folders 1,200 deep, which
    pytest's own cleanup (shutil.rmtree, recursive) would fail on, in every later run too."""
    yield
    if tmp_path.exists():
        remove_tree(tmp_path)


@pytest.fixture(scope="session")
def baseline(seeds_index):
    """The seeds index's documents, chunk counts and answer to the seeds question."""
    return snapshot(seeds_index)


@pytest.fixture(scope="session")
def shared_index(seeds_index, tmp_path_factory):
    """A copy of the seeds index for the cases that only read: a case that writes by mistake
    spoils this copy (and fails), not the session's seeds index."""
    folder = tmp_path_factory.mktemp("hardening") / "index"
    shutil.copytree(seeds_index, folder)
    return folder


@pytest.fixture(scope="session")
def shared_bot(shared_index):
    bot = Chatbot.from_index(shared_index)
    yield bot
    bot.close()


@pytest.fixture
def reading(shared_bot, shared_index, baseline):
    """The shared bot, and afterwards the check that its index, and the bot itself, still
    answer the seeds question as before."""
    yield shared_bot
    assert_kept(shared_index, baseline)
    answer = shared_bot.ask("How many prisoners were exchanged on February 5?")
    assert answer.text == baseline.answer, "the shared bot answers the seeds question otherwise now"


@pytest.fixture
def index_copy(seeds_index, tmp_path):
    """A private copy of the seeds index, for a case that may write to it."""
    folder = tmp_path / "index"
    shutil.copytree(seeds_index, folder)
    return folder
