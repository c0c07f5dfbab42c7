"""The chat page's state and handlers: what happens when a visitor asks, uploads or looks.

``ChatApp`` holds the one ``Chatbot`` that serves every visitor and answers the page's events
with rendered HTML (``rag_seeds_ui.render``); ``rag_seeds_ui.app`` lays the page out and wires
the events to it. Nothing here knows the layout, so the handlers are tested without a server.

Trade-offs made:
- One ``Chatbot`` serves every visitor, answering several questions at once on the server's
  threads. Re-indexing writes the new index while questions go on being answered from the
  old one; swapping the two waits for the questions in flight and holds new ones back for that
  moment only (a read/write lock), so no answer mixes the two indexes.
- A streamed answer is redrawn at most every ``STREAM_REDRAW_S``, not at every word: each
  redraw costs more server CPU than composing the answer does.
- Uploads never replace a file (``rag.ingest.uploads``), and the notice names what became of
  each file: added, already there, added under another name, or refused and why. Gradio's
  temporary copy of each upload is deleted once it is used, stored or refused.
- Server paths and library versions are shown only when ``show_details`` (the page is served
  on loopback or behind a login); other visitors see the backends' names without paths.
- Each browser tab keeps its own conversation in ``gr.State`` (what is shown, and the plain
  role/content history the chatbot needs for follow-ups), so concurrent visitors never see
  each other's answers.
"""

from __future__ import annotations

import copy
import logging
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import gradio as gr

from rag import Answer, Chatbot, RagError
from rag.doctor import Check, diagnose
from rag.ingest.uploads import (
    DEFAULT_MAX_UPLOAD_BYTES,
    UPLOAD_SUFFIXES,
    StoredUpload,
    check_upload_size,
    remove_upload,
    safe_name,
    store_upload,
    uploaded_names,
)
from rag.store.update import UpdateReport

from . import render
from .locking import ReadWriteLock

logger = logging.getLogger(__name__)

MAX_PASSAGES = 20
# A streamed answer is redrawn at most this often. Each redraw costs the server a render, a diff
# of the whole conversation and a message to the browser: one per word made a 12 ms answer cost
# 59 ms of server CPU (21 ms redrawn this often), and concurrent visitors queued behind it
# (docs/BENCHMARKS.md, "Concurrent users"). A composed answer, written at once, arrives whole.
STREAM_REDRAW_S = 0.1

# Questions the offline default answers from the seed articles, offered when those are indexed
# (short enough that the page shows them whole); "the capital of Australia" shows what an
# abstention looks like, the last an overview.
SEED_EXAMPLES = [
    ("How many prisoners were exchanged on February 5?", "003_58ec4efac89fea89.txt"),
    ("Which analyst called Kadyrov's support a gamble?", "000_f2df93452cb9e121.txt"),
    ("Which Serbian leader did Chris Costa compare Putin to?", "002_16c963fab6cf1b6f.txt"),
    ("Who is Putin's Chief of General Staff?", "004_7efb122e67c28a6b.txt"),
    ("Who is Kadyrov?", "003_58ec4efac89fea89.txt"),
    ("What is the capital of Australia?", "003_58ec4efac89fea89.txt"),
    ("What are these articles about?", "001_7766d24d19bfa5ea.txt"),
]

# Titles are cut shorter on the command line; the page has room for the seeds' whole.
PAGE_TITLE_CHARS = 110

_MODEL_CHECKS = frozenset({"embedder", "reranker", "llm"})

UNEXPECTED_ERROR = "Something went wrong while answering; the details are in the server log. Please try again."
INDEX_FAILED = "Indexing failed; the details are in the server log. Questions still use the previous index."


_KIND_BEFORE_PATH = re.compile(r"[a-z][a-z0-9-]+:(?=[\\/~.])")


def _without_paths_keeping_kind(what: str) -> str:
    """``what`` without folder paths, its kind kept: "transformers:/srv/x.gguf" -> "transformers:x.gguf"."""
    kind = _KIND_BEFORE_PATH.match(what)
    return (kind.group(0) if kind else "") + render.without_paths(what[kind.end() if kind else 0 :])


