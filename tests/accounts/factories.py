import factory

from apps.accounts.models import AuthProvider, User


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    provider = AuthProvider.GITHUB
    provider_id = factory.Sequence(str)
