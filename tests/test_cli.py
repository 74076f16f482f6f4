from datetime import timedelta

from portal.auth.models import LoginAttempt, User
from portal.clock import utcnow
from portal.due import run_due
from portal.extensions import db


def test_run_due_is_idempotent(runner):
    db.session.add(LoginAttempt(account="a@example.org", ip="127.0.0.1", at=utcnow() - timedelta(days=2)))
    db.session.add(LoginAttempt(account="a@example.org", ip="127.0.0.1", at=utcnow()))
    db.session.commit()
    result = runner.invoke(args=["run-due"])
    assert result.exit_code == 0 and "expire_login_attempts: 1" in result.output
    assert run_due()["expire_login_attempts"] == 0
    assert db.session.query(LoginAttempt).count() == 1


def test_create_admin(runner):
    result = runner.invoke(args=["create-admin", "--login", "root@example.org", "--name", "Root",
                                 "--password", "long enough pass"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(db.select(User).where(User.email == "root@example.org"))
    assert user.is_admin


def test_create_admin_refuses_a_bad_login(runner):
    result = runner.invoke(args=["create-admin", "--login", "12345", "--name", "X", "--password", "long enough pass"])
    assert result.exit_code != 0


def test_seed_demo_twice_changes_nothing_the_second_time(runner):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    users = db.session.query(User).count()
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert db.session.query(User).count() == users
    skipped = runner.invoke(args=["seed-demo", "--if-empty"])
    assert "not seeded" in skipped.output
