"""`/metrics`: what this process served (by route), and what the database holds, read at each
scrape; open in anonymous mode, only for METRICS_TOKEN's bearer with auth on."""

from __future__ import annotations

import asyncio
import urllib.request
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from apps.chat.models import ChatTurn, TurnStatus, TurnUsage
from apps.core.models import Job, JobStatus
from apps.workspaces.models import SessionStatus
from discobot.metrics import WEBSOCKETS_OPEN, WebSocketsCounted
from tests.servers import Server, running_server
from tests.sse import EventStreamClient
from tests.waiting import wait_for
from tests.workspaces.factories import SessionFactory

TOKEN = "metrics-token-0123456789abcdef"
WORKSPACES_ROUTE = "api/projects/<project_id:project_id>/workspaces"


def scrape(client: Client, **headers: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def sample(series: dict, name: str, **labels: str) -> float:
    return series.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def web(db) -> Client:
    return Client(headers={"Host": "localhost"})


def test_requests_are_counted_and_timed_by_route_not_path(web):
    labels = {"method": "GET", "route": WORKSPACES_ROUTE}
    before = scrape(web)

    assert web.get("/api/projects/local/workspaces").status_code == 200

    after = scrape(web)
    counted = "discobot_http_requests_total"
    timed = "discobot_http_request_duration_seconds_count"
    assert sample(after, counted, **labels, status="200") == (
        sample(before, counted, **labels, status="200") + 1
    )
    assert sample(after, timed, **labels) == sample(before, timed, **labels) + 1
    assert not any("/local/" in dict(key).get("route", "") for _, key in after)


def test_the_job_queue_is_read_from_the_database(web, project):
    waited = timedelta(minutes=5)
    job = Job.objects.create(
        project=project,
        type="workspace_init",
        resource_type="workspace",
        resource_id="w1",
        max_attempts=3,
    )
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - waited)
    Job.objects.create(
        project=project,
        type="workspace_init",
        resource_type="workspace",
        resource_id="w2",
        max_attempts=3,
        status=JobStatus.RUNNING,
    )

    series = scrape(web)

    assert sample(series, "discobot_jobs", status="pending") == 1
    assert sample(series, "discobot_jobs", status="running") == 1
    assert sample(series, "discobot_job_oldest_pending_age_seconds") >= waited.total_seconds()


def test_sandboxes_turns_and_tokens_are_read_from_the_database(web):
    session = SessionFactory.create(status=SessionStatus.READY, sandbox_provider="local")
    SessionFactory.create(project=session.project, workspace=session.workspace)  # no sandbox
    for status in (TurnStatus.DONE, TurnStatus.DONE, TurnStatus.FAILED):
        ChatTurn.objects.create(session=session, message_id="m", status=status)
    TurnUsage.objects.create(
        project=session.project,
        session=session,
        message_id="m",
        input_tokens=120,
        output_tokens=30,
    )

    series = scrape(web)

    assert sample(series, "discobot_sandboxes", state="ready") == 1
    assert sample(series, "discobot_sandboxes", state="stopped") == 0
    assert sample(series, "discobot_chat_turns_total", status="done") == 2
    assert sample(series, "discobot_chat_turns_total", status="failed") == 1
    assert sample(series, "discobot_chat_tokens_total", kind="input") == 120
    assert sample(series, "discobot_chat_tokens_total", kind="output") == 30


def test_with_auth_on_and_no_token_metrics_are_not_served(web, settings):
    settings.AUTH_ENABLED = True
    settings.METRICS_TOKEN = ""

    response = web.get("/metrics")

    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}"])
def test_with_auth_on_metrics_are_refused_without_the_token(web, settings, authorization):
    settings.AUTH_ENABLED = True
    settings.METRICS_TOKEN = TOKEN
    headers = {"Authorization": authorization} if authorization else {}

    response = web.get("/metrics", headers=headers)

    assert response.status_code == 401
    assert "error" in response.json()


def test_with_auth_on_the_token_s_bearer_reads_the_metrics(web, settings):
    settings.AUTH_ENABLED = True
    settings.METRICS_TOKEN = TOKEN

    series = scrape(web, Authorization=f"Bearer {TOKEN}")

    assert any(name == "discobot_http_requests_total" for name, _ in series)


def live_series(server: Server) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(server.base_url + "/metrics", timeout=30) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_an_open_event_stream_is_counted_until_it_ends(tmp_path):
    route = "api/projects/<project_id:project_id>/events"
    with running_server(tmp_path) as server:
        stream = EventStreamClient(server.base_url + "/api/projects/local/events")
        assert stream.status == 200

        wait_for(
            lambda: sample(live_series(server), "discobot_event_streams_open", route=route) == 1,
            timeout=30,
        )
        stream.connection.close()

        wait_for(
            lambda: sample(live_series(server), "discobot_event_streams_open", route=route) == 0,
            timeout=30,
        )


# Channels is untyped: its base is Any to mypy.
class Echo(AsyncWebsocketConsumer):  # type: ignore[misc, unused-ignore]
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=text_data)


# Channels closes old database connections around every message a consumer handles.
@pytest.mark.django_db
def test_an_accepted_websocket_is_counted_until_it_closes():
    counted: list[float] = []

    async def talk() -> None:
        client = WebsocketCommunicator(WebSocketsCounted(Echo.as_asgi()), "/echo")
        counted.append(WEBSOCKETS_OPEN._value.get())
        connected, _ = await client.connect()
        assert connected
        await client.send_to(text_data="hi")
        assert await client.receive_from() == "hi"
        counted.append(WEBSOCKETS_OPEN._value.get())
        await client.disconnect()
        # The consumer ends after the close, in its own time on a busy machine.
        for _ in range(200):
            if WEBSOCKETS_OPEN._value.get() == counted[0]:
                break
            await asyncio.sleep(0.05)
        counted.append(WEBSOCKETS_OPEN._value.get())

    async_to_sync(talk)()

    before, opened, closed = counted
    assert (opened, closed) == (before + 1, before)
