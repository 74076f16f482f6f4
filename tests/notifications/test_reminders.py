"""Reminders (portal.notifications.reminders): a ballot closing within 24 hours reaches exactly those who have
not voted, once; an action due in 3 days and an overdue one reach its owner once each."""
from datetime import timedelta

from portal.due import run_due
from portal.extensions import db
from portal.notifications import reminders
from portal.notifications.models import Notification
from portal.notifications.services import message_for
from tests.actions import gen_action, local_today
from tests.actions.conftest import world as actions_world  # noqa: F401  (the worlds the tests build on)
from tests.issues.conftest import world as issues_world  # noqa: F401
from tests.proposals.conftest import world as proposals_world  # noqa: F401
from tests.votes import gen_ballot, vote
from tests.votes.conftest import world as votes_world  # noqa: F401

H = timedelta(hours=1)


def told(event, obj) -> list[int]:
    return sorted(db.session.scalars(db.select(Notification.recipient_id).where(
        Notification.event == event, Notification.object_type == type(obj).__tablename__,
        Notification.object_id == obj.id)))


def ids(*people) -> list[int]:
    return sorted(p.id for p in people)


# --- ballots ----------------------------------------------------------------------------------------------------

def test_the_24_hour_reminder_reaches_exactly_those_who_have_not_voted_once(votes_world):
    w = votes_world
    ballot = gen_ballot(w, "residents")
    electorate = set(told("votes.opened", ballot))
    voters = [w.reporter, w.supporters[0], w.supporters[1]]
    for person in voters:
        vote(person, ballot, "yes")
    vote(w.supporters[0], ballot, "no")  # a changed vote is still a vote
    db.session.commit()

    assert reminders.remind_ballots_closing(ballot.closes_at - 25 * H) == 0  # not yet
    sent = reminders.remind_ballots_closing(ballot.closes_at - 23 * H)
    reminded = told("votes.closing_soon", ballot)
    assert reminded == sorted(electorate - {p.id for p in voters})
    assert sent == len(reminded) == len(electorate) - 3
    assert not set(reminded) & {p.id for p in voters}

    vote(w.neighbour, ballot, "no")  # voting after the reminder changes nothing, and nobody is told twice
    assert reminders.remind_ballots_closing(ballot.closes_at - 2 * H) == 0
    assert told("votes.closing_soon", ballot) == reminded
    assert reminders.remind_ballots_closing(ballot.closes_at + H) == 0  # closed (or closing): no reminder


def test_a_co_owner_whose_co_owner_voted_is_not_reminded(votes_world):
    w = votes_world
    ballot = gen_ballot(w, "owners")
    vote(w.co_owner_1, ballot, "yes")
    vote(w.buyer, ballot, "yes")
    reminders.remind_ballots_closing(ballot.closes_at - 12 * H)
    reminded = set(told("votes.closing_soon", ballot))
    assert w.co_owner_1.id not in reminded and w.co_owner_2.id not in reminded and w.buyer.id not in reminded
    assert {w.owner_a.id, w.developer_rep.id} <= reminded
    assert w.seller.id not in reminded  # no longer an owner: not in the electorate


def test_the_ballot_reminder_runs_in_run_due_and_says_when_voting_closes(votes_world, app):
    w = votes_world
    ballot = gen_ballot(w, "committee")
    vote(w.chair_x, ballot, "yes")
    db.session.commit()
    run_due(ballot.closes_at - 3 * H)
    assert told("votes.closing_soon", ballot) == ids(w.member_x)
    run_due(ballot.closes_at - 2 * H)
    assert told("votes.closing_soon", ballot) == ids(w.member_x)
    [row] = db.session.scalars(db.select(Notification).where(Notification.event == "votes.closing_soon")).all()
    with app.test_request_context():
        assert "you have not voted yet" in message_for(row)


# --- actions ----------------------------------------------------------------------------------------------------

def test_an_action_due_in_three_days_then_overdue_reminds_its_owner_once_each(actions_world):
    w = actions_world
    from portal.clock import utcnow
    now = utcnow()
    today = local_today(w.x, now)
    action = gen_action(w, due_date=today + timedelta(days=5), now=now)
    db.session.commit()
    assert reminders.remind_actions_due(now) == 0
    assert reminders.remind_actions_due(now + timedelta(days=2)) == 1
    assert told("actions.due_soon", action) == ids(w.property_x)
    assert reminders.remind_actions_due(now + timedelta(days=3)) == 0  # once
    assert reminders.remind_actions_due(now + timedelta(days=6)) == 1
    assert told("actions.overdue", action) == ids(w.property_x)
    assert reminders.remind_actions_due(now + timedelta(days=7)) == 0  # once
    assert told("actions.due_soon", action) == ids(w.property_x)


def test_an_action_without_an_owner_reminds_the_responsible_organization(actions_world):
    w = actions_world
    from portal.clock import utcnow
    now = utcnow()
    action = gen_action(w, owner=None, due_date=local_today(w.x, now) + timedelta(days=1), now=now)
    db.session.commit()
    reminders.remind_actions_due(now)
    assert told("actions.due_soon", action) == ids(w.property_x)  # the property company's only member


def test_a_done_action_and_a_late_first_check_send_no_due_soon(actions_world):
    w = actions_world
    from portal.clock import utcnow
    now = utcnow()
    late = gen_action(w, due_date=local_today(w.x, now) + timedelta(days=1), now=now)
    db.session.commit()
    reminders.remind_actions_due(now + timedelta(days=4))  # first look after the due date: overdue only
    assert told("actions.due_soon", late) == [] and told("actions.overdue", late) == ids(w.property_x)
    assert reminders.action_reminder(type(late)(status="done", due_date=local_today(w.x, now)),
                                     local_today(w.x, now) + timedelta(days=3)) is None


# --- the demo ---------------------------------------------------------------------------------------------------

def test_demo_notifications_leave_the_newest_of_each_group_unread(votes_world):
    w = votes_world
    from sqlalchemy import func

    from portal.notifications.services import EVENTS
    from tests.issues import gen_issue
    gen_ballot(w, "residents")
    for n in range(3):  # the property company hears of each
        gen_issue(w, category="leak", title=f"Leak {n}")
    db.session.commit()
    reminders.seed_notifications()

    def unread_by_group():
        groups = {}
        for recipient, event in db.session.execute(db.select(Notification.recipient_id, Notification.event).where(
                Notification.read_at.is_(None))):
            groups.setdefault(recipient, []).append(EVENTS[event]["group"])
        return groups
    groups = unread_by_group()
    assert all(len(g) == len(set(g)) for g in groups.values())  # one unread per group and person
    assert len(set(groups[w.reporter.id])) >= 2  # a mix across groups
    assert db.session.scalar(db.select(func.count(Notification.id)).where(Notification.read_at.is_not(None)))
    reminders.seed_notifications()  # idempotent
    assert unread_by_group() == groups