@dataclass
class Conversation:
    """One browser tab's chat: the messages shown, and the history passed to the chatbot."""

    shown: list[dict] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)
    latest: Answer | None = None  # the answer whose sources the panel shows, last in ``shown``
    titles: dict[str, str | None] = field(default_factory=dict)  # of the files ``latest`` cites

    def earlier(self) -> list[dict]:
        """The messages shown, the latest answer's markers unlinked: a new question is about
        to replace the sources they point at. Their labels keep the cited files' titles, read
        from the bot when the answer was first drawn."""
        if self.latest is None or not self.shown:
            return list(self.shown)
        unlinked = _message("assistant", render.answer_message(self.latest, linked=False, title=self.titles.get))
        return [*self.shown[:-1], unlinked]


class ChatApp:
    """The handlers behind the page, bound to one ``Chatbot``."""

    def __init__(
        self,
        bot: Chatbot,
        *,
        index_dir: str | Path | None = None,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        show_details: bool = False,
        upload_dir: str | Path | None = None,
        redraw_every_s: float = STREAM_REDRAW_S,
    ) -> None:
        """``redraw_every_s``: how often a streamed answer is redrawn (0: at every piece)."""
        self.bot = bot
        self.redraw_every_s = redraw_every_s
        # As given: a Qdrant address (qdrant://HOST:PORT) is no path
        self.index_dir = index_dir if index_dir is not None else bot.index.folder
        self.max_upload_bytes = max_upload_bytes
        self.show_details = show_details
        # Gradio's folder of temporary upload copies: only files below it are deleted after use.
        self.upload_dir = Path(upload_dir) if upload_dir is not None else None
        self.lock = ReadWriteLock()

    # -- chat -------------------------------------------------------------------------------

    def ask(self, question: str, passages: int, conversation: Conversation | None):
        """Stream an answer into the chat; yields (question box, chat, sources, conversation)."""
        conversation = copy.deepcopy(conversation) if conversation else Conversation()
        question = (question or "").strip()
        if not question:
            yield "", conversation.shown, gr.skip(), conversation
            return
        shown = [*conversation.earlier(), _message("user", render.user_message(question))]
        shown.append(_message("assistant", render.pending_message()))
        yield "", shown, render.sources_placeholder("Searching the documents…"), conversation
        try:
            with self.lock.reading():
                bot = self.bot
                top_k = max(1, min(MAX_PASSAGES, int(passages or bot.top_k)))
                stream = bot.stream(question, history=conversation.history, top_k=top_k)
                written, drawn = "", time.monotonic()
                for piece in stream:
                    written += piece
                    if time.monotonic() - drawn >= self.redraw_every_s:
                        shown = [*shown[:-1], _message("assistant", render.pending_message(written))]
                        yield gr.skip(), shown, gr.skip(), conversation
                        drawn = time.monotonic()
                answer = stream.answer
                if answer is None:
                    raise RuntimeError("the answer stream ended without an Answer")
                backend = answer.backend if self.show_details else _without_paths_keeping_kind(answer.backend)
                sources = render.sources_panel(
                    replace(answer, backend=backend), bot.index.document_text, self.title, self.byline
                )
                titles = {citation.source: self.title(citation.source) for citation in answer.citations}
        except RagError as error:
            failure = str(error)
        except Exception:
            logger.exception("answering %r failed", question)
            failure = UNEXPECTED_ERROR
        else:
            failure = None
        if failure is not None:
            # The failed exchange stays on screen but out of the history the bot is given.
            # The question goes back in the box, to be edited and asked again.
            shown = [*shown[:-1], _message("assistant", render.error_message(failure))]
            unanswered = render.sources_placeholder("No sources: the question was not answered.")
            yield question, shown, unanswered, Conversation(shown=shown, history=conversation.history)
            return
        shown = [*shown[:-1], _message("assistant", render.answer_message(answer, title=titles.get))]
        conversation = Conversation(
            shown=shown,
            history=[
                *conversation.history,
                {"role": "user", "content": question},
                {"role": "assistant", "content": answer.text},
            ],
            latest=answer,
            titles=titles,
        )
        yield gr.skip(), shown, sources, conversation

    @staticmethod
    def clear() -> tuple:
        return "", [], render.sources_placeholder(), Conversation()

    # -- documents ----------------------------------------------------------------------------

    def documents(self) -> str:
        return render.documents_table(self.bot.chunk_counts, self.title, self.byline)

    def title(self, source: str) -> str | None:
        """The title the page shows beside the file name ``source``."""
        return self.bot.title(source, max_chars=PAGE_TITLE_CHARS)

    def byline(self, source: str) -> str | None:
        """The author and date the page shows under the file name ``source``, where it gives them."""
        return render.byline(self.bot.author(source), self.bot.date(source))

    def backends(self) -> dict[str, str]:
        """What does each step in the running bot: embedder, reranker, answer writer (without
        folder paths unless ``show_details``)."""
        backends = self.bot.backends
        if self.show_details:
            return backends
        return {step: _without_paths_keeping_kind(what) for step, what in backends.items()}

    def status(self) -> str:
        counts = self.bot.chunk_counts
        backends = self.backends()
        parts = [f"{len(counts)} documents, {sum(counts.values())} chunks"]
        parts += [f"{step}: {what}" for step, what in sorted(backends.items())]
        return render.status_line(parts)

    def checks(self) -> str:
        """``rag doctor``'s checks of the environment and index, with the models the bot has loaded.

        The doctor proves a model loads by loading it; the bot already holds its models, so
        their rows come from the bot instead of loading each model a second time.
        """
        try:
            found = [c for c in diagnose(self.index_dir) if c.name not in _MODEL_CHECKS]
        except Exception:
            logger.exception("backend status failed")
            return render.notice("Could not read the backend status; see the server log.", ok=False)
        loaded = [Check(step, True, what) for step, what in self.backends().items()]
        if not self.show_details:  # paths and versions help an attacker more than a visitor
            found = [Check(c.name, c.ok, "" if c.ok else "see `rag doctor` on the server") for c in found]
        return render.checks_table(loaded + found)

    def upload(self, paths: list[str] | None, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        """Store the uploaded files in the documents folder and index them; returns (notice, table, status).

        The notice says what became of each file; Gradio's temporary copies are deleted after.
        """
        paths = [str(path) for path in paths or [] if path]
        try:
            if not paths:
                return self._after(f"Choose one or more {render.suffix_list(UPLOAD_SUFFIXES)} files first.", ok=False)
            if self.bot.folder is None:
                return self._after("This page was not started on a folder, so it cannot add files.", ok=False)
            progress(0, desc="Saving files")
            stored, refused = self._save(paths)
            notices = []
            if any(s.outcome != "unchanged" for s in stored):
                progress(0.3, desc="Indexing")
                report, failure = self._reindex()
                if failure:
                    names = ", ".join(s.path.name for s in stored if s.outcome != "unchanged")
                    notices.append(render.notice(f"Stored {names}, but {failure}", ok=False))
                else:
                    notices.append(render.notice(self._stored_notice(stored, report)))
            elif stored:
                notices.append(render.notice(self._stored_notice(stored, None)))
            if refused:
                notices.append(render.notice("\n".join(refused), ok=False))
            progress(1, desc="Done")
            return "".join(notices), self.documents(), self.status()
        finally:
            self._discard(paths)

    def _stored_notice(self, stored: list[StoredUpload], report: UpdateReport | None) -> str:
        counts = self.bot.chunk_counts
        lines = []
        for s in stored:
            chunks = _chunks(counts.get(s.path.name, 0))
            if s.outcome == "added":
                lines.append(f"Added {s.path.name} ({chunks}).")
            elif s.outcome == "renamed":
                lines.append(
                    f"Added {s.requested} as {s.path.name} ({chunks}): a different {s.requested} is already there "
                    "and was kept."
                )
            else:
                lines.append(f"{s.requested} is already there with the same text as {s.path.name}; nothing changed.")
        if report is not None:
            lines.append(f"Index: {report}.")
        return "\n".join(lines)

    def removable(self) -> list[str]:
        """The documents uploaded through the page, which the page can remove."""
        if self.bot.folder is None:
            return []
        return uploaded_names(self.bot.folder)

    def remove(self, name: str | None, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        """Take an uploaded document out of the folder (kept in its hidden ``.removed`` folder)
        and out of the index; returns (notice, table, status)."""
        if self.bot.folder is None:
            return self._after("This page was not started on a folder, so it has no uploads to remove.", ok=False)
        if not name:
            return self._after("Choose a document uploaded through this page first, then click Remove.", ok=False)
        try:
            remove_upload(self.bot.folder, name)
        except RagError as error:
            return self._after(str(error), ok=False)
        progress(0.3, desc="Indexing")
        report, failure = self._reindex()
        if failure:
            return self._after(f"Removed {name} from the folder, but {failure}", ok=False)
        return self._after(
            f"Removed {name}. Index: {report}. The server keeps the file in the documents folder's "
            "hidden .removed folder, so it can be put back."
        )

    def reindex(self, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        """Re-read the documents folder and index what changed; returns (notice, table, status)."""
        if self.bot.folder is None:
            return self._after("This page was not started on a folder, so there is nothing to re-read.", ok=False)
        progress(0, desc="Indexing")
        report, failure = self._reindex()
        if failure:
            return self._after(failure, ok=False)
        return self._after(f"Re-read {self.bot.folder}: {report}.")

    def _save(self, paths: list[str]) -> tuple[list[StoredUpload], list[str]]:
        """(what became of each file stored, reasons for the files refused)."""
        stored, refused = [], []
        for path in paths:
            name = Path(path).name
            try:
                check_upload_size(safe_name(name), Path(path).stat().st_size, max_bytes=self.max_upload_bytes)
                data = Path(path).read_bytes()
                stored.append(store_upload(self.bot.folder, name, data, max_bytes=self.max_upload_bytes))
            except RagError as error:
                refused.append(str(error))
            except OSError as error:
                logger.warning("reading upload %s failed: %s", name, error)
                refused.append(f"{name} could not be read or stored; upload it again.")
        return stored, refused

    def _discard(self, paths: list[str]) -> None:
        """Delete Gradio's temporary copies of the uploads (never a file outside its folder)."""
        if self.upload_dir is None:
            return
        root = self.upload_dir.resolve()
        for path in paths:
            copy_path = Path(path).resolve()
            if root not in copy_path.parents:
                continue
            try:
                copy_path.unlink(missing_ok=True)
                if copy_path.parent != root and not any(copy_path.parent.iterdir()):
                    copy_path.parent.rmdir()  # Gradio puts each upload in a folder of its own
            except OSError as error:
                logger.warning("deleting the temporary upload %s failed: %s", copy_path, error)

    def _reindex(self) -> tuple[UpdateReport | None, str | None]:
        """(what changed, None), or (None, a message saying why it failed)."""
        try:
            # Questions go on being answered from the index as it was while the new one is
            # written; only the swap waits for those in flight and holds new ones back.
            return self.bot.refresh(progress=True, swapping=self.lock.writing()), None
        except RagError as error:
            return None, str(error)
        except Exception:
            logger.exception("re-indexing %s failed", self.bot.folder)
            return None, INDEX_FAILED

    def _after(self, message: str, *, ok: bool = True) -> tuple[str, str, str]:
        return render.notice(message, ok=ok), self.documents(), self.status()

    def examples(self) -> list[str]:
        indexed = self.bot.chunk_counts
        return [question for question, source in SEED_EXAMPLES if source in indexed]


def _chunks(count: int) -> str:
    return "1 chunk" if count == 1 else f"{count} chunks"


def _message(role: str, content: str) -> dict:
    return {"role": role, "content": content}
