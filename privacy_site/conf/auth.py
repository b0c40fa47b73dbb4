"""Users and authentication: the custom user model, django-allauth (email-only login, mandatory
verification) and django-axes (the login lockout; see accounts/lockout.py and
docs/OPERATIONS.md "Security"). The limits and waits the environment sets are in
``privacy_site/settings.py``."""

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: a locked login is refused before any password is checked (django-axes).
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
# Failed logins are limited by django-axes below, the same way for the customer login and the
# admin login; allauth's own login_failed limit is off so that one rule, one page and one
# audit apply everywhere.
ACCOUNT_RATE_LIMITS = {"login_failed": None}
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {"signup": "accounts.signup.SignupForm"}
# Log in only once the welcome email's link is followed: nothing is sent to, or done for, an
# address nobody has proven.
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CHANGE_EMAIL = True  # a new address replaces the old one only once it is verified
# Never email an address with no account (reset for an unknown address): same page, no mail.
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
# A password change logs out every session, this one included (Django's session hash
# already ends the others).
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
# Tell the account when its password or address changes (through the outbox, account_security).
ACCOUNT_EMAIL_NOTIFICATIONS = True

# --- Second factor (allauth.mfa; docs/STAFF.md "Signing in") --------------------------------

# An authenticator app (TOTP) and its recovery codes; staff who can see people's data must
# have one before the admin lets them in (staff_access.sessions). WebAuthn is not offered.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Jessops staff"
# The admin's login is allauth's (privacy_site/urls.py), so the code is asked there too.

# --- Lockout (django-axes) ----------------------------------------------------------------------

AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_CALLABLE = "accounts.lockout.login_name"
# The client as allauth finds it: ALLAUTH_TRUSTED_PROXY_COUNT proxies trusted in X-Forwarded-For.
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# A success clears only that account's failures from that address (accounts.receivers).
AXES_RESET_ON_SUCCESS = False
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # every failure kept for staff (Axes → Access failures)
AXES_DISABLE_ACCESS_LOG = False
# Masked in axes' log lines and in the form data it keeps; the address typed stays in the
# attempt's username column, where staff look for it.
AXES_SENSITIVE_PARAMETERS = [
    "password",
    "password1",
    "password2",
    "oldpassword",
    "username",
    "login",
]
