from django.apps import AppConfig


class TerminalConfig(AppConfig):
    name = "apps.terminal"
    default_auto_field = "django.db.models.BigAutoField"
