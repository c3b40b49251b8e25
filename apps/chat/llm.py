"""The model side of chat: which endpoint and key a model is called with, and its streamed
answer as small events.

litellm speaks each provider's protocol; this module chooses the project's credential for a
model (issue 13, item 4), speaks the two token exchanges litellm would otherwise do from files
on the server's disk (Copilot, Codex), and turns provider refusals into errors a user can act
on (item 7).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings

from apps.credentials.models import AuthType, Credential
from apps.credentials.oauth import upstream_message
from apps.credentials.providers import PROVIDER_NAMES
from apps.credentials.selectors import ANTHROPIC_OAUTH_BETA, credential_secret, project_secrets
from apps.credentials.services import credential_access_token
from apps.projects.models import Project
from discobot.errors import ApplicationError, ConflictError
from discobot.redaction import mask_secrets

# Which of a project's credentials can call a litellm provider, the first found winning:
# a Codex (ChatGPT account) token also serves OpenAI's models, on the Responses API.
CREDENTIALS_FOR = {
    "openai": ("openai", "codex"),
    "chatgpt": ("codex",),
    "github_copilot": ("github-copilot",),
}
# The headers GitHub requires of a Copilot client (the exchange and the API alike).
COPILOT_HEADERS = {
    "Editor-Version": "vscode/1.95.0",
    "Editor-Plugin-Version": "copilot-chat/0.26.7",
    "Copilot-Integration-Id": "vscode-chat",
    "User-Agent": "GitHubCopilotChat/0.26.7",
}
# A Copilot API token is exchanged again this long before GitHub says it expires.
COPILOT_TOKEN_MARGIN_SECONDS = 60


@dataclass(frozen=True)
class ModelTarget:
    """What litellm needs for one call."""

    model: str  # in litellm's form: `anthropic/claude-sonnet-4-5`
    provider: str  # the credential's provider, named in errors ("" for the default endpoint)
    api_key: str = field(repr=False)
    api_base: str | None = None
    extra_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    custom_llm_provider: str | None = None
    # The model whose litellm price applies; None where tokens are not billed at list price
    # (subscriptions, a credential's own base URL, the operator's endpoint).
    priced_as: str | None = None
    # The credential's own prices, US dollars per million input and output tokens; they win
    # over litellm's.
    prices: tuple[float, float] | None = None
    # Every secret a provider's message could echo, masked before anyone sees it.
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def litellm_arguments(self) -> dict[str, Any]:
        # Retrying is the agent loop's decision, with the provider's retry hint in hand.
        arguments: dict[str, Any] = {"model": self.model, "api_key": self.api_key, "max_retries": 0}
        if self.api_base:
            arguments["api_base"] = self.api_base
        if self.extra_headers:
            arguments["extra_headers"] = dict(self.extra_headers)
        if self.custom_llm_provider:
            # Named outright, litellm never looks for a login of its own on the server's disk.
            arguments["custom_llm_provider"] = self.custom_llm_provider
        return arguments


class LLMError(ApplicationError):
    """A model could not be called or answered with a refusal; `message` says what to do."""

    def __init__(self, message: str, *, kind: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        # auth, no_credential, rate_limit, context_overflow, unknown_model, bad_request,
        # unavailable
        self.kind = kind
        self.retry_after = retry_after


def provider_name(provider: str) -> str:
    return PROVIDER_NAMES.get(provider, provider)


# --- Choosing the endpoint -----------------------------------------------------------------------


def litellm_provider(model: str) -> tuple[str, str]:
    """The litellm provider of `model` and the model's own name."""
    import litellm

    try:
        name, provider, _, _ = litellm.get_llm_provider(model)
    except Exception:  # litellm raises a BadRequestError of its own for this
        prefix, _, rest = model.partition("/")
        if rest and prefix in CREDENTIALS_FOR:
            return prefix, rest
        raise LLMError(
            f"No provider serves the model {model!r}: name it as provider/model, "
            "for example openai/gpt-4.1",
            kind="unknown_model",
        ) from None
    return provider, name


