from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "apps.chat"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the turn runner with the worker, and the chat's series in /metrics.
        from apps.chat import metrics  # noqa: F401
        from apps.chat.models import CALLER_TOKENS
        from apps.chat.selectors import turns_running
        from apps.core.crypto import encrypted_field_register
        from apps.core.runners import runner_register
        from apps.limits.selectors import running_turns_counter

        runner_register("chat-turns", "apps.chat.runner.chat_turns_run")
        encrypted_field_register(CALLER_TOKENS)
        running_turns_counter(turns_running)
