from django.apps import AppConfig


class CommunicationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "communications"

    def ready(self) -> None:
        from . import checks, signals  # noqa: F401 - registers the checks and receivers
