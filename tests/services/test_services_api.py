"""The services of a session (.discobot/services): listed with their front matter, started in
the sandbox, their output streamed, stopped (local provider)."""

from __future__ import annotations

import json
import urllib.request

import requests

from tests.services.conftest import ServicesSite
from tests.waiting import wait_for


def services(site: ServicesSite) -> dict[str, dict]:
    answer = requests.get(site.api, timeout=60)
    assert answer.status_code == 200, answer.text
    return {service["id"]: service for service in answer.json()["services"]}


def output_events(site: ServicesSite, service_id: str) -> list[dict]:
    """The output stream of the current run, read to its end."""
    events = []
    with requests.get(f"{site.api}/{service_id}/output", stream=True, timeout=60) as answer:
        assert answer.status_code == 200
        for raw in answer.iter_lines():
            line = raw.decode()
            if line.startswith("data: "):
                if line == "data: [DONE]":
                    break
                events.append(json.loads(line.removeprefix("data: ")))
    return events


def test_front_matter_in_each_comment_style_and_passive_services_are_listed(site):
    site.service_file("plain", "#!/bin/sh\n---\nname: Plain\nhttp: 8001\n---\necho hi\n")
    node = "#!/usr/bin/env node\n//---\n// name: Node\n//   https: 8443\n//---\nx\n"
    site.service_file("node", node)
    site.service_file("external", "---\nname: External\nhttp: 3000\n---\n\n", executable=False)
    site.service_file("notes", "just a text file\n", executable=False)

    listed = services(site)

    assert set(listed) == {"web", "plain", "node", "external"}
    web = listed["web"]
    assert web["name"] == "Web"
    assert web["description"] == "a tiny web server"
    assert web["http"] == site.port
    assert web["urlPath"] == "/index.txt"
    assert web["path"] == "/workspace/.discobot/services/web"
    assert web["status"] == "stopped"
    assert listed["plain"]["http"] == 8001 and listed["plain"]["name"] == "Plain"
    assert listed["node"]["https"] == 8443 and listed["node"]["name"] == "Node"
    assert listed["external"]["passive"] is True
    assert "passive" not in web


def test_a_started_service_runs_streams_its_output_and_stops(site):
    started = requests.post(f"{site.api}/web/start", timeout=60)
    assert started.status_code == 202, started.text
    assert started.json() == {"status": "starting", "serviceId": "web"}

    running = services(site)["web"]
    assert running["status"] == "running"
    assert running["pid"] > 0 and running["startedAt"]
    page = wait_for(lambda: fetch(f"http://127.0.0.1:{site.port}/index.txt"))
    assert page == "hello from the sandbox\n"

    again = requests.post(f"{site.api}/web/start", timeout=60)
    assert again.status_code == 409
    assert again.json() == {"error": "The service is already running"}

    stopped = requests.post(f"{site.api}/web/stop", timeout=60)
    assert stopped.json() == {"status": "stopped", "serviceId": "web"}
    assert services(site)["web"]["status"] == "stopped"
    assert fetch(f"http://127.0.0.1:{site.port}/index.txt") is None

    events = output_events(site, "web")
    stdout = "".join(e["data"] for e in events if e["type"] == "stdout")
    stderr = "".join(e["data"] for e in events if e["type"] == "stderr")
    assert f"serving on {site.port}" in stdout
    assert "to stderr" in stderr
    assert events[-1]["type"] == "exit"
    assert all(event["timestamp"] for event in events)


def test_a_service_that_ends_reports_its_exit_code_and_output_from_the_start(site):
    site.service_file("job", "#!/bin/sh\necho one\necho two\nexit 3\n")
    assert requests.post(f"{site.api}/job/start", timeout=60).status_code == 202

    ended = wait_for(lambda: (s := services(site)["job"])["status"] == "error" and s)
    assert ended["exitCode"] == 3

    events = output_events(site, "job")
    assert [e["data"] for e in events if e["type"] == "stdout"] == ["one\ntwo\n"]
    assert events[-1] == {"type": "exit", "exitCode": 3, "timestamp": events[-1]["timestamp"]}
    # The run's files stay out of the session's changes.
    assert (site.working_copy / ".discobot" / "run" / ".gitignore").read_text() == "*\n"


def test_unknown_and_passive_services_are_refused_in_json(site):
    site.service_file("external", "---\nhttp: 3000\n---\n", executable=False)
    for action in ("start", "stop"):
        missing = requests.post(f"{site.api}/nope/{action}", timeout=60)
        assert missing.status_code == 404
        assert missing.json() == {"error": "Service not found"}
        passive = requests.post(f"{site.api}/external/{action}", timeout=60)
        assert passive.status_code == 400
        assert "passive" in passive.json()["error"]
    assert requests.get(f"{site.api}/nope/output", timeout=60).status_code == 404


def test_another_projects_session_is_not_found(site):
    other = site.api.replace("/projects/local/", "/projects/elsewhere/")
    assert requests.get(other, timeout=60).status_code == 404
    unknown = site.api.replace("/svc-1/", "/no-such-session/")
    answer = requests.get(unknown, timeout=60)
    assert answer.status_code == 404
    assert answer.json() == {"error": "Session not found"}


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.read().decode()
    except OSError:
        return None
