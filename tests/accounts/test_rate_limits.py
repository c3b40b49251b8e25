"""Failed bearer tokens and failed login callbacks are limited per client address
(AUTH_FAILURE_RATE, 10 a minute by default): the 11th attempt gets 429 with Retry-After."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django_ratelimit.core import _get_window
from rest_framework.test import APIClient

from apps.accounts import ratelimits
from apps.accounts.services import api_token_create
from discobot.outages import CacheBreaker
from tests.servers import free_port

pytestmark = pytest.mark.django_db

ALLOWED_FAILURES = 10
COUNTED_ADDRESSES = ("203.0.113.7", "203.0.113.8", "198.51.100.1")
EDGE_MARGIN_SECONDS = 3


@pytest.fixture(autouse=True)
def clear_of_window_edges():
    """django-ratelimit starts each address's count again at a second of every minute of its
    own (a jitter from the address): attempts made across it would count from zero again. A
    test waits until no address it counts on is that close to its edge."""
    while any(
        _get_window(address, 60) - time.time() < EDGE_MARGIN_SECONDS
        for address in COUNTED_ADDRESSES
    ):
        time.sleep(0.5)


def bad_token_attempt(address: str = "203.0.113.7"):
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION="Bearer dbt_guess")
    return client.get("/api/projects")


def test_the_default_limit_is_ten_a_minute(settings):
    assert settings.AUTH_FAILURE_RATE == "10/m"


def test_bad_tokens_are_limited_after_ten_failures(auth_enabled, owner):
    for _ in range(ALLOWED_FAILURES):
        assert bad_token_attempt().status_code == 401

    limited = bad_token_attempt()

    assert limited.status_code == 429
    assert "error" in limited.json()
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    # Even a good token from that address waits: the address is guessing.
    _, good = api_token_create(user=owner, name="t")
    client = APIClient(REMOTE_ADDR="203.0.113.7")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {good}")
    assert client.get("/api/projects").status_code == 429


def test_the_limit_is_per_address(auth_enabled):
    for _ in range(ALLOWED_FAILURES + 1):
        bad_token_attempt("203.0.113.7")

    assert bad_token_attempt("198.51.100.1").status_code == 401


def test_successful_token_use_does_not_count(auth_enabled, owner):
    _, good = api_token_create(user=owner, name="t")
    client = APIClient(REMOTE_ADDR="203.0.113.9")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {good}")

    for _ in range(ALLOWED_FAILURES * 2):
        assert client.get("/api/projects").status_code == 200


def test_failed_callbacks_are_limited(provider):
    client = Client(REMOTE_ADDR="203.0.113.8")
    for _ in range(ALLOWED_FAILURES):
        assert client.get("/auth/callback/github?code=x&state=forged").status_code == 400

    limited = client.get("/auth/callback/github?code=x&state=forged")

    assert limited.status_code == 429
    assert limited.json() == {"error": "Too many failed login attempts"}
    assert 0 < int(limited.headers["Retry-After"]) <= 60


def test_the_rate_is_configurable(auth_enabled, settings):
    settings.AUTH_FAILURE_RATE = "3/h"
    for _ in range(3):
        assert bad_token_attempt().status_code == 401

    limited = bad_token_attempt()

    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 3600


@pytest.fixture
def unreachable_cache(settings, monkeypatch):
    """The cache is Redis on a port nothing listens on; the limiter has not seen it fail yet."""
    reachable = settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    monkeypatch.setattr(ratelimits, "CACHE_BREAKER", CacheBreaker("the limit"))
    yield
    settings.CACHES = reachable  # before fresh_rate_limits clears the cache


def test_with_the_cache_unreachable_a_good_token_still_works(
    auth_enabled, owner, unreachable_cache
):
    _, good = api_token_create(user=owner, name="t")
    client = APIClient(REMOTE_ADDR="203.0.113.10")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {good}")

    assert client.get("/api/projects").status_code == 200


def test_with_the_cache_unreachable_bad_tokens_get_401_and_one_warning(
    auth_enabled, unreachable_cache, caplog
):
    responses = [bad_token_attempt("203.0.113.11") for _ in range(ALLOWED_FAILURES * 2)]

    assert [response.status_code for response in responses] == [401] * ALLOWED_FAILURES * 2
    warnings = [r for r in caplog.records if "the cache is unavailable" in r.getMessage()]
    assert len(warnings) == 1
