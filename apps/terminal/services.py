"""Writes of the terminal app: a session's transcript recorded from its sandbox, bounded, pruned."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.credentials.selectors import project_secrets
from apps.terminal.models import (
    TRANSCRIPT_CALLER_TOKENS,
    TerminalEntryType,
    TerminalHistory,
    TerminalTranscript,
)
from apps.terminal.transcripts import CAPTURE_TIMEOUT_SECONDS, new_lines, sandbox_terminals_read
from apps.workspaces.models import Session
from apps.workspaces.sandboxes import session_sandbox_provider
from discobot.errors import ConflictError, NotFoundError
from discobot.redaction import SecretMasker

# Longer than a capture can take (its exec is bounded), so a lease outlives only a dead holder.
CAPTURE_LEASE = timedelta(seconds=2 * CAPTURE_TIMEOUT_SECONDS)
LEASE_POLL_SECONDS = 0.1


def transcript_capture(*, session: Session, final: bool = False) -> int:
    """Appends to the session's terminal history the lines its tmux terminals show that were
    not recorded yet, and returns how many.

    Called while a terminal is attached, when it detaches and (`final`) before the sandbox
    stops or goes, since its tmux servers end with it: the cursor's line is recorded too then,
    and the next capture starts afresh. A capture already running for the session (another
    tab, another server process) sees the same lines, so this one returns 0 at once, unless
    `final`, which waits for it. A sandbox that does not run has nothing to read.
    """
    TerminalTranscript.objects.get_or_create(session=session)
    if not lease_claim(session, wait=final):
        return 0
    try:
        transcript = TerminalTranscript.objects.get(session=session)
        try:
            provider = session_sandbox_provider(session)
            terminals = sandbox_terminals_read(provider, str(session.uuid))
        except (ConflictError, NotFoundError):
            terminals = {}
        # Masked before anything is compared or kept: the recorded tail lines are stored too.
        masker = SecretMasker(project_secrets(project=session.project))
        lines: list[str] = []
        states = {}
        for key, captured in terminals.items():
            shown = [masker.mask(line) for line in captured]
            found = new_lines(shown, transcript.terminals.get(key, {}), final=final)
            lines += found.lines
            states[key] = found.state
        transcript_append(
            transcript=transcript,
            lines=lines,
            terminals={} if final else {**transcript.terminals, **states},
        )
    finally:
        TerminalTranscript.objects.filter(session=session).update(capturing_until=None)
    return len(lines)


@transaction.atomic
def transcript_tokens_add(*, session: Session, tokens: Sequence[str]) -> None:
    """Remembers (sealed) the tokens a caller attached with, for every capture to mask."""
    if not tokens:
        return
    TerminalTranscript.objects.get_or_create(session=session)
    transcript = TerminalTranscript.objects.select_for_update().get(session=session)
    known = TRANSCRIPT_CALLER_TOKENS.open(transcript) if transcript.caller_tokens else []
    if set(tokens) <= set(known):
        return
    TRANSCRIPT_CALLER_TOKENS.seal(transcript, sorted({*known, *tokens}))
    transcript.save(update_fields=["caller_tokens", "caller_tokens_key_id"])


def lease_claim(session: Session, *, wait: bool) -> bool:
    deadline = time.monotonic() + CAPTURE_LEASE.total_seconds()
    while True:
        now = timezone.now()
        claimed = (
            TerminalTranscript.objects.filter(session=session)
            .filter(Q(capturing_until__isnull=True) | Q(capturing_until__lt=now))
            .update(capturing_until=now + CAPTURE_LEASE)
        )
        if claimed or not wait or time.monotonic() > deadline:
            return bool(claimed)
        time.sleep(LEASE_POLL_SECONDS)


@transaction.atomic
def transcript_append(
    *, transcript: TerminalTranscript, lines: list[str], terminals: dict[str, object]
) -> None:
    """Records `lines` after the session's last, keeping its latest TERMINAL_HISTORY_MAX_LINES."""
    keep = settings.TERMINAL_HISTORY_MAX_LINES
    lines = lines[-keep:]
    first = transcript.next_line
    TerminalHistory.objects.bulk_create(
        TerminalHistory(
            session_id=transcript.session_id,
            line=first + offset,
            entry_type=TerminalEntryType.OUTPUT,
            content=content,
        )
        for offset, content in enumerate(lines)
    )
    transcript.next_line = first + len(lines)
    transcript.terminals = terminals
    transcript.save(update_fields=["next_line", "terminals"])
    if lines:
        TerminalHistory.objects.filter(
            session_id=transcript.session_id, line__lt=transcript.next_line - keep
        ).delete()


def terminal_history_prune(*, older_than: timedelta) -> int:
    """Deletes terminal history recorded more than `older_than` ago; returns how many lines."""
    deleted, _ = TerminalHistory.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
