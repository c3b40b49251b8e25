from __future__ import annotations

from collections.abc import Iterator

from django.db import models

from apps.core.crypto import EncryptedField
from apps.projects.models import Project
from discobot.models import TimestampedModel, UUIDModel


class AgentType(models.TextChoices):
    """The contract's agent-type ids (§2, Agents); each picks an LLM provider and default model."""

    CLAUDE_CODE = "claude-code", "Claude Code"
    OPENCODE = "opencode", "OpenCode"
    GEMINI_CLI = "gemini-cli", "Gemini CLI"
    AIDER = "aider", "Aider"
    CONTINUE = "continue", "Continue"
    CURSOR_AGENT = "cursor-agent", "Cursor Agent"
    CODEX = "codex", "Codex"
    COPILOT_CLI = "copilot-cli", "Copilot CLI"


class Agent(UUIDModel, TimestampedModel):
    """A named agent configuration of a project: type, model, system prompt and MCP servers."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="agents")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    agent_type = models.CharField(max_length=30, choices=AgentType.choices)
    system_prompt = models.TextField(blank=True)
    # A litellm model id (`openai/gpt-4.1`); blank: the agent type's default model.
    model = models.CharField(max_length=200, blank=True)
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ("created_at", "id")
        constraints = (
            models.UniqueConstraint(
                fields=("project",),
                condition=models.Q(is_default=True),
                name="one_default_agent_per_project",
            ),
        )

    def __str__(self) -> str:
        return self.name


class MCPServerType(models.TextChoices):
    STDIO = "stdio", "stdio"
    HTTP = "http", "HTTP"


class AgentMCPServer(UUIDModel):
    """An MCP server whose tools the agent may call; `config` is `{type:"stdio"|"http", ...}`."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="mcp_servers")
    name = models.CharField(max_length=200)
    # The config without its secrets: `env` and `headers` values live in `encrypted_secrets`.
    config = models.JSONField(default=dict)
    encrypted_secrets = models.BinaryField(default=b"", editable=False)
    secrets_key_id = models.CharField(max_length=16, blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")
        constraints = (
            models.UniqueConstraint(fields=("agent", "name"), name="unique_mcp_server_per_agent"),
        )

    def __str__(self) -> str:
        return self.name


def mcp_secret_values(secrets: dict[str, dict[str, str]]) -> Iterator[str]:
    return (value for values in secrets.values() for value in values.values())


# `{"env": {name: value}, "headers": {name: value}}`, bound to the server's row.
MCP_SERVER_SECRETS = EncryptedField(
    model=AgentMCPServer,
    ciphertext="encrypted_secrets",
    key_id="secrets_key_id",
    binding=lambda server: f"agent-mcp-server:{server.id}".encode(),
    project_lookup="agent__project_id",
    secret_values=mcp_secret_values,
)
