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


def test_seed_demo_names_people_and_places_in_chinese_only_and_a_second_run_changes_nothing(app, runner, monkeypatch):
    """One language per name: 张阿姨, 望京街道办事处 — not “张阿姨 Zhang (resident)” or “望京街道 Wangjing
    Sub-district办事处”. English pages show the Chinese proper names, as a real deployment would. Seeded as
    `make db` does, with the portal's default language Chinese: the words it stores are Chinese too.
    Seeding again changes nothing, and `--if-empty` does not seed a seeded database (one test, since each
    seeding takes most of a minute)."""
    import re

    from portal.committees.models import AgendaItem, Meeting, Organization
    from portal.issues.models import Issue
    from portal.notices.models import Notice
    from portal.places.models import Building, Community, Owner, SubDistrict
    monkeypatch.setitem(app.config, "DEFAULT_LANGUAGE", "zh")
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "zh")
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    hows = db.session.scalars(db.select(Notice.how_to_object)).all()
    assert hows and all("异议" in how and not re.search(r"[A-Za-z]{3,}", how) for how in hows), hows
    latin = re.compile(r"[A-Za-z]{2,}")
    names = {
        "people": db.session.scalars(db.select(User.display_name)).all(),
        "owners": db.session.scalars(db.select(Owner.name)).all(),
        "sub-districts": db.session.scalars(db.select(SubDistrict.name)).all(),
        "communities": db.session.scalars(db.select(Community.name)).all(),
        "buildings": db.session.scalars(db.select(Building.name)).all(),
        "organizations": db.session.scalars(db.select(Organization.name)).all(),
        "meetings": db.session.scalars(db.select(Meeting.title)).all()
        + [p for p in db.session.scalars(db.select(Meeting.place)).all() if p],
        "agenda items": db.session.scalars(db.select(AgendaItem.title)).all(),
        "reporters": [n for n in db.session.scalars(db.select(Issue.reporter_name)).all() if n],
    }
    for kind, values in names.items():
        assert values or kind == "reporters", kind
        mixed = [v for v in values if latin.search(v)]
        assert not mixed, (kind, mixed[:5])
    assert "望京街道办事处" in names["organizations"]
    assert {"张阿姨", "王主任", "高科长", "城管科", "平台管理员"} <= set(names["people"]) | set(names["organizations"])
    # the README's demo logins still sign in as those people
    by_phone = dict(db.session.execute(db.select(User.phone, User.display_name)).all())
    assert (by_phone["13800000001"], by_phone["13800000010"], by_phone["13800000031"]) == ("张阿姨", "王主任", "林干事")
    assert db.session.scalar(db.select(User.display_name).where(User.email == "admin@yishi.demo")) == "平台管理员"

    users = db.session.query(User).count()
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert db.session.query(User).count() == users
    skipped = runner.invoke(args=["seed-demo", "--if-empty"])
    assert "not seeded" in skipped.output

