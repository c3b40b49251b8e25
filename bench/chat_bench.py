"""Figures for chat: what the server adds to a model's stream, against the same stream read
straight from the local LLM server, in the same run.

    .venv/bin/python bench/chat_bench.py [--rounds 20] [--concurrent 50] [--chunks 2000]
                                        [--redis redis://127.0.0.1:6379/0]

Starts the local LLM server (tests/llmserver.py), one server process and one worker, and a
session per concurrent stream (their first answers warm up the sandboxes). Then:
- time to first token: POST /chat until the first `text-delta` chunk, versus a streamed Chat
  Completions request to the LLM server until its first content delta (same scripted reply);
  p50 of one stream at a time, p95 of `--concurrent` streams at once; and both against the
  same requests made by litellm (the model client a turn uses) on an event loop in the
  bench's process, as a worker makes them;
- relayed chunks per second: one long reply's `text-delta`s through the server, from the
  request to the last one, versus the same reply read directly and through litellm alone;
- the cost of secret masking: the same long reply relayed while the project holds secrets
  (every chunk then goes through the masker) versus while it holds none, alternated.
Goals (the chat issue's): TTFT +5 ms at p50 with one stream, +50 ms at p95 with `--concurrent`,
relay rate at least 0.95x; the rows are emitted through bench/table.py.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network here
import litellm  # noqa: E402

from bench.table import Row, emit  # noqa: E402
from tests.llmserver import LLMServer, Reply, llm_server  # noqa: E402
from tests.servers import Server, running_server, stop_process  # noqa: E402

MASKED_KEYS = {
    "anthropic": "sk-ant-bench-" + "a1b2c3d4" * 8,
    "gemini": "AIza-bench-" + "e5f6a7b8" * 4,
    "mistral": "mistral-bench-" + "c9d0e1f2" * 4,
}
Result = TypeVar("Result")
REPLY = Reply(text=("Hello", " there", ", here", " is", " the", " answer."))


def connection(base_url: str) -> http.client.HTTPConnection:
    host, port = base_url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=300)


def post(base_url: str, path: str, body: dict[str, Any]) -> http.client.HTTPResponse:
    client = connection(base_url)
    client.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = client.getresponse()
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {response.read()[:300]!r}")
    return response


def data_lines(response: http.client.HTTPResponse) -> Any:
    """The `data:` payloads of an SSE response, parsed, until `[DONE]` or the end."""
    while line := response.readline():
        if not line.startswith(b"data: "):
            continue
        payload = line[6:].strip()
        if payload == b"[DONE]":
            return
        yield json.loads(payload)


def is_ours_text(chunk: dict[str, Any]) -> bool:
    return bool(chunk.get("type") == "text-delta")


def is_direct_text(chunk: dict[str, Any]) -> bool:
    choices = chunk.get("choices") or [{}]
    return bool(choices[0].get("delta", {}).get("content"))


class Site:
    def __init__(self, server: Server, llm: LLMServer, copy: Path) -> None:
        self.server, self.llm = server, llm
        base = "/api/projects/local"
        self.workspace = self.created(
            f"{base}/workspaces", {"path": str(copy), "sourceType": "local", "provider": "local"}
        )
        self.agent = self.created(f"{base}/agents", {"name": "Bench", "agentType": "opencode"})
        self.turns = 0
        self.litellm_loop = LoopThread()

    def created(self, path: str, body: dict[str, Any]) -> str:
        client = connection(self.server.base_url)
        client.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        created: str = json.loads(client.getresponse().read())["id"]
        return created

    def ours(self, session: str, *, first: bool = False) -> Callable[[], tuple[float, int, float]]:
        """A turn through the server: (seconds to first text, texts, seconds first→last)."""
        self.turns += 1
        body: dict[str, Any] = {
            "id": session,
            "messages": [
                {"id": f"u{self.turns}", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}
            ],
        }
        if first:
            body |= {"workspaceId": self.workspace, "agentId": self.agent}
        return lambda: timed(
            lambda: post(self.server.base_url, "/api/projects/local/chat", body), is_ours_text
        )

    def secrets_store(self, keep: bool) -> None:
        """Gives the project secrets to mask (keys of providers the bench's model never
        calls), or takes them away."""
        base = "/api/projects/local/credentials"
        for provider, key in MASKED_KEYS.items():
            client = connection(self.server.base_url)
            if keep:
                body = json.dumps({"provider": provider, "apiKey": key})
                client.request("POST", base, body, {"Content-Type": "application/json"})
            else:
                client.request("DELETE", f"{base}/{provider}")
            response = client.getresponse()
            response.read()
            if response.status >= 300 and keep:
                raise RuntimeError(f"credential {provider}: {response.status}")

    def through_litellm(self) -> Callable[[], tuple[float, int, float]]:
        """The same request made by litellm in this process, as a turn makes it (on a loop
        that runs on, as a worker's): the model client's own cost, which no server built on
        it can avoid."""
        return lambda: self.litellm_loop.run(litellm_timed(self.llm.base_url))

    def through_litellm_at_once(self, count: int) -> list[tuple[float, int, float]]:
        async def many() -> list[tuple[float, int, float]]:
            return list(
                await asyncio.gather(*(litellm_timed(self.llm.base_url) for _ in range(count)))
            )

        return self.litellm_loop.run(many())

    def direct(self) -> Callable[[], tuple[float, int, float]]:
        body = {
            "model": "test-model",
            "stream": True,
            "messages": [{"role": "user", "content": "Hi"}],
        }
        return lambda: timed(
            lambda: post(self.llm.base_url, "/v1/chat/completions", body), is_direct_text
        )


class LoopThread:
    """An event loop running on its own thread for as long as the bench."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def run(self, work: Coroutine[Any, Any, Result]) -> Result:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()


async def litellm_timed(base_url: str) -> tuple[float, int, float]:
    started = time.perf_counter()
    first = last = 0.0
    count = 0
    stream = await litellm.acompletion(
        model="openai/test-model",
        api_base=f"{base_url}/v1",
        api_key="bench",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            last = time.perf_counter()
            first = first or last
            count += 1
    return first - started, count, last - first


def timed(
    open_stream: Callable[[], http.client.HTTPResponse], is_text: Callable[[dict[str, Any]], bool]
) -> tuple[float, int, float]:
    started = time.perf_counter()
    first = last = 0.0
    count = 0
    for chunk in data_lines(open_stream()):
        if is_text(chunk):
            last = time.perf_counter()
            first = first or last
            count += 1
    return first - started, count, last - first


def relay_rate(timing: tuple[float, int, float]) -> tuple[int, float]:
    """Text chunks per second from the request to the last one: a relay that held the first
    chunks back and sent them in one burst gains nothing by it."""
    to_first, count, first_to_last = timing
    return count, count / (to_first + first_to_last)


def at_once(calls: list[Callable[[], tuple[float, int, float]]]) -> list[tuple[float, int, float]]:
    results: list[Any] = [None] * len(calls)
    gate = threading.Barrier(len(calls))

    def run(index: int) -> None:
        gate.wait()
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    # The LLM server takes 50 connections at once (its default backlog of 5 resets them).
    ThreadingHTTPServer.request_queue_size = 256
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument(
        "--redis", default="", help="REDIS_URL for the server (wake-ups across processes)"
    )
    args = parser.parse_args()
    extra = {"REDIS_URL": args.redis} if args.redis else {}
    with tempfile.TemporaryDirectory(prefix="chatbench") as tmp, llm_server() as llm:
        copy = Path(tmp) / "copy"
        copy.mkdir()
        (copy / "README.md").write_text("# Bench\n")
        git = ["git", "-C", str(copy), "-c", "user.name=B", "-c", "user.email=b@example.com"]
        subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", "first"], check=True)
        with running_server(
            Path(tmp),
            SANDBOX_PROVIDER="local",
            LOCAL_PROVIDER_ENABLED="true",
            WORKSPACE_ROOTS=tmp,
            DEFAULT_LLM_BASE_URL=f"{llm.base_url}/v1",
            DEFAULT_LLM_MODEL="test-model",
            **extra,
        ) as server:
            worker = server.start_worker()
            try:
                report(Site(server, llm, copy), args)
            finally:
                stop_process(worker)


def report(site: Site, args: argparse.Namespace) -> None:
    sessions = [f"bench{index:011d}" for index in range(args.concurrent)]
    site.llm.script(*[REPLY] * len(sessions))
    at_once([site.ours(session, first=True) for session in sessions])  # warm-up

    single_ours, single_direct, single_litellm = [], [], []
    site.llm.script(REPLY)
    site.through_litellm()()  # warm-up: litellm's first call loads its provider code
    for _ in range(args.rounds):
        site.llm.script(REPLY, REPLY, REPLY)
        single_direct.append(site.direct()()[0])
        single_litellm.append(site.through_litellm()()[0])
        single_ours.append(site.ours(sessions[0])()[0])

    site.llm.script(*[REPLY] * (3 * len(sessions)))
    many_direct = [r[0] for r in at_once([site.direct() for _ in sessions])]
    many_litellm = [r[0] for r in site.through_litellm_at_once(len(sessions))]
    many_ours = [r[0] for r in at_once([site.ours(session) for session in sessions])]

    long = Reply(text=tuple(f"t{index} " for index in range(args.chunks)))
    site.llm.script(long, long, long)
    direct_count, direct_rate = relay_rate(site.direct()())
    _, litellm_rate = relay_rate(site.through_litellm()())
    ours_count, ours_rate = relay_rate(site.ours(sessions[0])())

    masked_rates: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(3):
        for masking in (False, True):
            site.secrets_store(masking)
            site.llm.script(long)
            masked_rates[masking].append(relay_rate(site.ours(sessions[0])())[1])
    site.secrets_store(False)

    ms = 1000.0
    ours_p50, direct_p50 = (
        statistics.median(single_ours) * ms,
        statistics.median(single_direct) * ms,
    )
    litellm_p50 = statistics.median(single_litellm) * ms
    ours_p95, direct_p95 = percentile(many_ours, 0.95) * ms, percentile(many_direct, 0.95) * ms
    litellm_p95 = percentile(many_litellm, 0.95) * ms
    masked_on, masked_off = (
        statistics.median(masked_rates[True]),
        statistics.median(masked_rates[False]),
    )
    emit(
        [
            Row(
                "chat TTFT p50, 1 stream (ms; vs the LLM server directly)",
                ours_p50,
                direct_p50,
                "<= +5 ms",
                ours_p50 - direct_p50 <= 5,
            ),
            Row(
                "chat TTFT p50, 1 stream (ms; vs litellm alone)",
                ours_p50,
                litellm_p50,
                "<= +5 ms",
                ours_p50 - litellm_p50 <= 5,
            ),
            Row(
                f"chat TTFT p95, {len(sessions)} streams (ms; vs the LLM server directly)",
                ours_p95,
                direct_p95,
                "<= +50 ms",
                ours_p95 - direct_p95 <= 50,
            ),
            Row(
                f"chat TTFT p95, {len(sessions)} streams (ms; vs litellm alone)",
                ours_p95,
                litellm_p95,
                "<= +50 ms",
                ours_p95 - litellm_p95 <= 50,
            ),
            Row(
                "chat relayed text chunks/s (vs the LLM server directly)",
                ours_rate,
                direct_rate,
                ">= 0.95x",
                ours_rate >= 0.95 * direct_rate,
            ),
            Row(
                "chat relayed text chunks/s (vs litellm alone)",
                ours_rate,
                litellm_rate,
                ">= 0.95x",
                ours_rate >= 0.95 * litellm_rate,
            ),
            Row(
                "chat relayed chunks/s, secret masking on (vs off)",
                masked_on,
                masked_off,
                ">= 0.95x",
                masked_on >= 0.95 * masked_off,
            ),
        ]
    )
    print(f"(relayed {ours_count} of {direct_count} chunks)")


if __name__ == "__main__":
    main()
