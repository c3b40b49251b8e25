import factory

from apps.terminal.models import TerminalEntryType, TerminalHistory
from tests.workspaces.factories import SessionFactory


class TerminalHistoryFactory(factory.django.DjangoModelFactory[TerminalHistory]):
    class Meta:
        model = TerminalHistory

    session = factory.SubFactory(SessionFactory)
    line = factory.Sequence(lambda n: n + 1)
    entry_type = TerminalEntryType.OUTPUT
    content = "ls -la"
