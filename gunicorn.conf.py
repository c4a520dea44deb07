"""gunicorn settings for `gunicorn wsgi:app`; every value can be overridden on the command line."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Requests mostly wait on the database: a few workers per core keep the cores busy.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# A worker busy with one request for longer than this is killed and replaced. Not 30 s
# (gunicorn's default): a backoffice import of a file of 100,000 rows takes 20-45 s on the
# machines measured (docs/benchmarks.md), and the upload limit (MAX_UPLOAD_MB) keeps files
# to what takes less than this.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 20
keepalive = 5
# Access log on stdout, with link tokens redacted (see portal/logs.py).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
logger_class = "portal.logs.RedactingGunicornLogger"
# Behind a load balancer that sets X-Forwarded-*: trust it only from these addresses.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
