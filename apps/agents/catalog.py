"""The agent types of the contract (§2 Agents) and the LLM providers each may use.

The agent runs in this server over litellm; a type chooses which providers' credentials it
accepts and the model it uses when the agent names none.
"""

from __future__ import annotations

from typing import TypedDict

from apps.agents.models import AgentType


class AgentTypeInfo(TypedDict):
    id: str
    name: str
    description: str
    supportedAuthProviders: list[str]
    defaultModel: str
    allowNoAuth: bool
    highlighted: bool


def agent_type(
    type_: AgentType,
    description: str,
    providers: list[str],
    default_model: str,
    *,
    allow_no_auth: bool = False,
    highlighted: bool = False,
) -> AgentTypeInfo:
    return {
        "id": type_.value,
        "name": type_.label,
        "description": description,
        "supportedAuthProviders": providers,
        "defaultModel": default_model,
        "allowNoAuth": allow_no_auth,
        "highlighted": highlighted,
    }


# "*" means every provider the project holds a credential for.
AGENT_TYPES: list[AgentTypeInfo] = [
    agent_type(
        AgentType.CLAUDE_CODE,
        "Anthropic's Claude as a coding agent",
        ["anthropic"],
        "anthropic/claude-sonnet-4-5",
        highlighted=True,
    ),
    agent_type(
        AgentType.OPENCODE,
        "An open agent for any provider",
        ["*"],
        "openai/gpt-4.1",
        allow_no_auth=True,
    ),
    agent_type(AgentType.GEMINI_CLI, "Google's Gemini", ["google"], "gemini/gemini-2.5-pro"),
    agent_type(
        AgentType.AIDER,
        "Pair programming in your repository",
        ["anthropic", "openai", "google", "deepseek"],
        "anthropic/claude-sonnet-4-5",
    ),
    agent_type(
        AgentType.CONTINUE,
        "The Continue agent",
        ["anthropic", "openai"],
        "anthropic/claude-sonnet-4-5",
    ),
    agent_type(
        AgentType.CURSOR_AGENT,
        "The Cursor agent",
        ["anthropic", "openai"],
        "anthropic/claude-sonnet-4-5",
    ),
    agent_type(AgentType.CODEX, "OpenAI's Codex", ["openai", "codex"], "openai/gpt-5-codex"),
    agent_type(
        AgentType.COPILOT_CLI,
        "GitHub Copilot",
        ["github-copilot"],
        "github_copilot/gpt-4.1",
    ),
]


def agent_type_providers(agent_type: str) -> list[str] | None:
    """The credential providers an agent of this type may use; None: any of them."""
    for info in AGENT_TYPES:
        if info["id"] == agent_type:
            providers = info["supportedAuthProviders"]
            return None if "*" in providers else providers
    return None
