"""GET /api/projects/{pid}/search: the words of a project's chat messages, terminal lines and
tool calls, found for its members only, newest first, with the words marked in an excerpt."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from apps.chat.models import ChatTurn, TurnStatus
from apps.chat.runner import message_save
from apps.chat.services import ChatRequest, chat_turn_begin
from apps.projects.models import Project
from apps.search.selectors import SearchKind, kind_rows
from apps.workspaces.models import SessionActionKind, SessionStatus
from apps.workspaces.services import session_action_record
from tests.terminal.factories import TerminalHistoryFactory
from tests.workspaces.factories import SessionFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def session_of(project, session_id: str = "s-1", **fields):
    workspace = WorkspaceFactory.create(project=project)
    return SessionFactory.create(workspace=workspace, id=session_id, **fields)


def user_says(session, text: str, user=None) -> str:
    """The user's message, stored as POST /chat stores it; returns its id."""
    message_id = f"u-{ChatTurn.objects.count()}"
    message = {"id": message_id, "role": "user", "parts": [{"type": "text", "text": text}]}
    turn = chat_turn_begin(
        project=session.project,
        user=user,
        request=ChatRequest(session_id=session.id, messages=[message]),
    )
    ChatTurn.objects.filter(pk=turn.pk).update(status=TurnStatus.DONE)
    return message_id


def assistant_answers(session, *parts: dict) -> str:
    """The agent's answer, saved as the turn runner saves it; returns its id."""
    turn = ChatTurn.objects.create(session=session, message_id=f"a-{ChatTurn.objects.count()}")
    ChatTurn.objects.filter(pk=turn.pk).update(status=TurnStatus.DONE)
    message = {"id": turn.message_id, "role": "assistant", "parts": list(parts)}
    message_save(turn_id=turn.pk, message=message)
    return turn.message_id


def printed(session, *lines: str) -> None:
    for content in lines:
        TerminalHistoryFactory.create(session=session, content=content)


def tool_called(session, tool: str, arguments: dict, error: str = "") -> int:
    action = session_action_record(
        session_pk=session.pk,
        kind=SessionActionKind.TOOL_CALL,
        message_id="a-1",
        tool=tool,
        arguments=arguments,
        error=error,
    )
    return action.id


def search(client, project, query: str):
    return client.get(f"/api/projects/{project.id}/search?{query}")


