"""Projects, members and invitations through the HTTP API (contract §2)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.projects.models import Project, ProjectInvitation, ProjectMember, Role
from tests.accounts.factories import UserFactory
from tests.projects.factories import InvitationFactory, MemberFactory, ProjectFactory

pytestmark = pytest.mark.django_db

ISO_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
PROJECT_KEYS = {"id", "name", "slug", "createdAt", "updatedAt"}
MEMBER_KEYS = {
    "id",
    "projectId",
    "userId",
    "role",
    "email",
    "name",
    "avatarUrl",
    "invitedAt",
    "acceptedAt",
}


def assert_project_shape(body: dict) -> None:
    assert set(body) == PROJECT_KEYS
    assert all(isinstance(body[key], str) for key in PROJECT_KEYS)
    assert ISO_DATETIME.match(body["createdAt"])
    assert ISO_DATETIME.match(body["updatedAt"])


def project_url(project: Project, suffix: str = "") -> str:
    return f"/api/projects/{project.id}{suffix}"


class TestAnonymousMode:
    def test_lists_the_local_project(self, anonymous_client: APIClient):
        response = anonymous_client.get("/api/projects")

        assert response.status_code == 200
        [local] = response.json()
        assert_project_shape(local)
        assert local["id"] == "local"

    def test_the_anonymous_user_owns_the_local_project(self, anonymous_client: APIClient):
        [member] = anonymous_client.get("/api/projects/local/members").json()

        assert member["userId"] == "00000000-0000-0000-0000-000000000001"
        assert member["email"] == "anonymous@local"
        assert member["role"] == "owner"

    def test_creates_projects_owned_by_the_anonymous_user(self, anonymous_client: APIClient):
        created = anonymous_client.post("/api/projects", {"name": "Side"}, format="json").json()

        ids = [project["id"] for project in anonymous_client.get("/api/projects").json()]
        assert ids == ["local", created["id"]]

    def test_the_local_project_cannot_be_deleted(self, anonymous_client: APIClient):
        response = anonymous_client.delete("/api/projects/local")

        assert response.status_code == 400
        assert response.json() == {"error": "The local project cannot be deleted"}
        assert Project.objects.filter(id="local").exists()


class TestProjectList:
    def test_lists_only_projects_the_caller_belongs_to(
        self, client_for, member, project, other_project
    ):
        response = client_for(member).get("/api/projects")

        assert response.status_code == 200
        assert [body["id"] for body in response.json()] == [project.id]

    def test_outsider_never_sees_another_projects_rows(self, client_for, outsider, project):
        bodies = client_for(outsider).get("/api/projects").json()

        assert project.id not in [body["id"] for body in bodies]

    def test_query_count_does_not_grow_with_projects(
        self, client_for, owner, django_assert_num_queries
    ):
        for _ in range(5):
            MemberFactory.create(user=owner, role=Role.OWNER)
        client = client_for(owner)

        # session, user, projects
        with django_assert_num_queries(3):
            response = client.get("/api/projects")
        assert len(response.json()) == 5


class TestProjectCreate:
    def test_creates_a_project_owned_by_the_caller(self, client_for, outsider):
        client = client_for(outsider)

        response = client.post("/api/projects", {"name": "Hello, World!"}, format="json")

        assert response.status_code == 201
        body = response.json()
        assert_project_shape(body)
        assert body["name"] == "Hello, World!"
        assert re.fullmatch(r"hello-world-[0-9a-f]{8}", body["slug"])
        [owner] = client.get(f"/api/projects/{body['id']}/members").json()
        assert (owner["email"], owner["role"]) == ("outsider@example.com", "owner")

    def test_slugs_are_unique_for_equal_names(self, client_for, outsider):
        client = client_for(outsider)
        first = client.post("/api/projects", {"name": "Same"}, format="json").json()
        second = client.post("/api/projects", {"name": "Same"}, format="json").json()

        assert first["slug"] != second["slug"]

    def test_name_without_letters_or_digits_still_gets_a_slug(self, client_for, outsider):
        body = client_for(outsider).post("/api/projects", {"name": "!!!"}, format="json").json()

        assert re.fullmatch(r"project-[0-9a-f]{8}", body["slug"])

    def test_missing_name_is_rejected_with_the_contract_message(self, client_for, outsider):
        response = client_for(outsider).post("/api/projects", {}, format="json")

        assert response.status_code == 400
        assert response.json()["error"] == "Name is required"


class TestProjectDetail:
    def test_member_gets_the_project(self, client_for, member, project):
        response = client_for(member).get(project_url(project))

        assert response.status_code == 200
        assert_project_shape(response.json())
        assert response.json()["id"] == project.id

    def test_admin_renames_the_project(self, client_for, admin, project):
        response = client_for(admin).put(project_url(project), {"name": "Renamed"}, format="json")

        assert response.status_code == 200
        assert response.json()["name"] == "Renamed"
        project.refresh_from_db()
        assert project.name == "Renamed"

    def test_member_cannot_rename(self, client_for, member, project):
        response = client_for(member).put(project_url(project), {"name": "X"}, format="json")

        assert response.status_code == 403
        assert response.json() == {"error": "Admin access required"}
        project.refresh_from_db()
        assert project.name == "Team Project"

    def test_owner_deletes_the_project(self, client_for, owner, project):
        client = client_for(owner)

        response = client.delete(project_url(project))

        assert response.status_code == 200
        assert response.json() == {"success": True}
        assert client.get(project_url(project)).status_code == 404
        assert not ProjectMember.objects.filter(project_id=project.id).exists()

    @pytest.mark.parametrize("who", ["admin", "member"])
    def test_only_the_owner_deletes(self, client_for, project, who, request):
        response = client_for(request.getfixturevalue(who)).delete(project_url(project))

        assert response.status_code == 403
        assert response.json() == {"error": "Owner access required"}
        assert Project.objects.filter(id=project.id).exists()

    def test_unknown_project_is_404(self, client_for, owner):
        response = client_for(owner).get("/api/projects/6f1c7a52-0000-4000-8000-000000000000")

        assert response.status_code == 404
        assert response.json() == {"error": "Project not found"}

    @pytest.mark.parametrize("bad_id", ["abc", "123", "not-a-uuid-at-all", "local2"])
    def test_malformed_project_id_is_a_json_404(self, client_for, owner, bad_id):
        response = client_for(owner).get(f"/api/projects/{bad_id}")

        assert response.status_code == 404
        assert response.json() == {"error": "Not found"}


class TestIsolation:
    """A user of one project gets 404 for every path of another, whatever the method."""

    @pytest.mark.parametrize(
        ("method", "suffix", "body"),
        [
            ("get", "", None),
            ("put", "", {"name": "Hijacked"}),
            ("delete", "", None),
            ("get", "/members", None),
            ("delete", "/members/{owner_id}", None),
            ("post", "/invitations", {"email": "spy@example.com"}),
        ],
    )
    def test_outsider_gets_404_for_every_path(
        self, client_for, outsider, owner, project, method, suffix, body
    ):
        url = project_url(project, suffix.format(owner_id=owner.id))

        response = getattr(client_for(outsider), method)(url, body, format="json")

        assert response.status_code == 404
        assert response.json() == {"error": "Project not found"}
        project.refresh_from_db()
        assert project.name == "Team Project"
        assert project.memberships.count() == 3
        assert not project.invitations.exists()


class TestMembers:
    def test_lists_members_with_the_contract_shape(self, client_for, member, project, owner):
        response = client_for(member).get(project_url(project, "/members"))

        assert response.status_code == 200
        bodies = response.json()
        assert [body["role"] for body in bodies] == ["owner", "admin", "member"]
        for body in bodies:
            assert set(body) == MEMBER_KEYS
            assert body["projectId"] == project.id
        first = bodies[0]
        assert first["userId"] == str(owner.id)
        assert (first["email"], first["name"]) == ("owner@example.com", "Olivia Owner")
        assert first["avatarUrl"] is None
        assert ISO_DATETIME.match(first["acceptedAt"])

    def test_member_list_query_count_is_fixed(
        self, client_for, member, project, django_assert_num_queries
    ):
        for _ in range(4):
            MemberFactory.create(project=project)
        client = client_for(member)

        # session, user, membership, project, members with their users
        with django_assert_num_queries(5):
            response = client.get(project_url(project, "/members"))
        assert len(response.json()) == 7

    def test_admin_removes_a_member_who_then_loses_access(self, client_for, admin, member, project):
        response = client_for(admin).delete(project_url(project, f"/members/{member.id}"))

        assert response.status_code == 200
        assert response.json() == {"success": True}
        assert client_for(member).get(project_url(project)).status_code == 404

    def test_member_cannot_remove_others(self, client_for, member, admin, project):
        response = client_for(member).delete(project_url(project, f"/members/{admin.id}"))

        assert response.status_code == 403
        assert response.json() == {"error": "Admin access required"}
        assert project.memberships.filter(user=admin).exists()

    def test_member_may_leave(self, client_for, member, project):
        response = client_for(member).delete(project_url(project, f"/members/{member.id}"))

        assert response.status_code == 200
        assert not project.memberships.filter(user=member).exists()

    @pytest.mark.parametrize("who", ["owner", "admin"])
    def test_the_owner_cannot_be_removed(self, client_for, owner, project, who, request):
        client = client_for(request.getfixturevalue(who))

        response = client.delete(project_url(project, f"/members/{owner.id}"))

        assert response.status_code == 403
        assert response.json() == {"error": "Cannot remove project owner"}
        assert project.memberships.filter(user=owner).exists()

    def test_removing_a_non_member_is_404(self, client_for, admin, outsider, project):
        response = client_for(admin).delete(project_url(project, f"/members/{outsider.id}"))

        assert response.status_code == 404
        assert response.json() == {"error": "Member not found"}

    def test_non_uuid_user_id_is_404(self, client_for, admin, project):
        response = client_for(admin).delete(project_url(project, "/members/42"))

        assert response.status_code == 404
        assert "error" in response.json()


class TestInvitationCreate:
    def test_admin_invites_and_sees_the_token_once(self, client_for, admin, project):
        before = timezone.now()

        response = client_for(admin).post(
            project_url(project, "/invitations"),
            {"email": "New.Person@Example.com", "role": "admin"},
            format="json",
        )

        assert response.status_code == 201
        body = response.json()
        assert set(body) == {"id", "projectId", "email", "role", "token", "expiresAt", "createdAt"}
        assert body["projectId"] == project.id
        assert (body["email"], body["role"]) == ("new.person@example.com", "admin")
        assert re.fullmatch(r"[0-9a-f]{64}", body["token"])
        invitation = ProjectInvitation.objects.get(id=body["id"])
        assert invitation.expires_at - before >= timedelta(days=7)
        assert invitation.expires_at - before < timedelta(days=7, minutes=1)
        # Only the hash is kept: the table cannot be used to accept the invitation.
        assert invitation.token_hash == hashlib.sha256(body["token"].encode()).hexdigest()
        assert body["token"] not in str(ProjectInvitation.objects.values().get(id=body["id"]))

    def test_role_defaults_to_member(self, client_for, owner, project):
        body = (
            client_for(owner)
            .post(project_url(project, "/invitations"), {"email": "a@b.co"}, format="json")
            .json()
        )

        assert body["role"] == "member"

    def test_inviting_again_replaces_the_earlier_token(self, client_for, owner, project):
        client = client_for(owner)
        url = project_url(project, "/invitations")
        first = client.post(url, {"email": "a@b.co"}, format="json").json()
        second = client.post(url, {"email": "a@b.co"}, format="json").json()

        assert first["token"] != second["token"]
        assert project.invitations.count() == 1

    def test_member_cannot_invite(self, client_for, member, project):
        response = client_for(member).post(
            project_url(project, "/invitations"), {"email": "a@b.co"}, format="json"
        )

        assert response.status_code == 403
        assert response.json() == {"error": "Admin access required"}
        assert not project.invitations.exists()

    def test_existing_member_cannot_be_invited(self, client_for, owner, project):
        response = client_for(owner).post(
            project_url(project, "/invitations"), {"email": "MEMBER@example.com"}, format="json"
        )

        assert response.status_code == 409
        assert response.json() == {"error": "User is already a member of this project"}

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ({}, "Email is required"),
            ({"email": "not-an-email"}, "email: Enter a valid email address."),
            ({"email": "a@b.co", "role": "owner"}, 'role: "owner" is not a valid choice.'),
            ({"email": "a@b.co", "role": "king"}, 'role: "king" is not a valid choice.'),
        ],
    )
    def test_bad_invitations_are_rejected(self, client_for, owner, project, body, message):
        response = client_for(owner).post(project_url(project, "/invitations"), body, format="json")

        assert response.status_code == 400
        assert response.json()["error"] == message


def accept_in_path(client: APIClient, project: Project, token: str):
    return client.post(project_url(project, f"/invitations/{token}/accept"))


def accept_in_body(client: APIClient, project: Project, token: str):
    return client.post(project_url(project, "/invitations/accept"), {"token": token}, format="json")


class TestInvitationAccept:
    """The token may come in the path (the contract) or in the body (kept out of logs)."""

    @pytest.fixture(params=[accept_in_path, accept_in_body], ids=["path", "body"])
    def accept(self, request):
        return request.param

    def test_invited_user_becomes_a_member_with_the_role(self, accept, client_for, project, admin):
        invitee = UserFactory.create(email="invitee@example.com")
        InvitationFactory.create(
            project=project, email=invitee.email, role=Role.ADMIN, token="t" * 64, invited_by=admin
        )
        client = client_for(invitee)

        response = accept(client, project, "t" * 64)

        assert response.status_code == 200
        assert response.json() == {"success": True}
        membership = project.memberships.get(user=invitee)
        assert membership.role == Role.ADMIN
        assert membership.invited_by == admin
        assert membership.accepted_at is not None
        assert client.get(project_url(project)).status_code == 200

    def test_an_invitation_works_only_once(self, accept, client_for, project):
        invitee = UserFactory.create(email="invitee@example.com")
        InvitationFactory.create(project=project, email=invitee.email, token="a" * 64)
        client = client_for(invitee)
        accept(client, project, "a" * 64)

        response = accept(client, project, "a" * 64)

        assert response.status_code == 400
        assert response.json() == {"error": "Invitation not found"}
        assert not project.invitations.exists()

    def test_expired_invitation_is_rejected(self, accept, client_for, project):
        invitee = UserFactory.create(email="invitee@example.com")
        InvitationFactory.create(
            project=project,
            email=invitee.email,
            token="b" * 64,
            expires_at=timezone.now() - timedelta(seconds=1),
        )

        response = accept(client_for(invitee), project, "b" * 64)

        assert response.status_code == 400
        assert response.json() == {"error": "Invitation has expired"}
        assert not project.memberships.filter(user=invitee).exists()

    def test_only_the_invited_email_may_accept(self, accept, client_for, project, outsider):
        InvitationFactory.create(project=project, email="someone.else@example.com", token="c" * 64)

        response = accept(client_for(outsider), project, "c" * 64)

        assert response.status_code == 403
        assert not project.memberships.filter(user=outsider).exists()
        assert project.invitations.count() == 1

    def test_token_of_another_project_is_rejected(self, accept, client_for, project, other_project):
        invitee = UserFactory.create(email="invitee@example.com")
        InvitationFactory.create(project=other_project, email=invitee.email, token="d" * 64)

        response = accept(client_for(invitee), project, "d" * 64)

        assert response.status_code == 400
        assert not project.memberships.filter(user=invitee).exists()

    def test_unknown_token_is_rejected(self, accept, client_for, project, outsider):
        response = accept(client_for(outsider), project, "nonsense")

        assert response.status_code == 400
        assert response.json() == {"error": "Invitation not found"}

    def test_a_body_without_its_token_is_rejected(self, client_for, project, outsider):
        response = client_for(outsider).post(
            project_url(project, "/invitations/accept"), {}, format="json"
        )

        assert response.status_code == 400
        assert response.json()["error"] == "Token is required"


class TestBadInput:
    """Every body-taking endpoint answers malformed input with a 4xx and `{"error"}`."""

    @pytest.fixture
    def endpoints(self, project):
        return [
            ("post", "/api/projects"),
            ("put", project_url(project)),
            ("post", project_url(project, "/invitations")),
        ]

    @pytest.mark.parametrize(
        "body",
        [
            {"name": 123, "email": 123},
            {"name": ["x"], "email": {"a": 1}},
            {"name": True, "email": False},
            {"name": None, "email": None},
            {"name": "x" * 201, "email": ("x" * 250) + "@example.com"},
            {"name": "ok", "email": "ok@example.com", "surprise": 1},
            [1, 2, 3],
            "just a string",
        ],
    )
    def test_bad_json_bodies_get_400(self, client_for, owner, endpoints, body):
        client = client_for(owner)
        for method, url in endpoints:
            response = getattr(client, method)(url, body, format="json")

            assert response.status_code == 400, (url, body, response.content)
            assert isinstance(response.json()["error"], str)

    @pytest.mark.parametrize("raw", [b"{", b"{'name': 'x'}", b"\xff\xfe", b'{"name": "x"'])
    def test_malformed_json_gets_400(self, client_for, owner, endpoints, raw):
        client = client_for(owner)
        for method, url in endpoints:
            response = getattr(client, method)(url, raw, content_type="application/json")

            assert response.status_code == 400, url
            assert response.json()["error"] == "Invalid request body: malformed JSON"

    def test_non_json_content_type_gets_415(self, client_for, owner):
        response = client_for(owner).post(
            "/api/projects", "name=x", content_type="application/x-www-form-urlencoded"
        )

        assert response.status_code == 415
        assert "error" in response.json()

    def test_unknown_field_is_named(self, client_for, owner):
        response = client_for(owner).post(
            "/api/projects", {"name": "x", "colour": "red"}, format="json"
        )

        assert response.status_code == 400
        assert response.json()["error"] == "Unknown field: colour"

    def test_wrong_method_gets_405(self, client_for, owner, project):
        response = client_for(owner).patch(project_url(project), {"name": "x"}, format="json")

        assert response.status_code == 405
        assert response.json() == {"error": 'Method "PATCH" not allowed.'}


class TestAuthRequired:
    @pytest.mark.parametrize(
        ("method", "url"),
        [
            ("get", "/api/projects"),
            ("post", "/api/projects"),
            ("get", "/api/projects/local"),
            ("get", "/api/projects/local/members"),
            ("post", "/api/projects/local/invitations"),
            ("post", f"/api/projects/local/invitations/{'e' * 64}/accept"),
            ("post", "/api/projects/local/invitations/accept"),
        ],
    )
    def test_without_a_login_the_api_answers_401(self, auth_enabled, db, method, url):
        response = getattr(APIClient(), method)(url, {}, format="json")

        assert response.status_code == 401
        assert response.json() == {"error": "Not authenticated"}


def test_project_factory_builds_unique_slugs():
    assert ProjectFactory.create().slug != ProjectFactory.create().slug
