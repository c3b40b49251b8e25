from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.accounts.oauth_provider import oauth_provider, provider_settings


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Failure counters live in the cache; each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def provider(settings, auth_enabled):
    with oauth_provider() as running:
        for name, value in provider_settings(running.base_url).items():
            setattr(settings, name, value)
        yield running
