"""The stored next deadline (issue.next_deadline) equals the computed one after every step of an issue's life,
and "due soonest" keeps the order it had when it computed the deadline per row."""
from datetime import timedelta

from sqlalchemy import case

from portal.due import run_due
from portal.extensions import db
from portal.issues import services
from portal.issues.models import OPEN_STATES, Issue, next_deadline
from tests.issues import T0, gen_issue

H = timedelta(hours=1)


def stored(issue):
    """The column as the database holds it, read past the session."""
    db.session.flush()
    return db.session.execute(db.select(Issue.next_deadline).where(Issue.id == issue.id)).scalar_one()


def assert_kept(*issues):
    for issue in issues:
        db.session.refresh(issue)
        assert stored(issue) == next_deadline(issue), (issue.id, issue.status)


def test_reporting_stores_the_respond_by_time(world):
    issue = gen_issue(world, now=T0)
    assert stored(issue) == T0 + 2 * H == issue.respond_by
    hotline = services.report_from_hotline(world.x, category=world.categories["water"], title="停水",
                                           description="", reporter_name="王先生", reporter_phone=None, now=T0)
    assert stored(hotline) == T0 + 24 * H
    assert_kept(issue, hotline)


def test_every_handling_step_keeps_the_stored_deadline(world):
    issue = gen_issue(world, category="rubbish", now=T0)
    assert_kept(issue)
    services.hand_over(world.property_x, issue, world.dept_a, "Not ours", now=T0 + H)
    assert_kept(issue)
    services.accept_handover(world.department_a, issue, now=T0 + 2 * H)
    assert stored(issue) == issue.respond_by  # a handover is not a response
    services.post_update(world.department_a, issue, "internal", public=False, now=T0 + 3 * H)
    assert stored(issue) == issue.respond_by
    services.post_update(world.department_a, issue, "On our way", now=T0 + 4 * H)
    assert stored(issue) == issue.resolve_by  # a public update is the first response
    services.accept_issue(world.department_a, issue, now=T0 + 5 * H)
    services.start_work(world.department_a, issue, now=T0 + 6 * H)
    assert_kept(issue)
    services.resolve_issue(world.department_a, issue, "Done", now=T0 + 7 * H)
    assert stored(issue) is None
    services.rate_issue(world.reporter, issue, resolved=False, satisfaction="dissatisfied", now=T0 + 8 * H)
    assert issue.status == "reopened" and stored(issue) == T0 + 8 * H + 7 * 24 * H  # the new resolve-by
    services.accept_issue(world.department_a, issue, now=T0 + 9 * H)
    services.resolve_issue(world.department_a, issue, "Done again", now=T0 + 10 * H)
    services.rate_issue(world.reporter, issue, resolved=True, satisfaction="satisfied", now=T0 + 11 * H)
    assert issue.status == "closed" and stored(issue) is None
    assert_kept(issue)


def test_accept_start_reject_and_merge_keep_the_stored_deadline(world):
    accepted = gen_issue(world, now=T0)
    services.accept_issue(world.property_x, accepted, now=T0 + H)
    assert stored(accepted) == accepted.resolve_by
    started = gen_issue(world, title="Started", now=T0)
    services.accept_issue(world.property_x, started, now=T0 + H)
    services.start_work(world.property_x, started, now=T0 + 2 * H)
    assert stored(started) == started.resolve_by
    rejected = gen_issue(world, title="Rejected", now=T0)
    services.reject_issue(world.property_x, rejected, "Not a problem", now=T0 + H)
    assert stored(rejected) is None
    duplicate = gen_issue(world, reporter=world.neighbour, title="Same lift", now=T0)
    services.merge_duplicate(world.property_x, duplicate, started, now=T0 + 3 * H)
    assert stored(duplicate) is None and stored(started) == started.resolve_by
    assert_kept(accepted, started, rejected, duplicate)


def test_due_steps_keep_the_stored_deadline(world):
    warned = gen_issue(world, now=T0)
    resolved = gen_issue(world, category="rubbish", title="Bins", now=T0 - 30 * 24 * H)
    services.accept_issue(world.property_x, resolved, now=T0 - 30 * 24 * H + H)
    services.resolve_issue(world.property_x, resolved, "Emptied", now=T0 - 29 * 24 * H)
    db.session.commit()
    run_due(T0 + 3 * H)
    warned, resolved = db.session.get(Issue, warned.id), db.session.get(Issue, resolved.id)
    assert warned.respond_warned == 2 and stored(warned) == warned.respond_by
    assert resolved.status == "closed" and stored(resolved) is None
    assert_kept(warned, resolved)


def test_a_category_change_leaves_existing_deadlines_and_the_stored_one_alone(world):
    issue = gen_issue(world, now=T0)
    services.update_category(world.admin, world.categories["lift"], name="Lifts", deadline_class="emergency",
                             respond_hours=1, resolve_hours=12, default_org=world.pc_x, is_active=True)
    assert stored(issue) == T0 + 2 * H
    later = gen_issue(world, title="Another lift", now=T0)
    assert stored(later) == T0 + H
    assert_kept(issue, later)


