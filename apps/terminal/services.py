"""Writes of the terminal app: a session's transcript recorded from its sandbox, bounded, pruned;
the legacy `terminal/execute` that runs one command there."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import User
from apps.credentials.selectors import project_secrets
from apps.terminal.models import (
    TRANSCRIPT_CALLER_TOKENS,
    TerminalEntryType,
    TerminalHistory,
    TerminalTranscript,
)
from apps.terminal.transcripts import (
    CAPTURE_TIMEOUT_SECONDS,
    lines_clean,
    new_lines,
    sandbox_terminals_read,
)
from apps.workspaces.models import SandboxUseKind, Session, SessionActionKind
from apps.workspaces.sandboxes import (
    sandbox_use_begin,
    sandbox_use_end,
    session_sandbox_provider,
)
from apps.workspaces.services import session_action_record
from discobot.errors import ConflictError, NotFoundError
from discobot.redaction import SecretMasker

# Longer than a capture can take (its exec is bounded), so a lease outlives only a dead holder.
CAPTURE_LEASE = timedelta(seconds=2 * CAPTURE_TIMEOUT_SECONDS)
LEASE_POLL_SECONDS = 0.1
# The legacy `POST /terminal/execute`: a command's time (well inside a sandbox use's lease,
# SANDBOX_USE_LEASE_SECONDS, so it needs no renewal) and its output kept.
EXECUTE_TIMEOUT_SECONDS = 60
EXECUTE_OUTPUT_MAX_BYTES = 64 * 1024
TIMED_OUT_EXIT_CODE = 124  # what timeout(1) answers
# stderr joins stdout for the rest of the script, so the two come interleaved as printed.
MERGED_OUTPUT = "exec 2>&1\n"


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


class HistoryEntry(NamedTuple):
    content: str
    entry_type: str = TerminalEntryType.OUTPUT
    exit_code: int | None = None


@transaction.atomic
def transcript_append(
    *,
    transcript: TerminalTranscript,
    lines: Sequence[str | HistoryEntry],
    terminals: dict[str, object],
) -> None:
    """Records `lines` (output lines, or entries of another type) after the session's last,
    keeping its latest TERMINAL_HISTORY_MAX_LINES."""
    keep = settings.TERMINAL_HISTORY_MAX_LINES
    entries = [line if isinstance(line, HistoryEntry) else HistoryEntry(line) for line in lines]
    entries = entries[-keep:]
    first = transcript.next_line
    TerminalHistory.objects.bulk_create(
        TerminalHistory(
            session_id=transcript.session_id,
            line=first + offset,
            entry_type=entry.entry_type,
            content=entry.content,
            exit_code=entry.exit_code,
        )
        for offset, entry in enumerate(entries)
    )
    transcript.next_line = first + len(entries)
    transcript.terminals = terminals
    transcript.save(update_fields=["next_line", "terminals"])
    if entries:
        TerminalHistory.objects.filter(
            session_id=transcript.session_id, line__lt=transcript.next_line - keep
        ).delete()


def terminal_history_prune(*, older_than: timedelta) -> int:
    """Deletes terminal history recorded more than `older_than` ago; returns how many lines."""
    deleted, _ = TerminalHistory.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted


@dataclass(frozen=True)
class CommandResult:
    output: str
    exit_code: int


def terminal_execute(*, session: Session, user: User, command: str) -> CommandResult:
    """The legacy `POST /terminal/execute`: runs `command` with bash in the session's sandbox
    (started on demand, held while the command runs), for at most EXECUTE_TIMEOUT_SECONDS. Its
    output (stdout and stderr interleaved) is cut past EXECUTE_OUTPUT_MAX_BYTES and masked of
    the project's secrets, then recorded in the session's actions and terminal history."""
    masker = SecretMasker(project_secrets(project=session.project))
    started = time.monotonic()
    use = sandbox_use_begin(session=session, kind=SandboxUseKind.TERMINAL, user=user)
    try:
        result = session_sandbox_provider(session).exec(
            str(session.uuid),
            ["bash", "-c", MERGED_OUTPUT + command],
            timeout=EXECUTE_TIMEOUT_SECONDS,
            output_cap=EXECUTE_OUTPUT_MAX_BYTES,
        )
    finally:
        sandbox_use_end(use)
    # PostgreSQL's text holds no NUL; nobody reads one in a terminal either.
    output = masker.mask(result.stdout.decode(errors="replace").replace("\x00", ""))
    exit_code, error = result.exit_code, ""
    if result.truncated:
        output += f"\n[output past {EXECUTE_OUTPUT_MAX_BYTES} bytes was cut]"
    if result.timed_out:
        exit_code = TIMED_OUT_EXIT_CODE
        error = f"The command timed out after {EXECUTE_TIMEOUT_SECONDS} s"
        output += f"\n[{error}]"
    shown_command = masker.mask(command.replace("\x00", ""))
    session_action_record(
        session_pk=session.pk,
        kind=SessionActionKind.TERMINAL_COMMAND,
        user_id=user.pk,
        tool="execute",
        arguments={"command": shown_command},
        exit_code=exit_code,
        error=error,
        duration_ms=round((time.monotonic() - started) * 1000),
    )
    terminal_command_record(
        session=session, command=shown_command, output=output, exit_code=exit_code
    )
    return CommandResult(output=output, exit_code=exit_code)


def terminal_command_record(*, session: Session, command: str, output: str, exit_code: int) -> None:
    """A command run outside a terminal, in the session's terminal history: the command (an
    `input` entry with its exit code), then its output lines. Taken under the capture lease, so
    that a capture running meanwhile numbers its lines after these."""
    TerminalTranscript.objects.get_or_create(session=session)
    lease_claim(session, wait=True)
    try:
        transcript = TerminalTranscript.objects.get(session=session)
        entry = HistoryEntry(command, TerminalEntryType.INPUT, exit_code)
        transcript_append(
            transcript=transcript,
            lines=[entry, *lines_clean(output.split("\n"))],
            terminals=transcript.terminals,
        )
    finally:
        TerminalTranscript.objects.filter(session=session).update(capturing_until=None)