def model_target(*, project: Project, model: str, allow_no_auth: bool = False) -> ModelTarget:
    """Where and how to call `model` for `project`, with the project's credential for the
    model's provider. `allow_no_auth`: the agent type may use the operator's default endpoint
    (DEFAULT_LLM_BASE_URL) when the project has no credential for it."""
    model = model.strip()
    prefix = model.partition("/")[0]
    if prefix in CREDENTIALS_FOR:
        provider, name = prefix, model.partition("/")[2]
    else:
        provider, name = litellm_provider(model)
    wanted = CREDENTIALS_FOR.get(provider, (provider,))
    credentials = {credential.provider: credential for credential in project.credentials.all()}
    credential = next((credentials[kind] for kind in wanted if kind in credentials), None)
    if credential is None or not credential.is_configured:
        if allow_no_auth and settings.DEFAULT_LLM_BASE_URL:
            return default_target(model=name)
        raise LLMError(
            f"To use {model}, connect a credential for {provider_name(wanted[0])} in this "
            "project's settings",
            kind="no_credential",
        )
    if credential.needs_reauth:
        raise LLMError(
            f"The {credential.name} credential must be authorized again: reconnect it in "
            "this project's settings",
            kind="auth",
        )
    try:
        token = credential_access_token(credential=credential)
    except ConflictError as error:
        raise LLMError(error.message, kind="auth") from None
    secrets = (*project_secrets(project=project), token)
    base_url: str = getattr(credential, "base_url", "") or ""
    if credential.provider == "codex":
        return codex_target(credential=credential, token=token, name=name, secrets=secrets)
    if credential.provider == "github-copilot":
        return copilot_target(credential=credential, token=token, name=name, secrets=secrets)
    oauth = credential.auth_type == AuthType.OAUTH
    api_base = base_url or {
        "anthropic": settings.ANTHROPIC_BASE_URL,
        "openai": settings.OPENAI_BASE_URL,
    }.get(provider)
    return ModelTarget(
        model=f"{provider}/{name}",
        provider=credential.provider,
        api_key=token,
        api_base=api_base,
        # An Anthropic OAuth token goes as a bearer (litellm knows it by its `sk-ant-oat`
        # prefix) and only with this beta flag.
        extra_headers={"anthropic-beta": ANTHROPIC_OAUTH_BETA} if oauth else {},
        custom_llm_provider=provider,
        priced_as=None if base_url or oauth else f"{provider}/{name}",
        prices=credential_prices(credential),
        secrets=secrets,
    )


def credential_prices(credential: Credential) -> tuple[float, float] | None:
    given = (credential.input_price_per_million, credential.output_price_per_million)
    if given == (None, None):
        return None
    return float(given[0] or 0), float(given[1] or 0)


def default_target(*, model: str) -> ModelTarget:
    """The operator's OpenAI-compatible endpoint (Ollama, vLLM, a gateway)."""
    api_key = settings.DEFAULT_LLM_API_KEY
    return ModelTarget(
        model=f"openai/{settings.DEFAULT_LLM_MODEL or model}",
        provider="",
        # OpenAI's client insists on a key; local servers ignore it.
        api_key=api_key or "none",
        api_base=settings.DEFAULT_LLM_BASE_URL,
        custom_llm_provider="openai",
        secrets=(api_key,) if api_key else (),
    )


def codex_target(
    *, credential: Credential, token: str, name: str, secrets: tuple[str, ...]
) -> ModelTarget:
    """The ChatGPT account's token on the Codex Responses API (litellm's `chatgpt` provider,
    which reads the account id from the token's claims, as the Codex CLI does)."""
    return ModelTarget(
        model=f"chatgpt/{name}",
        provider=credential.provider,
        api_key=token,
        api_base=settings.CODEX_BASE_URL,
        custom_llm_provider="chatgpt",
        secrets=secrets,
    )


@dataclass(frozen=True)
class CopilotToken:
    github_token: str
    token: str
    api_base: str
    expires_at: float


copilot_tokens: dict[str, CopilotToken] = {}
copilot_locks: dict[str, threading.Lock] = {}
copilot_locks_guard = threading.Lock()


def copilot_token_url(domain: str) -> str:
    if domain in ("", "github.com"):
        return settings.COPILOT_TOKEN_URL
    return f"{settings.GITHUB_ENTERPRISE_SCHEME}://api.{domain}/copilot_internal/v2/token"


