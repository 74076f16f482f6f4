"""Agreed actions through their services: every transition and refusal, roll-up, overdue, rating, chases."""
from datetime import UTC, datetime, timedelta

import pytest

from portal.errors import DomainError, NotAllowed
from tests.actions import gen_action, local_today, pdf, photo


def _services():
    from portal.actions import services
    return services


def test_every_source_creates_an_action_and_notifies_the_org(world):
    from portal.extensions import db
    from portal.notifications.models import Notification
    for source in ("proposal", "decision", "issue", "hotspot"):
        a = gen_action(world, source=source)
        assert a.source == source and a.status == "planned" and a.updates[0].kind == "created"
    assert db.session.scalar(db.select(db.func.count(Notification.id)).where(
        Notification.event == "actions.assigned", Notification.recipient_id == world.property_x.id)) == 4


def test_due_before_creation_is_refused(world):
    with pytest.raises(DomainError) as e:
        gen_action(world, due_date=local_today(world.x) - timedelta(days=1))
    assert e.value.field == "due_date"
    gen_action(world, due_date=local_today(world.x))  # today is fine


def test_bad_sources_and_orgs_are_refused(world):
    from tests.proposals import gen_proposal
    fresh = gen_proposal(world)
    with pytest.raises(DomainError):
        gen_action(world, proposal=fresh)
    with pytest.raises(DomainError):
        gen_action(world, responsible_org=world.rc_y)
    with pytest.raises(DomainError):
        gen_action(world, owner=world.chair_x)  # not a member of the property company
    with pytest.raises(DomainError):
        gen_action(world, budget="-1")
    with pytest.raises(NotAllowed):
        gen_action(world, actor=world.reporter)
    with pytest.raises(NotAllowed):
        gen_action(world, source="hotspot", actor=world.chair_x)  # hotspots: officials
    with pytest.raises(NotAllowed):
        gen_action(world, source="hotspot", actor=world.official_b)


def test_progress_block_unblock_complete(world):
    s = _services()
    a = gen_action(world)
    s.post_progress(world.property_x, a, body="材料已到", percent=40, photos=[photo()])
    assert a.status == "in_progress" and a.progress == 40 and len(a.evidence) == 1
    with pytest.raises(DomainError):
        s.post_progress(world.property_x, a, body="x", percent=101)
    with pytest.raises(DomainError):
        s.block(world.property_x, a, "", "街道")
    s.block(world.property_x, a, "等待维修资金审批", "业委会")
    assert a.status == "blocked"
    with pytest.raises(DomainError):
        s.complete(world.property_x, a, note="done", photos=[photo()])
    s.unblock(world.property_x, a)
    assert a.status == "in_progress" and a.blocked_reason is None
    s.complete(world.property_x, a, note="完工")  # the earlier photo counts as evidence
    assert a.status == "done" and a.progress == 100 and a.done_at is not None
    with pytest.raises(DomainError):
        s.complete(world.property_x, a, note="again", photos=[photo()])


def test_done_without_evidence_or_note_is_refused(world):
    s = _services()
    a = gen_action(world)
    with pytest.raises(DomainError):
        s.complete(world.property_x, a, note="完工")
    with pytest.raises(DomainError):
        s.complete(world.property_x, a, note="", photos=[photo()])
    assert a.status == "planned"
    s.complete(world.property_x, a, note="完工", documents=[pdf()])
    assert a.status == "done" and a.evidence[0].kind == "pdf"


def test_outsiders_cannot_update(world):
    s = _services()
    a = gen_action(world)
    for person in (world.reporter, world.member_y, world.official_b):
        with pytest.raises(NotAllowed):
            s.post_progress(person, a, body="x")
    s.post_progress(world.chair_x, a, body="居委会跟进")  # committee member of x


def test_progress_roll_up_and_by_hand(world):
    s = _services()
    parent = gen_action(world)
    c1 = gen_action(world, parent=parent, title="step 1")
    c2 = gen_action(world, parent=parent, title="step 2")
    c3 = gen_action(world, parent=parent, title="step 3")
    s.post_progress(world.property_x, c1, body="a", percent=50)
    s.post_progress(world.property_x, c2, body="b", percent=25)
    assert s.progress_of(parent) == 25 and parent.progress == 25  # (50+25+0)/3
    s.complete(world.property_x, c3, note="ok", photos=[photo()])
    assert s.progress_of(parent) == 58  # 175/3 = 58.33
    s.set_progress_by_hand(world.property_x, parent, 90)
    assert s.progress_of(parent) == 90
    s.set_progress_by_hand(world.property_x, parent, None)
    assert s.progress_of(parent) == 58
    with pytest.raises(DomainError):  # steps not done
        s.complete(world.property_x, parent, note="all", photos=[photo()])


