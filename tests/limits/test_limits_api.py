"""A project's limits through the API, by who asks: owners and admins set them, members read
the project's and their own, outsiders see nothing; and the instance's defaults."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.chat.models import ChatTurn, Message
from apps.limits.models import LimitUsage
from apps.limits.selectors import period_start
from apps.limits.services import limit_usages_prune
from tests.workspaces.factories import SessionFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def limits_url(project) -> str:
    return f"/api/projects/{project.id}/limits"


def put(client, project, limits: list[dict]):
    return client.put(limits_url(project), {"limits": limits}, format="json")


COST_PER_DAY = {"scope": "project", "metric": "cost", "window": "day", "amount": 10}


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_owners_and_admins_replace_the_limits_and_see_what_is_used(
    client_for, project, member, who, request
):
    client = client_for(request.getfixturevalue(who))
    mine = {"scope": "member", "userId": str(member.id), "metric": "tokens", "window": "month"}

    response = put(client, project, [COST_PER_DAY, {**mine, "amount": 5000}])

    assert response.status_code == 200, response.json()
    shown = {(limit["scope"], limit["metric"]): limit for limit in response.json()["limits"]}
    assert set(shown) == {("project", "cost"), ("member", "tokens")}
    cost = shown[("project", "cost")]
    assert (cost["amount"], cost["used"], cost["window"]) == (10, 0, "day")
    assert cost["resetsAt"].endswith("Z")
    assert shown[("member", "tokens")]["userEmail"] == member.email
    assert put(client, project, []).status_code == 200
    assert client.get(limits_url(project)).json()["limits"] == []


def test_changing_the_limits_is_in_the_audit_log(client_for, project, owner):
    put(client_for(owner), project, [COST_PER_DAY])

    entry = AuditEntry.objects.get(action="limits.updated")
    assert (entry.actor, entry.project_id) == (owner, project.id)
    assert entry.changes["limits"] == [[], ["project cost:day:10"]]


def test_a_member_reads_the_project_s_limits_and_their_own_but_cannot_change_them(
    client_for, project, member, admin
):
    put(
        client_for(admin),
        project,
        [
            COST_PER_DAY,
            {
                "scope": "member",
                "userId": str(member.id),
                "metric": "turns",
                "window": "day",
                "amount": 3,
            },
            {
                "scope": "member",
                "userId": str(admin.id),
                "metric": "turns",
                "window": "day",
                "amount": 9,
            },
        ],
    )
    client = client_for(member)

    shown = client.get(limits_url(project)).json()["limits"]
    assert sorted((limit["scope"], limit["amount"]) for limit in shown) == [
        ("member", 3),
        ("project", 10),
    ]
    refused = put(client, project, [])
    assert refused.status_code == 403
    assert refused.json()["error"]


def test_an_outsider_gets_404_reading_or_changing_the_limits(client_for, project, outsider):
    client = client_for(outsider)

    assert client.get(limits_url(project)).status_code == 404
    assert put(client, project, [COST_PER_DAY]).status_code == 404


@pytest.mark.parametrize(
    ("limit", "words"),
    [
        ({**COST_PER_DAY, "metric": "dollars"}, "metric"),
        ({**COST_PER_DAY, "window": "week"}, "window"),
        ({**COST_PER_DAY, "amount": -1}, "amount"),
        ({**COST_PER_DAY, "metric": "tokens", "amount": 1.5}, "whole number"),
        ({**COST_PER_DAY, "scope": "member"}, "userId"),
        ({**COST_PER_DAY, "metric": "concurrent_turns", "amount": 2}, "no window"),
        ({"scope": "project", "metric": "turns", "amount": 2}, "Window is required"),
        ({**COST_PER_DAY, "size": 3}, "Unknown field"),
    ],
)
def test_a_malformed_limit_is_refused_with_words_that_say_why(
    client_for, project, owner, limit, words
):
    response = put(client_for(owner), project, [limit])

    assert response.status_code == 400
    assert words in response.json()["error"]


def test_a_member_limit_names_a_member_and_each_limit_is_given_once(
    client_for, project, owner, outsider
):
    client = client_for(owner)
    stranger = {**COST_PER_DAY, "scope": "member", "userId": str(outsider.id)}

    assert "not a member" in put(client, project, [stranger]).json()["error"]
    assert "given twice" in put(client, project, [COST_PER_DAY, COST_PER_DAY]).json()["error"]


@pytest.fixture
def session(project):
    return SessionFactory.create(workspace=WorkspaceFactory.create(project=project), id="s-1")


def test_the_instance_default_refuses_a_turn_where_the_project_set_no_limit(
    client_for, project, member, session, settings
):
    settings.DEFAULT_LIMITS = ["turns:day:0"]
    client = client_for(member)
    body = {
        "id": session.id,
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Hello"}]}],
    }

    response = client.post(f"/api/projects/{project.id}/chat", body, format="json")

    assert response.status_code == 429
    assert "This project's turn limit of 0 turns per day is used up" in response.json()["error"]
    assert 0 < int(response["Retry-After"]) <= 24 * 60 * 60
    assert (Message.objects.count(), ChatTurn.objects.count()) == (0, 0)
    [default] = client.get(limits_url(project)).json()["limits"]
    assert (default["metric"], default["amount"], default["default"]) == ("turns", 0, True)


def test_the_project_s_own_limit_replaces_the_instance_default(
    client_for, project, owner, settings
):
    settings.DEFAULT_LIMITS = ["cost:day:1", "turns:minute:30"]
    client = client_for(owner)

    shown = put(client, project, [COST_PER_DAY]).json()["limits"]

    assert sorted((limit["metric"], limit["amount"], limit["default"]) for limit in shown) == [
        ("cost", 10, False),
        ("turns", 30, True),
    ]


def test_counters_of_periods_that_are_over_are_pruned(project):
    now = timezone.now()
    for window, start in (
        ("minute", period_start("minute", now) - timedelta(minutes=1)),
        ("minute", period_start("minute", now)),
        ("day", period_start("day", now) - timedelta(days=1)),
        ("total", period_start("total", now)),
    ):
        LimitUsage.objects.create(
            project=project, metric="tokens", window=window, period_start=start, used=Decimal(5)
        )

    assert limit_usages_prune() == 2
    assert sorted(LimitUsage.objects.values_list("window", flat=True)) == ["minute", "total"]
