"""Gunicorn settings for Gridloop's web processes: ``gunicorn -c config/gunicorn.conf.py config.wsgi``.

Command-line options (``--bind``, ``--workers``, ``--threads``) override these.
"""

import os

from config.gc_tuning import freeze_loaded_application

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
max_requests = 20_000  # a worker is replaced now and then (any slow leak stays bounded)
max_requests_jitter = 2_000


def post_worker_init(worker):
    """Once the application is loaded: fewer and smaller collections (config/gc_tuning.py)."""
    freeze_loaded_application()