def copilot_api_token(*, credential: Credential, github_token: str) -> CopilotToken:
    """GitHub's short-lived Copilot API token for the user's OAuth token, kept until near its
    expiry. Single-flight per credential within this process: concurrent turns wait for one
    exchange instead of each making their own."""
    key = str(credential.id)
    with copilot_locks_guard:
        lock = copilot_locks.setdefault(key, threading.Lock())
    with lock:
        held = copilot_tokens.get(key)
        if (
            held is not None
            and held.github_token == github_token
            and held.expires_at - COPILOT_TOKEN_MARGIN_SECONDS > time.time()
        ):
            return held
        domain = credential_secret(credential).get("domain") or "github.com"
        try:
            response = requests.get(
                copilot_token_url(domain),
                headers={"Authorization": f"token {github_token}", **COPILOT_HEADERS},
                timeout=settings.UPSTREAM_TIMEOUT_SECONDS,
            )
        except requests.RequestException as error:
            raise LLMError(
                f"Could not reach GitHub Copilot ({type(error).__name__}); try again later",
                kind="unavailable",
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not response.ok or not isinstance(body, dict) or not body.get("token"):
            reason = mask_secrets(
                upstream_message(body) or f"HTTP {response.status_code}", [github_token]
            )
            raise LLMError(
                f"GitHub Copilot refused this account ({reason}): check its Copilot "
                "subscription or reconnect it in this project's settings",
                kind="auth",
            )
        endpoints = body.get("endpoints") or {}
        held = CopilotToken(
            github_token=github_token,
            token=body["token"],
            api_base=endpoints.get("api") or settings.COPILOT_API_URL,
            expires_at=float(body.get("expires_at") or time.time() + 600),
        )
        copilot_tokens[key] = held
        return held


def copilot_target(
    *, credential: Credential, token: str, name: str, secrets: tuple[str, ...]
) -> ModelTarget:
    """Copilot's API speaks OpenAI's Chat Completions with the exchanged token; litellm's own
    `github_copilot` provider would run a device flow from files on the server instead."""
    copilot = copilot_api_token(credential=credential, github_token=token)
    return ModelTarget(
        model=f"openai/{name}",
        provider=credential.provider,
        api_key=copilot.token,
        api_base=copilot.api_base,
        extra_headers=COPILOT_HEADERS,
        custom_llm_provider="openai",
        secrets=(*secrets, copilot.token),
    )


# --- The streamed answer -------------------------------------------------------------------------


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True)
class ToolCallStart:
    call_id: str
    name: str


@dataclass(frozen=True)
class ToolCallDelta:
    call_id: str
    arguments_delta: str


@dataclass(frozen=True)
class ToolCallDone:
    call_id: str
    name: str
    arguments: dict[str, Any]
    # Why the arguments the model sent are not a JSON object (then `arguments` is empty).
    invalid: str = ""


@dataclass(frozen=True)
class Usage:
    """Tokens as the provider counted them; `input_tokens` includes the cached ones."""

    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cost: float | None  # US dollars at litellm's list prices; None when unpriced


@dataclass(frozen=True)
class Finished:
    reason: str  # stop, tool_calls, length, content_filter


LLMEvent = (
    TextDelta | ReasoningDelta | ToolCallStart | ToolCallDelta | ToolCallDone | Usage | Finished
)


@dataclass
class PendingCall:
    call_id: str
    name: str
    arguments: str = ""

    def done(self) -> ToolCallDone:
        try:
            arguments = json.loads(self.arguments or "{}")
        except ValueError as error:
            return ToolCallDone(self.call_id, self.name, {}, invalid=f"invalid JSON: {error}")
        if not isinstance(arguments, dict):
            return ToolCallDone(self.call_id, self.name, {}, invalid="not a JSON object")
        return ToolCallDone(self.call_id, self.name, arguments)


async def completion_events(
    target: ModelTarget,
    *,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    reasoning: str | None = None,
) -> AsyncGenerator[LLMEvent, None]:
    """One streamed completion as events; closing the iterator closes the provider's stream.
    `messages` and `tools` are in OpenAI's chat format; `reasoning` is an effort (low,
    medium, high) for models that think."""
    import litellm

    arguments = target.litellm_arguments()
    if tools:
        arguments["tools"] = tools
    if reasoning:
        arguments["reasoning_effort"] = reasoning
    try:
        stream = await litellm.acompletion(
            messages=messages, stream=True, stream_options={"include_usage": True}, **arguments
        )
    except Exception as error:  # every litellm failure becomes an LLMError
        raise llm_error(error, target) from None
    calls: dict[int, PendingCall] = {}
    usage: Usage | None = None
    reason = "stop"
    try:
        async for chunk in stream:
            # A turn on the loop: a stream whose bytes are already buffered never waits, and
            # would keep the turn's log writer (and every other turn) from running to its end.
            await asyncio.sleep(0)
            if getattr(chunk, "usage", None):
                usage = usage_of(chunk.usage, target)
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            delta = choice.delta
            if getattr(delta, "reasoning_content", None):
                yield ReasoningDelta(delta.reasoning_content)
            if delta.content:
                yield TextDelta(delta.content)
            for call in delta.tool_calls or ():
                index = call.index or 0
                pending = calls.get(index)
                if pending is None:
                    pending = calls[index] = PendingCall(
                        call.id or f"call_{index}", call.function.name or ""
                    )
                    yield ToolCallStart(pending.call_id, pending.name)
                if call.function.arguments:
                    pending.arguments += call.function.arguments
                    yield ToolCallDelta(pending.call_id, call.function.arguments)
            if choice.finish_reason:
                reason = choice.finish_reason
    except Exception as error:  # a provider failing mid-stream
        raise llm_error(error, target) from None
    finally:
        await stream.aclose()
    for pending in calls.values():
        yield pending.done()
    if usage is not None:
        yield usage
    yield Finished("tool_calls" if calls else reason)


