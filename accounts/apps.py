import allauth.account.apps
from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default = True  # this module holds a second configuration, for allauth's app
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    # Named apart from django-allauth's app, which the admin would also call "Accounts".
    verbose_name = "Customer accounts"

    def ready(self) -> None:
        from accounts import legal_export, receivers

        receivers.connect()
        legal_export.register()


class SignInAddressesConfig(allauth.account.apps.AccountConfig):
    """django-allauth's account app (its email addresses), named for what staff find in it."""

    default = False
    verbose_name = "Sign-in email addresses"
