"""gunicorn settings for `gunicorn wsgi:app`; every value can be overridden on the command line."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Requests mostly wait on the database: a few workers per core keep the cores busy.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# A worker busy with one request for longer than this is killed and replaced. gunicorn's own 30 s:
# the longest pages (an order's 500 tickets as one PDF, a few seconds) are far within it, and an
# orders import runs in `flask outbox worker`, not in a request (its upload only stores the file).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Access log on stdout, with link tokens redacted (see portal/logs.py).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
logger_class = "portal.logs.RedactingGunicornLogger"
# Behind a load balancer that sets X-Forwarded-*: trust it only from these addresses.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
