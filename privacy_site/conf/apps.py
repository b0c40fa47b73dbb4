"""What the project is made of: the installed apps (ours lowest first), the middleware, the
URLs and the templates."""

from pathlib import Path

_PROJECT_DIR = Path(__file__).resolve().parent.parent.parent

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.forms",  # Django's widget templates, for the renderer below
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc from our own static files
    "django_celery_beat",
    "anymail",
    "allauth",
    "accounts.apps.SignInAddressesConfig",  # allauth.account, under a name of its own in the admin
    "allauth.mfa",  # staff sign in with a second factor (staff_access.second_factor)
    # Our apps, lowest first: an app imports only the apps listed before it.
    "staff_access",
    "retention",
    "api_keys",
    "consent",
    "communications",
    "sharing",
    "surveys",
    "accounts",
    "axes",  # last, as django-axes asks
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Personal data is never cached: "private, no-store" unless a view sets its own Cache-Control.
    "privacy_site.middleware.NoStoreByDefaultMiddleware",
    # A NUL in the path, query or form is refused with a 400 before it can reach PostgreSQL.
    "privacy_site.middleware.RejectNulCharactersMiddleware",
    "privacy_site.middleware.AdminListLookupsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "axes.middleware.AxesMiddleware",
    # Staff: idle sessions end, sessions end on a password or second-factor change elsewhere,
    # and the admin waits until a second factor is set up.
    "staff_access.sessions.StaffSessionMiddleware",
    # Each staff request that showed or changed people's data writes its one access row.
    "staff_access.middleware.StaffAccessMiddleware",
    # The choice on a new use of data, offered once after login (skippable).
    "communications.after_login.PolicyChoiceAfterLoginMiddleware",
]

ROOT_URLCONF = "privacy_site.urls"
WSGI_APPLICATION = "privacy_site.wsgi.application"
ASGI_APPLICATION = "privacy_site.asgi.application"
SITE_ID = 1

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [_PROJECT_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "privacy_site.context_processors.site",
                "consent.context_processors.cookie_consent",
            ],
        },
    },
]

# Form widgets render with the templates above, so templates/ can correct one of Django's
# (admin/widgets/split_datetime.html labels its date and time inputs).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
