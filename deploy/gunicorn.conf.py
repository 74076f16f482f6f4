"""gunicorn settings for one Yishi app server (/etc/yishi/gunicorn.conf.py; see systemd/yishi-web.service).

Sync workers behind nginx, which buffers request bodies and responses, so a slow phone never holds a worker.
With PROMETHEUS_MULTIPROC_DIR set (the web unit sets it), each worker writes its metrics there and /metrics
adds them up; the folder is emptied when the server starts and a dead worker's live gauges are dropped."""
import os
import shutil

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
worker_class = "sync"
timeout = 30
graceful_timeout = 25
keepalive = 5  # nginx keeps connections to the upstream open (keepalive 32)
# A worker is replaced after this many requests: a leak, if one ever creeps in, cannot grow for ever.
max_requests = 5000
max_requests_jitter = 500
# The app writes one JSON line per request itself (portal/observability.py); gunicorn's own lines would repeat it.
accesslog = None
errorlog = "-"


def on_starting(server):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)
