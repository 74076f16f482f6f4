"""notify(): the one way every area tells people something. Rows go to the outbox in the caller's
transaction, so a notice exists exactly when the change it reports was committed. Channels read the
outbox: the in-app list, and e-mail (portal.notifications.sender, by each person's preference per group).
A payload with "urgent": True (an emergency issue) is e-mailed even in quiet hours."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import func

from portal.clock import utcnow
from portal.extensions import db, unproxied
from portal.notifications.models import Notification

# Every event belongs to one group; people choose per group how e-mail reaches them ("at once",
# "daily digest" or "off"). "account" (password, residence) always goes at once and cannot be turned off.
GROUPS = {
    "account": _l("My account and residence"),
    "my_issues": _l("Issues I reported or support"),
    "handling": _l("Issues my organization handles"),
    "proposals": _l("Proposals and discussions"),
    "votes": _l("Ballots"),
    "meetings": _l("Committee meetings"),
    "notices": _l("Public notices"),
    "actions": _l("Agreed actions"),
    "moderation": _l("Moderation"),
}
# The group of an event registered without one, from its name.
GROUP_BY_PREFIX = {"password_": "account", "residency.": "account", "issue_": "my_issues",
                   "proposals.": "proposals", "votes.": "votes", "meetings.": "meetings", "notices.": "notices",
                   "actions.": "actions", "moderation.": "moderation"}

# event name -> message (a lazy translatable string formatted with the payload), link builder and group.
EVENTS: dict[str, dict] = {}


def register_event(event: str, message, link=None, *, group: str | None = None) -> None:
    """Areas declare their events once at import: `message` is a lazy_gettext string with %(name)s
    placeholders filled from the payload; `link(notification)` returns the page it points at; `group`
    (a key of GROUPS; by default from the event's name) decides how it is e-mailed."""
    if group is None:
        group = next((g for prefix, g in GROUP_BY_PREFIX.items() if event.startswith(prefix)), None)
    if group not in GROUPS:
        raise ValueError(f"notification event {event!r} needs a group from GROUPS")
    EVENTS[event] = {"message": message, "link": link, "group": group}


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


def group_of(event: str) -> str | None:
    spec = EVENTS.get(event)
    return spec["group"] if spec else None


def message_for(notification: Notification) -> str:
    spec = EVENTS.get(notification.event)
    if spec is None:
        return notification.event
    message = spec["message"]
    if callable(message):  # a message that depends on the payload's shape (which kind of item, say)
        return str(message(notification.payload or {}))
    return str(message) % notification.payload


def link_for(notification: Notification):
    spec = EVENTS.get(notification.event)
    return spec["link"](notification) if spec and spec["link"] else None


def unread_count(user) -> int:
    return db.session.scalar(
        db.select(func.count(Notification.id)).where(
            Notification.recipient_id == user.id, Notification.read_at.is_(None))) or 0


def mark_read(user, notification_id=None) -> int:
    """Mark one of the person's notifications read, or all of them when no id is given."""
    query = db.update(Notification).where(Notification.recipient_id == user.id,
                                          Notification.read_at.is_(None))
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    return db.session.execute(query.values(read_at=utcnow())).rowcount
