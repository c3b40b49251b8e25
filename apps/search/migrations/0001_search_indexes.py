"""GIN indexes for full-text search on PostgreSQL, over the expressions apps.search.selectors
searches (`search_document`); other databases search without them. They are not part of the
models' state, so that SQLite, which remakes a table from that state, never meets them."""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations
from django.db.models import F, Func, TextField, Value
from django.db.models.functions import Concat, Left

CONFIG = "english"  # selectors.SEARCH_CONFIG when these were made
INDEXED_CHARS = 100_000  # selectors.INDEXED_CHARS when these were made
PARSER_SPLIT, PARSER_SPACES = "<>/.", "    "  # selectors' when these were made

INDEXES = (
    ("chat", "Message", "message_search_idx", F("search_text")),
    ("terminal", "TerminalHistory", "terminal_search_idx", Left("content", INDEXED_CHARS)),
    (
        "workspaces",
        "SessionAction",
        "session_action_search_idx",
        Left(
            Concat("tool", Value(" "), "input", Value(" "), "error", output_field=TextField()),
            INDEXED_CHARS,
        ),
    ),
)


def search_index(name, document):
    spaced = Func(
        document,
        Value(PARSER_SPLIT),
        Value(PARSER_SPACES),
        function="translate",
        output_field=TextField(),
    )
    return GinIndex(SearchVector(spaced, config=CONFIG), name=name)


def indexes_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for app_label, model_name, name, document in INDEXES:
        index = search_index(name, document)
        schema_editor.add_index(apps.get_model(app_label, model_name), index)


def indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for app_label, model_name, name, document in INDEXES:
        index = search_index(name, document)
        schema_editor.remove_index(apps.get_model(app_label, model_name), index)


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0007_message_search_text"),
        ("terminal", "0004_history_lines_and_transcripts"),
        ("workspaces", "0007_session_action"),
    ]

    operations = [migrations.RunPython(indexes_create, indexes_drop)]
