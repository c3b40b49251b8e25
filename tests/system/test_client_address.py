"""The client's address: the peer's, unless the peer is one of TRUSTED_PROXIES; then the
address its X-Forwarded-For names. The audit log and the limits on failed logins use it."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from discobot.clients import client_address

PROXY = "10.0.0.5"
FORWARDED = "203.0.113.7"


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]


def address_of(peer: str, forwarded_for: str | None = None) -> str | None:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    return client_address(RequestFactory().get("/", REMOTE_ADDR=peer, headers=headers))


def test_without_trusted_proxies_the_header_is_anyone_s_to_write():
    assert address_of(PROXY, FORWARDED) == PROXY


def test_a_trusted_proxy_s_forwarded_address_is_the_client(behind_proxy):
    assert address_of(PROXY, FORWARDED) == FORWARDED


def test_an_untrusted_peer_s_header_is_ignored(behind_proxy):
    assert address_of("198.51.100.1", FORWARDED) == "198.51.100.1"


def test_what_the_client_wrote_left_of_the_proxies_is_not_believed(behind_proxy):
    # The client sent "1.2.3.4" itself; the proxy appended the address it really saw.
    assert address_of(PROXY, f"1.2.3.4, {FORWARDED}") == FORWARDED


def test_a_chain_of_trusted_proxies_is_followed_to_the_client(behind_proxy):
    assert address_of(PROXY, f"{FORWARDED}, 10.1.2.3") == FORWARDED


@pytest.mark.parametrize("forwarded", ["", "not-an-address"])
def test_a_trusted_proxy_without_a_usable_header(behind_proxy, forwarded):
    assert address_of(PROXY, forwarded) in (PROXY, None)


def test_a_peer_that_is_no_address_has_none():
    assert address_of("") is None


@pytest.mark.django_db
def test_failed_logins_are_limited_per_forwarded_client(behind_proxy, auth_enabled):
    def bad_token_attempt(forwarded: str) -> int:
        client = APIClient(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)
        client.credentials(HTTP_AUTHORIZATION="Bearer dbt_guess")
        return client.get("/api/projects").status_code

    statuses = [bad_token_attempt(FORWARDED) for _ in range(11)]

    assert statuses[-1] == 429
    assert bad_token_attempt("198.51.100.2") == 401  # another client behind the same proxy
