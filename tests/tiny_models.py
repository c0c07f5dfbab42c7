"""Tiny local models for the neural path, built in a few seconds with no download.

Each is a real model folder, saved with ``save_pretrained`` and loaded back through the same
code a user's downloaded model goes through:

* a WordPiece tokenizer and a byte-level BPE tokenizer, trained with ``tokenizers`` on seeds/;
* ``embedder``: a sentence-transformers folder (random ``BertModel`` + mean pooling) that
  defines e5-style query and document prompts;
* ``reranker``: a random ``BertForSequenceClassification`` with one label (a cross-encoder);
* ``llm``: a random ``GPT2LMHeadModel`` whose tokenizer has a ChatML-style chat template;
  ``plain_llm`` is the same model with the template removed (the plain prompt layout).

Weights are random (seeded), so the models are useless but deterministic: the language model
writes the same gibberish every run, which is what the citation checks must catch.

The ``tiny_models`` fixture (tests/conftest.py) builds them once per test session; test modules
ask for it by name and import from here only the constants they check against.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
QUERY_PROMPT = "query: "
DOCUMENT_PROMPT = "passage: "
LLM_WINDOW = 1024  # GPT-2's n_positions: small enough that five passages must be trimmed


@dataclass(frozen=True)
class TinyModels:
    embedder: Path
    reranker: Path
    llm: Path
    plain_llm: Path


def seed_texts() -> list[str]:
    return [path.read_text(encoding="utf-8") for path in sorted(SEEDS.glob("*.txt"))]


def build_wordpiece_tokenizer(
    folder: Path, vocab_size: int = 2000, texts: list[str] | None = None, model_max_length: int = 512
):
    """A BERT-style (lower-cased WordPiece, [CLS] … [SEP]) tokenizer whose vocabulary is made
    from ``texts`` (default: the seeds): the special tokens, every character alone and as a
    continuation, then the most frequent words (ties by spelling), up to ``vocab_size``.

    Not ``WordPieceTrainer``: its continuation pieces get ids in hash-map order, so each process
    trains another vocabulary (huggingface/tokenizers#1794), the tiny models rank passages
    differently from one test session to the next, and tests that depend on a ranking flake."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    normalizer, pre_tokenizer = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    counts = Counter(
        word
        for text in texts or seed_texts()
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))
    )
    characters = sorted({c for word in counts for c in word})
    vocab = [*specials, *characters, *(f"##{c}" for c in characters)]
    frequent = sorted((w for w in counts if len(w) > 1), key=lambda w: (-counts[w], w))
    vocab += frequent[: max(0, vocab_size - len(vocab))]
    tokenizer = Tokenizer(models.WordPiece({token: i for i, token in enumerate(vocab)}, unk_token="[UNK]"))
    tokenizer.normalizer, tokenizer.pre_tokenizer = normalizer, pre_tokenizer
    tokenizer.decoder = decoders.WordPiece()
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=model_max_length,
    )
    wrapped.save_pretrained(folder)
    return wrapped


def build_bpe_tokenizer(folder: Path, vocab_size: int = 3000):
    """A GPT-2-style byte-level BPE tokenizer trained on the seeds, with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(seed_texts(), trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=LLM_WINDOW,
    )
    wrapped.chat_template = CHAT_TEMPLATE
    wrapped.save_pretrained(folder)
    return wrapped


def _bert_config(vocab_size: int, **extra):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        **extra,
    )


def build_embedder(folder: Path) -> Path:
    """A sentence-transformers model folder: random BERT, mean pooling, e5-style prompts."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import BertModel

    bert_folder = folder.parent / f"{folder.name}-bert"
    tokenizer = build_wordpiece_tokenizer(bert_folder)
    torch.manual_seed(0)
    BertModel(_bert_config(len(tokenizer))).save_pretrained(bert_folder)
    transformer = Transformer(str(bert_folder))
    pooling = Pooling(transformer.get_embedding_dimension(), "mean")
    model = SentenceTransformer(
        modules=[transformer, pooling],
        prompts={"query": QUERY_PROMPT, "document": DOCUMENT_PROMPT},
        device="cpu",
    )
    model.save(str(folder))
    return folder


def build_reranker(folder: Path) -> Path:
    """A cross-encoder folder: random BERT with a one-label classification head."""
    import torch
    from transformers import BertForSequenceClassification

    tokenizer = build_wordpiece_tokenizer(folder)
    torch.manual_seed(1)
    BertForSequenceClassification(_bert_config(len(tokenizer), num_labels=1)).save_pretrained(folder)
    return folder


def build_llm(folder: Path) -> Path:
    """A causal LM folder: random one-layer GPT-2 with a chat-templated BPE tokenizer."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = build_bpe_tokenizer(folder)
    torch.manual_seed(2)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=LLM_WINDOW,
        n_embd=32,
        n_layer=1,
        n_head=2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def build_plain_llm(chat_llm: Path, folder: Path) -> Path:
    """A copy of ``chat_llm`` whose tokenizer has no chat template."""
    shutil.copytree(chat_llm, folder)
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.pop("chat_template", None)
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


def build_tiny_models(root: Path) -> TinyModels:
    llm = build_llm(root / "llm")
    return TinyModels(
        embedder=build_embedder(root / "embedder"),
        reranker=build_reranker(root / "reranker"),
        llm=llm,
        plain_llm=build_plain_llm(llm, root / "plain-llm"),
    )
