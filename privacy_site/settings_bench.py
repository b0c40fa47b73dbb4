"""Settings for the benchmarks (``make bench``): the test settings, plus django-post_office.

django-post_office is not part of the product. It is installed here only so the campaign
benchmark can measure it, in the same run, as the baseline: the queue most Django sites use to
send mail in bulk. Our own workers run on ``privacy_site.settings_test``, without it.
"""

import os

from .settings_test import *  # noqa: F403
from .settings_test import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "post_office"]

# post_office delivers through its own backend setting; the benchmark points it at the same
# sink our workers use. Batch size as our EMAIL_BATCH_SIZE, two processes (set on the command
# line), everything else post_office's defaults (five threads per process, a log row per email).
POST_OFFICE = {
    "BACKENDS": {
        "default": os.environ.get("POST_OFFICE_BACKEND", "tests.harness.anymail_sink.EmailBackend"),
    },
    "BATCH_SIZE": int(os.environ.get("POST_OFFICE_BATCH_SIZE", "500")),
    "MESSAGE_ID_ENABLED": True,
    # In the temporary directory, apart from any other post_office on this machine.
    "LOCK_FILE_NAME": "privacy-site-bench-post-office",
}
