"""Documents, an embedder that counts what it embeds, and manifest edits, shared by the store's tests."""

import json

from rag import Document
from rag.ingest.chunking import ChunkerSettings
from rag.ingest.pipeline import IndexSettings
from rag.ingest.tokens import APPROXIMATION, TokenCounter
from rag.models.embedding import HashingEmbedder
from rag.store.manifest import MANIFEST


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, counting the texts it embeds."""

    def __init__(self, dim=64):
        super().__init__(dim)
        self.embedded = []

    def embed_documents(self, texts):
        self.embedded.extend(texts)
        return super().embed_documents(texts)


def settings(embedder=None):
    return IndexSettings(embedder or CountingEmbedder(), TokenCounter(APPROXIMATION), ChunkerSettings())


DOCS = [
    Document(id="a.txt", text="Apples grow on trees in orchards. They are red or green."),
    Document(id="b.txt", text="Bananas grow in tropical climates. They are yellow when ripe."),
    Document(id="c.txt", text="Cherries are small stone fruits. Birds love them."),
]


def edit_manifest(folder, **changes):
    """Entries of the folder's manifest set (None: removed), as a hand edit would."""
    path = folder / MANIFEST
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    for key in [key for key, value in changes.items() if value is None]:
        del manifest[key]
    path.write_text(json.dumps(manifest))
