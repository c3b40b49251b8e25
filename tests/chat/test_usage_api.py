"""The project's usage report and a session's audit trail, by who asks: owners and admins see
everyone's turns, a member only their own, an outsider nothing at all."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.chat.models import ChatTurn, TurnStatus, TurnUsage
from apps.chat.runner import message_save
from apps.workspaces.models import SessionActionKind
from apps.workspaces.services import session_action_record
from tests.workspaces.factories import SessionFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def turn_answered(session, user, *, tokens: tuple[int, int], cost: float, model: str) -> None:
    """A finished turn as the runner saves it: its message and its usage row."""
    turn = ChatTurn.objects.create(
        session=session, user=user, message_id=f"msg-{ChatTurn.objects.count()}"
    )
    ChatTurn.objects.filter(pk=turn.pk).update(status=TurnStatus.DONE)
    metadata = {
        "model": model,
        "usage": {"inputTokens": tokens[0], "outputTokens": tokens[1], "cachedTokens": 2},
        "cost": cost,
        "priced": True,
        "provider": "openai",
    }
    message = {"id": turn.message_id, "role": "assistant", "parts": [], "metadata": metadata}
    message_save(turn_id=turn.pk, message=message)


@pytest.fixture
def session(project):
    return SessionFactory.create(workspace=WorkspaceFactory.create(project=project), id="s-1")


@pytest.fixture
def answered(session, owner, member):
    turn_answered(session, owner, tokens=(100, 10), cost=0.25, model="openai/gpt-4.1")
    turn_answered(session, member, tokens=(40, 4), cost=0.5, model="openai/gpt-4.1")
    turn_answered(session, member, tokens=(10, 1), cost=0.125, model="anthropic/claude-x")


def usage(client, project, query: str = "groupBy=user"):
    return client.get(f"/api/projects/{project.id}/usage?{query}")


def test_the_usage_row_holds_what_the_message_says(answered, owner):
    row = TurnUsage.objects.get(user=owner)
    assert (row.input_tokens, row.output_tokens, row.cached_tokens) == (100, 10, 2)
    assert (row.cost, row.priced, row.provider) == (Decimal("0.25"), True, "openai")


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_owners_and_admins_see_everyone_s_usage_by_user(
    answered, client_for, project, who, request
):
    response = usage(client_for(request.getfixturevalue(who)), project)

    assert response.status_code == 200
    groups = {group["label"]: group for group in response.json()["groups"]}
    assert set(groups) == {"owner@example.com", "member@example.com"}
    assert (groups["member@example.com"]["turns"], groups["member@example.com"]["cost"]) == (
        2,
        0.625,
    )
    totals = response.json()["totals"]
    assert (totals["inputTokens"], totals["outputTokens"], totals["turns"]) == (150, 15, 3)
    assert totals["cost"] == 0.875


def test_a_member_sees_only_their_own_usage(answered, client_for, project, member):
    response = usage(client_for(member), project, "groupBy=model")

    assert response.status_code == 200
    assert [(group["key"], group["turns"]) for group in response.json()["groups"]] == [
        ("anthropic/claude-x", 1),
        ("openai/gpt-4.1", 1),
    ]
    assert response.json()["totals"]["cost"] == 0.625


def test_days_outside_from_and_to_are_not_counted(answered, client_for, project, owner):
    today = timezone.localdate()
    inside = usage(client_for(owner), project, f"groupBy=day&from={today}&to={today}")
    later = usage(client_for(owner), project, f"groupBy=day&from={today + timedelta(days=1)}")

    assert [group["key"] for group in inside.json()["groups"]] == [today.isoformat()]
    assert later.json() == {
        "groups": [],
        "totals": {
            "inputTokens": 0,
            "outputTokens": 0,
            "cachedTokens": 0,
            "reasoningTokens": 0,
            "cost": 0.0,
            "turns": 0,
        },
    }


@pytest.mark.parametrize("query", ["groupBy=week", "from=yesterday", "to=2024-13-01"])
def test_a_bad_query_is_a_400(client_for, project, owner, query):
    response = usage(client_for(owner), project, query)

    assert response.status_code == 400
    assert "error" in response.json()


def test_an_outsider_gets_404_for_usage_and_actions(answered, client_for, project, outsider):
    client = client_for(outsider)

    assert usage(client, project).status_code == 404
    assert client.get(f"/api/projects/{project.id}/sessions/s-1/actions").status_code == 404


def test_actions_page_newest_first(session, client_for, project, owner):
    for tool in ("Read", "Bash", "Write"):
        session_action_record(
            session_pk=session.pk, kind=SessionActionKind.TOOL_CALL, user_id=owner.pk, tool=tool
        )
    client = client_for(owner)
    url = f"/api/projects/{project.id}/sessions/s-1/actions"

    first = client.get(f"{url}?limit=2").json()
    rest = client.get(f"{url}?limit=2&before={first['next']}").json()

    assert [action["tool"] for action in first["actions"]] == ["Write", "Bash"]
    assert [action["tool"] for action in rest["actions"]] == ["Read"]
    assert rest["next"] is None
    assert first["actions"][0]["user"] == {"id": str(owner.pk), "email": "owner@example.com"}
