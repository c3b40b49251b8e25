from __future__ import annotations

from apps.chat import uistream
from apps.chat.models import TURN_ACTIVE, ChatTurn, Message
from apps.workspaces.models import Session


def session_messages(*, session: Session) -> list[uistream.UIMessage]:
    """The session's UIMessages in order, as the AI SDK holds them."""
    messages = []
    for message in Message.objects.filter(session=session):
        shown: uistream.UIMessage = {
            "id": message.message_id,
            "role": message.role,
            "parts": message.parts,
        }
        if message.metadata is not None:
            shown["metadata"] = message.metadata
        messages.append(shown)
    return messages


def session_turn_active(*, session: Session) -> ChatTurn | None:
    """The turn answering in the session now, if one is."""
    return ChatTurn.objects.filter(session=session, status__in=TURN_ACTIVE).first()
