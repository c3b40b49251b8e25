from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.accounts.oauth_provider import oauth_provider, provider_settings


@pytest.fixture(autouse=True)
def workspace_roots(settings, tmp_path) -> Path:
    settings.WORKSPACE_ROOTS = [tmp_path]
    return tmp_path


@pytest.fixture
def owner_client(client_for, owner) -> APIClient:
    return client_for(owner)


@pytest.fixture
def oauth(settings, auth_enabled):
    """GitHub and Google, played by a local OAuth server."""
    with oauth_provider() as running:
        for name, value in provider_settings(running.base_url).items():
            setattr(settings, name, value)
        yield running
