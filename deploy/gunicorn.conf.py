"""gunicorn configuration for popreg (docs/operations.md#deployment).

    gunicorn -c deploy/gunicorn.conf.py

gunicorn reads this file as Python; every value can be overridden from the environment
(``GUNICORN_BIND``, ``GUNICORN_WORKERS``, ``GUNICORN_TIMEOUT``) or on the command line.  The
server listens on the loopback address only: a reverse proxy (nginx) in front terminates TLS
and forwards to it.  Long work (imports, statistics, linkage) runs as jobs in ``popreg worker``,
not in a request, so the request timeout can stay short.
"""

from __future__ import annotations

import multiprocessing
import os

wsgi_app = "popreg.web.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Synchronous workers: 2 per core plus one (gunicorn's advice), at most 8 (SQLite has one
# writer at a time; PostgreSQL takes more).
workers = int(os.environ.get("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8)))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
# Recycle workers now and then (memory held by pandas/duckdb after a large page).
max_requests = 1000
max_requests_jitter = 100
# Fail at start, not on the first request: a missing POPREG_SECRET_KEY stops the master.
preload_app = True
# The reverse proxy on this machine sets X-Forwarded-Proto; trust it from loopback only.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
# The access log must not keep personal data: the request line may carry a search term
# (a name, an ID number), so only the path is logged, never the query string.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
