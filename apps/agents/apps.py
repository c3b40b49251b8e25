from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "apps.agents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.agents.models import MCP_SERVER_SECRETS
        from apps.core.crypto import encrypted_field_register

        encrypted_field_register(MCP_SERVER_SECRETS)
