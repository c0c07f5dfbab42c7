"""``Chatbot``: the one entry object. It wires the pipeline, configured by one ``Settings``
value (``rag.settings``), and answers along one path, ``stream``, in named steps: check the
question and the history, read the question as meant (a pronoun as the person the
conversation is about, a misspelt name as the index spells it), retrieve (with the previous
question for a follow-up, and rerank), compose, and give the answer back as asked.

Composing is extractive unless a language model (``rag.answer.llm``) or a chat server
(``rag.answer.remote``) writes the answer; its citations are checked, the extractive answer given
when they do not hold (``Answer.fallback_reason`` says why). Models load when the bot is built.

Trade-offs made:
- ``ask`` is ``stream`` run to the end, so the two cannot answer differently. An answer that is
  composed, not written by a model, is composed whole and then streamed a word at a time.
- ``documents`` keeps its name for its callers; it is ``chunk_counts``, the name that says what.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from pathlib import Path

from rag.answer.citations import SupportJudge, with_pages
from rag.answer.evidence import ComposerSettings
from rag.answer.extractive import compose_extractive
from rag.answer.overview import compose_overview, overview_request
from rag.answer.refusal import abstain
from rag.answer.streaming import AnswerStream, words_of
from rag.answer.writers import Writer, open_writer, writer_name
from rag.answer.written import written_answer
from rag.errors import DocumentsError, RagError
from rag.ingest.chunking import ChunkerSettings
from rag.ingest.loading import TITLE_SHOWN_CHARS, display_title, read_folder, shown_title
from rag.ingest.pipeline import IndexSettings, chunker_of, embedder_for, index_documents, token_counter_of, update_index
from rag.language.lexicon import load_lexicon
from rag.models.embedding import Embedder
from rag.models.rerankers import load_reranker
from rag.records import MAX_QUESTION_CHARS, Answer, Document, Hit
from rag.search.conversation import Message, checked_history, condense_question, is_follow_up, resolve_people
from rag.search.questions import checked_question, searchable
from rag.search.retrieval import Retriever
from rag.search.spelling import respell
from rag.settings import Settings, settings_or_default, split_settings
from rag.store.location import Store, checked_store, index_place, open_store
from rag.store.manifest import check_embedder, embedder_entry
from rag.store.update import UpdateReport
from rag.validation import checked_documents, checked_folder, passage_count

logger = logging.getLogger(__name__)

DEFAULT_TOP_K = 5


class Chatbot:
    """Answers questions about a set of documents, with citations.

    Build one with ``from_folder``, ``from_documents`` or ``from_index``. Each takes
    ``settings=`` (a ``Settings``: models, retrieval, composer, generation) or its fields as
    keywords (``llm_model=``, ``generation=`` ...; a keyword that is not None overrides the
    same field of ``settings=``), and ``top_k=`` and ``judge=`` as the constructor does; and
    ``store=``, where the index is in place of ``index_dir``: a folder, ``"qdrant:PATH"`` (Qdrant
    in-process) or ``"qdrant://HOST:PORT[/COLLECTION]"`` (a Qdrant server), as ``--store`` takes.
    """

    def __init__(
        self,
        index: Store,
        embedder: Embedder,
        *,
        settings: Settings | None = None,
        folder: Path | None = None,
        top_k: int = DEFAULT_TOP_K,
        judge: SupportJudge | None = None,
        **named,
    ) -> None:
        """``embedder``: the one ``index`` was built with; ``named``: ``Settings`` fields, as in
        ``from_index``; ``top_k``: passages per answer; ``judge``: checks a language model's
        sentences (None: the lexical judge)."""
        self.index = index
        self.embedder = embedder
        self.settings = settings_or_default(settings).with_named(**named)
        self.folder = folder
        self.top_k = passage_count(top_k, "top_k")
        self.judge = judge
        reranker = load_reranker(self.settings.reranker_model, device=self.settings.device)
        s = self.settings  # a chat server at llm_url writes the answers, else llm_model here, else none
        self.llm: Writer | None = open_writer(
            s.llm_model, device=s.device, settings=s.generation, url=s.llm_url, server=s.llm_server
        )
        self.retriever = Retriever(index, embedder, self.settings.retrieval, reranker)
        self._titles: dict[tuple[str, int], str | None] = {}
        logger.info("backends: %s", self.backends)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_folder(
        cls,
        folder: str | Path = "seeds",
        index_dir: str | Path = "index",
        *,
        settings: Settings | None = None,
        rebuild: bool = False,
        progress: bool | None = None,
        chunker: ChunkerSettings | None = None,
        **options,
    ) -> Chatbot:
        """Index the text files in ``folder`` (only what changed since last time) and open it."""
        index_dir = index_place(index_dir, options.pop("store", None))
        folder, index_dir = checked_folder(folder), checked_store(index_dir)
        contents = read_folder(folder)
        indexing = {"rebuild": rebuild, "progress": progress, "chunker": chunker}
        bot = cls._indexed(
            contents.documents, index_dir, settings, options, **indexing, source=folder, keep=contents.unreadable
        )
        bot.folder = folder
        return bot

    @classmethod
    def from_documents(
        cls,
        documents: Sequence[Document],
        index_dir: str | Path | None = None,
        *,
        settings: Settings | None = None,
        rebuild: bool = False,
        progress: bool | None = None,
        chunker: ChunkerSettings | None = None,
        **options,
    ) -> Chatbot:
        """Index ``documents`` (ids must be unique) in ``index_dir`` and open it.

        Calling it again with the documents changed updates the index (only what changed is
        re-embedded). An index of another source is refused (``IndexMismatchError``), since
        its documents would be replaced: one built from a folder that is still there, or one
        built from documents sharing no id with these (an updated collection keeps some of
        its ids). ``rebuild=True`` replaces it."""
        index_dir = index_place(index_dir, options.pop("store", None), default=None)
        documents, index_dir = checked_documents(documents), checked_store(index_dir)
        indexing = {"rebuild": rebuild, "progress": progress, "chunker": chunker}
        return cls._indexed(documents, index_dir, settings, options, **indexing)

    @classmethod
    def from_index(cls, index_dir: str | Path = "index", *, settings: Settings | None = None, **options) -> Chatbot:
        """Open an index that is already built, with the embedder it was built with.

        ``options``: ``Settings`` fields as keywords (``embedding_model=``, ``reranker_model=``,
        ``llm_model=``, ``device=``, ``retrieval=``, ``composer=``, ``generation=``), and
        ``top_k=`` and ``judge=`` (see ``Chatbot``)."""
        settings, rest = split_settings(settings, options)
        index = open_store(index_place(index_dir, rest.pop("store", None)))
        embedder = embedder_for(index.manifest, settings.embedding_model, index.folder, device=settings.device)
        check_embedder(index.folder, index.manifest, embedder_entry(embedder))
        return cls(index, embedder, settings=settings, **rest)

    @classmethod
    def _indexed(cls, documents, index_dir, settings: Settings | None, options: dict, **indexing) -> Chatbot:
        """``documents`` brought up to date in ``index_dir`` (``indexing``: ``index_documents``'
        options), opened with the settings ``settings`` and ``options`` make."""
        settings, rest = split_settings(settings, options)
        index, embedder, _ = index_documents(
            documents, index_dir, embedding_model=settings.embedding_model, device=settings.device, **indexing
        )
        return cls(index, embedder, settings=settings, **rest)

    @property
    def composer_settings(self) -> ComposerSettings:
        """``settings.composer``; assigning one puts it in ``settings`` (as tuning scripts do)."""
        return self.settings.composer

    @composer_settings.setter
    def composer_settings(self, composer: ComposerSettings) -> None:
        self.settings = replace(self.settings, composer=composer)

    # -- questions ----------------------------------------------------------------------

    def ask(self, question: str, history: Sequence[Message] | None = None, *, top_k: int | None = None) -> Answer:
        """Answer ``question``; ``history`` is the conversation so far, as role/content messages.

        ``top_k`` passages are retrieved (default: ``self.top_k``). The answer is the one
        ``stream`` ends with.
        """
        return self.stream(question, history, top_k=top_k).finish()

    def stream(
        self, question: str, history: Sequence[Message] | None = None, *, top_k: int | None = None
    ) -> AnswerStream:
        """Like ``ask``, but iterate over it for text as it is written; ``.answer`` at the end.

        The question and history are checked here, before the first piece is asked for."""
        question, history = checked_question(question), checked_history(history)
        top_k = None if top_k is None else passage_count(top_k, "top_k")
        return AnswerStream(self._answer_pieces(question, history, top_k))

    def _answer_pieces(self, question: str, history: list[Message], top_k: int | None) -> Iterator[str | Answer]:
        """The one answer path: the text as it is written, then the final ``Answer``."""
        meant = self.read_as(question, history)
        hits = self._passages_for(meant, history, top_k)
        if self.llm is None or not hits:
            answer = self._extractive(meant, hits) if hits else abstain(meant, hits)
            yield from words_of(answer.text)
        else:
            answer = yield from self._written(meant, hits, history)
        yield with_pages(_as_asked(answer, question, meant), self.index.document_text)

    def retrieve(self, question: str, k: int = 10) -> list[Hit]:
        """The ``k`` passages most relevant to ``question``, best first."""
        return self.retriever.search(searchable(checked_question(question)), k=passage_count(k, "k", minimum=0))

    def read_as(self, question: str, history: Sequence[Message] | None = None) -> str:
        """The question as it is answered: "he" or "she" read as the person the conversation is
        about (the language model reads the history itself, so not with one), and a name the
        index spells otherwise respelt its way ("Kadryov" as "Kadyrov", `rag.search.spelling`)."""
        meant = question
        if history and self.llm is None:
            resolved = resolve_people(question, checked_history(history))
            meant = resolved if len(resolved) <= MAX_QUESTION_CHARS else question
        if not self.composer_settings.use_lexicon:
            return meant
        lexicon = load_lexicon()  # it tells a misspelt name from an English word the index lacks
        return respell(meant, self.index, lexicon.knows) if lexicon.available else meant

    def _passages_for(self, question: str, history: Sequence[Message] | None, top_k: int | None) -> list[Hit]:
        # Checked after the history is added: "Who is he?" has no words of its own to search for.
        k = self.top_k if top_k is None else passage_count(top_k, "top_k")
        return self.retrieve(condense_question(question, history), k=k)

    @property
    def backends(self) -> dict[str, str]:
        """What does each step, for status lines: embedder, reranker and answer writer."""
        reranker = self.retriever.reranker
        return {
            "embedder": self.embedder.id,
            "reranker": getattr(reranker, "id", type(reranker).__name__) if reranker else "none (fused order)",
            "answers": f"{writer_name(self.llm)}, checked, extractive fallback" if self.llm else writer_name(None),
        }

    def _extractive(self, question: str, hits: list[Hit]) -> Answer:
        request = overview_request(question)
        if request is not None:
            if request.topic:  # "the article about Kadyrov": the document that topic finds first
                hits = self.retrieve(request.topic, k=len(hits) or self.top_k)
            overview = compose_overview(
                question, request, hits, self.chunk_counts, self.index.document_text, self.index
            )
            if overview is not None:
                return overview
        return compose_extractive(question, hits, self.index, self.composer_settings, self.index.document_text)

    def _written(self, question: str, hits: list[Hit], history: list[Message]) -> Generator[str, None, Answer]:
        """The language model's answer, streamed as it writes it, then checked."""
        return (
            yield from written_answer(
                self.llm,
                question,
                hits,
                history,
                lambda: self._extractive(question, hits),
                judge=self.judge,
                settings=self.settings.generation,
                follow_up=bool(history) and is_follow_up(question),
            )
        )

    # -- documents ----------------------------------------------------------------------

    @property
    def chunk_counts(self) -> dict[str, int]:
        """Each indexed document's id with the number of chunks it was cut into, by id."""
        return self.index.document_chunk_counts()

    @property
    def documents(self) -> dict[str, int]:
        """The indexed documents, as ``chunk_counts``: keyed by id, so ``len(bot.documents)``
        counts them and ``"a.txt" in bot.documents`` asks whether one is indexed."""
        return self.chunk_counts

    def title(self, source: str, max_chars: int = TITLE_SHOWN_CHARS) -> str | None:
        """The title to show beside the file name ``source`` (a citation's or hit's), cut at
        ``max_chars``: the one its file gave (a web page's, a Word file's: ``Document.title``),
        else one read from the top of its text by ``rag.ingest.loading.display_title``; None when
        neither has one or ``source`` is not indexed. For display only: retrieval is left alone."""
        key = (source, max_chars)
        if key not in self._titles:
            given = self._recorded(source, "title")
            text = None if given else self.index.document_text(source)
            self._titles[key] = shown_title(given, max_chars) if given else display_title(text or "", max_chars)
        return self._titles[key]

    def date(self, source: str) -> str | None:
        """The date (``YYYY-MM-DD``) the file ``source`` gives itself (a web page's publication
        date, a Word file's creation date), for display; None when it gives none."""
        return self._recorded(source, "date")

    def author(self, source: str) -> str | None:
        """The author the file ``source`` names (a web page's byline, a Word file's author), for
        display; None when it names none."""
        return self._recorded(source, "author")

    def _recorded(self, source: str, key: str) -> str | None:
        """What the index keeps of the document ``source`` under ``key`` (an index written
        before that entry existed keeps none)."""
        value = self.index.manifest.documents.get(source, {}).get(key)
        return value if isinstance(value, str) and value.strip() else None

    def refresh(self, *, progress: bool | None = None, swapping: AbstractContextManager | None = None) -> UpdateReport:
        """Re-read the folder this bot was built from and index what changed, repairing damage (``report.repaired``,
        ``report.rebuilt``); ``swapping`` (a writer's lock) is held only while the new index replaces the old."""
        if self.folder is None:
            raise DocumentsError("This chatbot was not built from a folder, so there is nothing to re-read.")
        if progress is not None and not isinstance(progress, bool):
            raise RagError(f"progress must be True, False or None, not {type(progress).__name__}.")
        contents = read_folder(self.folder)
        manifest = self.index.manifest
        settings = IndexSettings(self.embedder, token_counter_of(manifest), chunker_of(manifest))
        report = update_index(
            self.index.folder,
            contents.documents,
            settings,
            progress=progress,
            source=self.folder,
            keep=contents.unreadable,
            repair=True,
        )
        if report.touched:
            self._reopen(swapping or nullcontext())
        return report

    def close(self) -> None:
        """Release the index's files; ``with Chatbot.from_index(...) as bot:`` does it for you."""
        self.index.close()

    def __enter__(self) -> Chatbot:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _reopen(self, swapping: AbstractContextManager) -> None:
        # The old index is not closed: a question on another thread may still read it. It closes with its last reference.
        index = open_store(self.index.folder)
        retriever = Retriever(index, self.embedder, self.settings.retrieval, self.retriever.reranker)
        with swapping:  # all three at once, and a changed file may have a new title
            self.retriever, self.index, self._titles = retriever, index, {}


def _as_asked(answer: Answer, question: str, meant: str) -> Answer:
    """The answer to ``question`` as asked, saying how it was read (``meant``) when otherwise."""
    return replace(answer, question=question, understood_as=meant) if meant != question else answer


def open_chatbot(
    index_dir: str | Path,
    folder: str | Path | None = None,
    *,
    progress: bool | None = None,
    settings: Settings | None = None,
    **options,
) -> Chatbot:
    """The chatbot on ``index_dir``: with ``folder``, that folder indexed into it first (only
    what changed); without, the index as it is. ``settings``, ``options``: as ``from_index`` takes them."""
    if folder is not None:
        return Chatbot.from_folder(folder, index_dir=index_dir, progress=progress, settings=settings, **options)
    return Chatbot.from_index(index_dir, settings=settings, **options)
