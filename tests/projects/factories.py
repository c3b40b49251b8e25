from datetime import timedelta

import factory
from django.utils import timezone

from apps.projects.models import Project, ProjectEvent, ProjectInvitation, ProjectMember, Role
from apps.projects.services import invitation_token_hash, project_slug
from tests.accounts.factories import UserFactory


class ProjectFactory(factory.django.DjangoModelFactory[Project]):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.LazyAttribute(lambda project: project_slug(project.name))


class MemberFactory(factory.django.DjangoModelFactory[ProjectMember]):
    class Meta:
        model = ProjectMember

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER
    accepted_at = factory.LazyFunction(timezone.now)


class InvitationFactory(factory.django.DjangoModelFactory[ProjectInvitation]):
    """Pass `token=` to know the plain token; only its hash is stored."""

    class Meta:
        model = ProjectInvitation
        exclude = ("token",)

    project = factory.SubFactory(ProjectFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = Role.MEMBER
    token = factory.Sequence(lambda n: f"{n:064x}")
    token_hash = factory.LazyAttribute(lambda invitation: invitation_token_hash(invitation.token))
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


class EventFactory(factory.django.DjangoModelFactory[ProjectEvent]):
    class Meta:
        model = ProjectEvent

    project = factory.SubFactory(ProjectFactory)
    seq = factory.Sequence(lambda n: n + 1)
    type = "workspace_updated"
    data = factory.LazyFunction(lambda: {"workspaceId": "w", "status": "ready"})
