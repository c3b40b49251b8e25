import factory

from apps.chat.models import Message, MessageRole
from tests.workspaces.factories import SessionFactory


class MessageFactory(factory.django.DjangoModelFactory[Message]):
    class Meta:
        model = Message

    session = factory.SubFactory(SessionFactory)
    message_id = factory.Sequence(lambda n: f"msg-{n}")
    role = MessageRole.USER
    parts = factory.LazyFunction(lambda: [{"type": "text", "text": "hello"}])
