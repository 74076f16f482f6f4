"""notify(): the one way every area tells people something. Rows go to the outbox in the caller's
transaction, so a notice exists exactly when the change it reports was committed. Channels (the
in-app list now, e-mail later) read the outbox."""
from sqlalchemy import func

from portal.clock import utcnow
from portal.extensions import db, unproxied
from portal.notifications.models import Notification

# event name -> message (a lazy translatable string formatted with the payload) and link builder.
EVENTS: dict[str, dict] = {}


def register_event(event: str, message, link=None, *, email: bool = False) -> None:
    """Areas declare their events once at import: `message` is a lazy_gettext string with %(name)s
    placeholders filled from the payload; `link(notification)` returns the page it points at;
    `email` sends it by e-mail at once to recipients who have an address (portal.notifications.mail)."""
    EVENTS[event] = {"message": message, "link": link, "email": email}


def notify(recipients, event: str, obj=None, **payload) -> list[Notification]:
    if event not in EVENTS:
        raise ValueError(f"unregistered notification event {event!r}")
    obj = unproxied(obj)
    seen = set()
    rows = []
    for person in recipients:
        if person is None or person.id in seen:
            continue
        seen.add(person.id)
        row = Notification(recipient_id=person.id, event=event,
                           object_type=type(obj).__tablename__ if obj is not None else None,
                           object_id=getattr(obj, "id", None), payload=payload)
        db.session.add(row)
        rows.append(row)
    return rows


def message_for(notification: Notification) -> str:
    spec = EVENTS.get(notification.event)
    if spec is None:
        return notification.event
    return str(spec["message"]) % notification.payload


def link_for(notification: Notification):
    spec = EVENTS.get(notification.event)
    return spec["link"](notification) if spec and spec["link"] else None


def unread_count(user) -> int:
    return db.session.scalar(
        db.select(func.count(Notification.id)).where(
            Notification.recipient_id == user.id, Notification.read_at.is_(None))) or 0


def inbox(user, page=1, per_page=30):
    query = (db.select(Notification).where(Notification.recipient_id == user.id)
             .order_by(Notification.id.desc()))
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def mark_read(user, notification_id=None) -> int:
    """Mark one of the person's notifications read, or all of them when no id is given."""
    query = db.update(Notification).where(Notification.recipient_id == user.id,
                                          Notification.read_at.is_(None))
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    return db.session.execute(query.values(read_at=utcnow())).rowcount
