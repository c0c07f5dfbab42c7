"""The chat page: a Gradio app over one ``Chatbot``.

A thin layer: questions go to ``Chatbot.stream`` with the conversation so far, uploads are
stored by ``rag.ingest.uploads`` and indexed by ``Chatbot.refresh``, and ``rag_seeds_ui.render`` turns the
records into escaped HTML. No retrieval or answer logic lives here.

Trade-offs made:
- One ``Chatbot`` serves every visitor. Questions share it freely; re-indexing swaps the
  index underneath, so it waits for the questions in flight and holds new ones back until it
  is done (a read/write lock), rather than closing the index under a running question.
- Each browser tab keeps its own conversation in ``gr.State`` (what is shown, and the plain
  role/content history the chatbot needs for follow-ups), so concurrent visitors never see
  each other's answers.
- Safe by default: binds 127.0.0.1, optional login, the queue on, no external fonts (the
  page works offline), errors reach the page as a sentence and the server log as a traceback.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from rag import Answer, Chatbot, RagError
from rag.chatbot import open_chatbot
from rag.doctor import Check, diagnose
from rag.ingest.uploads import DEFAULT_MAX_UPLOAD_BYTES, save_upload
from rag.settings import Settings
from rag.store.update import UpdateReport

from . import render

logger = logging.getLogger(__name__)

MAX_PASSAGES = 20
QUEUE_CONCURRENCY = 8
QUEUE_MAX_SIZE = 256

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


class ReadWriteLock:
    """Many readers at once, or one writer; a waiting writer holds back new readers."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._writing and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                self._condition.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._condition:
            self._writers_waiting += 1
            self._condition.wait_for(lambda: not self._writing and not self._readers)
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()


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
    ) -> None:
        self.bot = bot
        self.index_dir = Path(index_dir) if index_dir is not None else bot.index.folder
        self.max_upload_bytes = max_upload_bytes
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
                written = ""
                for piece in stream:
                    written += piece
                    shown = [*shown[:-1], _message("assistant", render.pending_message(written))]
                    yield gr.skip(), shown, gr.skip(), conversation
                answer = stream.answer
                if answer is None:
                    raise RuntimeError("the answer stream ended without an Answer")
                sources = render.sources_panel(answer, bot.index.document_text, self.title)
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
        return render.documents_table(self.bot.chunk_counts, self.title)

    def title(self, source: str) -> str | None:
        """The title the page shows beside the file name ``source``."""
        return self.bot.title(source, max_chars=PAGE_TITLE_CHARS)

    def backends(self) -> dict[str, str]:
        """What does each step in the running bot: embedder, reranker, answer writer."""
        return self.bot.backends

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
        return render.checks_table(loaded + found)

    def upload(self, paths: list[str] | None, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        """Store the uploaded files in the documents folder and index them; returns (notice, table, status)."""
        if not paths:
            return self._after("Choose one or more .txt or .md files first.", ok=False)
        if self.bot.folder is None:
            return self._after("This page was not started on a folder, so it cannot add files.", ok=False)
        progress(0, desc="Saving files")
        saved, refused = self._save(paths)
        notices = []
        if saved:
            progress(0.3, desc="Indexing")
            report, failure = self._reindex()
            if failure:
                return self._after(failure, ok=False)
            counts = self.bot.chunk_counts
            added = ", ".join(f"{name} ({_chunks(counts.get(name, 0))})" for name in saved)
            notices.append(render.notice(f"Added {added}. Index: {report}."))
        if refused:
            notices.append(render.notice("\n".join(refused), ok=False))
        progress(1, desc="Done")
        return "".join(notices), self.documents(), self.status()

    def reindex(self, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        """Re-read the documents folder and index what changed; returns (notice, table, status)."""
        if self.bot.folder is None:
            return self._after("This page was not started on a folder, so there is nothing to re-read.", ok=False)
        progress(0, desc="Indexing")
        report, failure = self._reindex()
        if failure:
            return self._after(failure, ok=False)
        return self._after(f"Re-read {self.bot.folder}: {report}.")

    def _save(self, paths: list[str]) -> tuple[list[str], list[str]]:
        """(names stored, reasons for the files refused)."""
        saved, refused = [], []
        for path in paths:
            name = Path(path).name
            try:
                saved.append(
                    save_upload(self.bot.folder, name, Path(path).read_bytes(), max_bytes=self.max_upload_bytes).name
                )
            except RagError as error:
                refused.append(str(error))
            except OSError as error:
                logger.warning("reading upload %s failed: %s", name, error)
                refused.append(f"{name} could not be read; try again.")
        return saved, refused

    def _reindex(self) -> tuple[UpdateReport | None, str | None]:
        """(what changed, None), or (None, a message saying why it failed)."""
        try:
            with self.lock.writing():
                return self.bot.refresh(progress=True), None
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


CSS = """
.status-line { font-size: 0.9em; opacity: 0.8; }
.msg .cite { text-decoration: none; font-weight: 600; font-size: 0.85em; vertical-align: super;
  padding: 0 0.15em; border-radius: 4px; background: var(--color-accent-soft); cursor: help; }
.msg.abstained .tag, .msg.error .tag { display: inline-block; font-size: 0.8em; font-weight: 600;
  padding: 0.05em 0.5em; margin-right: 0.5em; border-radius: 4px; }
.msg.abstained .tag { background: #fde68a; color: #78350f; }
.msg.error .tag { background: #fecaca; color: #7f1d1d; }
.msg .note { font-size: 0.85em; opacity: 0.8; margin-top: 0.4em; }
.msg .searching { opacity: 0.7; font-style: italic; }
.msg .cursor { opacity: 0.6; }
.sources { font-size: 0.92em; }
.sources-title { font-weight: 700; font-size: 1.05em; margin-bottom: 0.4em; }
.sources-empty { opacity: 0.75; padding: 0.5em 0; }
.source-file { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6em 0.8em;
  margin-bottom: 0.7em; }
.source-title { font-weight: 600; line-height: 1.3; }
.source-name { font-weight: 600; font-family: var(--font-mono); word-break: break-all; }
.source-title + .source-name { font-weight: 400; font-size: 0.85em; opacity: 0.75; }
.source-lines, .passage-lines { font-size: 0.85em; opacity: 0.75; }
.passage { margin-top: 0.5em; scroll-margin-top: 1em; }
.passage .badge { font-weight: 700; margin-right: 0.4em; }
.passage-text { line-height: 1.45; margin-top: 0.2em; }
.passage-text mark { background: #fde047; color: #1c1917; padding: 0 0.1em; border-radius: 2px; }
.passage.closest { opacity: 0.8; }
.backend { font-size: 0.8em; opacity: 0.7; margin-top: 0.3em; }
.documents table, .checks table { width: 100%; border-collapse: collapse; }
.documents td, .documents th, .checks td { padding: 0.3em 0.6em; border-bottom: 1px solid var(--border-color-primary);
  text-align: left; }
.documents .num { text-align: right; font-variant-numeric: tabular-nums; }
.documents tfoot td { font-weight: 600; }
.checks tr.bad td { color: #b91c1c; }
.notice { padding: 0.5em 0.8em; border-radius: 6px; }
.notice.ok { background: #dcfce7; color: #14532d; }
.notice.bad { background: #fee2e2; color: #7f1d1d; }
"""

# System fonts only: the default theme fetches Google Fonts, which an offline machine cannot.
THEME_FONTS = {
    "font": ["ui-sans-serif", "system-ui", "sans-serif"],
    "font_mono": ["ui-monospace", "monospace"],
}


def build(app: ChatApp) -> gr.Blocks:
    """The page, with its handlers wired to ``app``."""
    max_kb = app.max_upload_bytes // 1024
    with gr.Blocks(title="Ask the documents", analytics_enabled=False) as demo:
        gr.Markdown(
            "## Ask the documents\nEvery answer cites the passages it comes from; hover a marker to see its source."
        )
        status = gr.HTML(app.status(), elem_id="status")
        conversation = gr.State(Conversation())
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"), gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    chat = gr.Chatbot(
                        elem_id="chat",
                        label="Conversation",
                        show_label=False,  # the label floats over the first message once it scrolls
                        height=520,
                        latex_delimiters=[],
                        allow_tags=False,
                        feedback_options=None,
                        buttons=[],  # Gradio's default "share" posts to Hugging Face: nothing to do offline
                        placeholder="Ask a question about the documents. Follow-up questions keep the conversation.",
                    )
                    with gr.Row():
                        question = gr.Textbox(
                            elem_id="question",
                            show_label=False,
                            placeholder="Ask a question, then press Enter",
                            max_lines=4,
                            scale=5,
                            autofocus=True,
                        )
                        send = gr.Button("Ask", variant="primary", elem_id="ask", scale=1, min_width=80)
                    with gr.Row():
                        clear = gr.Button("New conversation", size="sm", elem_id="clear")
                    examples = app.examples()
                    shown = (
                        gr.Examples(examples=examples, inputs=question, label="Example questions on the seeds")
                        if examples
                        else None
                    )
                with gr.Column(scale=2):
                    sources = gr.HTML(render.sources_placeholder(), elem_id="sources")
            with gr.Tab("Documents", id="documents"):
                documents = gr.HTML(app.documents(), elem_id="documents")
                files = gr.File(
                    label=f"Choose .txt or .md files (up to {max_kb:,} KB each), then click Add to index",
                    file_count="multiple",
                    # No file_types: Gradio would refuse other files with a toast that closes
                    # by itself; accepted here, each is refused in the notice with the reason.
                    elem_id="upload",
                )
                with gr.Row():
                    add = gr.Button("Add to index", variant="primary", elem_id="add")
                    refresh = gr.Button("Re-index folder", elem_id="reindex")
                upload_notice = gr.HTML("", elem_id="upload-notice")
            with gr.Tab("Settings", id="settings"):
                passages = gr.Slider(
                    1,
                    MAX_PASSAGES,
                    value=app.bot.top_k,
                    step=1,
                    label="Passages to retrieve per question",
                    info="More passages give the answer more to choose from; fewer keep it focused.",
                    elem_id="passages",
                )
                gr.Markdown("### Backends (read-only)")
                checks = gr.HTML(app.checks(), elem_id="checks")
                recheck = gr.Button("Check again", size="sm")

        ask_inputs = [question, passages, conversation]
        ask_outputs = [question, chat, sources, conversation]
        question.submit(app.ask, ask_inputs, ask_outputs, api_name="ask", show_progress="hidden")
        send.click(app.ask, ask_inputs, ask_outputs, api_visibility="private", show_progress="hidden")
        if shown is not None:  # clicking an example asks it, as typing it and pressing Enter would
            shown.load_input_event.then(
                app.ask, ask_inputs, ask_outputs, api_visibility="private", show_progress="hidden"
            )
        clear.click(app.clear, None, ask_outputs, api_visibility="private")
        chat.clear(app.clear, None, ask_outputs, api_visibility="private")
        # One progress bar, over the documents table, not one on each output.
        index_outputs = {"outputs": [upload_notice, documents, status], "show_progress_on": documents}
        add.click(app.upload, files, **index_outputs, api_name="upload", concurrency_id="index").then(
            lambda: None, None, files, api_visibility="private"
        ).then(app.checks, None, checks, api_visibility="private")
        refresh.click(app.reindex, None, **index_outputs, api_name="reindex", concurrency_id="index").then(
            app.checks, None, checks, api_visibility="private"
        )
        recheck.click(app.checks, None, checks, api_visibility="private")
        demo.load(
            lambda: (app.documents(), app.status(), app.checks()),
            None,
            [documents, status, checks],
            api_visibility="private",
            show_progress="hidden",
        )
    return demo


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    """``"user:password"`` as a pair; None when no login is wanted."""
    if not auth:
        return None
    user, colon, password = auth.partition(":")
    if not colon or not user or not password:
        raise RagError("--auth (or RAG_UI_AUTH) must look like user:password, with both parts non-empty.")
    return user, password


def theme() -> gr.themes.Base:
    return gr.themes.Default(**THEME_FONTS)


def serve(
    demo: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    auth: tuple[str, str] | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    block: bool = True,
):
    """Start the server with the queue on; returns the app's URL when ``block`` is False."""
    demo.queue(default_concurrency_limit=QUEUE_CONCURRENCY, max_size=QUEUE_MAX_SIZE)
    try:
        with _quiet_bind_errors():
            _, url, _ = demo.launch(
                server_name=host,
                server_port=port,
                auth=auth,
                auth_message="Sign in to ask questions about the documents." if auth else None,
                max_file_size=max_upload_bytes,
                prevent_thread_lock=not block,
                ssr_mode=False,
                share=False,
                quiet=not block,
                footer_links=["api"],
                theme=theme(),
                css=CSS,
            )
    except OSError as error:
        raise RagError(
            f"Cannot serve the page on {host}:{port}: the port is taken or the address is not this machine's. "
            "Pass a free --port (or another --host)."
        ) from error
    return url


class _BindErrorFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "error while attempting to bind" not in record.getMessage()


@contextmanager
def _quiet_bind_errors() -> Iterator[None]:
    """uvicorn logs a failed bind as an ERROR line before Gradio raises it; the RagError
    below says it in words a user can act on, so uvicorn's line is left out."""
    server_log = logging.getLogger("uvicorn.error")
    only_bind_errors = _BindErrorFilter()
    server_log.addFilter(only_bind_errors)
    try:
        yield
    finally:
        server_log.removeFilter(only_bind_errors)


def launch(
    folder: str | Path | None = "seeds",
    index_dir: str | Path = "index",
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: str | None = None,
    settings: Settings | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
) -> None:
    """Index ``folder`` (only what changed) and serve the chat page until interrupted; with no
    folder, serve the index at ``index_dir`` as it is (the page cannot add files to it then).
    ``settings``: the models and settings the chatbot is built with (default: ``Settings()``)."""
    credentials = parse_auth(auth)
    bot = open_chatbot(index_dir, folder, progress=True, settings=settings)
    app = ChatApp(bot, index_dir=index_dir, max_upload_bytes=max_upload_bytes)
    if host not in ("127.0.0.1", "localhost", "::1") and credentials is None:
        logger.warning("serving on %s without --auth: anyone who can reach this address can use the page", host)
    serve(build(app), host=host, port=port, auth=credentials, max_upload_bytes=max_upload_bytes)
