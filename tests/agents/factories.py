import factory

from apps.agents.models import Agent, AgentMCPServer, AgentType
from tests.projects.factories import ProjectFactory


class AgentFactory(factory.django.DjangoModelFactory[Agent]):
    class Meta:
        model = Agent

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Agent {n}")
    agent_type = AgentType.CLAUDE_CODE


class MCPServerFactory(factory.django.DjangoModelFactory[AgentMCPServer]):
    class Meta:
        model = AgentMCPServer

    agent = factory.SubFactory(AgentFactory)
    name = factory.Sequence(lambda n: f"mcp-{n}")
    config = factory.LazyFunction(lambda: {"type": "http", "url": "http://127.0.0.1:9/mcp"})
