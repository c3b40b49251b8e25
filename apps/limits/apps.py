from django.apps import AppConfig


class LimitsConfig(AppConfig):
    name = "apps.limits"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.limits import housekeeping  # noqa: F401 (registers the counters' prune)
        from apps.limits.selectors import default_limits

        default_limits()  # a malformed DEFAULT_LIMITS fails at start, not at a user's turn
