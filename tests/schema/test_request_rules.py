"""A request the published schema calls valid is one the server takes, and the other way round
(issue 10, item 16): every rule a field checks is stated, and nothing is stated that the
field does not check. Checked with the validator schemathesis uses, on strings built from the
characters that make rules differ: whitespace of every kind, control and format characters,
NUL, separators, letters outside ASCII."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from apps.accounts.api.serializers import ApiTokenInputSerializer
from apps.agents.api.serializers import AgentCreateSerializer
from apps.credentials import oauth
from apps.credentials.api.serializers import (
    CodexAuthorizeSerializer,
    CopilotDeviceCodeSerializer,
    CopilotPollSerializer,
    CredentialCreateSerializer,
)
from apps.projects.api.serializers import InvitationInputSerializer, ProjectInputSerializer
from apps.workspaces.api.serializers import SessionCreateSerializer, SessionUpdateSerializer
from discobot.api.openapi import display_name_pattern
from discobot.api.serializers import DisplayNameField
from discobot.errors import ApplicationError
from tests.schema.published import component_validator

# Characters whose handling differs between rules, engines and cleaning.
TRICKY = list(
    "aZ09-._@:/?#~=[]% \t\n\r\x0b\x1c\x1f\x00\x01\x7f\x85\xa0\u00ad\u200b\u200f\u202e"
    "\u2028\u3000\ufeffé😀"
)
texts = st.text(st.sampled_from(TRICKY), max_size=12)
FUZZ = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def takes(serializer_class: type[serializers.Serializer], body: dict[str, Any]) -> bool:
    return serializer_class(data=body).is_valid()


class TestDisplayNames:
    """`DisplayNameField` cleans a name before checking it; its pattern says so exactly."""

    @FUZZ
    @given(texts, st.sampled_from([(1, False), (3, False), (3, True), (None, False)]))
    @example(" \u200ba\u200b ", (1, False))
    @example("ab\u200b\u200b", (2, False))
    @example("a \t b", (3, False))
    @example("\u202e\n", (3, True))
    def test_a_name_matches_its_pattern_exactly_when_the_field_takes_it(self, name, rule):
        max_length, allow_blank = rule
        field = DisplayNameField(max_length=max_length, allow_blank=allow_blank)
        pattern = display_name_pattern(max_length=max_length, allow_blank=allow_blank)
        try:
            field.run_validation(name)
            taken = True
        except serializers.ValidationError:
            taken = False

        assert (pattern is None or re.search(pattern, name) is not None) == taken, repr(name)

    @FUZZ
    @given(texts)
    @example("x" * 200)
    @example("x" * 201)
    @example("\u200b" * 50 + "x" * 200)
    def test_a_project_name_is_valid_by_the_schema_exactly_when_it_is_taken(self, name):
        body = {"name": name}

        published = component_validator("ProjectInputRequest").is_valid(body)

        assert published == takes(ProjectInputSerializer, body), repr(name)


@pytest.mark.parametrize(
    ("component", "serializer_class", "base", "field"),
    [
        ("ApiTokenInputRequest", ApiTokenInputSerializer, {}, "name"),
        ("InvitationInputRequest", InvitationInputSerializer, {}, "email"),
        (
            "SessionCreateRequest",
            SessionCreateSerializer,
            {"workspaceId": "00000000-0000-0000-0000-000000000000"},
            "id",
        ),
        ("SessionUpdateRequest", SessionUpdateSerializer, {}, "name"),
        ("AgentCreateRequest", AgentCreateSerializer, {"name": "A", "agentType": "aider"}, "name"),
        (
            "AgentCreateRequest",
            AgentCreateSerializer,
            {"name": "A", "agentType": "aider"},
            "description",
        ),
        ("CodexAuthorizeRequest", CodexAuthorizeSerializer, {}, "redirectUri"),
    ],
)
@FUZZ
@given(value=texts)
@example(value="https://a.b:65535/x?y#z")
@example(value="http://a:0")
@example(value="someone@example.com")
@example(value="a" * 65 + "@example.com")
def test_a_text_field_is_valid_by_the_schema_exactly_when_it_is_taken(
    component, serializer_class, base, field, value
):
    body = {**base, field: value}

    published = component_validator(component).is_valid(body)

    assert published == takes(serializer_class, body), repr(value)


def agent_with(config: dict[str, Any], enabled: Any = True) -> dict[str, Any]:
    server = {
        "name": "tools",
        "config": {"type": "stdio", "command": "run", **config},
        "enabled": enabled,
    }
    return {"name": "A", "agentType": "aider", "mcpServers": [server]}


@FUZZ
@given(st.dictionaries(texts, texts, max_size=3), st.sampled_from(["env", "headers"]))
@example({"A=B": "v"}, "env")
@example({"X-Key": "v\r\nX-Injected: 1"}, "headers")
@example({"X-Key": "tab\tis fine"}, "headers")
def test_mcp_env_and_headers_are_valid_by_the_schema_exactly_when_taken(values, section):
    config = (
        {"env": values}
        if section == "env"
        else {"type": "http", "url": "https://mcp.example.com", "headers": values}
    )
    body = agent_with(config)
    if section == "headers":
        body["mcpServers"][0]["config"].pop("command")

    published = component_validator("AgentCreateRequest").is_valid(body)

    assert published == takes(AgentCreateSerializer, body), repr(values)


@pytest.mark.parametrize(
    "body",
    [
        agent_with({"args": [""]}),  # an empty argument: `--flag ""`
        agent_with({"command": " ls"}),  # taken as sent
    ],
)
def test_mcp_arguments_and_commands_are_taken_as_sent(body):
    assert component_validator("AgentCreateRequest").is_valid(body)
    assert takes(AgentCreateSerializer, body)


@pytest.mark.parametrize(
    "body",
    [
        agent_with({}, enabled=1),
        agent_with({}, enabled="yes"),
        agent_with({"command": "   "}),
        agent_with({"args": ["a\x00b"]}),
    ],
)
def test_mcp_values_json_does_not_call_valid_are_refused(body):
    assert not component_validator("AgentCreateRequest").is_valid(body)
    assert not takes(AgentCreateSerializer, body)


@pytest.mark.parametrize("expires_at", ["2999-01-01", "2999-01-01 10:00:00", "29990101T000000"])
def test_an_api_token_expiry_is_an_rfc_3339_date_time(expires_at):
    body = {"name": "ci", "expiresAt": expires_at}

    assert not component_validator("ApiTokenInputRequest").is_valid(body)
    assert not takes(ApiTokenInputSerializer, body)


class TestRulesTheServicesCheck:
    """Fields a service checks with the contract's wording publish the service's rule."""

    @FUZZ
    @given(texts)
    @example("github.com")
    @example("ghe.example:8443")
    @example("ghe.example:0")
    @example("ghe.example:65536")
    @example("a" * 64 + ".example")
    def test_a_copilot_domain_is_valid_by_the_schema_exactly_when_it_is_polled(self, domain):
        body = {"deviceCode": "d", "domain": domain}
        try:
            taken = takes(CopilotPollSerializer, body) and bool(oauth.copilot_base_url(domain))
        except ApplicationError:
            taken = False

        assert component_validator("CopilotPollRequest").is_valid(body) == taken, repr(domain)

    @FUZZ
    @given(texts, st.sampled_from(["github.com", "enterprise", None]))
    @example("https://ghe.example/", "enterprise")
    @example("HTTPS://ghe.example:8443/api", "enterprise")
    @example("https://user@ghe.example", "enterprise")
    @example("not a host", "github.com")
    def test_an_enterprise_url_is_valid_by_the_schema_exactly_when_it_is_taken(
        self, url, deployment
    ):
        body = {"enterpriseUrl": url} | ({"deploymentType": deployment} if deployment else {})
        serializer = CopilotDeviceCodeSerializer(data=body)
        try:
            taken = serializer.is_valid() and bool(
                oauth.copilot_domain(
                    deployment_type=serializer.validated_data["deployment_type"],
                    enterprise_url=serializer.validated_data.get("enterprise_url", ""),
                )
            )
        except ApplicationError:
            taken = False

        published = component_validator("CopilotDeviceCodeRequest").is_valid(body)

        assert published == taken, (repr(url), deployment)

    @pytest.mark.django_db
    @FUZZ
    @given(texts)
    @example("sk-ant-0123")
    @example(" \n ")
    @example(" sk-ant-0123\n")
    def test_an_api_key_is_valid_by_the_schema_exactly_when_it_is_stored(
        self, client_for, member, project, api_key
    ):
        body = {"provider": "anthropic", "apiKey": api_key}

        response = client_for(member).post(
            f"/api/projects/{project.id}/credentials", body, format="json"
        )

        published = component_validator("CredentialCreateRequest").is_valid(body)
        assert published == (response.status_code == 200), (repr(api_key), response.json())

    @pytest.mark.parametrize(
        ("provider", "known"), [("anthropic", True), ("gemini", True), ("skynet", False)]
    )
    def test_the_schema_lists_the_providers_the_server_knows(self, provider, known):
        body = {"provider": provider, "apiKey": "k"}

        assert component_validator("CredentialCreateRequest").is_valid(body) == known
        assert takes(CredentialCreateSerializer, body)  # the service refuses, with its wording
