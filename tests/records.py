"""Reading back what a service wrote: notifications, audit entries, row counts."""
from portal.audit.models import AuditEntry
from portal.extensions import db
from portal.notifications.models import Notification


def notices(user, event_name=None):
    query = db.select(Notification).where(Notification.recipient_id == user.id)
    if event_name:
        query = query.where(Notification.event == event_name)
    return db.session.scalars(query).all()


def audit(action):
    return db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == action)).all()


def count(model) -> int:
    return db.session.scalar(db.select(db.func.count(model.id)))
