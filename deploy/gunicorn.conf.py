"""gunicorn settings for Lotsa in production, behind nginx (docs/deployment.md).

    gunicorn -c deploy/gunicorn.conf.py 'webapp:create_app()'

Options given on the command line win over this file (bench/scaleout.py passes
--bind and --workers). GUNICORN_BIND and WEB_CONCURRENCY override the address
and the number of workers without editing it.
"""

import os

# nginx on the same host proxies here; never expose gunicorn itself.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Sync workers: one request at a time per process, so a worker holds at most one
# database connection and a slow request cannot starve the others in its process.
# 2 x cores + 1 keeps the CPUs busy while some workers wait on PostgreSQL.
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * len(os.sched_getaffinity(0)) + 1))

# A request that takes longer than this is killed and answered 502 by nginx
# (keep nginx's proxy_read_timeout a little above it). The slowest pages (CSV
# exports, the printed summary) take well under a second.
timeout = 30
# On SIGTERM or a reload, requests in progress get this long to finish.
graceful_timeout = 30
# Restart each worker after about this many requests (jitter: not all at once),
# so a slow leak can never grow for weeks. A new worker builds the app and loads
# the content catalogue (about 1.3 s of CPU on 2 cores), so every 1,000 requests
# would cost some 1.3 ms a request, as much as serving /livez; at 10,000 it is noise.
max_requests = 10000
max_requests_jitter = 1000

# gunicorn's control socket (gunicornc) is not used; by default it sits in
# $HOME/.gunicorn/ or $XDG_RUNTIME_DIR, shared by every gunicorn of that user.
control_socket_disable = True

# Access log on stdout, without query strings: caseload searches and data-rights
# look-ups carry names and personal identity numbers in the query (%(U)s is the
# path alone). With PROXY_FIX=true, %(h)s is the client address nginx saw.
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss'

# Application logs (lotsa.security events, errors with tracebacks) on stderr at
# INFO. Without a root handler Python drops INFO records, so the security events
# would silently never be written.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        # Flask-Migrate imports Alembic, which announces its plugins at INFO in every worker.
        "alembic": {"level": "WARNING"},
    },
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "app", "stream": "ext://sys.stderr"},
        "access": {"class": "logging.StreamHandler", "formatter": "access", "stream": "ext://sys.stdout"},
    },
    "formatters": {
        "app": {"format": "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"},
        "access": {"format": "%(message)s"},
    },
}
