"""Time-driven steps. Each area registers its steps here; `flask run-due` runs them all (cron, every minute),
and each area also applies its own steps lazily when a page touches an object whose time has come.

A step is `fn(now) -> int` (how many objects it changed). Steps must be idempotent: running one twice
at the same instant changes nothing the second time.

Every app server may run `run-due` from its own cron or timer. On PostgreSQL each step runs under an
advisory lock of its own, taken on a connection of its own so that it outlives the step's commits: a server
that finds a step locked skips it (another server is running it now), and a server that gets the lock after
another server finished the step since this run began skips it too (that run already covered this instant).
So each step runs once per minute across the servers, whichever server gets to it first. On SQLite (one
machine) there is no lock. Each finished run is recorded (`DueStepRun`): the operators' run-due lag."""
import hashlib
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime

from portal.clock import UTCDateTime, utcnow
from portal.extensions import db

DUE_STEPS: dict[str, Callable[[datetime], int]] = {}

SKIPPED = "skipped"


class DueStepRun(db.Model):
    """The last finished run of each time-driven step (for the lag metric and for servers that share work)."""
    __tablename__ = "due_step_run"

    name = db.Column(db.String(64), primary_key=True)
    started_at = db.Column(UTCDateTime, nullable=False)
    finished_at = db.Column(UTCDateTime, nullable=False)
    changed = db.Column(db.Integer, nullable=False, default=0)


def due_step(name: str):
    def register(fn):
        DUE_STEPS[name] = fn
        return fn
    return register


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks, one per step name."""
    return int.from_bytes(hashlib.sha256(f"yishi.due:{name}".encode()).digest()[:8], "big", signed=True)


def uses_locks() -> bool:
    return db.engine.dialect.name == "postgresql"


@contextmanager
def step_lock(name: str):
    """Yields True when this process may run the step `name` now, False when another one holds it.
    PostgreSQL: a session advisory lock on a dedicated connection (released at the end, or by the server
    when this process dies). Elsewhere: always True."""
    if not uses_locks():
        yield True
        return
    connection = db.engine.connect()
    key = lock_key(name)
    try:
        held = connection.scalar(db.select(db.func.pg_try_advisory_lock(key)))
        connection.commit()
        try:
            yield bool(held)
        finally:
            if held:
                connection.scalar(db.select(db.func.pg_advisory_unlock(key)))
                connection.commit()
    finally:
        connection.close()


def finished_since(name: str, began: datetime) -> bool:
    """Has another run of this step started at or after `began` and finished?"""
    last = db.session.scalar(db.select(DueStepRun.started_at).where(DueStepRun.name == name))
    return last is not None and last >= began


def record_run(name: str, started_at: datetime, changed: int) -> None:
    run = db.session.get(DueStepRun, name)
    if run is None:
        run = DueStepRun(name=name)
        db.session.add(run)
    run.started_at, run.finished_at, run.changed = started_at, utcnow(), changed


def run_step(name: str, now: datetime, began: datetime) -> int | str:
    """Run one step under its lock, in its own transaction; returns what it changed, or SKIPPED."""
    step = DUE_STEPS[name]
    with step_lock(name) as held:
        if not held:
            return SKIPPED
        # Read committed: the step's statements see what other servers committed before the lock was ours.
        if uses_locks() and finished_since(name, began):
            return SKIPPED
        started = utcnow()
        try:
            changed = step(now)
            record_run(name, started, changed or 0)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        return changed


def run_due(now: datetime | None = None) -> dict[str, int | str]:
    """Run every registered step, each in its own transaction so one failure does not undo the others.
    A step another server is running, or has run since this call began, is reported as SKIPPED."""
    began = utcnow()
    now = now or began
    return {name: run_step(name, now, began) for name in list(DUE_STEPS)}


def last_runs() -> dict[str, datetime]:
    """When each step last finished (steps that never ran are absent)."""
    return dict(db.session.execute(db.select(DueStepRun.name, DueStepRun.finished_at)).all())
