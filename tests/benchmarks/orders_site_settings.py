"""The production settings, and a URLconf adding one bare view: the site the orders benchmark
runs under gunicorn (``DJANGO_ENV=production``, every middleware included)."""

from privacy_site.settings import *  # noqa: F403

ROOT_URLCONF = "tests.benchmarks.orders_site_urls"
