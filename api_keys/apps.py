from django.apps import AppConfig


class ApiKeysConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "api_keys"
    verbose_name = "API keys"

    def ready(self) -> None:
        # Registers the Api-Key security scheme with drf-spectacular.
        from api_keys import schema  # noqa: F401
