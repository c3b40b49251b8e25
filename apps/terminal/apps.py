from django.apps import AppConfig


class TerminalConfig(AppConfig):
    name = "apps.terminal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.terminal import housekeeping  # noqa: F401 (registers the daily prune)
        from apps.terminal.receivers import sandbox_stopping_capture
        from apps.workspaces.signals import sandbox_stopping

        sandbox_stopping.connect(sandbox_stopping_capture, dispatch_uid="terminal.transcript")
        from apps.core.crypto import encrypted_field_register
        from apps.terminal.models import TRANSCRIPT_CALLER_TOKENS

        encrypted_field_register(TRANSCRIPT_CALLER_TOKENS)