def hits(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["hits"]


def marked(hit: dict) -> list[str]:
    return [word.lower() for word in re.findall("<mark>(.*?)</mark>", hit["excerpt"])]


@pytest.fixture
def session(project):
    return session_of(project, display_name="Fix the deploy")


@pytest.fixture
def client(client_for, member):
    return client_for(member)


def test_finds_a_word_the_user_said_and_a_word_the_agent_answered(client, project, session):
    asked = user_says(session, "Why does the pipeline keep failing on Mondays?")
    answered = assistant_answers(
        session,
        {"type": "reasoning", "text": "The cron pipeline runs at midnight.", "state": "done"},
        {"type": "text", "text": "It fails because the cache expires.", "state": "done"},
    )

    found = hits(search(client, project, "q=pipeline"))

    assert [(hit["kind"], hit["messageId"]) for hit in found] == [
        ("chat", answered),
        ("chat", asked),
    ]
    assert {hit["sessionId"] for hit in found} == {"s-1"}
    assert {hit["sessionName"] for hit in found} == {"Fix the deploy"}
    assert all(marked(hit) == ["pipeline"] for hit in found)
    assert hits(search(client, project, "q=cache"))[0]["messageId"] == answered


def test_finds_what_a_tool_of_the_agent_was_given_and_answered(client, project, session):
    answered = assistant_answers(
        session,
        {
            "type": "dynamic-tool",
            "toolName": "Bash",
            "toolCallId": "call-1",
            "state": "output-available",
            "input": {"command": "kubectl rollout status"},
            "output": "deployment successfully rolled out",
        },
    )

    assert [hit["messageId"] for hit in hits(search(client, project, "q=kubectl"))] == [answered]
    assert [hit["messageId"] for hit in hits(search(client, project, "q=deployment"))] == [answered]


def test_finds_a_word_printed_in_the_terminal(client, project, session):
    printed(session, "$ make test", "Error: disk quota exceeded", "ok")

    found = hits(search(client, project, "q=quota"))

    assert [(hit["kind"], hit["sessionId"]) for hit in found] == [("terminal", "s-1")]
    assert found[0]["line"] is not None
    assert (found[0]["messageId"], found[0]["actionId"]) == (None, None)
    assert marked(found[0]) == ["quota"]
    assert "disk" in found[0]["excerpt"]


def test_finds_a_tool_call_by_its_input(client, project, session):
    action_id = tool_called(session, "Bash", {"command": "terraform apply -auto-approve"})

    found = hits(search(client, project, "q=terraform"))

    assert [(hit["kind"], hit["actionId"], hit["messageId"]) for hit in found] == [
        ("actions", action_id, "a-1")
    ]
    assert marked(found[0]) == ["terraform"]


def test_kind_keeps_only_the_kinds_asked_for(client, project, session):
    user_says(session, "rebuild the widget")
    printed(session, "widget built")
    tool_called(session, "Write", {"path": "widget.py"})

    def kinds(query: str) -> set[str]:
        return {hit["kind"] for hit in hits(search(client, project, query))}

    assert kinds("q=widget") == {"chat", "terminal", "actions"}
    assert kinds("q=widget&kind=terminal") == {"terminal"}
    assert kinds("q=widget&kind=chat,actions") == {"chat", "actions"}


def test_every_word_must_be_there(client, project, session):
    printed(session, "disk full", "disk ok", "memory full")

    found = hits(search(client, project, "q=full+disk"))

    assert [hit["excerpt"].count("<mark>") for hit in found] == [2]


def test_the_excerpt_marks_the_words_and_escapes_everything_else(client, project, session):
    user_says(session, 'Run <script>alert("x")</script> & then deploy to staging')

    (hit,) = hits(search(client, project, "q=deploy"))

    assert marked(hit) == ["deploy"]
    assert "<script>" not in hit["excerpt"]
    assert "&lt;script&gt;" in hit["excerpt"]
    assert "&amp;" in hit["excerpt"]
    assert re.sub("</?mark>", "", hit["excerpt"]).count("<") == 0


def test_a_long_text_is_cut_around_the_word(client, project, session):
    filler = " ".join(f"word{n}" for n in range(400))
    printed(session, f"{filler} needle {filler}")

    (hit,) = hits(search(client, project, "q=needle"))

    assert marked(hit) == ["needle"]
    assert len(hit["excerpt"]) < 600


def test_never_returns_another_project_s_data(
    client_for, member, outsider, project, other_project, session
):
    user_says(session, "the secret plan is ready")
    printed(session, "plan printed")
    theirs = session_of(other_project, "theirs")
    user_says(theirs, "their own plan")
    printed(theirs, "their plan printed")
    tool_called(theirs, "Bash", {"command": "echo plan"})

    ours = hits(search(client_for(member), project, "q=plan"))
    their_hits = hits(search(client_for(outsider), other_project, "q=plan"))

    assert len(ours) == 2
    assert {hit["sessionId"] for hit in ours} == {"s-1"}
    assert len(their_hits) == 3
    assert {hit["sessionId"] for hit in their_hits} == {"theirs"}


def test_an_outsider_gets_404(client_for, outsider, project, session):
    user_says(session, "hello world")

    response = search(client_for(outsider), project, "q=hello")

    assert response.status_code == 404
    assert response.json()["error"]


def test_anonymous_mode_searches_the_local_project(anonymous_client):
    local = Project.objects.get(id="local")
    printed(session_of(local, "local-1"), "hello from the local project")

    found = hits(search(anonymous_client, local, "q=hello"))

    assert [hit["sessionId"] for hit in found] == ["local-1"]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "q=",
        "q=%20%20",
        "q=" + "x" * 201,
        "q=a%00b",
        "q=hello&kind=email",
        "q=hello&kind=chat,",
        "q=hello&limit=0",
        "q=hello&limit=101",
        "q=hello&before=yesterday",
        "q=hello&before=1-chat-abc",
        "q=hello&before=99999999999999999-actions-99999999999999999999",
    ],
)
def test_a_bad_query_is_a_400(client, project, query):
    response = search(client, project, query)

    assert response.status_code == 400
    assert response.json()["error"]


def test_pages_come_newest_first_and_meet_without_gaps(client, project, session):
    user_says(session, "alpha one")
    printed(session, *(f"alpha line {n}" for n in range(5)))
    user_says(session, "alpha two")
    for n in range(3):
        tool_called(session, "Bash", {"command": f"echo alpha {n}"})
    everything = hits(search(client, project, "q=alpha&limit=100"))

    seen, cursor = [], None
    while True:
        query = "q=alpha&limit=3" + (f"&before={cursor}" if cursor else "")
        page = search(client, project, query).json()
        seen += page["hits"]
        cursor = page["next"]
        if cursor is None:
            break

    assert len(everything) == 10
    assert seen == everything
    times = [hit["createdAt"] for hit in everything]
    assert times == sorted(times, reverse=True)


def test_transcripts_stay_searchable_after_the_sandbox_is_gone(client, project):
    gone = session_of(
        project,
        "gone",
        status=SessionStatus.STOPPED,
        sandbox_provider="",
        sandbox_stopped_reason="removed outside Discobot",
    )
    user_says(gone, "set up the database")
    printed(gone, "Applying migrations... done")

    found = hits(search(client, project, "q=migrations"))

    assert [(hit["kind"], hit["sessionId"]) for hit in found] == [("terminal", "gone")]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the indexes are PostgreSQL's")
@pytest.mark.parametrize("kind", list(SearchKind))
def test_on_postgresql_the_search_reads_its_full_text_index(project, kind):
    rows = kind_rows(kind, project, "disk full")
    assert rows is not None
    with connection.cursor() as cursor:
        # Tables this small are read whole; without that choice the planner shows which
        # index can answer the words.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_nestloop = off")

    plan = rows[:20].explain()

    index = {
        SearchKind.CHAT: "message_search_idx",
        SearchKind.TERMINAL: "terminal_search_idx",
        SearchKind.ACTIONS: "session_action_search_idx",
    }[kind]
    assert f"Bitmap Index Scan on {index}" in plan
