"""The issues demo: every state in each community, idempotent."""
from portal.extensions import db
from portal.issues.demo import STORIES, WORK_ORDERS, seed_issues
from portal.issues.models import STATES, Issue, IssueCategory, IssueEvent, IssueSupport
from portal.issues.services import DEFAULT_CATEGORIES, is_overdue
from portal.notifications.models import Notification
from portal.residents.demo import seed_people
from tests.residents.test_demo import demo_places


def counts():
    return {model.__name__: db.session.scalar(db.select(db.func.count(model.id)))
            for model in (Issue, IssueCategory, IssueEvent, IssueSupport, Notification)}


def test_the_demo_shows_every_state_and_is_idempotent(app):
    demo_places()
    seed_people()
    lines = seed_issues()
    assert len(lines) == 2 and all(f"{len(STORIES)} issues" in line for line in lines)
    assert db.session.scalar(db.select(db.func.count(IssueCategory.id))) == 2 * len(DEFAULT_CATEGORIES)
    issues = db.session.scalars(db.select(Issue)).all()
    assert len(issues) == 2 * (len(STORIES) + len(WORK_ORDERS))
    assert {i.status for i in issues} == set(STATES)
    assert {i.rating_satisfaction for i in issues if i.status == "closed"} == {
        "satisfied", "basically_satisfied", "dissatisfied", None}
    assert any(i.handover_org_id for i in issues)
    assert any(i.source == "hotline" for i in issues)
    assert any(i.support_count for i in issues)
    assert any(is_overdue(i) for i in issues)
    assert any(i.status == "reopened" and is_overdue(i) for i in issues)
    assert min(i.submitted_at for i in issues) < max(i.submitted_at for i in issues) - __import__(
        "datetime").timedelta(days=50)
    # The 12345 work orders in every state, in each community.
    orders = [i for i in issues if i.title.endswith("（12345）")]
    assert len(orders) == 2 * len(WORK_ORDERS)
    assert {i.work_order_state for i in orders} == {None, "sent_back", "returned"}
    assert any(i.signed_at is None and i.status == "submitted" and i.work_order_state is None for i in orders)
    assert any(i.original_resolve_by is not None for i in orders)
    assert any(i.rating_satisfaction == "basically_satisfied" for i in orders)
    assert any(i.status == "closed" and i.rated_at is None for i in orders)  # three calls, nobody answered
    assert any(i.rating_excluded for i in orders)
    from portal.issues.models import IssueAppeal, IssueExtension, ReturnVisitAttempt
    assert {a.status for a in db.session.scalars(db.select(IssueAppeal))} == {"pending", "upheld"}
    assert {x.status for x in db.session.scalars(db.select(IssueExtension))} == {"pending", "approved"}
    assert db.session.scalar(db.select(db.func.count(ReturnVisitAttempt.id))) == 2 * 6
    before = counts()
    seed_issues()
    assert counts() == before


def test_the_demo_does_nothing_without_places(app):
    assert seed_issues() == []
    assert counts()["Issue"] == 0
