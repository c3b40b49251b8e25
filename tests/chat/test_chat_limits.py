"""Limits on the agent's turns, end to end: a real server and worker, the local LLM server, the
AI SDK reading the stream. A turn over a limit does not start; one that crosses a limit while
it streams is stopped at the next chunk, and what it produced is kept."""

from __future__ import annotations

import json
import threading
import urllib.request

import pytest

from tests.ai_sdk.reader import sdk_read
from tests.chat import test_chat_api
from tests.chat.test_chat_api import SESSION, ChatSite, get, post, stored_messages, user_message
from tests.llmserver import Reply, Usage
from tests.terminal.conftest import session_seed
from tests.waiting import wait_for

SECOND = "chat-2"
site = test_chat_api.site  # the chat tests' server, worker and LLM server, as a fixture here too


def limits_put(site: ChatSite, limits: list[dict]) -> list[dict]:
    request = urllib.request.Request(
        site.url("/limits"),
        data=json.dumps({"limits": limits}).encode(),
        headers={"Content-Type": "application/json"},
        method="PUT",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        shown: list[dict] = json.loads(response.read())["limits"]
        return shown


def limits_shown(site: ChatSite) -> dict[tuple[str, str], dict]:
    status, body = get(site, "/limits")
    assert status == 200, body
    return {(limit["metric"], limit["window"]): limit for limit in json.loads(body)["limits"]}


def second_session(site: ChatSite) -> None:
    session_seed(
        site.server, session_id=SECOND, working_copy=site.working_copy, provider=site.provider
    )


def chat_in_thread(site: ChatSite, session_id: str, results: dict) -> threading.Thread:
    body = {"id": session_id, "messages": [user_message("Go")]}
    thread = threading.Thread(
        target=lambda: results.update({session_id: post(site, "/chat", body)})
    )
    thread.start()
    return thread


def test_a_cost_limit_crossed_mid_stream_stops_the_answer_at_the_next_chunk(site):
    # Ten cents per output token: a $2 budget lasts about twenty words.
    status, body, _ = post(
        site,
        "/credentials",
        {
            "provider": "openai",
            "apiKey": "sk-test-1",
            "inputPricePerMillion": 0,
            "outputPricePerMillion": 100_000,
        },
    )
    assert status == 200, body
    status, agent, _ = post(
        site, "/agents", {"name": "Priced", "agentType": "opencode", "model": "openai/gpt-4.1"}
    )
    assert status == 201, agent
    limits_put(site, [{"scope": "project", "metric": "cost", "window": "day", "amount": 2}])
    words = tuple(f"w{index:02d} " for index in range(80))
    site.llm.script(Reply(text=words, delay=0.05))

    status, body, _ = post(
        site,
        "/chat",
        {
            "id": "chat-priced",
            "messages": [user_message("Count")],
            "workspaceId": site.workspace_id(),
            "agentId": json.loads(agent)["id"],
        },
    )

    assert status == 200, body
    read = sdk_read(body)
    [error] = [chunk for chunk in read["chunks"] if chunk["type"] == "error"]
    assert "cost limit of $2.00 per day" in error["errorText"]
    assert "resets at" in error["errorText"]
    text = "".join(part["text"] for part in read["message"]["parts"] if part["type"] == "text")
    assert text and "".join(words).startswith(text) and len(text) < len("".join(words))
    status, stored = get(site, "/sessions/chat-priced/messages")
    answer = json.loads(stored)["messages"][-1]
    assert answer["parts"] == read["message"]["parts"]
    metadata = answer["metadata"]
    assert (metadata["interrupted"], metadata["stoppedBy"]) == (True, "limit")
    assert (metadata["limit"]["metric"], metadata["limit"]["window"]) == ("cost", "day")
    # The provider's stream was closed, not read to its end.
    wait_for(lambda: site.llm.streams_cut >= 1, timeout=30)
    # The counter holds what the turn's usage says it cost.
    used = limits_shown(site)[("cost", "day")]["used"]
    assert used == pytest.approx(metadata["cost"])
    assert used > 2


def test_a_turn_over_a_limit_does_not_start_and_nothing_is_stored(site):
    limits_put(site, [{"scope": "project", "metric": "turns", "window": "day", "amount": 1}])
    site.llm.script(Reply(text=("First",)))
    assert post(site, "/chat", {"id": SESSION, "messages": [user_message("One")]})[0] == 200
    before = stored_messages(site)

    status, body, headers = post(
        site, "/chat", {"id": SESSION, "messages": [user_message("Two", "u2")]}
    )

    assert status == 429
    refusal = json.loads(body)
    assert "turn limit of 1 turn per day is used up (1 turn used)" in refusal["error"]
    assert refusal["limit"]["used"] == 1 and refusal["limit"]["resetsAt"]
    assert 0 < int({k.lower(): v for k, v in headers.items()}["retry-after"]) <= 24 * 60 * 60
    assert stored_messages(site) == before
    assert get(site, f"/chat/{SESSION}/stream")[0] == 204
    assert limits_shown(site)[("turns", "day")]["used"] == 1


@pytest.mark.parametrize(
    "limit",
    [
        {"scope": "project", "metric": "turns", "window": "day", "amount": 1},
        {"scope": "project", "metric": "tokens", "window": "month", "amount": 1},
    ],
    ids=["the last turn", "the last token"],
)
def test_two_turns_on_the_last_unit_of_a_budget_exactly_one_starts(site, limit):
    second_session(site)
    limits_put(site, [limit])
    site.llm.script(Reply(text=("Hi",)), Reply(text=("Hi",)))
    results: dict = {}

    threads = [chat_in_thread(site, session, results) for session in (SESSION, SECOND)]
    for thread in threads:
        thread.join(120)

    statuses = sorted(status for status, _, _ in results.values())
    assert statuses == [200, 429]
    refused = next(body for status, body, _ in results.values() if status == 429)
    assert limit["metric"][:-1] in json.loads(refused)["error"]


def test_a_concurrent_turns_limit_refuses_a_second_session_while_the_first_streams(site):
    second_session(site)
    limits_put(site, [{"scope": "project", "metric": "concurrent_turns", "amount": 1}])
    site.llm.script(Reply(text=tuple(f"w{index} " for index in range(200)), delay=0.1))
    results: dict = {}
    thread = chat_in_thread(site, SESSION, results)
    wait_for(lambda: site.llm.model_calls(), timeout=60)

    status, body, headers = post(
        site, "/chat", {"id": SECOND, "messages": [user_message("Me too")]}
    )

    assert status == 429
    assert "limit of 1 concurrent turn is reached" in json.loads(body)["error"]
    assert "retry-after" not in {name.lower() for name in headers}
    assert post(site, f"/chat/{SESSION}/cancel", {})[0] == 200
    thread.join(120)
    assert results[SESSION][0] == 200


def test_the_turn_s_usage_and_the_limit_s_counter_agree(site):
    limits_put(site, [{"scope": "project", "metric": "tokens", "window": "day", "amount": 10_000}])
    site.llm.script(Reply(text=("Hello",), usage=Usage(120, 30)))

    assert post(site, "/chat", {"id": SESSION, "messages": [user_message("Hi")]})[0] == 200

    assert stored_messages(site)[-1]["metadata"]["usage"] == {
        "inputTokens": 120,
        "outputTokens": 30,
    }
    wait_for(lambda: limits_shown(site)[("tokens", "day")]["used"] == 150, timeout=30)
