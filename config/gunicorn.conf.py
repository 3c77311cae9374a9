"""Gunicorn settings for Gridloop's web processes: ``gunicorn -c config/gunicorn.conf.py config.wsgi``.

Command-line options (``--bind``, ``--workers``, ``--threads``) override these.
"""

import gc
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
max_requests = 20_000  # a worker is replaced now and then (any slow leak stays bounded)
max_requests_jitter = 2_000


def post_worker_init(worker):
    """Once the application is loaded: the module-level objects (Django's models, URL patterns, serializers, the
    locate index) are moved out of the collector's sight, and collections run less often. A request allocates
    thousands of short-lived objects; with the default thresholds the collector ran many times per request and
    re-scanned the whole loaded application on every full collection."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
