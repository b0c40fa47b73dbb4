from django.apps import AppConfig


class StaffAccessConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "staff_access"
    verbose_name = "Staff access"

    def ready(self) -> None:
        # Records staff sign-in events (second factor, password, sessions) from allauth's and
        # Django's signals.
        from staff_access import receivers  # noqa: F401
