from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from tests.credentials.upstream import Upstream, upstream_server


@pytest.fixture
def upstream(settings) -> Iterator[Upstream]:
    with upstream_server() as running:
        for name, value in running.settings().items():
            setattr(settings, name, value)
        yield running


@pytest.fixture
def client(client_for, member) -> APIClient:
    return client_for(member)


@pytest.fixture
def base(project) -> str:
    return f"/api/projects/{project.id}/credentials"


@pytest.fixture
def all_logs(caplog) -> pytest.LogCaptureFixture:
    """Every log record of the test, at every level, to search for leaked secrets."""
    caplog.set_level(logging.DEBUG)
    return caplog
