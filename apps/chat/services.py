from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from apps.accounts.models import User
from apps.chat import uistream
from apps.chat.log import chunks_write
from apps.chat.masking import masked_value
from apps.chat.models import CALLER_TOKENS, TURN_ACTIVE, ChatTurn, Message, MessageRole
from apps.chat.wakeups import runners_wake
from apps.credentials.selectors import project_secrets
from apps.limits.services import turn_admit
from apps.projects.models import Project
from apps.workspaces.models import Session
from apps.workspaces.services import session_create
from discobot.errors import ApplicationError, ConflictError
from discobot.redaction import SecretMasker

REGENERATE = "regenerate-message"
# What a client may say in a user message; anything else is dropped, never trusted.
USER_PART_TYPES = ("text", "file")
BUSY = "The agent is still answering in this session; wait for it or cancel it"


@dataclass(frozen=True)
class ChatRequest:
    """POST /chat's body, checked for shape (contract §4) but not yet for meaning."""

    session_id: str
    messages: list[dict[str, Any]]
    trigger: str = "submit-message"
    workspace_id: str | None = None
    agent_id: str | None = None
    model: str = ""


def user_parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    parts = message.get("parts")
    if not isinstance(parts, list):
        raise ApplicationError("A message's parts must be a list")
    kept = []
    for part in parts:
        if not isinstance(part, dict) or part.get("type") not in USER_PART_TYPES:
            continue
        if part["type"] == "text" and isinstance(part.get("text"), str):
            kept.append({"type": "text", "text": part["text"]})
        elif part["type"] == "file" and isinstance(part.get("url"), str):
            file = {"type": "file", "mediaType": str(part.get("mediaType", "")), "url": part["url"]}
            if isinstance(part.get("filename"), str):
                file["filename"] = part["filename"]
            kept.append(file)
    return kept


def first_text(parts: list[dict[str, Any]]) -> str:
    return next((part["text"] for part in parts if part["type"] == "text"), "")


@transaction.atomic
def chat_turn_begin(
    *,
    project: Project,
    user: User | None,
    request: ChatRequest,
    caller_tokens: Sequence[str] = (),
) -> ChatTurn:
    """Stores the new user message (or drops the answer to regenerate), creating the session
    on first use, and queues the turn that answers it. The server's history is the truth:
    from the request only the last user message is taken. `caller_tokens`: what the caller
    signed in with, masked like the project's secrets while the turn runs."""
    new = request.messages[-1] if request.messages else {}
    if not isinstance(new, dict):
        raise ApplicationError("Each message must be an object")
    regenerate = request.trigger == REGENERATE
    if not regenerate and new.get("role") != "user":
        raise ApplicationError("The last message must be the user's")
    # A secret the user pasted is not kept (nor sent to the model) either.
    masker = SecretMasker([*project_secrets(project=project), *caller_tokens])
    parts = [] if regenerate else masked_value(user_parts(new), masker)
    # Before anything is written: a turn over a limit stores nothing (429).
    turn_admit(project=project, user=user)
    session = project.sessions.filter(id=request.session_id).first()
    if session is None:
        if not request.workspace_id or not request.agent_id:
            raise ApplicationError("workspaceId and agentId are required for a new session")
        session = session_create(
            project=project,
            session_id=request.session_id,
            workspace_id=request.workspace_id,
            agent_id=request.agent_id,
            name=first_text(parts),
            model=request.model or "",
        )
    if ChatTurn.objects.filter(session=session, status__in=TURN_ACTIVE).exists():
        raise ConflictError(BUSY)
    if regenerate:
        last = Message.objects.filter(session=session).last()
        if last is None:
            raise ApplicationError("There is no answer to regenerate")
        if last.role == MessageRole.ASSISTANT:
            last.delete()
    else:
        if not parts:
            raise ApplicationError("The message has no text")
        message_id = str(new.get("id") or uuid.uuid4().hex)[:200]
        Message.objects.update_or_create(
            session=session,
            message_id=message_id,
            defaults={
                "role": MessageRole.USER,
                "parts": parts,
                "search_text": uistream.searchable_text(parts),
            },
        )
    try:
        with transaction.atomic():
            turn = ChatTurn(session=session, user=user, message_id=f"msg-{uuid.uuid4().hex}")
            if caller_tokens:
                CALLER_TOKENS.seal(turn, list(caller_tokens))
            turn.save(force_insert=True)
    except IntegrityError:  # another request began one at the same moment
        raise ConflictError(BUSY) from None
    # The stream's first chunk, there before a runner takes the turn.
    chunks_write(turn_id=turn.pk, after_seq=0, chunks=[uistream.start(turn.message_id)])
    transaction.on_commit(runners_wake)
    return turn


def chat_turn_cancel(*, session: Session) -> bool:
    """Asks the turn's runner to stop it (within its poll interval); False when none runs."""
    return bool(
        ChatTurn.objects.filter(session=session, status__in=TURN_ACTIVE).update(
            cancel_requested=True
        )
    )
