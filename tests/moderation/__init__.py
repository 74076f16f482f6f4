"""Shared for the moderation tests. The `world` fixture (conftest.py) is the proposals world: the issues
world (w.reporter, w.neighbour, w.resident_y, w.property_x, …; committee of x: w.chair_x, w.member_x) plus
w.supporters, twelve verified residents of x — enough different people to flag an item three times.

  gen_flags(world, item_type, item, n, *, reason="spam", start=0, now=None)
      `n` flags on the item from w.supporters[start:start + n], through services.flag.
  public_update(world, issue, body)
      a public update on the issue by its handler (x's property company: w.property_x).
Helpers flush and commit nothing: commit before making requests with the test client."""
from tests.issues import T0, gen_issue  # noqa: F401  (re-exported)
from tests.proposals import gen_comment, gen_in_deliberation, gen_proposal  # noqa: F401  (re-exported)


def gen_flags(world, item_type, item, n, *, reason="spam", start=0, now=None):
    from portal.moderation import services
    return [services.flag(person, item_type, item, reason, now=now)
            for person in world.supporters[start:start + n]]


def public_update(world, issue, body="We called the lift company; they come on Monday."):
    from portal.issues import services
    return services.post_update(world.property_x, issue, body)


def notices_of(person) -> list[str]:
    """The messages of a person's notifications, as the inbox shows them."""
    from portal.extensions import db
    from portal.notifications.models import Notification
    from portal.notifications.services import message_for
    rows = db.session.scalars(db.select(Notification).where(Notification.recipient_id == person.id)
                              .order_by(Notification.id)).all()
    return [message_for(n) for n in rows]


def events_of(person) -> list[str]:
    from portal.extensions import db
    from portal.notifications.models import Notification
    return list(db.session.scalars(db.select(Notification.event).where(Notification.recipient_id == person.id)
                                   .order_by(Notification.id)))


def audit_actions(obj=None) -> list[str]:
    from portal.audit.models import AuditEntry
    from portal.extensions import db
    query = db.select(AuditEntry.action).where(AuditEntry.action.startswith("moderation."))
    if obj is not None:
        query = query.where(AuditEntry.object_type == type(obj).__tablename__, AuditEntry.object_id == obj.id)
    return list(db.session.scalars(query.order_by(AuditEntry.id)))