def test_overdue_is_derived_by_community_local_date(world):
    s = _services()
    # 2025-03-03 15:30 UTC is already 2025-03-03 23:30 in Beijing; 16:30 UTC is 2025-03-04 00:30 there.
    created = datetime(2025, 3, 1, 1, 0, tzinfo=UTC)
    a = gen_action(world, due_date=datetime(2025, 3, 3).date(), now=created)
    assert not s.overdue_now(a, datetime(2025, 3, 3, 15, 30, tzinfo=UTC))
    assert s.overdue_now(a, datetime(2025, 3, 3, 16, 30, tzinfo=UTC))
    assert s.is_overdue(a, datetime(2025, 3, 4).date())
    assert not s.is_overdue(a, datetime(2025, 3, 3).date())
    late = datetime(2025, 3, 5, tzinfo=UTC)
    assert [x.id for x in s.community_actions(world.x, None, overdue=True, now=late)[0]] == [a.id]
    s.complete(world.property_x, a, note="ok", photos=[photo()], now=late)
    assert not s.overdue_now(a, late)


def test_rating_once_each_changeable_within_the_window(world):
    from portal.actions.models import ActionRating
    from portal.extensions import db
    s = _services()
    t = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
    a = gen_action(world, now=t)
    with pytest.raises(DomainError):  # not done yet
        s.rate(world.reporter, a, "satisfied", now=t)
    s.complete(world.property_x, a, note="ok", photos=[photo()], now=t)
    s.rate(world.reporter, a, "satisfied", now=t + timedelta(days=1))
    s.rate(world.reporter, a, "dissatisfied", now=t + timedelta(days=2))
    s.rate(world.neighbour, a, "basically_satisfied", now=t + timedelta(days=2))
    assert db.session.scalar(db.select(db.func.count(ActionRating.id))) == 2
    assert s.rating_summary(a) == {"satisfied": 0, "basically_satisfied": 1, "dissatisfied": 1, "total": 2}
    with pytest.raises(NotAllowed):
        s.rate(world.resident_y, a, "satisfied", now=t + timedelta(days=2))  # another community
    with pytest.raises(DomainError):
        s.rate(world.reporter, a, "great", now=t + timedelta(days=2))
    with pytest.raises(DomainError):  # outside the window
        s.rate(world.supporters[0], a, "satisfied", now=t + timedelta(days=14))


def test_evaluated_after_14_days_by_run_due_and_the_proposal_follows(world):
    from portal.due import run_due
    s = _services()
    t = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
    a = gen_action(world, now=t)
    b = gen_action(world, now=t, title="second")
    s.complete(world.property_x, a, note="ok", photos=[photo()], now=t)
    s.complete(world.property_x, b, note="ok", photos=[photo()], now=t + timedelta(days=1))
    assert run_due(t + timedelta(days=13))["evaluate_actions"] == 0
    assert run_due(t + timedelta(days=14))["evaluate_actions"] == 1
    assert a.evaluated_at == t + timedelta(days=14) and world.passed.status == "implementing"
    assert run_due(t + timedelta(days=15))["evaluate_actions"] == 1
    assert world.passed.status == "evaluated"
    assert run_due(t + timedelta(days=16))["evaluate_actions"] == 0  # idempotent


def test_evaluated_lazily_when_the_action_is_read(world):
    s = _services()
    t = datetime.now(UTC) - timedelta(days=20)
    a = gen_action(world, now=t)
    s.complete(world.property_x, a, note="ok", photos=[photo()], now=t)
    assert a.evaluated_at is None
    assert s.action_in(world.x, a.id).evaluated_at == t + timedelta(days=14)
    assert world.passed.status == "evaluated"
    assert s.action_in(world.y, a.id) is None and s.action_in(world.x, "nope") is None


