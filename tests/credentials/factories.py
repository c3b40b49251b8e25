import factory

from apps.credentials.models import AuthType, Credential
from tests.projects.factories import ProjectFactory


class CredentialFactory(factory.django.DjangoModelFactory[Credential]):
    class Meta:
        model = Credential

    project = factory.SubFactory(ProjectFactory)
    provider = "anthropic"
    name = "Anthropic"
    auth_type = AuthType.API_KEY
    encrypted_data = b"\x00sealed-bytes"
    is_configured = True
