"""gunicorn's settings for the web process. gunicorn reads this file from its working
directory; docker-compose.yml and the Dockerfile name it too (``--config gunicorn.conf.py``).

Sync workers, two per core plus one (gunicorn's own advice): a request spends part of its time
waiting on PostgreSQL (an order's commit waits for the write-ahead log), and while one worker
waits another uses the core. ``WEB_CONCURRENCY`` sets the number instead (gunicorn's usual
variable), e.g. where a container sees more cores than it may use.
"""

import multiprocessing
import os

workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
worker_class = "sync"
# A request that takes longer than this is a stuck worker: it is killed and replaced.
timeout = int(os.environ.get("WEB_TIMEOUT") or 30)
# One line per request on standard output; WEB_ACCESS_LOG="" turns it off (the benchmarks).
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None