def test_chase_an_overdue_action_and_issue(world):
    from portal.actions.models import Chase
    from portal.extensions import db
    from portal.issues.models import IssueEvent
    from tests.issues import gen_issue
    s = _services()
    t = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
    a = gen_action(world, now=t, due_date=datetime(2025, 3, 4).date())
    with pytest.raises(DomainError):  # not overdue yet
        s.chase(world.official_a, "action", a, note="请加快", new_due=datetime(2025, 3, 10).date(), now=t)
    later = datetime(2025, 3, 6, 1, 0, tzinfo=UTC)
    with pytest.raises(NotAllowed):  # another sub-district's official
        s.chase(world.official_b, "action", a, note="请加快", new_due=datetime(2025, 3, 10).date(), now=later)
    with pytest.raises(NotAllowed):
        s.chase(world.chair_x, "action", a, note="请加快", new_due=datetime(2025, 3, 10).date(), now=later)
    with pytest.raises(DomainError):
        s.chase(world.official_a, "action", a, note="", new_due=datetime(2025, 3, 10).date(), now=later)
    with pytest.raises(DomainError):
        s.chase(world.official_a, "action", a, note="x", new_due=datetime(2025, 3, 1).date(), now=later)
    c = s.chase(world.official_a, "action", a, note="请加快", new_due=datetime(2025, 3, 10).date(), now=later)
    assert c.organization_id == world.pc_x.id and a.updates[-1].kind == "chase"
    issue = gen_issue(world, now=t)
    with pytest.raises(DomainError):
        s.chase(world.official_a, "issue", issue, note="x", new_due=datetime(2025, 3, 10).date(), now=t)
    far = issue.resolve_by + timedelta(days=1)
    s.chase(world.official_a, "issue", issue, note="请尽快处理", new_due=far + timedelta(days=3), now=far)
    assert db.session.scalar(db.select(IssueEvent.kind).where(IssueEvent.issue_id == issue.id)
                             .order_by(IssueEvent.id.desc()).limit(1)) == "chased"
    assert db.session.scalar(db.select(db.func.count(Chase.id))) == 2


def test_actions_for_source(world):
    s = _services()
    a = gen_action(world)
    gen_action(world, parent=a, title="step")
    assert [x.id for x in s.actions_for_source("proposal", world.passed)] == [a.id]
    assert s.actions_for_source("bogus", world.passed) == []


# --- the tracker's page and its overall figures ----------------------------------------------------------

def _counted_one_by_one(community, today):
    """The tracker's figures the slow way: every top-level action of the community, one at a time."""
    from portal.actions.models import Action
    from portal.extensions import db
    actions = db.session.scalars(db.select(Action).where(Action.community_id == community.id)).all()
    top = [a for a in actions if a.parent_id is None]
    s = _services()
    counts = {state: sum(a.status == state for a in top) for state in ("done", "in_progress", "planned", "blocked")}
    return s.TrackerFigures(total=len(top), overdue=sum(s.is_overdue(a, today) for a in top),
                            volunteers=sum(s.count_volunteers(a) for a in top), **counts)


def test_tracker_figures_count_top_level_actions_with_overdue_by_local_date(world):
    from portal.extensions import db
    from tests.queries import count_statements
    s = _services()
    # 2025-03-03 16:30 UTC is 2025-03-04 00:30 in Shanghai: an action due on 3 March is overdue there.
    now = datetime(2025, 3, 3, 16, 30, tzinfo=UTC)
    created = now - timedelta(days=10)
    due = datetime(2025, 3, 3).date()
    planned_late = gen_action(world, title="planned, late", due_date=due, now=created)
    running = gen_action(world, title="running, with steps", due_date=due + timedelta(days=1), now=created)
    s.post_progress(world.property_x, running, body="开工", percent=30, now=created)
    late_step = gen_action(world, parent=running, title="step, late", due_date=due, now=created)
    gen_action(world, parent=running, title="step, on time", due_date=due + timedelta(days=1), now=created)
    done_late = gen_action(world, title="done after its date", due_date=due, now=created)
    s.complete(world.property_x, done_late, note="好了", photos=[photo()], now=created)
    blocked_late = gen_action(world, title="blocked, late", due_date=due, now=created)
    s.block(world.property_x, blocked_late, "等待审批", "街道", now=created)
    from portal.actions.models import Action
    db.session.add(Action(community_id=world.y.id, title="another community's", source="hotspot", due_date=due,
                          responsible_org_id=world.pc_x.id, created_by_id=world.chair_x.id, created_at=created))
    db.session.flush()
    figures = s.tracker_figures(world.x, now=now)
    assert figures == s.TrackerFigures(total=4, done=1, in_progress=1, planned=1, blocked=1, overdue=2)
    assert figures.share_done == 25
    assert figures == _counted_one_by_one(world.x, datetime(2025, 3, 4).date())
    assert late_step.status == "planned" and s.is_overdue(late_step, datetime(2025, 3, 4).date())  # not counted
    # An hour earlier it is still 3 March in Shanghai: nothing is overdue yet.
    assert s.tracker_figures(world.x, now=now - timedelta(hours=1)).overdue == 0
    assert planned_late.id and count_statements(lambda: s.tracker_figures(world.x, now=now)) == 1


