"""Fixtures for the answer tests."""

import pytest

from rag import Chatbot
from tests.answer.corpus import DOCS


@pytest.fixture(scope="module")
def small_bot(tmp_path_factory):
    """A bot over the small hand-written corpus ``DOCS``, once per module."""
    return Chatbot.from_documents(DOCS, index_dir=tmp_path_factory.mktemp("compose-index"))
