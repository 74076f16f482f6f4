"""Time-driven steps. Each area registers its steps here; `flask run-due` runs them all (cron, every minute),
and each area also applies its own steps lazily when a page touches an object whose time has come.

A step is `fn(now) -> int` (how many objects it changed). Steps must be idempotent: running one twice
at the same instant changes nothing the second time."""
from collections.abc import Callable
from datetime import datetime

from portal.clock import utcnow
from portal.extensions import db

DUE_STEPS: dict[str, Callable[[datetime], int]] = {}


def due_step(name: str):
    def register(fn):
        DUE_STEPS[name] = fn
        return fn
    return register


def run_due(now: datetime | None = None) -> dict[str, int]:
    """Run every registered step, each in its own transaction so one failure does not undo the others."""
    now = now or utcnow()
    results = {}
    for name, step in DUE_STEPS.items():
        try:
            results[name] = step(now)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
    return results


@due_step("expire_login_attempts")
def forget_old_login_attempts(now: datetime) -> int:
    """Failed sign-ins older than a day no longer count toward anything."""
    from datetime import timedelta

    from portal.auth.models import LoginAttempt
    return db.session.execute(db.delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(days=1))).rowcount
