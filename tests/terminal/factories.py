import factory

from apps.terminal.models import TerminalEntryType, TerminalHistory
from tests.workspaces.factories import SessionFactory


class TerminalHistoryFactory(factory.django.DjangoModelFactory[TerminalHistory]):
    class Meta:
        model = TerminalHistory

    session = factory.SubFactory(SessionFactory)
    entry_type = TerminalEntryType.INPUT
    content = "ls -la"
