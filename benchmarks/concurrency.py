"""Concurrent users on the chat page: how long each waits for an answer, before and after.

    python benchmarks/concurrency.py                     # 50 users x 5 questions; writes docs/BENCHMARKS.md
    python benchmarks/concurrency.py --users 10 --questions 3 --no-write

The real page is served in a process of its own (``rag_seeds_ui.app.build`` and ``serve`` on
the seeds, the offline default), once per setting, and driven through Gradio's HTTP API (the
``/ask`` event, through the same queue as the page's own): each simulated user asks its
questions one after another, each as soon as the previous answer is complete, all users
starting together. (``gradio_client`` polls for messages every 50 ms, which would add to every
wait, and takes more CPU per answer than the server does.) Per setting: one user alone
(latency), then all of them (the wait per answer, submit to complete answer: median and p95;
answers per second; the server's CPU time per answer). Every concurrent answer is checked
against the one the single user got for the same question.

Settings: "before" is the page as it was (every word of an answer redrawn, eight questions
answered at once); "after" is the page as it is now (``STREAM_REDRAW_S``, ``ASK_CONCURRENCY``).
The clients run on the same machine as the server, so on a small machine they take part of
its CPU: the server's CPU per answer is the figure that does not depend on it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from common import ROOT, machine, median, p95, write_section

SINGLE_USER_QUESTIONS = 54  # every question of tests/prompts/seeds.jsonl


@dataclass(frozen=True)
class Setting:
    name: str
    ask_concurrency: int
    redraw_every_s: float
    what: str


def settings(other_limits: list[int]) -> list[Setting]:
    """Before, after, and after with each of ``other_limits`` questions at once."""
    from rag_seeds_ui.app import ASK_CONCURRENCY
    from rag_seeds_ui.chat import STREAM_REDRAW_S

    def redrawn(name: str, limit: int) -> Setting:
        return Setting(name, limit, STREAM_REDRAW_S, f"redrawn at most every {STREAM_REDRAW_S:g} s, {limit} at once")

    others = [redrawn("after, other limit", limit) for limit in other_limits if limit != ASK_CONCURRENCY]
    return [Setting("before", 8, 0.0, "every word redrawn, 8 at once"), redrawn("after", ASK_CONCURRENCY), *others]


@dataclass
class Run:
    setting: Setting
    single: list[float]
    waits: list[float]
    wall_s: float
    cpu_s: float
    mismatches: int
    rss_mb: float

    @property
    def answers(self) -> int:
        return len(self.waits)


# -- the server, in its own process ------------------------------------------------------------


def serve(index_dir: str, ask_concurrency: int, redraw_every_s: float) -> None:
    """Serve the page on a free port, print its URL, and serve until stdin closes."""
    from rag import Chatbot
    from rag_seeds_ui.app import build
    from rag_seeds_ui.app import serve as serve_page
    from rag_seeds_ui.browser import free_port
    from rag_seeds_ui.chat import ChatApp

    bot = Chatbot.from_index(index_dir)
    app = ChatApp(bot, index_dir=index_dir, show_details=True, redraw_every_s=redraw_every_s)
    demo = build(app, ask_concurrency=ask_concurrency)
    url = serve_page(demo, port=free_port(), block=False)
    print(url, flush=True)
    sys.stdin.read()
    demo.close()


def resident_mb(pid: int) -> float:
    """Resident memory of process ``pid`` (Linux), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the users ---------------------------------------------------------------------------------


def answer_text(data: list) -> str:
    """The last chat message's text, as the page drew it, from the outputs of ``/ask``."""
    return "".join(part["text"] for part in data[1][-1]["content"])


def ask(client, question: str) -> tuple[float, str]:
    """(seconds to the complete answer, the answer as drawn). Through Gradio's HTTP API, as
    ``curl`` would: each call is a session of its own, so each question starts a new
    conversation (a follow-up would be read in the light of the questions before it)."""
    started = time.perf_counter()
    event = client.post("gradio_api/call/ask", json={"data": [question, 5]}).raise_for_status().json()["event_id"]
    kind, data = None, None
    with client.stream("GET", f"gradio_api/call/ask/{event}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: ") and kind in ("complete", "error"):
                data = json.loads(line.removeprefix("data: "))
    if kind != "complete":
        raise RuntimeError(f"{question!r} was not answered: {data}")
    return time.perf_counter() - started, answer_text(data)


