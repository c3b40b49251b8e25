"""The read side chat uses: a project's credential, its access token kept fresh, its headers."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection

from apps.credentials import oauth
from apps.credentials.models import Credential
from apps.credentials.selectors import credential_auth_headers, credential_get, credential_secret
from apps.credentials.services import (
    credential_access_token,
    credential_access_token_async,
    credential_api_key_store,
    oauth_credential_store,
)
from discobot.errors import ApplicationError, NotFoundError
from tests.credentials.upstream import Upstream
from tests.waiting import wait_for

TOKEN_PATH = "/anthropic/v1/oauth/token"
CALLERS = 5


def anthropic_oauth(project, upstream: Upstream, *, expires_in: int) -> Credential:
    """An Anthropic OAuth credential whose tokens the local provider issued."""
    issued = upstream.issue()
    tokens = oauth.Tokens(
        access_token=issued["access_token"],
        refresh_token=issued["refresh_token"],
        expires_in=expires_in,
    )
    return oauth_credential_store(project=project, provider="anthropic", tokens=tokens)


def refreshes(upstream: Upstream) -> int:
    return upstream.requests[TOKEN_PATH]


class TestLookups:
    pytestmark = pytest.mark.django_db

    def test_the_credential_for_a_provider(self, project, other_project):
        mine = credential_api_key_store(project=project, provider="openai", api_key="sk-1")
        credential_api_key_store(project=other_project, provider="anthropic", api_key="sk-2")

        assert credential_get(project=project, provider="openai") == mine
        with pytest.raises(NotFoundError, match="Credential not found"):
            credential_get(project=project, provider="anthropic")

    def test_an_api_key_is_its_own_access_token(self, project):
        credential = credential_api_key_store(project=project, provider="openai", api_key="sk-1")

        assert credential_access_token(credential=credential) == "sk-1"

    @pytest.mark.parametrize(
        ("provider", "auth_type", "headers"),
        [
            ("anthropic", "api_key", {"x-api-key": "t", "anthropic-version": "2023-06-01"}),
            (
                "anthropic",
                "oauth",
                {
                    "Authorization": "Bearer t",
                    "anthropic-version": "2023-06-01",
                    "anthropic-beta": "oauth-2025-04-20",
                },
            ),
            ("openai", "api_key", {"Authorization": "Bearer t"}),
            ("codex", "oauth", {"Authorization": "Bearer t"}),
            ("github-copilot", "oauth", {"Authorization": "Bearer t"}),
        ],
    )
    def test_each_provider_gets_its_auth_headers(self, provider, auth_type, headers):
        credential = Credential(provider=provider, auth_type=auth_type)

        assert credential_auth_headers(credential=credential, token="t") == headers

    def test_a_provider_whose_headers_are_unknown_is_refused(self):
        with pytest.raises(ApplicationError, match="deepseek"):
            credential_auth_headers(credential=Credential(provider="deepseek"), token="t")

    def test_a_stale_copy_uses_the_token_another_caller_refreshed(self, project, upstream):
        credential = anthropic_oauth(project, upstream, expires_in=60)
        stale = Credential.objects.get(id=credential.id)

        refreshed = credential_access_token(credential=Credential.objects.get(id=credential.id))

        assert credential_access_token(credential=stale) == refreshed
        assert refreshes(upstream) == 1


# Threads need committed rows; serialized_rollback keeps the seeded `local` project after the flush.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
class TestSingleFlightRefresh:
    def test_concurrent_callers_refresh_a_token_once(self, project, upstream):
        credential = anthropic_oauth(project, upstream, expires_in=60)
        old_token = credential_secret(credential)["access_token"]
        stale = [Credential.objects.get(id=credential.id) for _ in range(CALLERS)]
        tokens: list[str] = []
        failures: list[Exception] = []
        upstream.gate.clear()  # the first refresh waits at the provider

        def caller(copy: Credential) -> None:
            try:
                tokens.append(credential_access_token(credential=copy))
            except Exception as error:  # the test reports every failure
                failures.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=caller, args=(copy,)) for copy in stale]
        for thread in threads:
            thread.start()
        wait_for(lambda: refreshes(upstream) == 1)
        if connection.vendor == "postgresql":
            # Every other caller is queued on the row lock while the first one refreshes.
            wait_for(lambda: postgres_lock_waiters() == CALLERS - 1)
        upstream.gate.set()
        for thread in threads:
            thread.join(timeout=60)

        assert failures == []
        assert refreshes(upstream) == 1
        assert len(set(tokens)) == 1
        assert tokens[0] != old_token
        assert tokens[0] in upstream.access_tokens

    def test_an_async_caller_keeps_its_event_loop_running_while_the_provider_is_slow(
        self, project, upstream
    ):
        credential = anthropic_oauth(project, upstream, expires_in=60)
        upstream.gate.clear()

        async def chat_turn() -> tuple[bool, str]:
            token = asyncio.ensure_future(credential_access_token_async(credential=credential))
            # This loop polls on: it is not blocked while the provider holds the refresh.
            await until(lambda: refreshes(upstream) == 1)
            held = not token.done()
            upstream.gate.set()
            return held, await token

        held, token = asyncio.run(chat_turn())

        assert held
        assert token == credential_secret(Credential.objects.get(id=credential.id))["access_token"]


def postgres_lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        (count,) = cursor.fetchone()
    return int(count)


async def until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)
