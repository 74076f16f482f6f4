"""The notification outbox: the one way every area tells people something, below every area.

notify() writes one row per recipient and event in the caller's transaction, so a notice exists exactly when the
change it reports was committed. Areas declare their events once at import (register_event). Delivery sits above
the areas, in portal.notifications: the in-app centre, e-mail by each person's preference per group (sender,
digest), reminders. A payload with "urgent": True (an emergency issue) is e-mailed even in quiet hours.
A payload keeps moments as ISO 8601 UTC text (`instant()`) with the community's time zone under "zone"; the
message writes them when it is read, in the reader's language and that zone (see register_event's `times`).
This module imports no area."""
import secrets
from datetime import UTC, date, datetime

from flask import current_app, g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, event, func, inspect
from sqlalchemy.orm import Session

from portal import events
from portal.clock import UTCDateTime, utcnow
from portal.extensions import db, unproxied

# What became of a row's e-mail: "pending" (not decided yet, or waiting for its next attempt), "digest"
# (waits for the person's daily digest), "sent" (the SMTP server accepted it), "failed" (refused for good),
# "skipped" (no e-mail for it: no address, the group is off, or an in-app-only row from before delivery).
EMAIL_STATUSES = ("pending", "digest", "sent", "failed", "skipped")

class Notification(db.Model):
    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint("email_status IN ('pending', 'digest', 'sent', 'failed', 'skipped')", name="email_status"),
        # The sender's question: which rows are due now?
        db.Index("ix_notification_email_due", "email_status", "next_attempt_at"),
    )

    id = db.Column(db.Integer, primary_key=True)
    recipient_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    event = db.Column(db.String(64), nullable=False)
    object_type = db.Column(db.String(40))
    object_id = db.Column(db.Integer)
    # What the message needs to be rendered later, in the recipient's language (never rendered text).
    payload = db.Column(db.JSON, nullable=False, default=dict)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    read_at = db.Column(UTCDateTime)
    emailed_at = db.Column(UTCDateTime)
    # E-mail delivery (portal.notifications.sender). next_attempt_at: not before then (a retry's backoff, the
    # end of quiet hours, the digest hour, or a sender's lease while it is sending); NULL: at once.
    email_status = db.Column(db.String(8), nullable=False, default="pending", server_default="pending")
    email_attempts = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    email_rejections = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    next_attempt_at = db.Column(UTCDateTime)
    last_error = db.Column(db.String(500))
    # A random number drawn when the row is added and again whenever its payload is written again (moderation
    # hides a title it quotes): with the person's count, read count and latest id, their sum says when the
    # person's centre must be drawn again (portal.notifications.centre.inbox_version), and it differs from one
    # life of a database to the next (emptied and filled again, ids counting from 1 again).
    stamp = db.Column(db.Integer, nullable=False, default=lambda: secrets.randbits(31), server_default="0")

    recipient = db.relationship("User")


@event.listens_for(Notification, "before_update")
def _new_stamp(mapper, connection, target):
    if inspect(target).attrs.payload.history.has_changes():
        target.stamp = secrets.randbits(31)


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


def register_event(event: str, message, link=None, *, group: str | None = None, times: tuple[str, ...] = (),
                   days: tuple[str, ...] = ()) -> None:
    """Areas declare their events once at import: `message` is a lazy_gettext string with %(name)s
    placeholders filled from the payload; `link(notification)` returns the page it points at; `group`
    (a key of GROUPS; by default from the event's name) decides how it is e-mailed; `times` names the payload
    keys that hold a moment (`instant()`), `days` those that hold a calendar day (`date.isoformat()`, a due
    date), each written for the reader when the message is read."""
    if group is None:
        group = next((g for prefix, g in GROUP_BY_PREFIX.items() if event.startswith(prefix)), None)
    if group not in GROUPS:
        raise ValueError(f"notification event {event!r} needs a group from GROUPS")
    EVENTS[event] = {"message": message, "link": link, "group": group, "times": tuple(times), "days": tuple(days)}


def instant(moment: datetime) -> str:
    """A moment as a payload keeps it: ISO 8601 in UTC ("2026-12-11T12:00:00+00:00"), never words or a
    local time, so that each reader sees it in their own language."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def notify(recipients, event: str, obj=None, **payload) -> list[Notification]:
    """One outbox row per distinct recipient (None skipped), in the caller's transaction."""
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
    payload = _readable(notification.payload or {}, spec.get("times", ()), spec.get("days", ()))
    if callable(message):  # a message that depends on the payload's shape (which kind of item, say)
        return str(message(payload))
    return str(message) % payload


def _readable(payload: dict, times: tuple[str, ...], days: tuple[str, ...] = ()) -> dict:
    """The payload with each moment named in `times` written as the portal writes times: in the language in
    force (the reader's) and the zone kept with it (the community's); each day named in `days` likewise,
    without a time. A payload stored before moments were kept as instants holds the text written then,
    which is shown as it is."""
    if not times and not days:
        return payload
    # portal.web's datetime_local and date_local, found on the app: portal.web reads this module, so it
    # cannot be imported.
    filters = current_app.jinja_env.filters
    shown = dict(payload)
    for key in times:
        moment = _instant_of(payload.get(key))
        if moment is not None:
            shown[key] = filters["datetime_local"](moment, payload.get("zone"))
    for key in days:
        day = _day_of(payload.get(key))
        if day is not None:
            shown[key] = filters["date_local"](day, payload.get("zone"))
    return shown


def _day_of(value) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _instant_of(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


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
    forget_unread_count()
    return db.session.execute(query.values(read_at=utcnow())).rowcount


def forget_unread_count() -> None:
    """The user loader reads the person's unread count with the person; a write to notifications within the
    request makes the header count it again."""
    if has_request_context():
        g.pop("unread_notifications_at_start", None)


@event.listens_for(Session, "after_flush")
def _after_flush(session, flush_context):
    """The one hook on every flush that looks for notifications: the delivery channels hear of the new rows
    through events.notifications_flushed instead of each looking through every flush themselves."""
    new = [obj for obj in session.new if isinstance(obj, Notification)]
    if new:
        events.notifications_flushed.send(session, notifications=new)
    if new or any(isinstance(obj, Notification) for obj in (*session.dirty, *session.deleted)):
        forget_unread_count()
