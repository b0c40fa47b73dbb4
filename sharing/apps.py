from django.apps import AppConfig


class SharingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sharing"

    def ready(self) -> None:
        from sharing import checks  # noqa: F401  (registers the start-up checks)