def test_tracker_figures_equal_counting_one_by_one_on_random_actions(world):
    import random

    from portal.extensions import db
    s = _services()
    rng = random.Random(15)
    now = datetime(2025, 6, 1, 4, 0, tzinfo=UTC)
    today = datetime(2025, 6, 1).date()
    parents, made = [], []
    for n in range(40):
        parent = rng.choice(parents) if parents and rng.random() < 0.3 else None
        a = gen_action(world, title=f"action {n}", parent=parent, now=now - timedelta(days=60),
                       due_date=today - timedelta(days=59) + timedelta(days=rng.randrange(120)))
        made.append(a)
        if parent is None:
            parents.append(a)
    for a in made:  # set directly: the transitions have their own tests, this one checks the counting
        a.status = rng.choice(["planned", "in_progress", "done", "blocked"])
        a.blocked_reason = "等待" if a.status == "blocked" else None
    db.session.flush()
    figures = s.tracker_figures(world.x, now=now)
    assert figures == _counted_one_by_one(world.x, today)
    assert figures.total == len(parents) and figures.overdue > 0
    assert s.TrackerFigures(0, 0, 0, 0, 0, 0).share_done is None


def test_tracker_pages_newest_first_without_gaps_or_repeats_and_keeps_filters(world):
    from portal.extensions import db
    s = _services()
    now = datetime(2025, 6, 1, 4, 0, tzinfo=UTC)
    made = []
    for n in range(30):
        made.append(gen_action(world, title=f"action {n}", now=now - timedelta(hours=30 - n)))
        made[-1].due_date = datetime(2025, 6, 1).date() + timedelta(days=1 - n % 3)  # a third are overdue
    gen_action(world, parent=made[0], title="a step is not a row", now=now)
    db.session.flush()
    seen, cursor = [], None
    while True:
        page, cursor = s.community_actions(world.x, None, after=cursor, limit=12, now=now)
        assert len(page) <= 12
        seen += [a.id for a in page]
        if cursor is None:
            break
    assert seen == [a.id for a in reversed(made)]
    late = [a.id for a in reversed(made) if s.is_overdue(a, datetime(2025, 6, 1).date())]
    first, cursor = s.community_actions(world.x, None, overdue=True, limit=5, now=now)
    rest, end = s.community_actions(world.x, None, overdue=True, after=cursor, limit=100, now=now)
    assert [a.id for a in first + rest] == late and end is None
    with pytest.raises(DomainError):
        s.community_actions(world.x, None, after="not-a-cursor", now=now)


# --- an action's status follows its steps ----------------------------------------------------------------

def test_a_planned_action_is_in_progress_once_a_step_has_started(world):
    s = _services()
    parent = gen_action(world)
    first = gen_action(world, parent=parent, title="step 1")
    second = gen_action(world, parent=parent, title="step 2")
    assert parent.status == "planned"  # steps that have not started leave it planned
    s.post_progress(world.property_x, first, body="开工", percent=50)
    assert parent.status == "in_progress" and parent.progress == 25 and parent.started_at is not None
    assert [u.kind for u in parent.updates] == ["created", "started"]
    assert parent.updates[-1].author_id == world.property_x.id
    s.complete(world.property_x, first, note="好了", photos=[photo()])
    s.complete(world.property_x, second, note="好了", photos=[photo()])
    assert parent.status == "in_progress" and parent.progress == 100  # done takes its own note and evidence
    s.complete(world.property_x, parent, note="全部完成", photos=[photo()])
    assert parent.status == "done"


