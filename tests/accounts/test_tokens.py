"""Personal API tokens: created and shown once, used as Bearer, revoked, expired."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken, User

pytestmark = pytest.mark.django_db

TOKEN_KEYS = {"id", "name", "prefix", "createdAt", "expiresAt", "lastUsedAt"}


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def owner_client(client_for, owner) -> APIClient:
    return client_for(owner)


def create_token(client: APIClient, **body) -> dict:
    response = client.post("/api/tokens", {"name": "laptop", **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_created_token_is_shown_once_and_works_as_bearer(owner_client, owner, project):
    created = create_token(owner_client)

    assert set(created) == TOKEN_KEYS | {"token"}
    assert re.fullmatch(r"dbt_[A-Za-z0-9_-]{40,}", created["token"])
    assert created["prefix"] == created["token"][:12]
    response = bearer(created["token"]).get("/api/projects")
    assert response.status_code == 200
    assert [body["id"] for body in response.json()] == [project.id]
    listed = owner_client.get("/api/tokens").json()
    assert [set(body) for body in listed] == [TOKEN_KEYS]
    assert created["token"] not in str(listed)


def test_only_the_hash_is_stored(owner_client):
    created = create_token(owner_client)

    row = ApiToken.objects.values().get(id=created["id"])

    assert row["token_hash"] == hashlib.sha256(created["token"].encode()).hexdigest()
    assert created["token"] not in str(row)


def test_use_is_recorded(owner_client):
    created = create_token(owner_client)

    bearer(created["token"]).get("/api/projects")

    assert owner_client.get("/api/tokens").json()[0]["lastUsedAt"] is not None


def test_revoked_token_gets_401(owner_client):
    created = create_token(owner_client)

    response = owner_client.delete(f"/api/tokens/{created['id']}")

    assert response.status_code == 200
    assert response.json() == {"success": True}
    revoked = bearer(created["token"]).get("/api/projects")
    assert revoked.status_code == 401
    assert revoked.json() == {"error": "Invalid token"}


def test_expired_token_gets_401(owner_client):
    created = create_token(
        owner_client, expiresAt=(timezone.now() + timedelta(hours=1)).isoformat()
    )
    ApiToken.objects.filter(id=created["id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = bearer(created["token"]).get("/api/projects")

    assert response.status_code == 401
    assert response.json() == {"error": "Token expired"}


def test_expiry_in_the_past_is_refused(owner_client):
    response = owner_client.post(
        "/api/tokens", {"name": "x", "expiresAt": "2001-01-01T00:00:00Z"}, format="json"
    )

    assert response.status_code == 400
    assert "expiresAt" in response.json()["error"]


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 101}, {"name": 5}])
def test_bad_token_requests_get_400(owner_client, body):
    response = owner_client.post("/api/tokens", body, format="json")

    assert response.status_code == 400
    assert "error" in response.json()


def test_a_user_cannot_see_or_revoke_another_users_tokens(client_for, owner, outsider):
    created = create_token(client_for(owner))
    outsider_client = client_for(outsider)

    assert outsider_client.get("/api/tokens").json() == []
    response = outsider_client.delete(f"/api/tokens/{created['id']}")
    assert response.status_code == 404
    assert ApiToken.objects.filter(id=created["id"]).exists()


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer nope", "Bearer dbt_forged"])
def test_malformed_or_unknown_bearer_gets_401(auth_enabled, db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/projects")

    assert response.status_code == 401
    assert response.json() == {"error": "Invalid token"}


class TestCreateTokenCommand:
    def run(self, *args: str) -> str:
        out = io.StringIO()
        call_command("create_token", *args, stdout=out)
        return out.getvalue().strip()

    def test_prints_a_working_token_for_an_existing_user(self, owner, project, auth_enabled):
        token = self.run("--email", "OWNER@example.com", "--name", "ci")

        assert bearer(token).get(f"/api/projects/{project.id}").status_code == 200
        assert owner.api_tokens.get().name == "ci"

    def test_creates_the_user_when_asked(self, auth_enabled):
        token = self.run("--email", "robot@example.com", "--create-user", "--days", "1")

        robot = User.objects.get(email="robot@example.com")
        assert not robot.has_usable_password()
        expires_at = robot.api_tokens.get().expires_at
        assert expires_at is not None
        assert timezone.now() + timedelta(hours=23) < expires_at
        assert bearer(token).get("/api/projects").status_code == 200

    def test_refuses_an_unknown_user_without_create_user(self, db):
        with pytest.raises(CommandError, match=re.escape("robot@example.com")):
            self.run("--email", "robot@example.com")
        assert not User.objects.filter(email="robot@example.com").exists()
