"""GET /sessions/{id}/terminal/history (contract §5): the latest lines, or those holding `q`."""

from __future__ import annotations

import pytest

from tests.terminal.factories import TerminalHistoryFactory
from tests.workspaces.factories import SessionFactory, WorkspaceFactory

ROW_KEYS = {"id", "session_id", "entry_type", "content", "exit_code", "created_at"}


@pytest.fixture
def session(project):
    return SessionFactory.create(id="s1", workspace=WorkspaceFactory.create(project=project))


@pytest.fixture
def history_url(project, session) -> str:
    return f"/api/projects/{project.id}/sessions/{session.id}/terminal/history"


def transcript(session, *lines: str) -> None:
    for content in lines:
        TerminalHistoryFactory.create(session=session, content=content)


def contents(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["content"] for row in response.json()["history"]]


def test_a_member_reads_the_latest_lines_oldest_first(client_for, member, session, history_url):
    transcript(session, "$ seq 3", "1", "2", "3")

    response = client_for(member).get(f"{history_url}?limit=2")

    assert contents(response) == ["2", "3"]
    row = response.json()["history"][0]
    assert set(row) == ROW_KEYS
    assert (row["session_id"], row["entry_type"], row["exit_code"]) == ("s1", "output", None)


def test_without_a_limit_the_latest_100_lines_come(client_for, member, session, history_url):
    transcript(session, *(f"line {n}" for n in range(120)))

    lines = contents(client_for(member).get(history_url))

    assert lines == [f"line {n}" for n in range(20, 120)]


def test_q_finds_the_lines_holding_the_text_in_any_case(client_for, member, session, history_url):
    transcript(session, "$ make test", "Error: disk full", "ok", "second error here", "100%_done")

    client = client_for(member)

    found = contents(client.get(f"{history_url}?q=ERROR"))
    assert found == ["Error: disk full", "second error here"]
    assert contents(client.get(f"{history_url}?q=error&limit=1")) == ["second error here"]
    assert contents(client.get(f"{history_url}?q=%25_")) == ["100%_done"]
    assert contents(client.get(f"{history_url}?q=nowhere")) == []


def test_history_is_the_sessions_own(client_for, member, project, session, history_url):
    other = SessionFactory.create(workspace=session.workspace)
    transcript(other, "not ours")
    transcript(session, "ours")

    assert contents(client_for(member).get(history_url)) == ["ours"]


@pytest.mark.parametrize("limit", ["0", "-1", "1001", "many", "1.5"])
def test_a_bad_limit_is_a_400(client_for, member, history_url, limit):
    response = client_for(member).get(f"{history_url}?limit={limit}")

    assert response.status_code == 400
    assert "limit" in response.json()["error"].lower()


def test_an_outsider_gets_404(client_for, outsider, session, history_url):
    transcript(session, "secret output")

    response = client_for(outsider).get(f"{history_url}?q=secret")

    assert response.status_code == 404
    assert "error" in response.json()


def test_an_unknown_session_is_a_404(client_for, member, project):
    response = client_for(member).get(f"/api/projects/{project.id}/sessions/nope/terminal/history")

    assert response.status_code == 404
    assert response.json() == {"error": "Session not found"}


@pytest.mark.parametrize("lines", [1, 50])
def test_the_query_count_does_not_grow_with_the_lines(
    client_for, member, session, history_url, lines, django_assert_num_queries
):
    transcript(session, *(f"line {n}" for n in range(lines)))
    client = client_for(member)

    # The browser session, its user, the membership, its project, the session, its workspace,
    # the lines.
    with django_assert_num_queries(7):
        assert len(contents(client.get(f"{history_url}?q=line"))) == lines
