"""What operators watch: a request id on every request, one JSON log line per request, and a Prometheus
endpoint.

Request id: nginx's `X-Request-ID` when it looks like one (8–64 letters, digits, `.`, `_`, `-`, `:`), else a
new one; returned in the response's `X-Request-ID`, written on the request's log line and into every audit
entry made during the request (AuditEntry.request_id), so a complaint, a log line and a change meet.

Logs: JSON lines on standard error (journald under systemd): one per request from the `portal.request`
logger — time, level, request_id, method, path, endpoint, status, duration_ms, user_id — and the app's own
messages in the same shape. `REQUEST_LOG=0` turns the request lines off (they are off under tests unless a
test asks for them).

Metrics (`GET /metrics`, Prometheus text format, prometheus_client): request latency per endpoint and
status class, database connections in use, the outbox backlog and the age of its oldest pending row, and the
time since each run-due step last finished. With `METRICS_TOKEN` set it answers only `Authorization: Bearer
<token>`; without, only requests from 127.0.0.1 or ::1. Under gunicorn, PROMETHEUS_MULTIPROC_DIR (an empty
folder, see deploy/gunicorn.conf.py) makes the workers' figures add up in whichever worker answers the scrape.
Scrape each app server directly (not through nginx, which spreads requests over the servers)."""
import hmac
import json
import logging
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, Response, current_app, g, has_request_context, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event

from portal.extensions import db

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
LOOPBACK = frozenset({"127.0.0.1", "::1"})

REQUEST_SECONDS = Histogram(
    "yishi_request_duration_seconds", "Time to answer a request, by endpoint and status class.",
    ["endpoint", "status"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
DB_CONNECTIONS_IN_USE = Gauge(
    "yishi_db_connections_in_use", "Database connections checked out of the pool now.",
    multiprocess_mode="livesum")

access_log = logging.getLogger("portal.request")


# --- request ids -----------------------------------------------------------------------------------------

def current_request_id() -> str | None:
    """The id of the request being answered (None outside a request: cron, the RQ worker, the shell)."""
    return g.get("request_id") if has_request_context() else None


def request_id_from(header: str | None) -> str:
    if header and _SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def start_request():
    g.request_started = time.perf_counter()
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))


def finish_request(response):
    started = g.pop("request_started", None)
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    if started is None:
        return response
    seconds = time.perf_counter() - started
    endpoint = request.endpoint or "unmatched"
    REQUEST_SECONDS.labels(endpoint, f"{response.status_code // 100}xx").observe(seconds)
    if current_app.config["REQUEST_LOG"]:
        # Flask-Login's user if this request loaded one: asking `current_user` here would load it for
        # requests (static files) that never needed to.
        user = g.get("_login_user")
        access_log.info("request", extra={"fields": {
            "method": request.method, "path": request.path, "endpoint": endpoint,
            "status": response.status_code, "duration_ms": round(seconds * 1000, 2),
            "user_id": getattr(user, "id", None)}})
    return response


# --- JSON lines --------------------------------------------------------------------------------------------

class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": current_request_id(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record comes (pytest swaps it; gunicorn may redirect it)."""

    def __init__(self):
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def configure_logging(app: Flask) -> None:
    from flask.logging import default_handler
    default_handler.setFormatter(JsonFormatter())
    if not any(isinstance(h, StderrHandler) for h in access_log.handlers):
        handler = StderrHandler()
        handler.setFormatter(JsonFormatter())
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False


# --- metrics -------------------------------------------------------------------------------------------------

class DatabaseFigures:
    """Figures read from the database when scraped: the outbox and the run-due steps."""

    def collect(self):
        from portal.due import DUE_STEPS, last_runs
        from portal.outbox import Notification
        now = datetime.now(UTC)
        up = GaugeMetricFamily("yishi_database_up", "1 when the database answered this scrape.")
        try:
            count, oldest = db.session.execute(
                db.select(db.func.count(), db.func.min(Notification.created_at))
                .where(Notification.email_status == "pending")).one()
            runs = last_runs()
        except Exception:
            db.session.rollback()
            up.add_metric([], 0)
            yield up
            return
        finally:
            db.session.rollback()
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("yishi_outbox_pending", "Notifications waiting to be e-mailed.", value=count)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        yield GaugeMetricFamily("yishi_outbox_oldest_pending_age_seconds",
                                "Age of the oldest notification waiting to be e-mailed (0: none).",
                                value=(now - oldest).total_seconds() if oldest else 0)
        lag = GaugeMetricFamily("yishi_due_step_lag_seconds",
                                "Seconds since each run-due step last finished (absent: never ran).",
                                labels=["step"])
        for name in DUE_STEPS:
            if name in runs:
                lag.add_metric([name], (now - runs[name]).total_seconds())
        yield lag


def metrics_allowed() -> bool:
    token = current_app.config["METRICS_TOKEN"]
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    return request.remote_addr in LOOPBACK


def metrics():
    if not metrics_allowed():
        status = 401 if current_app.config["METRICS_TOKEN"] else 403
        response = Response("not allowed\n", status=status, mimetype="text/plain")
        if status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    database = CollectorRegistry()
    database.register(DatabaseFigures())
    body = generate_latest(registry) + generate_latest(database)
    response = Response(body, mimetype=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


def _checked_out(*args):
    DB_CONNECTIONS_IN_USE.inc()


def _checked_in(*args):
    DB_CONNECTIONS_IN_USE.dec()


def watch_pool(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if not event.contains(engine, "checkout", _checked_out):
        event.listen(engine, "checkout", _checked_out)
        event.listen(engine, "checkin", _checked_in)


def init_app(app: Flask) -> None:
    from portal.web import public
    app.config.setdefault("METRICS_TOKEN", os.environ.get("METRICS_TOKEN") or None)
    app.config.setdefault("REQUEST_LOG", os.environ.get("REQUEST_LOG", "1" if not app.testing else "0")
                          not in ("0", "false", "no", ""))
    configure_logging(app)
    # First of the before-request steps, so a request refused by a later one (sign-in, CSRF) is still timed.
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)
    app.after_request(finish_request)
    app.add_url_rule("/metrics", "metrics", public(metrics))
    watch_pool(app)
