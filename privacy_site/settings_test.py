"""Settings for the test suite: the same services production uses, on this machine.

Each default below can be overridden by the environment (CI points them elsewhere if needed).
"""

import os

os.environ.setdefault("DJANGO_ENV", "test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/privacy_site")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/15")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")

from .settings import *  # noqa: F403

# Hashing cost is not under test; a fast hasher keeps the suite quick.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Provider events: a processing run queued for every request that records one, unless the
# environment says otherwise (the tests of the production window set it).
EMAIL_WEBHOOK_RUN_WINDOW = float(os.environ.get("EMAIL_WEBHOOK_RUN_WINDOW", "0"))
# Each test's database starts afresh: the site notices are read on every page (the tests of
# the production interval set it).
SITE_NOTICES_TTL = 0.0
