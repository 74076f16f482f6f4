"""Reminders: time-driven notices run by `flask --app portal run-due` (portal.due).

- A ballot closes within 24 hours: each account that may still cast a vote nobody has cast is told, once
  per ballot (never those who voted; a co-owner whose co-owner voted has nothing left to cast).
- An agreed action is due within 3 days, or is overdue: its owner (or, when it has none, the responsible
  organization's members) is told, once for each.

"Once" is kept by the outbox itself: a reminder is written only when no notification of that event about
that object exists for that person yet, so running a step twice, or from two machines, sends nothing new
and no model needs a "reminded" column."""
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select

from portal.clock import utcnow
from portal.due import due_step
from portal.extensions import db
from portal.notifications.models import Notification
from portal.outbox import instant

BALLOT_REMIND_BEFORE = timedelta(hours=24)
ACTION_REMIND_DAYS = 3


def _not_yet_told(user_id_column, event, object_type, object_id):
    return ~exists(select(Notification.id).where(
        Notification.recipient_id == user_id_column, Notification.event == event,
        Notification.object_type == object_type, Notification.object_id == object_id))


@due_step("remind_ballots_closing")
def remind_ballots_closing(now: datetime) -> int:
    """Open ballots closing within 24 hours: one INSERT … SELECT per ballot of those who have not voted."""
    from sqlalchemy.orm import joinedload

    from portal.votes import services as votes
    from portal.votes.models import Ballot, BallotCaster, BallotVote
    ballots = db.session.scalars(select(Ballot).where(
        Ballot.status == "open", Ballot.closes_at > now, Ballot.closes_at <= now + BALLOT_REMIND_BEFORE)
        .options(joinedload(Ballot.community), joinedload(Ballot.proposal)).order_by(Ballot.id)).all()
    sent = 0
    for ballot in ballots:
        waiting = select(BallotCaster.user_id).outerjoin(BallotVote, and_(
            BallotVote.ballot_id == BallotCaster.ballot_id, BallotVote.voter_id == BallotCaster.voter_id)).where(
            BallotCaster.ballot_id == ballot.id, BallotVote.id.is_(None),
            _not_yet_told(BallotCaster.user_id, "votes.closing_soon", Ballot.__tablename__, ballot.id)).distinct()
        waiting_count = db.session.scalar(select(func.count()).select_from(waiting.subquery()))
        if waiting_count:
            votes._notify_all(waiting, "votes.closing_soon", ballot,
                              votes._payload(ballot, closes=instant(ballot.closes_at)), now)
        sent += waiting_count
    return sent


def action_reminder(action, today) -> str | None:
    """Which reminder an action needs on the community-local date `today`, if any."""
    if action.status == "done":
        return None
    if action.due_date < today:
        return "actions.overdue"
    if action.due_date <= today + timedelta(days=ACTION_REMIND_DAYS):
        return "actions.due_soon"
    return None


@due_step("remind_actions_due")
def remind_actions_due(now: datetime) -> int:
    from sqlalchemy.orm import joinedload

    from portal.actions import services as actions
    from portal.actions.models import Action
    from portal.issues.services import members_of
    # Community-local dates differ from UTC's by under a day: take a day more, decide exactly per action.
    horizon = (now + timedelta(days=ACTION_REMIND_DAYS + 1)).date()
    candidates = db.session.scalars(select(Action).where(Action.status != "done", Action.due_date <= horizon)
                                    .options(joinedload(Action.community), joinedload(Action.owner))
                                    .order_by(Action.id)).all()
    if not candidates:
        return 0
    told = set(db.session.execute(select(Notification.event, Notification.object_id, Notification.recipient_id)
                                  .where(Notification.object_type == Action.__tablename__,
                                         Notification.event.in_(("actions.due_soon", "actions.overdue")),
                                         Notification.object_id.in_([a.id for a in candidates]))).all())
    members = {}
    sent = 0
    for action in candidates:
        event = action_reminder(action, actions.local_date(action.community, now))
        if event is None:
            continue
        if action.owner is not None and action.owner.is_active_account:
            people = [action.owner]
        else:
            if action.responsible_org_id not in members:
                members[action.responsible_org_id] = members_of([action.responsible_org_id])
            people = members[action.responsible_org_id]
        people = [p for p in people if (event, action.id, p.id) not in told]
        if people:
            sent += len(actions.notify(people, event, action, **actions._payload(action,
                                                                                due=action.due_date.isoformat())))
    return sent


# --- the demo ---------------------------------------------------------------------------------------------

def seed_notifications(now: datetime | None = None) -> list[str]:
    """After the areas' demos (which notified as they went): the reminders due now, then everything but each
    person's newest notice in each group marked read, so every demo account shows a believable mix of read
    and unread across its groups. Idempotent."""
    from sqlalchemy import case

    from portal.notifications.services import EVENTS
    now = now or utcnow()
    reminded = remind_ballots_closing(now) + remind_actions_due(now)
    group = case({event: spec["group"] for event, spec in EVENTS.items()}, value=Notification.event, else_="")
    ranked = select(Notification.id, func.row_number().over(
        partition_by=(Notification.recipient_id, group), order_by=Notification.id.desc()).label("n")).subquery()
    older = select(ranked.c.id).where(ranked.c.n > 1)
    read = db.session.execute(db.update(Notification).where(Notification.id.in_(older),
                                                             Notification.read_at.is_(None))
                              .values(read_at=now)).rowcount
    db.session.flush()
    unread = db.session.scalar(select(func.count(Notification.id)).where(Notification.read_at.is_(None)))
    return [f"notifications: {reminded} reminders, {read} marked read, {unread} unread"]
