"""A route answers only the methods it publishes, whoever asks and whatever the project."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("method", ["patch", "trace"])
def test_a_method_the_route_lacks_is_405_even_for_a_project_the_caller_cannot_see(
    client_for, outsider, project, method
):
    client = client_for(outsider)

    response = client.generic(method.upper(), f"/api/projects/{project.id}/members")

    assert response.status_code == 405
    assert response.json() == {"error": f'Method "{method.upper()}" not allowed.'}
