"""The model side of chat against a real local LLM server: each credential kind reaches its
provider's protocol with the headers that provider requires, and the stream comes back as
events; refusals come back as errors a user can act on."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from apps.chat.llm import (
    Finished,
    LLMError,
    LLMEvent,
    ModelTarget,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallDone,
    ToolCallStart,
    Usage,
    completion_events,
    copilot_tokens,
    model_target,
)
from apps.credentials.models import AuthType, Credential
from apps.credentials.services import TokenPrices, credential_api_key_store, credential_store
from tests.llmserver import (
    ANTHROPIC_OAUTH_PREFIX,
    Failure,
    LLMServer,
    Reply,
    ToolCall,
    llm_server,
)
from tests.llmserver import Usage as ScriptedUsage
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db

API_KEY = "sk-proj-secret-key-0123456789abcdef"
MESSAGES = [
    {"role": "system", "content": "You are a coding agent."},
    {"role": "user", "content": "List the files"},
]
BASH = {
    "type": "function",
    "function": {
        "name": "Bash",
        "description": "Run a command",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
    },
}
ANSWER = Reply(
    reasoning=("The user wants ", "a listing."),
    text=("Let me ", "look."),
    tool_calls=(ToolCall("call_1", "Bash", '{"command": "ls -la /workspace"}', pieces=4),),
    usage=ScriptedUsage(
        input_tokens=1000, output_tokens=50, cached_tokens=200, reasoning_tokens=10
    ),
)


@pytest.fixture
def llm(settings) -> Iterator[LLMServer]:
    with llm_server() as running:
        settings.OPENAI_BASE_URL = f"{running.base_url}/v1"
        settings.ANTHROPIC_BASE_URL = f"{running.base_url}/anthropic"
        settings.ANTHROPIC_TOKEN_URL = f"{running.base_url}/anthropic/v1/oauth/token"
        settings.CODEX_BASE_URL = f"{running.base_url}/codex"
        settings.COPILOT_TOKEN_URL = f"{running.base_url}/copilot_internal/v2/token"
        copilot_tokens.clear()
        yield running


def events_of(target: ModelTarget, tools: list[dict[str, Any]] | None = None) -> list[LLMEvent]:
    async def collect() -> list[LLMEvent]:
        return [
            event
            async for event in completion_events(target, messages=MESSAGES, tools=tools or [BASH])
        ]

    return asyncio.run(collect())


def text_of(events: list[LLMEvent], kind: type[TextDelta] | type[ReasoningDelta]) -> str:
    return "".join(
        event.text
        for event in events
        if isinstance(event, TextDelta | ReasoningDelta) and isinstance(event, kind)
    )


def assert_answer(events: list[LLMEvent]) -> None:
    """The scripted ANSWER, as any provider streams it."""
    assert text_of(events, ReasoningDelta) == "The user wants a listing."
    assert text_of(events, TextDelta) == "Let me look."
    starts = [event for event in events if isinstance(event, ToolCallStart)]
    assert [start.name for start in starts] == ["Bash"]
    call_id = starts[0].call_id
    deltas = [event.arguments_delta for event in events if isinstance(event, ToolCallDelta)]
    assert len(deltas) > 1
    assert "".join(deltas) == '{"command": "ls -la /workspace"}'
    assert ToolCallDone(call_id, "Bash", {"command": "ls -la /workspace"}) in events
    assert events[-1] == Finished("tool_calls")


def usage_of(events: list[LLMEvent]) -> Usage:
    return next(event for event in events if isinstance(event, Usage))


def api_key_credential(project, provider: str, api_key: str = API_KEY) -> Credential:
    return credential_store(project=project, provider=provider, secret={"api_key": api_key})


def oauth_credential(
    project, provider: str, secret: dict[str, Any], expires_in: int = 3600
) -> Credential:
    return credential_store(
        project=project,
        provider=provider,
        secret=secret,
        auth_type=AuthType.OAUTH,
        expires_at=timezone.now() + timedelta(seconds=expires_in),
    )


def test_openai_api_key_streams_text_reasoning_tool_calls_and_priced_usage(project, llm):
    api_key_credential(project, "openai")
    llm.script(ANSWER)

    events = events_of(model_target(project=project, model="openai/gpt-4.1"))

    assert_answer(events)
    usage = usage_of(events)
    assert (usage.input_tokens, usage.output_tokens) == (1000, 50)
    assert (usage.cached_tokens, usage.reasoning_tokens) == (200, 10)
    assert usage.cost is not None and usage.cost > 0
    call = llm.last_call()
    assert call.path == "/v1/chat/completions"
    assert call.header("Authorization") == f"Bearer {API_KEY}"
    assert call.body["model"] == "gpt-4.1"
    assert call.body["messages"] == MESSAGES
    assert call.body["tools"][0]["function"]["name"] == "Bash"


def test_anthropic_api_key_speaks_messages_with_its_key_header(project, llm):
    api_key_credential(project, "anthropic")
    llm.script(ANSWER)

    events = events_of(model_target(project=project, model="anthropic/claude-sonnet-4-5"))

    assert_answer(events)
    usage = usage_of(events)
    # As OpenAI counts them: the cached tokens are part of the input.
    assert (usage.input_tokens, usage.cached_tokens, usage.output_tokens) == (1200, 200, 50)
    assert usage.cost is not None and usage.cost > 0
    call = llm.last_call()
    assert call.path == "/anthropic/v1/messages"
    assert call.header("x-api-key") == API_KEY
    assert call.header("anthropic-version") == "2023-06-01"
    assert not call.header("Authorization")
    assert "You are a coding agent." in json.dumps(call.body["system"])
    assert call.body["tools"][0]["name"] == "Bash"


def test_anthropic_oauth_sends_a_bearer_with_the_oauth_beta_and_no_api_key(project, llm):
    token = f"{ANTHROPIC_OAUTH_PREFIX}access-0123456789"
    oauth_credential(project, "anthropic", {"access_token": token, "refresh_token": "refresh-1"})
    llm.script(Reply(text=("Hi",)))

    target = model_target(project=project, model="anthropic/claude-sonnet-4-5")
    events = events_of(target)

    assert text_of(events, TextDelta) == "Hi"
    call = llm.last_call()
    assert call.header("Authorization") == f"Bearer {token}"
    assert "oauth-2025-04-20" in call.header("anthropic-beta")
    assert not call.header("x-api-key")
    # A subscription: no list price applies.
    assert usage_of(events).cost is None


def test_a_near_expiry_anthropic_token_is_refreshed_before_the_call(project, llm):
    old = f"{ANTHROPIC_OAUTH_PREFIX}old-0123456789"
    oauth_credential(
        project, "anthropic", {"access_token": old, "refresh_token": "r-1"}, expires_in=60
    )
    llm.script(Reply(text=("Hi",)))

    events_of(model_target(project=project, model="anthropic/claude-sonnet-4-5"))

    assert llm.requests[0].path == "/anthropic/v1/oauth/token"
    assert llm.last_call().header("Authorization") == f"Bearer {llm.anthropic_tokens[0]}"


def test_copilot_exchanges_the_github_token_once_then_calls_its_api(project, llm):
    oauth_credential(
        project, "github-copilot", {"access_token": "gho_user_token_0123", "domain": "github.com"}
    )
    llm.script(ANSWER, Reply(text=("Again",)))

    assert_answer(events_of(model_target(project=project, model="github_copilot/gpt-4.1")))
    events_of(model_target(project=project, model="github_copilot/gpt-4.1"))

    exchanges = [
        request for request in llm.requests if request.path.endswith("/copilot_internal/v2/token")
    ]
    assert len(exchanges) == 1
    assert exchanges[0].header("Authorization") == "token gho_user_token_0123"
    call = llm.last_call()
    assert call.path == "/copilot/chat/completions"
    assert call.header("Authorization") == f"Bearer {llm.copilot_tokens[0]}"
    assert call.header("Copilot-Integration-Id") == "vscode-chat"
    assert call.header("Editor-Version")
    assert call.body["model"] == "gpt-4.1"


def test_copilot_exchange_refused_says_to_check_the_subscription(project, llm):
    oauth_credential(
        project, "github-copilot", {"access_token": "gho_0123456789", "domain": "github.com"}
    )
    llm.copilot_denied = True

    with pytest.raises(LLMError) as refused:
        model_target(project=project, model="github_copilot/gpt-4.1")

    assert refused.value.kind == "auth"
    assert "Copilot subscription" in refused.value.message


def jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def test_codex_calls_the_responses_api_with_the_chatgpt_account(project, llm):
    access = jwt({"https://api.openai.com/auth": {"chatgpt_account_id": "acct-42"}})
    oauth_credential(project, "codex", {"access_token": access, "refresh_token": "r"})
    llm.script(ANSWER)

    events = events_of(model_target(project=project, model="openai/gpt-5-codex"))

    assert text_of(events, TextDelta) == "Let me look."
    assert text_of(events, ReasoningDelta) == "The user wants a listing."
    done = next(event for event in events if isinstance(event, ToolCallDone))
    assert (done.name, done.arguments) == ("Bash", {"command": "ls -la /workspace"})
    assert usage_of(events).input_tokens == 1000
    call = llm.last_call()
    assert call.path == "/codex/responses"
    assert call.header("Authorization") == f"Bearer {access}"
    assert call.header("chatgpt-account-id") == "acct-42"
    assert call.body["model"] == "gpt-5-codex"


def test_no_credential_names_the_provider_to_connect(project, llm):
    with pytest.raises(LLMError) as missing:
        model_target(project=project, model="anthropic/claude-sonnet-4-5")

    assert missing.value.kind == "no_credential"
    assert missing.value.message == (
        "To use anthropic/claude-sonnet-4-5, connect a credential for Anthropic "
        "in this project's settings"
    )


def test_a_free_agent_uses_the_operators_default_endpoint(project, llm, settings):
    settings.DEFAULT_LLM_BASE_URL = f"{llm.base_url}/local/v1"
    settings.DEFAULT_LLM_API_KEY = "operator-key-0123"
    settings.DEFAULT_LLM_MODEL = "qwen3-coder"
    llm.script(Reply(text=("Hello",)))

    with pytest.raises(LLMError):
        model_target(project=project, model="openai/gpt-4.1")
    events = events_of(model_target(project=project, model="openai/gpt-4.1", allow_no_auth=True))

    assert text_of(events, TextDelta) == "Hello"
    call = llm.last_call()
    assert call.path == "/local/v1/chat/completions"
    assert call.body["model"] == "qwen3-coder"
    assert call.header("Authorization") == "Bearer operator-key-0123"


@pytest.mark.skipif(not hasattr(Credential, "base_url"), reason="credentials have no base URL yet")
@pytest.mark.parametrize(
    ("provider", "model", "path"),
    [
        ("openai", "openai/llama3", "/gateway/v1/chat/completions"),
        ("anthropic", "anthropic/claude-sonnet-4-5", "/gateway/v1/messages"),
    ],
)
def test_a_credentials_base_url_reaches_a_compatible_endpoint(project, llm, provider, model, path):
    credential = api_key_credential(project, provider)
    base = f"{llm.base_url}/gateway" + ("/v1" if provider == "openai" else "")
    Credential.objects.filter(id=credential.id).update(base_url=base)
    llm.script(Reply(text=("Hi",)))

    events = events_of(model_target(project=project, model=model))

    assert text_of(events, TextDelta) == "Hi"
    assert llm.last_call().path == path
    assert usage_of(events).cost is None


REFUSALS = [
    (Failure(401, "auth", f"Incorrect API key provided: {API_KEY}"), "auth"),
    (Failure(429, "rate_limit", "Rate limit reached for requests", retry_after=17), "rate_limit"),
    (
        Failure(400, "context_overflow", "This model's maximum context length is 128000 tokens"),
        "context_overflow",
    ),
    (Failure(404, "unknown_model", "The model `gpt-9` does not exist"), "unknown_model"),
    (Failure(529, "overloaded", "Overloaded"), "unavailable"),
]


@pytest.mark.parametrize(
    ("provider", "model"),
    [("openai", "openai/gpt-4.1"), ("anthropic", "anthropic/claude-sonnet-4-5")],
)
@pytest.mark.parametrize(("failure", "kind"), REFUSALS)
def test_refusals_become_errors_a_user_can_act_on(project, llm, provider, model, failure, kind):
    if provider == "anthropic" and kind == "context_overflow":
        failure = Failure(
            400, "context_overflow", "prompt is too long: 210000 tokens > 200000 maximum"
        )
    api_key_credential(project, provider)
    llm.script(failure)

    with pytest.raises(LLMError) as refused:
        events_of(model_target(project=project, model=model))

    error = refused.value
    assert error.kind == kind
    assert API_KEY not in error.message
    assert API_KEY[:12] not in error.message
    if kind == "rate_limit":
        assert error.retry_after == 17
        assert "17 seconds" in error.message
    # The agent loop retries, not the client: one request reached the provider.
    assert len(llm.model_calls()) == 1


def test_closing_a_slow_stream_early_closes_the_providers_connection(project, llm):
    api_key_credential(project, "openai")
    llm.script(Reply(text=tuple(f"word{n} " for n in range(200)), delay=0.05))
    target = model_target(project=project, model="openai/gpt-4.1")

    async def read_two_and_close() -> list[LLMEvent]:
        stream = completion_events(target, messages=MESSAGES, tools=[])
        seen = [await anext(stream), await anext(stream)]
        await stream.aclose()
        return seen

    seen = asyncio.run(read_two_and_close())

    assert seen == [TextDelta("word0 "), TextDelta("word1 ")]
    assert wait_for(lambda: llm.streams_cut == 1, timeout=30)


def test_a_turn_on_the_provider_s_endpoint_costs_litellm_s_list_price(project, llm):
    import litellm

    api_key_credential(project, "openai")
    llm.script(ANSWER)

    usage = usage_of(events_of(model_target(project=project, model="openai/gpt-4.1")))

    prompt, completion = litellm.cost_per_token(
        model="openai/gpt-4.1",
        prompt_tokens=1000,
        completion_tokens=50,
        cache_read_input_tokens=200,
    )
    assert usage.cost == pytest.approx(prompt + completion)


def test_a_base_url_with_its_own_prices_is_priced_with_them(project, llm):
    credential_api_key_store(
        project=project,
        provider="openai",
        api_key=API_KEY,
        base_url=f"{llm.base_url}/gateway/v1",
        prices=TokenPrices(input=Decimal("2.5"), output=Decimal("10")),
    )
    llm.script(ANSWER)

    usage = usage_of(events_of(model_target(project=project, model="openai/gpt-4.1")))

    assert usage.cost == pytest.approx((1000 * 2.5 + 50 * 10) / 1_000_000)


def test_a_base_url_without_prices_is_unpriced(project, llm):
    credential_api_key_store(
        project=project, provider="openai", api_key=API_KEY, base_url=f"{llm.base_url}/v1"
    )
    llm.script(ANSWER)

    usage = usage_of(events_of(model_target(project=project, model="openai/gpt-4.1")))

    assert usage.cost is None
