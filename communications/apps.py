from django.apps import AppConfig


class CommunicationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "communications"

    def ready(self) -> None:
        from . import after_login, checks, signals  # noqa: F401 - registers checks, receivers
        from .referrals import checks as referral_checks  # noqa: F401
        from .referrals import receivers  # noqa: F401