def test_a_step_done_without_progress_starts_its_planned_action_and_a_blocked_action_stays_blocked(world):
    s = _services()
    parent = gen_action(world)
    step = gen_action(world, parent=parent, title="step")
    s.complete(world.property_x, step, note="好了", photos=[photo()])
    assert parent.status == "in_progress"
    blocked = gen_action(world, title="blocked parent")
    step = gen_action(world, parent=blocked, title="step")
    s.block(world.property_x, blocked, "等待审批", "街道")
    s.post_progress(world.property_x, step, body="先做准备", percent=10)
    assert blocked.status == "blocked"
    s.unblock(world.property_x, blocked)
    assert blocked.status == "in_progress"  # it had started through its step


# --- social organizations and volunteer teams own actions ------------------------------------------------

def test_social_organizations_and_volunteer_teams_of_the_community_may_own_actions(world):
    from tests.factories import gen_membership, gen_organization, gen_user
    s = _services()
    for kind in ("social_organization", "volunteer_team"):
        org = gen_organization(kind, community=world.x, name=f"{kind} x")
        helper = gen_user(display_name=f"{kind} helper")
        gen_membership(helper, org)
        assert org in s.responsible_orgs(world.x)
        a = gen_action(world, responsible_org=org, owner=helper)
        s.post_progress(helper, a, body="组织志愿者清理楼道", percent=30)
        assert a.status == "in_progress"
        other = gen_organization(kind, community=world.y)
        assert other not in s.responsible_orgs(world.x)
        with pytest.raises(DomainError):
            gen_action(world, responsible_org=other, owner=None)
    for kind in ("party_committee", "service_station"):
        org = gen_organization(kind, community=world.x)
        assert org not in s.responsible_orgs(world.x)
        with pytest.raises(DomainError):
            gen_action(world, responsible_org=org, owner=None)


# --- volunteers --------------------------------------------------------------------------------------------

def test_verified_residents_sign_up_and_withdraw_and_the_count_follows(world):
    from portal.audit.models import AuditEntry
    from portal.extensions import db
    s = _services()
    a = gen_action(world)
    s.sign_up_volunteer(world.reporter, a)
    s.sign_up_volunteer(world.neighbour, a, show_name=False)
    assert a.volunteer_count == 2 == s.count_volunteers(a)
    assert s.named_volunteers(a) == [world.reporter.display_name]  # the neighbour chose to be counted only
    assert s.is_volunteer(world.neighbour, a) and not s.is_volunteer(world.chair_x, a)
    with pytest.raises(DomainError):
        s.sign_up_volunteer(world.reporter, a)  # once each
    s.withdraw_volunteer(world.reporter, a)
    assert a.volunteer_count == 1 == s.count_volunteers(a) and s.named_volunteers(a) == []
    with pytest.raises(DomainError):
        s.withdraw_volunteer(world.reporter, a)
    s.sign_up_volunteer(world.reporter, a, show_name=True)  # again, after withdrawing: the same row
    assert a.volunteer_count == 2 == s.count_volunteers(a)
    assert db.session.scalar(db.select(db.func.count(AuditEntry.id)).where(
        AuditEntry.action.in_(("action.volunteered", "action.volunteer_withdrawn")))) == 4


def test_only_verified_residents_volunteer_and_not_on_a_done_action(world):
    s = _services()
    a = gen_action(world)
    for person in (world.chair_x, world.resident_y, world.stranger, world.official_a):
        with pytest.raises(NotAllowed):
            s.sign_up_volunteer(person, a)
    s.sign_up_volunteer(world.reporter, a)
    s.complete(world.property_x, a, note="好了", photos=[photo()])
    with pytest.raises(NotAllowed):
        s.sign_up_volunteer(world.neighbour, a)
    with pytest.raises(NotAllowed):
        s.withdraw_volunteer(world.reporter, a)
    assert a.volunteer_count == 1


def test_tracker_figures_sum_the_volunteers_of_top_level_actions_in_one_statement(world):
    from tests.queries import count_statements
    s = _services()
    first, second = gen_action(world, title="first"), gen_action(world, title="second")
    step = gen_action(world, parent=first, title="a step")
    for a in (first, second, step):
        s.sign_up_volunteer(world.reporter, a)
    s.sign_up_volunteer(world.neighbour, first)
    figures = s.tracker_figures(world.x)
    assert figures.volunteers == 3 and figures == _counted_one_by_one(world.x, local_today(world.x))
    assert count_statements(lambda: s.tracker_figures(world.x)) == 1
