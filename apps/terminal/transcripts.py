"""Reading a sandbox's terminals from tmux, and telling which lines are new since last time.

The transcript is tmux's own scrollback and screen (`capture-pane -p -J`): plain text without
escape sequences, wrapped lines joined (so a resize does not change it), the same however many
clients watch. While a full-screen program runs, its screen is left out: what is read is the
scrollback and the shell's screen that tmux keeps aside until the program ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from apps.sandbox.provider import SandboxProvider

# How many recorded lines mark where the next capture picks up.
TAIL_LINES = 16
CAPTURE_TIMEOUT_SECONDS = 30.0
# A full scrollback (TERMINAL_SCROLLBACK_LINES of long lines) for every terminal of a sandbox.
CAPTURE_OUTPUT_CAP = 32 * 1024 * 1024

# Record and unit separators: C0 controls that tmux never keeps in a pane's text.
TERMINAL_START = "\x1e"
TERMINAL_END = "\x1f"

# Run with the tmux command line as "$@". Each terminal comes as a header line
# (<RS>socket<TAB>name), its lines, then an <US> line once read completely. With a full-screen
# program on (alternate screen), the scrollback (-E -1: its last line; tmux would give the
# screen's first for an empty one) and the shell's screen set aside (-a) instead.
CAPTURE_SCRIPT = r"""
"$@" list-sessions -F '#{socket_path}	#{session_name}	#{alternate_on}	#{history_size}' \
  2>/dev/null </dev/null |
while IFS='	' read -r socket name alternate scrollback; do
  printf '\036%s\t%s\n' "$socket" "$name"
  if [ "$alternate" = 1 ]; then
    { [ "$scrollback" = 0 ] || "$@" capture-pane -p -J -S - -E -1 -t "=$name:"; } &&
      "$@" capture-pane -p -J -a -t "=$name:"
  else
    "$@" capture-pane -p -J -S - -t "=$name:"
  fi </dev/null && printf '\037\n'
done
"""


def sandbox_terminals_read(provider: SandboxProvider, sandbox: str) -> dict[str, list[str]]:
    """Every tmux terminal of the sandbox (its user's and root's) with its lines, keyed by its
    tmux server's socket and its name. Raises what `exec` raises for a sandbox that does not
    run."""
    terminals: dict[str, list[str]] = {}
    for root in (False, True):
        result = provider.exec(
            sandbox,
            ["sh", "-c", CAPTURE_SCRIPT, "sh", *provider.tmux_command(sandbox, root=root)],
            user="root" if root else None,
            timeout=CAPTURE_TIMEOUT_SECONDS,
            output_cap=CAPTURE_OUTPUT_CAP,
        )
        # The local provider's root is its user: the same server, read twice, counted once.
        terminals.update(terminals_parse(result.stdout.decode(errors="replace")))
    return terminals


def terminals_parse(output: str) -> dict[str, list[str]]:
    """The terminals read in full (a capture cut by the output cap ends without its mark)."""
    terminals: dict[str, list[str]] = {}
    key: str | None = None
    lines: list[str] = []
    for line in output.split("\n"):
        if line.startswith(TERMINAL_START):
            key, lines = line[1:].replace("\t", " ", 1), []
        elif line == TERMINAL_END and key is not None:
            terminals[key] = lines_clean(lines)
            key = None
        elif key is not None:
            lines.append(line)
    return terminals


def lines_clean(lines: Sequence[str]) -> list[str]:
    """Trailing spaces dropped, and the empty rows below the cursor."""
    cleaned = [line.rstrip() for line in lines]
    while cleaned and not cleaned[-1]:
        cleaned.pop()
    return cleaned


@dataclass(frozen=True)
class NewLines:
    lines: list[str]
    state: dict[str, Any]  # what the next capture of this terminal starts from


def new_lines(captured: Sequence[str], state: dict[str, Any], *, final: bool) -> NewLines:
    """The lines of a terminal's capture that were not recorded yet.

    The last line is held back unless `final`: it is where the cursor is (a prompt being typed
    at, a progress bar redrawn in place) and may still change. Recorded lines are found again
    by their last TAIL_LINES (`tail`), looked for at or above where they stood (`end`): lines
    only leave a capture from the top (the scrollback limit). Should the last of them have
    changed since, a shorter tail is tried. Not found at all, the terminal was cleared (or the
    scrollback limit dropped more than was recorded): every line is new.
    """
    committable = list(captured if final else captured[:-1])
    tail: list[str] = list(state.get("tail", []))
    end: int = state.get("end", 0)
    start = 0
    for dropped in range(len(tail)):
        found = anchor_find(committable, tail[: len(tail) - dropped], before=end - dropped)
        if found is not None:
            start = found  # lines of the tail that changed are recorded again, as they are now
            break
    return NewLines(
        lines=committable[start:],
        state={"tail": committable[-TAIL_LINES:], "end": len(committable)},
    )


def anchor_find(lines: Sequence[str], anchor: Sequence[str], *, before: int) -> int | None:
    """Where `anchor` ends in `lines` (the index after it), closest to `before` without
    passing it."""
    size = len(anchor)
    for end in range(min(before, len(lines)), size - 1, -1):
        if lines[end - 1] == anchor[-1] and lines[end - size : end] == anchor:
            return end
    return None
