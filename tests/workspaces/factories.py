import factory

from apps.workspaces.models import Session, SourceType, Workspace
from tests.projects.factories import ProjectFactory


class WorkspaceFactory(factory.django.DjangoModelFactory[Workspace]):
    class Meta:
        model = Workspace

    project = factory.SubFactory(ProjectFactory)
    path = factory.Sequence(lambda n: f"/srv/repos/repo{n}")
    source_type = SourceType.LOCAL


class SessionFactory(factory.django.DjangoModelFactory[Session]):
    class Meta:
        model = Session

    id = factory.Sequence(lambda n: f"session-{n}")
    workspace = factory.SubFactory(WorkspaceFactory)
    project = factory.SelfAttribute("workspace.project")
    name = "New Session"
