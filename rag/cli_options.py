"""The model options every ``rag`` command that answers or checks shares, gathered into one
``Settings`` value the command passes on whole."""

from __future__ import annotations

import functools

import click

from rag.answer.prompting import EVIDENCE_KINDS, GenerationSettings
from rag.cli_usage import user_errors
from rag.settings import Settings


def model_options(command):
    """--embedding-model, --reranker-model, --llm-model, --llm-url, --llm-timeout and
    --llm-evidence, handed to ``command`` as one ``settings`` value, which it passes on whole. A chat server's key is read
    from RAG_LLM_API_KEY only: an option would put it in the shell's history and `ps`."""

    @functools.wraps(command)
    def with_settings(*args, embedding_model, reranker_model, llm_model, llm_url, llm_timeout, llm_evidence, **kwargs):
        from rag.answer.remote import ServerSettings

        server = ServerSettings() if llm_timeout is None else ServerSettings(read_timeout=llm_timeout)
        settings = Settings(
            embedding_model=embedding_model,
            reranker_model=reranker_model,
            llm_model=llm_model,
            llm_url=llm_url or None,
            llm_server=server,
            generation=GenerationSettings(evidence=llm_evidence or GenerationSettings.evidence),
        )
        return command(*args, settings=settings, **kwargs)

    llm = _option(
        "--llm-model",
        "RAG_LLM_MODEL",
        "Causal LM (HF id or folder) that writes answers; with --llm-url, the server's model name.",
    )
    url = _option(
        "--llm-url",
        "RAG_LLM_URL",
        "OpenAI-compatible chat server that writes answers (llama-server, Ollama, vLLM), "
        "e.g. http://127.0.0.1:8080; its key, if any, from RAG_LLM_API_KEY.",
    )
    timeout = _option(
        "--llm-timeout",
        "RAG_LLM_TIMEOUT",
        "Seconds to wait for each piece of a chat server's answer (default 120).",
        type=click.FloatRange(min=0, min_open=True),
    )
    evidence = _option(
        "--llm-evidence",
        "RAG_LLM_EVIDENCE",
        "What the language model reads: the retrieved passages (default), or only the sentences "
        "the extractive answer quotes (a small model such as smollm2 keeps more of its answers).",
        type=click.Choice(EVIDENCE_KINDS),
    )
    reranker = _option(
        "--reranker-model", "RAG_RERANKER_MODEL", "Cross-encoder (HF id or folder) that reranks passages."
    )
    embedder = _option(
        "--embedding-model",
        "RAG_EMBEDDING_MODEL",
        "Sentence-transformers model (HF id or folder); default: the offline hashing embedder.",
    )
    # Settings checks what it is given (an --llm-url that is not an address): one line, too.
    return embedder(reranker(llm(url(timeout(evidence(user_errors(with_settings)))))))


def _option(flag: str, envvar: str, help: str, **kwargs):
    """An option that is unset by default and read from ``envvar`` when not given."""
    return click.option(flag, default=None, envvar=envvar, help=help, **kwargs)
