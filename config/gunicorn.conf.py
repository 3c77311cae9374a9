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
# No keep-alive here (run behind a proxy that keeps the clients' connections; nginx opens one per request upstream by
# default): a kept-alive connection stays with the worker that accepted it, and a few busy clients end up on one
# worker while another idles (sensor batches, 4 clients on 2 workers: 3 of 4 connections on one worker in three
# runs in a row, ~60k events/s, against ~70–72k when they happened to be spread 2 / 2; docs/benchmarks.md).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "0"))


def on_starting(server):
    """Each worker takes at most as many connections as it has threads (unless GUNICORN_WORKER_CONNECTIONS says
    otherwise): a request waits in the listen queue for the first free thread of any worker, not behind the busy
    threads of the worker that happened to accept it. (Here, after the command line has set ``threads``.)"""
    server.cfg.set("worker_connections", int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", server.cfg.threads)))


def post_worker_init(worker):
    """Once the application is loaded: fewer and smaller collections (config/gc_tuning.py)."""
    freeze_loaded_application()