def usage_of(usage: Any, target: ModelTarget) -> Usage:
    input_details = getattr(usage, "prompt_tokens_details", None)
    output_details = getattr(usage, "completion_tokens_details", None)
    return Usage(
        input_tokens=usage.prompt_tokens or 0,
        output_tokens=usage.completion_tokens or 0,
        cached_tokens=getattr(input_details, "cached_tokens", None) or 0,
        reasoning_tokens=getattr(output_details, "reasoning_tokens", None) or 0,
        cost=cost_of(usage, target),
    )


def cost_of(usage: Any, target: ModelTarget) -> float | None:
    import litellm

    if target.prices is not None:
        per_input, per_output = target.prices
        tokens = (usage.prompt_tokens or 0) * per_input + (
            usage.completion_tokens or 0
        ) * per_output
        return tokens / 1_000_000
    if target.priced_as is None:
        return None
    try:
        prompt, completion = litellm.cost_per_token(
            model=target.priced_as,
            custom_llm_provider=target.custom_llm_provider,
            usage_object=usage,
        )
    except Exception:  # a model missing from litellm's price list
        return None
    return float(prompt + completion)


def token_prices(target: ModelTarget) -> tuple[float, float] | None:
    """US dollars per input and output token as `cost_of` prices them; None when unpriced."""
    import litellm

    if target.prices is not None:
        return target.prices[0] / 1_000_000, target.prices[1] / 1_000_000
    if target.priced_as is None:
        return None
    try:
        per_input, _ = litellm.cost_per_token(
            model=target.priced_as,
            custom_llm_provider=target.custom_llm_provider,
            prompt_tokens=1_000_000,
            completion_tokens=0,
        )
        _, per_output = litellm.cost_per_token(
            model=target.priced_as,
            custom_llm_provider=target.custom_llm_provider,
            prompt_tokens=0,
            completion_tokens=1_000_000,
        )
    except Exception:  # a model missing from litellm's price list
        return None
    return float(per_input) / 1_000_000, float(per_output) / 1_000_000


# --- Refusals ------------------------------------------------------------------------------------


def provider_words(error: Exception) -> str:
    """The provider's own message, without litellm's prefixes."""
    response = getattr(error, "response", None)
    try:
        message = upstream_message(response.json()) if response is not None else ""
    except Exception:  # a body that is not JSON, or no body
        message = ""
    if not message:
        message = str(getattr(error, "message", "") or error).rsplit(" - ", 1)[-1]
    return message.strip()[:300]


def retry_after_of(error: Exception) -> float | None:
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None) or getattr(error, "litellm_response_headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def llm_error(error: Exception, target: ModelTarget) -> LLMError:
    """`error` from litellm as an LLMError whose message says what to do; the project's
    secrets are masked out of the provider's words."""
    from litellm import exceptions as litellm

    name = provider_name(target.provider) if target.provider else "The default model endpoint"
    words = mask_secrets(provider_words(error), target.secrets)
    model = target.model.partition("/")[2] or target.model
    if isinstance(error, litellm.ContextWindowExceededError):
        return LLMError(
            f"The conversation is longer than {model} can read: start a new session, or "
            "choose a model with a larger context",
            kind="context_overflow",
        )
    if isinstance(error, litellm.AuthenticationError | litellm.PermissionDeniedError):
        return LLMError(
            f"{name} refused the credential ({words}): update it in this project's settings",
            kind="auth",
        )
    if isinstance(error, litellm.RateLimitError):
        retry_after = retry_after_of(error)
        wait = f"in {retry_after:g} seconds" if retry_after is not None else "in a moment"
        return LLMError(
            f"{name} is limiting requests ({words}): try again {wait}",
            kind="rate_limit",
            retry_after=retry_after,
        )
    if isinstance(error, litellm.NotFoundError):
        return LLMError(
            f"{name} does not offer the model {model}: choose another model for this agent",
            kind="unknown_model",
        )
    if isinstance(error, litellm.BadRequestError):
        return LLMError(f"{name} refused the request: {words}", kind="bad_request")
    return LLMError(
        f"{name} is unavailable ({words}): try again later",
        kind="unavailable",
        retry_after=retry_after_of(error),
    )
