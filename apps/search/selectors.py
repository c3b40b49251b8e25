"""Search over a project's transcripts: the words of its chat messages, of its terminals'
recorded lines and of its agent's tool calls, whatever became of the sessions' sandboxes.

On PostgreSQL the words are found by full-text search (`websearch_to_tsquery`: stemmed words,
"quoted phrases", `-excluded`, `or`) through the GIN indexes this app's migrations make; on
SQLite every word of the query must appear, in any case. Hits come newest first on both, each
with an excerpt cut here around the first word found (ts_headline would drop what its parser
takes for HTML tags, and escape nothing).
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Expression, F, Func, Q, QuerySet, TextField, Value
from django.db.models.functions import Cast, Concat, Left

from apps.chat.models import Message
from apps.projects.models import Project
from apps.terminal.models import TerminalHistory
from apps.workspaces.models import SessionAction, SessionActionKind
from discobot.api.fields import whole
from discobot.errors import ApplicationError

# The language of the indexes' stemming ("failed" finds "fail", "fails"), in the migrations too.
SEARCH_CONFIG = "english"
# The start of a long text that is searched: PostgreSQL refuses a tsvector over 1 MB, so an
# index over a whole line of minified output could refuse the line. In the migrations too.
INDEXED_CHARS = 100_000
# PostgreSQL's parser takes `<...>` for an HTML tag (and drops it), and `src/app.py` or
# `example.com` for one word: these become spaces in the searched text and in the query, so
# that `script` finds `<script>` and `app` finds `src/app.py`. In the migrations too.
PARSER_SPLIT, PARSER_SPACES = "<>/.", "    "
LEXEMES = re.compile("'((?:[^']|'')*)'")
# The excerpt: characters before the first word found, and in all.
EXCERPT_BEFORE, EXCERPT_CHARS = 60, 200
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# `{µs since 1970}-{kind}-{key}`: every text of this shape is a cursor (17 digits of µs stay
# within the years a datetime holds; 18 of an id within a BigAutoField's).
CURSOR_PATTERN = "^[0-9]{1,17}-(?:(?:chat|terminal)-[0-9a-f]{32}|actions-[0-9]{1,18})$"
CURSOR = re.compile(whole(CURSOR_PATTERN))


class SearchKind(StrEnum):
    # In the order of hits of the same instant (the last first).
    CHAT = "chat"
    TERMINAL = "terminal"
    ACTIONS = "actions"


RANKS = {kind: rank for rank, kind in enumerate(SearchKind)}


@dataclass(frozen=True)
class SearchHit:
    kind: SearchKind
    session_id: str
    session_name: str
    created_at: datetime
    excerpt: str  # HTML: the words found in <mark>, everything else escaped
    message_id: str | None = None  # chat: the message; actions: the turn's assistant message
    line: int | None = None  # terminal: the line in the session's transcript
    action_id: int | None = None
    key: Any = None  # the row's primary key, which orders hits of the same instant

    @property
    def order(self) -> tuple[datetime, int, Any]:
        return self.created_at, RANKS[self.kind], self.key


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    kind: SearchKind
    key: Any


def search_document(kind: SearchKind) -> Expression | F:
    """The text of a row that is searched (its index's expression on PostgreSQL)."""
    if kind == SearchKind.CHAT:
        return F("search_text")  # already cut by the chat app
    if kind == SearchKind.TERMINAL:
        return Left("content", INDEXED_CHARS)
    return Left(
        Concat("tool", Value(" "), "input", Value(" "), "error", output_field=TextField()),
        INDEXED_CHARS,
    )


def searched_rows(kind: SearchKind, project: Project) -> QuerySet[Any]:
    if kind == SearchKind.CHAT:
        rows: QuerySet[Any] = Message.objects.all()
    elif kind == SearchKind.TERMINAL:
        rows = TerminalHistory.objects.all()
    else:
        rows = SessionAction.objects.filter(kind=SessionActionKind.TOOL_CALL)
    return rows.filter(session__project=project)


def query_words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def project_search(
    *,
    project: Project,
    text: str,
    kinds: Collection[SearchKind] = (),
    limit: int,
    before: str = "",
) -> tuple[list[SearchHit], str | None]:
    """A page of the project's transcripts holding the words of `text`, newest first, of the
    given kinds (every kind when none), and the cursor of the next page (None on the last).
    `before`: the cursor of the previous page."""
    after = cursor_read(before) if before else None
    hits: list[SearchHit] = []
    for kind in kinds or SearchKind:
        hits += kind_hits(kind, project, text, after=after, limit=limit + 1)
    hits.sort(key=lambda hit: hit.order, reverse=True)
    page = hits[:limit]
    return page, cursor_write(page[-1]) if len(hits) > limit else None


def kind_hits(
    kind: SearchKind, project: Project, text: str, *, after: Cursor | None, limit: int
) -> list[SearchHit]:
    """The newest `limit` hits of one kind (after the cursor)."""
    found = kind_rows(kind, project, text, after=after)
    if found is None:
        return []
    hits = []
    for row in found[:limit]:
        if "lexemes" in row:  # PostgreSQL's: words beginning with a stem found
            marks = [rf"\b{re.escape(lexeme)}\w*" for lexeme in row_lexemes(row["lexemes"])]
        else:
            marks = [re.escape(word) for word in query_words(text)]
        hits.append(
            SearchHit(
                kind=kind,
                session_id=row["session__id"],
                session_name=row["session__display_name"] or row["session__name"],
                created_at=row["created_at"],
                excerpt=excerpt_html(row["document"], marks),
                message_id=row.get("message_id") or None,
                line=row.get("line"),
                action_id=row["pk"] if kind == SearchKind.ACTIONS else None,
                key=row["pk"],
            )
        )
    return hits


def row_lexemes(tsquery: str) -> list[str]:
    """The lexemes of a tsquery's text (`'fail' & 'disk' <-> 'full'`)."""
    return [lexeme.replace("''", "'") for lexeme in LEXEMES.findall(tsquery)]


def parser_words(document: Expression | F) -> Func:
    return Func(
        document,
        Value(PARSER_SPLIT),
        Value(PARSER_SPACES),
        function="translate",
        output_field=TextField(),
    )


def kind_rows(
    kind: SearchKind, project: Project, text: str, *, after: Cursor | None = None
) -> QuerySet[Any] | None:
    """The rows of one kind holding the words, newest first, with their searched text
    (`document`) and on PostgreSQL the query's lexemes; None when the query has no words."""
    document = search_document(kind)
    rows = searched_rows(kind, project)
    if connection.vendor == "postgresql":
        spaced = text.translate(str.maketrans(PARSER_SPLIT, PARSER_SPACES))
        query = SearchQuery(spaced, search_type="websearch", config=SEARCH_CONFIG)
        vector = SearchVector(parser_words(document), config=SEARCH_CONFIG)
        rows = rows.alias(words=vector).filter(words=query)
        rows = rows.annotate(lexemes=Cast(query, TextField()))
    else:
        words = query_words(text)
        if not words:
            return None
        rows = rows.alias(searched=document)
        for word in words:
            rows = rows.filter(searched__icontains=word)
    if after is not None:
        rows = rows.filter(cursor_after(kind, after))
    fields = ["pk", "created_at", "session__id", "session__name", "session__display_name"]
    fields.append("line" if kind == SearchKind.TERMINAL else "message_id")
    if connection.vendor == "postgresql":
        fields.append("lexemes")
    ordered: QuerySet[Any] = rows.annotate(document=document).order_by("-created_at", "-pk")
    return ordered.values(*fields, "document")


def excerpt_html(document: str, marks: list[str]) -> str:
    """The part of `document` around the first text matching one of the `marks` patterns (any
    case), as HTML: every match in <mark>, the rest escaped, an ellipsis where it was cut."""
    if not marks:
        marks = ["(?!)"]
    pattern = re.compile("|".join(marks), re.IGNORECASE)
    first = pattern.search(document)
    start = max(0, first.start() - EXCERPT_BEFORE) if first else 0
    end = min(len(document), start + EXCERPT_CHARS)
    # Cut at spaces rather than inside words, where there are spaces near enough.
    if start > 0:
        space = document.find(" ", start, first.start() if first else end)
        start = space + 1 if space != -1 else start
    if end < len(document):
        space = document.rfind(" ", start, end)
        end = space if space > (first.end() if first else start) else end
    shown = document[start:end]
    parts, done = [], 0
    for match in pattern.finditer(shown):
        parts += [html.escape(shown[done : match.start()]), f"<mark>{html.escape(match[0])}</mark>"]
        done = match.end()
    parts.append(html.escape(shown[done:]))
    return ("…" if start > 0 else "") + "".join(parts) + ("…" if end < len(document) else "")


def cursor_after(kind: SearchKind, cursor: Cursor) -> Q:
    """The rows of `kind` after the cursor in the order of hits: time, then kind, then key, all
    descending."""
    if RANKS[kind] < RANKS[cursor.kind]:
        return Q(created_at__lte=cursor.created_at)
    if RANKS[kind] > RANKS[cursor.kind]:
        return Q(created_at__lt=cursor.created_at)
    return Q(created_at__lt=cursor.created_at) | Q(created_at=cursor.created_at, pk__lt=cursor.key)


def cursor_write(hit: SearchHit) -> str:
    micros = (hit.created_at - EPOCH) // timedelta(microseconds=1)
    key = hit.key.hex if isinstance(hit.key, UUID) else str(hit.key)
    return f"{micros}-{hit.kind}-{key}"


def cursor_read(value: str) -> Cursor:
    """The cursor `cursor_write` wrote, or a 400."""
    if not CURSOR.search(value):
        raise ApplicationError("Invalid cursor: pass the `next` of the previous page")
    micros, kind, key = value.split("-")
    created_at = EPOCH + timedelta(microseconds=int(micros))
    parsed = int(key) if kind == SearchKind.ACTIONS else UUID(hex=key)
    return Cursor(created_at=created_at, kind=SearchKind(kind), key=parsed)
