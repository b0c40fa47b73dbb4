"""The production settings, and a URLconf adding the bare views: the site the benchmarks run
under gunicorn (``DJANGO_ENV=production``, every middleware included)."""

import os

from privacy_site.settings import *  # noqa: F403

ROOT_URLCONF = "tests.benchmarks.bench_site_urls"
# Where the page benchmarks collect the static files (production reads their manifest).
if os.environ.get("BENCH_STATIC_ROOT"):
    STATIC_ROOT = os.environ["BENCH_STATIC_ROOT"]
