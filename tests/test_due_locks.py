"""run-due and send-notifications on several servers at once: each step runs once (PostgreSQL advisory locks)."""
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text

from portal import due
from portal.clock import utcnow
from portal.due import SKIPPED, DueStepRun, lock_key, run_due
from portal.extensions import db


def on_postgresql():
    return db.engine.dialect.name == "postgresql"


@pytest.fixture
def postgresql_only(app):
    if not on_postgresql():
        pytest.skip("advisory locks are PostgreSQL's: with SQLite the portal runs on one machine, without locks")


@pytest.fixture
def executions(app):
    """A table the test steps write one row into each time they run (each from its own connection)."""
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE due_test_execution (step VARCHAR(40) NOT NULL, worker VARCHAR(40))"))
    yield lambda: dict(db.session.execute(text(
        "SELECT step, COUNT(*) FROM due_test_execution GROUP BY step")).all())
    db.session.rollback()
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE due_test_execution"))


def slow_step(name, seconds=0.4):
    def step(now):
        db.session.execute(text("INSERT INTO due_test_execution (step, worker) VALUES (:s, :w)"),
                           {"s": name, "w": threading.current_thread().name})
        time.sleep(seconds)
        return 1
    return step


def test_lock_keys_are_stable_and_distinct():
    assert lock_key("ballots") == lock_key("ballots")
    assert len({lock_key(name) for name in ("ballots", "send_notifications", "issues_close_unrated")}) == 3
    assert all(-2**63 <= lock_key(name) < 2**63 for name in ("a", "b"))


def test_each_finished_run_is_recorded(app, executions, monkeypatch):
    monkeypatch.setattr(due, "DUE_STEPS", {"first": slow_step("first", 0), "second": slow_step("second", 0)})
    before = utcnow()
    assert run_due() == {"first": 1, "second": 1}
    runs = {run.name: run for run in db.session.scalars(db.select(DueStepRun))}
    assert set(runs) == {"first", "second"}
    assert all(before <= run.started_at <= run.finished_at <= utcnow() and run.changed == 1 for run in runs.values())
    # Run again later by the same server: nothing else ran since it began, so the steps run again.
    assert run_due() == {"first": 1, "second": 1}
    assert executions() == {"first": 2, "second": 2}


def test_two_run_due_at_once_run_every_step_exactly_once(app, postgresql_only, executions, monkeypatch):
    names = ["alpha", "beta", "gamma", "delta"]
    monkeypatch.setattr(due, "DUE_STEPS", {name: slow_step(name) for name in names})
    barrier = threading.Barrier(2)
    results, errors = {}, []

    def server(label):
        try:
            with app.app_context():
                barrier.wait()
                results[label] = run_due()
                db.session.remove()
        except Exception as error:  # reported below: an exception in a thread would be lost
            errors.append(error)

    threads = [threading.Thread(target=server, args=(label,), name=label) for label in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert executions() == dict.fromkeys(names, 1)
    for name in names:
        outcomes = sorted(str(results[label][name]) for label in ("one", "two"))
        assert outcomes == ["1", SKIPPED], (name, results)
    assert {run.name for run in db.session.scalars(db.select(DueStepRun))} == set(names)


def test_a_step_locked_elsewhere_is_skipped_and_runs_once_released(app, postgresql_only, executions, monkeypatch):
    monkeypatch.setattr(due, "DUE_STEPS", {"held": slow_step("held", 0), "free": slow_step("free", 0)})
    with db.engine.connect() as other_server:
        assert other_server.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key("held")})
        assert run_due() == {"held": SKIPPED, "free": 1}
        other_server.scalar(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key("held")})
    assert run_due() == {"held": 1, "free": 1}
    assert executions() == {"held": 1, "free": 2}


def test_a_step_run_elsewhere_since_this_run_began_is_skipped(app, postgresql_only, executions, monkeypatch):
    monkeypatch.setattr(due, "DUE_STEPS", {"done": slow_step("done", 0)})
    began = utcnow()
    db.session.add(DueStepRun(name="done", started_at=began + timedelta(milliseconds=5),
                              finished_at=began + timedelta(milliseconds=9), changed=3))
    db.session.commit()
    assert due.run_step("done", began, began) == SKIPPED
    assert executions() == {}
    # A run that began before the last one started does run.
    assert due.run_step("done", utcnow(), utcnow() + timedelta(seconds=1)) == 1


def test_a_failing_step_releases_its_lock(app, postgresql_only, executions, monkeypatch):
    def broken(now):
        raise RuntimeError("boom")
    monkeypatch.setattr(due, "DUE_STEPS", {"broken": broken})
    with pytest.raises(RuntimeError):
        run_due()
    with db.engine.connect() as other_server:
        assert other_server.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key("broken")})
        other_server.scalar(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key("broken")})
    assert db.session.get(DueStepRun, "broken") is None


def test_send_notifications_skips_while_another_sender_drains(app, runner, postgresql_only):
    with db.engine.connect() as other_server:
        other_server.scalar(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key("send_notifications")})
        result = runner.invoke(args=["send-notifications"])
        assert result.exit_code == 0 and "skipped" in result.output
        assert runner.invoke(args=["run-due"]).output.count("send_notifications: skipped") == 1
        other_server.scalar(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key("send_notifications")})
    result = runner.invoke(args=["send-notifications"])
    assert result.exit_code == 0 and "sent: 0" in result.output