def measure(setting: Setting, index_dir: str, questions: list[str], users: int, per_user: int) -> Run:
    import httpx

    command = [
        sys.executable,
        __file__,
        "--serve",
        index_dir,
        str(setting.ask_concurrency),
        str(setting.redraw_every_s),
    ]
    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    clients = []
    try:
        url = server.stdout.readline().strip()
        if not url.startswith("http"):
            sys.exit(f"the page did not start for {setting.name}")
        clients = [httpx.Client(base_url=url, timeout=600) for _ in range(users)]
        alone = clients[0]
        for question in questions[:5]:  # warm-up
            ask(alone, question)
        single, expected = [], {}
        for question in questions[:SINGLE_USER_QUESTIONS]:
            took, expected[question] = ask(alone, question)
            single.append(took)
        print(f"{setting.name}: one user, median {median(single) * 1000:.0f} ms", flush=True)

        start = threading.Barrier(users)

        def user(number: int) -> list[tuple[float, bool]]:
            mine = [questions[(number + i) % len(questions)] for i in range(per_user)]
            start.wait()
            results = []
            for question in mine:
                took, text = ask(clients[number], question)
                same = text == expected.get(question, text)
                if not same:
                    print(f"differs: {question!r}\n  alone: {expected[question]}\n  now:   {text}", flush=True)
                results.append((took, same))
            return results

        cpu_before = cpu_seconds(server.pid)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=users) as pool:
            results = [r for rs in pool.map(user, range(users)) for r in rs]
        wall = time.perf_counter() - started
        cpu = cpu_seconds(server.pid) - cpu_before
        waits = [took for took, _ in results]
        mismatches = sum(not same for _, same in results)
        run = Run(setting, single, waits, wall, cpu, mismatches, resident_mb(server.pid))
        print(
            f"{setting.name}: {users} users x {per_user}: wait median {median(waits):.2f} s, p95 {p95(waits):.2f} s, "
            f"{run.answers / wall:.1f} answers/s, server CPU {1000 * cpu / run.answers:.0f} ms/answer, "
            f"{run.mismatches} answers differing, server {run.rss_mb:.0f} MiB resident",
            flush=True,
        )
        return run
    finally:
        for client in clients:
            client.close()
        server.stdin.close()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def report(runs: list[Run], command: str, load: tuple[float, float]) -> str:
    lines = [
        "### Concurrent users on the chat page",
        "",
        f"`{command}` on {machine()}: the page on the",
        "seeds (offline default) in a process of its own, driven through its HTTP API; each user asks",
        "the next question as soon as its answer is complete, all starting together. Wait: submit to",
        "complete answer. The clients share the machine's CPU with the server; load average "
        f"{load[0]:.1f} before the run, {load[1]:.1f} after (other work shared the machine).",
        "",
        "| setting | one user, median (ms) | wait median (s) | wait p95 (s) | answers/s | server CPU per answer (ms) "
        "| server resident (MiB) | answers differing |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        lines.append(
            f"| {run.setting.name}: {run.setting.what} | {median(run.single) * 1000:.0f} | {median(run.waits):.2f} "
            f"| {p95(run.waits):.2f} | {run.answers / run.wall_s:.1f} | {1000 * run.cpu_s / run.answers:.0f} "
            f"| {run.rss_mb:.0f} | {run.mismatches} of {run.answers} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--questions", type=int, default=5, help="questions per user")
    parser.add_argument("--other-limits", type=int, nargs="*", default=[], help="more ask_concurrency values to try")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--serve", nargs=3, metavar=("INDEX_DIR", "ASK_CONCURRENCY", "REDRAW_EVERY_S"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), float(args.serve[2]))
        return

    from rag import Chatbot

    with open(ROOT / "tests" / "prompts" / "seeds.jsonl", encoding="utf-8") as handle:
        questions = [json.loads(line)["question"] for line in handle if line.strip()]
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="rag-concurrency-") as work:
        index_dir = str(Path(work) / "index")
        Chatbot.from_folder(ROOT / "seeds", index_dir=index_dir, progress=False).close()
        runs = [
            measure(setting, index_dir, questions, args.users, args.questions)
            for setting in settings(args.other_limits)
        ]
    command = f"python benchmarks/concurrency.py --users {args.users} --questions {args.questions}"
    if args.other_limits:
        command += " --other-limits " + " ".join(map(str, args.other_limits))
    markdown = report(runs, command, (load_before, os.getloadavg()[0]))
    print(markdown)
    if not args.no_write:
        write_section("concurrency", markdown)


if __name__ == "__main__":
    main()
