"""The audit log through the API: who changed what, when and from where, never a secret."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient

from apps.audit.models import AuditEntry
from apps.projects.services import project_update
from tests.accounts.browser import sign_in
from tests.accounts.factories import UserFactory
from tests.projects.factories import InvitationFactory, MemberFactory

pytestmark = pytest.mark.django_db

CANARY = "sk-ant-api03-audit-canary-value"
ENTRY_KEYS = {
    "id",
    "action",
    "actor",
    "actorLabel",
    "projectId",
    "targetType",
    "targetId",
    "targetLabel",
    "changes",
    "address",
    "createdAt",
}


def audit_of(client: APIClient, project, **query) -> dict:
    response = client.get(f"/api/projects/{project.id}/audit", query)
    assert response.status_code == 200, response.content
    return response.json()


def actions_of(client: APIClient, project) -> list[str]:
    return [entry["action"] for entry in audit_of(client, project)["entries"]]


class TestCredentials:
    def test_a_credential_stored_and_deleted_is_two_entries_without_its_key(
        self, owner_client, owner, project
    ):
        base = f"/api/projects/{project.id}/credentials"
        owner_client.post(base, {"provider": "anthropic", "apiKey": CANARY}, format="json")
        assert owner_client.delete(f"{base}/anthropic").status_code == 200

        response = owner_client.get(f"/api/projects/{project.id}/audit")

        deleted, created = response.json()["entries"]
        assert (created["action"], deleted["action"]) == (
            "credential.created",
            "credential.deleted",
        )
        assert created["actor"] == {"id": str(owner.id), "email": owner.email}
        assert created["targetId"] == "anthropic"
        assert created["changes"]["name"] == [None, "Anthropic"]
        assert created["changes"]["secret"] == [None, "[redacted]"]
        assert CANARY not in response.content.decode()
        assert CANARY not in str(list(AuditEntry.objects.values()))

    def test_replacing_a_key_says_the_secret_changed_and_not_to_what(self, owner_client, project):
        base = f"/api/projects/{project.id}/credentials"
        owner_client.post(base, {"provider": "openai", "apiKey": "first-key"}, format="json")
        owner_client.post(base, {"provider": "openai", "apiKey": CANARY}, format="json")

        replaced = audit_of(owner_client, project)["entries"][0]

        assert replaced["action"] == "credential.updated"
        assert replaced["changes"] == {"secret": ["[redacted]", "[redacted]"]}
        assert "first-key" not in str(list(AuditEntry.objects.values()))

    def test_new_prices_say_what_they_were_and_became(self, owner_client, project):
        base = f"/api/projects/{project.id}/credentials"
        key = {"provider": "openai", "apiKey": "first-key", "baseUrl": "https://llm.example"}
        owner_client.post(base, key, format="json")
        owner_client.post(
            base,
            {**key, "inputPricePerMillion": 3, "outputPricePerMillion": 15},
            format="json",
        )

        changed = audit_of(owner_client, project)["entries"][0]

        assert changed["action"] == "credential.updated"
        assert changed["changes"]["input_price_per_million"] == [None, "3.000000"]
        assert changed["changes"]["output_price_per_million"] == [None, "15.000000"]


def test_a_rename_records_the_old_and_new_name_with_who_and_from_where(
    client_for, admin, owner, project
):
    client_for(admin).put(f"/api/projects/{project.id}", {"name": "Renamed"}, format="json")

    [entry] = audit_of(client_for(owner), project)["entries"]

    assert set(entry) == ENTRY_KEYS
    assert entry["action"] == "project.updated"
    assert entry["changes"] == {"name": ["Team Project", "Renamed"]}
    assert entry["actor"] == {"id": str(admin.id), "email": "admin@example.com"}
    assert entry["actorLabel"] == "admin@example.com"
    assert entry["address"] == "127.0.0.1"
    assert entry["projectId"] == project.id


def test_behind_a_trusted_proxy_the_entry_records_the_client_it_forwarded(
    client_for, admin, owner, project, settings
):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    client_for(admin).put(
        f"/api/projects/{project.id}",
        {"name": "Renamed"},
        format="json",
        HTTP_X_FORWARDED_FOR="203.0.113.7",
    )

    [entry] = audit_of(client_for(owner), project)["entries"]

    assert entry["address"] == "203.0.113.7"


def test_a_write_rolled_back_leaves_no_entry(project):
    with pytest.raises(RuntimeError), transaction.atomic():
        project_update(project=project, name="Never")
        raise RuntimeError

    assert not AuditEntry.objects.exists()


# Each: what the owner does through the API, and the entry it leaves.
def create_workspace(client, base, git_repo):
    return client.post(f"{base}/workspaces", {"path": str(git_repo)}, format="json").json()


def create_session(client, base, git_repo):
    workspace = create_workspace(client, base, git_repo)
    body = {"id": "sess-1", "workspaceId": workspace["id"], "name": "Fix it"}
    assert client.post(f"{base}/sessions", body, format="json").status_code == 201


def create_agent(client, base):
    body = {
        "name": "Helper",
        "agentType": "claude-code",
        "mcpServers": [
            {"name": "files", "config": {"type": "stdio", "command": "npx", "env": {"K": CANARY}}}
        ],
    }
    return client.post(f"{base}/agents", body, format="json").json()


ACTIONS = {
    "workspace.created": lambda c, b, repo, p: create_workspace(c, b, repo),
    "workspace.updated": lambda c, b, repo, p: c.put(
        f"{b}/workspaces/{create_workspace(c, b, repo)['id']}",
        {"displayName": "Main"},
        format="json",
    ),
    "workspace.deleted": lambda c, b, repo, p: c.delete(
        f"{b}/workspaces/{create_workspace(c, b, repo)['id']}"
    ),
    "session.created": lambda c, b, repo, p: create_session(c, b, repo),
    "session.updated": lambda c, b, repo, p: (
        create_session(c, b, repo),
        c.put(f"{b}/sessions/sess-1", {"displayName": "Renamed"}, format="json"),
    ),
    "session.deleted": lambda c, b, repo, p: (
        create_session(c, b, repo),
        c.delete(f"{b}/sessions/sess-1"),
    ),
    "agent.created": lambda c, b, repo, p: create_agent(c, b),
    "agent.updated": lambda c, b, repo, p: c.put(
        f"{b}/agents/{create_agent(c, b)['id']}", {"model": "openai/gpt-4.1"}, format="json"
    ),
    "agent.deleted": lambda c, b, repo, p: c.delete(f"{b}/agents/{create_agent(c, b)['id']}"),
    "invitation.created": lambda c, b, repo, p: c.post(
        f"{b}/invitations", {"email": "new@example.com", "role": "admin"}, format="json"
    ),
    "member.removed": lambda c, b, repo, p: c.delete(
        f"{b}/members/{MemberFactory.create(project=p).user_id}"
    ),
}


@pytest.mark.parametrize("action", ACTIONS)
def test_each_change_through_the_api_is_recorded(owner_client, owner, project, git_repo, action):
    ACTIONS[action](owner_client, f"/api/projects/{project.id}", git_repo, project)

    entries = audit_of(owner_client, project)["entries"]

    assert entries[0]["action"] == action
    assert entries[0]["actor"] == {"id": str(owner.id), "email": owner.email}
    assert entries[0]["targetType"] == action.split(".")[0]
    assert CANARY not in json.dumps(entries)


def test_an_update_records_only_the_fields_it_changed(owner_client, project):
    base = f"/api/projects/{project.id}"
    agent = create_agent(owner_client, base)
    owner_client.put(f"{base}/agents/{agent['id']}", {"model": "openai/gpt-4.1"}, format="json")

    updated, created = audit_of(owner_client, project)["entries"]

    assert updated["changes"] == {"model": ["", "openai/gpt-4.1"]}
    assert created["changes"]["mcp_servers"] == [None, ["files"]]


def test_joining_through_an_invitation_is_recorded_with_the_new_member_as_actor(
    client_for, owner, project
):
    invitee = UserFactory.create(email="invitee@example.com")
    InvitationFactory.create(project=project, email=invitee.email, token="t" * 64)
    client_for(invitee).post(
        f"/api/projects/{project.id}/invitations/accept", {"token": "t" * 64}, format="json"
    )

    joined = audit_of(client_for(owner), project)["entries"][0]

    assert (joined["action"], joined["targetLabel"]) == ("member.joined", invitee.email)
    assert joined["actor"]["email"] == invitee.email
    assert joined["changes"] == {"role": [None, "member"]}


def test_a_sign_in_is_recorded(oauth):
    sign_in(Client(), "github")

    entry = AuditEntry.objects.get(action="user.signed_in")
    assert entry.actor is not None
    assert entry.actor_label == entry.actor.email == entry.target_label
    assert entry.address == "127.0.0.1"


def test_an_api_token_created_is_recorded_without_its_value(owner_client, owner):
    raw = owner_client.post("/api/tokens", {"name": "laptop"}, format="json").json()["token"]

    entry = AuditEntry.objects.get(action="token.created")
    assert (entry.actor, entry.target_label) == (owner, "laptop (owner@example.com)")
    assert entry.changes == {"name": [None, "laptop"], "expires_at": [None, None]}
    assert raw not in str(AuditEntry.objects.values().get(id=entry.id))
    assert raw[:12] not in str(AuditEntry.objects.values().get(id=entry.id))


def test_a_revoked_api_token_is_recorded(owner_client, owner):
    made = owner_client.post("/api/tokens", {"name": "laptop"}, format="json").json()

    assert owner_client.delete(f"/api/tokens/{made['id']}").status_code == 200

    entry = AuditEntry.objects.get(action="token.revoked")
    assert (entry.actor, entry.target_label) == (owner, "laptop (owner@example.com)")


def test_a_token_made_by_the_command_line_is_the_systems(owner, capsys):
    call_command("create_token", "--email", owner.email)

    entry = AuditEntry.objects.get(action="token.created")
    assert (entry.actor, entry.actor_label, entry.address) == (None, "system", None)
    assert capsys.readouterr().out.strip() not in str(AuditEntry.objects.values().get())


class TestAccess:
    def test_a_member_is_refused(self, client_for, member, project):
        response = client_for(member).get(f"/api/projects/{project.id}/audit")

        assert response.status_code == 403
        assert response.json() == {"error": "Admin access required"}

    def test_an_outsider_is_told_there_is_no_such_project(self, client_for, outsider, project):
        response = client_for(outsider).get(f"/api/projects/{project.id}/audit")

        assert response.status_code == 404

    def test_a_project_shows_only_its_own_entries(self, client_for, owner, outsider, project):
        other = client_for(outsider).post("/api/projects", {"name": "Mine"}, format="json").json()
        client_for(owner).put(f"/api/projects/{project.id}", {"name": "Ours"}, format="json")

        assert actions_of(client_for(owner), project) == ["project.updated"]
        entries = client_for(outsider).get(f"/api/projects/{other['id']}/audit").json()["entries"]
        assert [entry["action"] for entry in entries] == ["project.created"]

    def test_operators_read_every_project_and_others_are_refused(self, client_for, owner, project):
        client_for(owner).put(f"/api/projects/{project.id}", {"name": "Ours"}, format="json")
        operator = UserFactory.create(email="ops@example.com", is_staff=True)

        refused = client_for(owner).get("/api/audit")
        answered = client_for(operator).get("/api/audit", {"action": "project.updated"})

        assert refused.status_code == 403
        assert refused.json() == {"error": "Operator access required"}
        [entry] = answered.json()["entries"]
        assert entry["projectId"] == project.id

    def test_anonymous_mode_records_the_local_user_and_may_read_everything(self, anonymous_client):
        anonymous_client.put("/api/projects/local", {"name": "Mine"}, format="json")

        [entry] = anonymous_client.get("/api/audit").json()["entries"]

        assert (entry["actor"], entry["actorLabel"]) == (None, "local")
        assert entry["changes"]["name"][1] == "Mine"
        assert anonymous_client.get("/api/projects/local/audit").json()["entries"] == [entry]

    @pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
    @pytest.mark.parametrize("path", ["/api/audit", "/api/projects/{project}/audit"])
    def test_entries_cannot_be_changed(self, client_for, owner, project, method, path):
        operator = UserFactory.create(email="ops@example.com", is_staff=True)
        MemberFactory.create(project=project, user=operator)

        response = getattr(client_for(operator), method)(path.format(project=project.id))

        assert response.status_code == 405


class TestPages:
    def test_pages_run_newest_first_and_end_with_a_null_cursor(self, owner_client, project):
        for name in ("One", "Two", "Three"):
            owner_client.put(f"/api/projects/{project.id}", {"name": name}, format="json")

        first = audit_of(owner_client, project, limit=2)
        last = audit_of(owner_client, project, limit=2, before=first["next"])

        assert [e["changes"]["name"][1] for e in first["entries"]] == ["Three", "Two"]
        assert [e["changes"]["name"][1] for e in last["entries"]] == ["One"]
        assert last["next"] is None

    def test_filtered_by_action(self, owner_client, project):
        owner_client.put(f"/api/projects/{project.id}", {"name": "Renamed"}, format="json")
        owner_client.post(
            f"/api/projects/{project.id}/invitations", {"email": "x@example.com"}, format="json"
        )

        assert actions_of(owner_client, project) == ["invitation.created", "project.updated"]
        only = audit_of(owner_client, project, action="project.updated")["entries"]
        assert [entry["action"] for entry in only] == ["project.updated"]

    @pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 201}, {"before": "x"}])
    def test_a_bad_query_is_a_400(self, owner_client, project, query):
        response = owner_client.get(f"/api/projects/{project.id}/audit", query)

        assert response.status_code == 400
        assert "error" in response.json()

    def test_the_number_of_queries_does_not_grow_with_the_entries(
        self, client_for, owner, admin, project, django_assert_num_queries
    ):
        for user in (owner, admin, owner):
            client_for(user).put(f"/api/projects/{project.id}", {"name": "X"}, format="json")
        client = client_for(owner)
        client.get(f"/api/projects/{project.id}/audit")  # the session is loaded and cached

        # The session, its user, the membership, its project, the page of entries with their
        # actors.
        with django_assert_num_queries(5):
            client.get(f"/api/projects/{project.id}/audit")
