"""The operators' Prometheus endpoint: who may read it and what it reports."""
from datetime import timedelta

import pytest

from portal.clock import utcnow
from portal.due import run_due
from portal.extensions import db
from portal.notifications.models import Notification
from portal.observability import DB_CONNECTIONS_IN_USE
from tests.factories import gen_user

REMOTE = {"REMOTE_ADDR": "203.0.113.9"}


@pytest.fixture
def token(app):
    app.config["METRICS_TOKEN"] = "s3cret-token"
    yield "s3cret-token"
    app.config["METRICS_TOKEN"] = None


def sample(body: str, name: str, **labels) -> float | None:
    """The value of one sample in the Prometheus text format (None when absent)."""
    for line in body.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        metric, _, value = line.rpartition(" ")
        rest = metric[len(name):]
        if rest and not rest.startswith("{"):
            continue
        if all(f'{key}="{val}"' in rest for key, val in labels.items()):
            return float(value)
    return None


def test_metrics_answer_loopback_only_without_a_token(client):
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    refused = client.get("/metrics", environ_base=REMOTE)
    assert refused.status_code == 403 and b"yishi_" not in refused.data


def test_metrics_with_a_token_need_it_from_everywhere(client, token):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/metrics", environ_base=REMOTE, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.mimetype == "text/plain"


def test_request_latency_is_counted_per_endpoint_and_status_class(client):
    endpoint = "home.healthz"
    before = sample(client.get("/metrics").text, "yishi_request_duration_seconds_count",
                    endpoint=endpoint, status="2xx") or 0
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    client.get("/no/such/page")
    body = client.get("/metrics").text
    assert sample(body, "yishi_request_duration_seconds_count", endpoint=endpoint, status="2xx") == \
        before + 3
    assert sample(body, "yishi_request_duration_seconds_count", endpoint="unmatched", status="4xx") >= 1
    assert sample(body, "yishi_request_duration_seconds_bucket", endpoint=endpoint, status="2xx", le="+Inf") >= 3


def test_outbox_backlog_and_age_of_the_oldest_pending(client):
    body = client.get("/metrics").text
    assert sample(body, "yishi_outbox_pending") == 0
    assert sample(body, "yishi_outbox_oldest_pending_age_seconds") == 0
    user = gen_user()
    now = utcnow()
    db.session.add_all([
        Notification(recipient=user, event="issue.accepted", created_at=now - timedelta(minutes=30)),
        Notification(recipient=user, event="issue.accepted", created_at=now - timedelta(minutes=5)),
        Notification(recipient=user, event="issue.accepted", created_at=now - timedelta(hours=3),
                     email_status="sent"),
    ])
    db.session.commit()
    body = client.get("/metrics").text
    assert sample(body, "yishi_outbox_pending") == 2
    assert 30 * 60 <= sample(body, "yishi_outbox_oldest_pending_age_seconds") < 40 * 60
    assert sample(body, "yishi_database_up") == 1


def test_run_due_lag_per_step(client):
    assert sample(client.get("/metrics").text, "yishi_due_step_lag_seconds", step="ballots") is None
    run_due()
    lag = sample(client.get("/metrics").text, "yishi_due_step_lag_seconds", step="ballots")
    assert lag is not None and 0 <= lag < 60


def test_connections_in_use_follow_the_pool(app):
    before = DB_CONNECTIONS_IN_USE._value.get()
    with db.engine.connect():
        assert DB_CONNECTIONS_IN_USE._value.get() == before + 1
    assert DB_CONNECTIONS_IN_USE._value.get() == before
