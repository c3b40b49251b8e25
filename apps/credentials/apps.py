from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "apps.credentials"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.core.crypto import encrypted_field_register
        from apps.credentials.models import CREDENTIAL_SECRET

        encrypted_field_register(CREDENTIAL_SECRET)