def test_rebuild_sets_what_a_bulk_update_left_behind(world):
    issues = [gen_issue(world, title=f"Issue {n}", now=T0 + n * H) for n in range(4)]
    services.accept_issue(world.property_x, issues[1], now=T0 + 5 * H)
    services.reject_issue(world.property_x, issues[2], "no", now=T0 + 5 * H)
    db.session.flush()
    # A bulk load writes rows without the ORM: nothing stored, or stale values.
    db.session.execute(db.update(Issue).values(next_deadline=None).execution_options(synchronize_session=False))
    db.session.execute(db.update(Issue).where(Issue.id == issues[2].id).values(next_deadline=T0)
                       .execution_options(synchronize_session=False))
    assert services.rebuild_next_deadlines([world.y.id]) == 0
    assert services.rebuild_next_deadlines([world.x.id]) == 4
    assert services.rebuild_next_deadlines() == 0
    assert_kept(*issues)


def old_due_order(community):
    """The "due soonest" order as it was computed before the column: open first, by the deadline that matters
    now, then the others by submission."""
    is_open = Issue.status.in_(OPEN_STATES)
    deadline = case((Issue.first_response_at.is_(None), Issue.respond_by), else_=Issue.resolve_by)
    return db.session.scalars(db.select(Issue.id).where(Issue.community_id == community.id).order_by(
        case((is_open, 0), else_=1), case((is_open, deadline), else_=Issue.submitted_at), Issue.id)).all()


def hand_made(world):
    """Eleven issues in every state, with equal deadlines to test the tie-break by id."""
    make = lambda n, **kw: gen_issue(world, title=f"Issue {n}", now=T0 + n * H, **kw)  # noqa: E731
    lift, rubbish, noise, facilities = (make(n, category=c) for n, c in
                                        enumerate(["lift", "rubbish", "noise", "facilities"]))
    twin = gen_issue(world, title="Twin lift", now=T0)  # lift's respond-by, a larger id
    services.accept_issue(world.property_x, rubbish, now=T0 + 5 * H)
    services.post_update(world.department_a, noise, "Coming", now=T0 + 5 * H)
    done = make(6, category="rubbish")
    services.accept_issue(world.property_x, done, now=T0 + 7 * H)
    services.resolve_issue(world.property_x, done, "Done", now=T0 + 8 * H)
    rejected = make(9)
    services.reject_issue(world.property_x, rejected, "no", now=T0 + 10 * H)
    reopened = make(10, category="rubbish")
    services.accept_issue(world.property_x, reopened, now=T0 + 11 * H)
    services.resolve_issue(world.property_x, reopened, "Done", now=T0 + 12 * H)
    services.rate_issue(world.reporter, reopened, resolved=False, satisfaction="dissatisfied", now=T0 + 13 * H)
    closed = make(14)
    services.accept_issue(world.property_x, closed, now=T0 + 15 * H)
    services.resolve_issue(world.property_x, closed, "Done", now=T0 + 16 * H)
    services.rate_issue(world.reporter, closed, resolved=True, satisfaction="satisfied", now=T0 + 17 * H)
    early = gen_issue(world, title="Reported long ago, still open", now=T0 - 48 * H)
    db.session.commit()
    return [lift, rubbish, noise, facilities, twin, done, rejected, reopened, closed, early]


def test_due_soonest_keeps_the_order_it_had_on_a_hand_made_set(world):
    issues = hand_made(world)
    lift, rubbish, noise, facilities, twin, done, rejected, reopened, closed, early = issues
    expected = [early, lift, twin, facilities, rubbish, noise, reopened, done, rejected, closed]
    assert [i.id for i in expected] == old_due_order(world.x)
    for limit in (1, 3, 4, 100):
        seen, after = [], None
        while True:
            page, after = services.community_issues(world.x, None, sort="due", limit=limit, after=after)
            seen += page
            if after is None:
                break
        assert seen == expected, limit
    assert services.community_issues(world.x, None, sort="due", status="open")[0] == expected[:7]
    assert services.community_issues(world.x, None, sort="due", status="rejected")[0] == [rejected]
    assert services.community_issues(world.x, None, sort="due", status="accepted")[0] == [rubbish]
    overdue = services.community_issues(world.x, None, sort="due", overdue=True, now=T0 + 4 * H)[0]
    assert overdue == [early, lift, twin]


def test_the_overdue_filter_matches_is_overdue_at_every_hour(world):
    issues = hand_made(world)
    for hours in range(0, 24 * 12, 7):
        now = T0 + hours * H
        overdue = services.community_issues(world.x, None, overdue=True, limit=100, now=now)[0]
        assert set(overdue) == {i for i in issues if services.is_overdue(i, now=now)}, hours


def test_the_handlers_queue_reads_the_stored_deadline(world):
    lift, rubbish, noise, facilities, twin, *_rest, early = hand_made(world)
    queue = services.due_for(world.property_x, limit=100)[0]
    assert queue == sorted(queue, key=lambda i: (next_deadline(i), i.id))
    assert queue[:3] == [early, lift, twin]
