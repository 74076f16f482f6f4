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
Scrape each app server directly (not through nginx, which spreads requests over the servers).

Health (`GET /healthz`, portal.home): 200 `{"status": "ok", "database": "ok"}` (and `"redis": "ok"` when
REDIS_URL is set) when every dependency answers; else 503 with `"status": "error"` and each one that did not
answer as "unavailable". While the database cannot be reached at all, every page answers 503 with a
translated "try again shortly" page (templates/errors/unavailable.html) and `Retry-After`; the request's
transaction never began, so nothing is half-written. A connection lost under a statement is portal.web's
case: a read runs once more, a write is told it was not saved."""
import hmac
import json
import logging
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, Response, current_app, g, has_request_context, jsonify, render_template, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from portal.extensions import db

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
LOOPBACK = frozenset({"127.0.0.1", "::1"})
UNAVAILABLE_RETRY_SECONDS = 30  # a database restart or failover takes about this long

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


# --- health and unavailability -----------------------------------------------------------------------------

def database_answers() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any failure to reach the database is "not healthy", whatever the driver raises
        current_app.logger.exception("health check: database did not answer")
        return False
    finally:
        db.session.rollback()
    return True


def redis_answers(url: str) -> bool:
    from redis import Redis
    from redis.exceptions import RedisError
    client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except (RedisError, OSError):
        current_app.logger.warning("health check: Redis did not answer")
        return False
    finally:
        client.close()


def dependency_health() -> Response:
    """What /healthz answers: each dependency "ok" or "unavailable"; 503 when any is unavailable."""
    found = {"database": database_answers()}
    if current_app.config.get("REDIS_URL"):
        found["redis"] = redis_answers(current_app.config["REDIS_URL"])
    healthy = all(found.values())
    response = jsonify(status="ok" if healthy else "error",
                       **{name: "ok" if up else "unavailable" for name, up in found.items()})
    response.headers["Cache-Control"] = "no-store"
    if not healthy:
        response.status_code = 503
        response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_SECONDS)
    return response


def database_unreachable(error: BaseException) -> bool:
    """No connection to the database could be had: refused, timed out, its file cannot be opened, or none
    came free in the pool in time. SQLAlchemy names no statement when connecting failed; a connection lost
    under a statement (connection_invalidated) is portal.web's lost_connection instead."""
    if isinstance(error, PoolTimeout):
        return True
    return (isinstance(error, (OperationalError, InterfaceError)) and error.statement is None
            and not error.connection_invalidated)


def database_error(error: Exception):
    """The app's handler for database errors: an unreachable database answers `unavailable()`, anything else
    goes to portal.web's handler of unexpected errors (which also answers lost connections)."""
    from portal.web import unexpected_error
    if not database_unreachable(error):
        return unexpected_error(error)
    note_unreachable(error)
    return unavailable()


def note_unreachable(error: Exception) -> None:
    """Log the request the database could not answer and drop what its session holds."""
    try:
        db.session.rollback()
    except Exception:  # nothing was begun; a pool that cannot even roll back must not hide the answer
        pass
    current_app.logger.warning("Database unreachable on %s %s: %s", request.method, request.path,
                               getattr(error, "orig", None) or error)


def unavailable() -> Response:
    """The 503 page while the database cannot be reached, in the visitor's language, made without it."""
    from flask_babel import gettext as _
    # Who is signed in is read from the database: the page is made as for a visitor (language from the
    # cookie or the browser), and the session is left as it was.
    g._login_user = current_app.login_manager.anonymous_user()
    if request.path.startswith("/healthz") or request.accept_mimetypes.best == "application/json":
        response = jsonify(error=_("Briefly unavailable"))
    else:
        sent = request.method not in ("GET", "HEAD")
        response = Response(render_template("errors/unavailable.html", sent=sent,
                                            retry_url=request.path if sent else request.full_path.rstrip("?")))
    response.status_code = 503
    response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


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
    # Before portal.web's handler of every Exception: Flask picks the most specific class registered.
    app.register_error_handler(DBAPIError, database_error)
    app.register_error_handler(PoolTimeout, database_error)
    watch_pool(app)
