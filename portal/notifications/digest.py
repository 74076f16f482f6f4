"""Daily digests: one e-mail per person per day, at NOTIFICATION_DIGEST_HOUR (07:00) in their time zone,
listing every row of their digest groups written since the previous digest, grouped by group.

A row put aside for the digest ("digest") is due at the first digest hour after it was written. At that hour the
person's due rows go out together; when the server accepted the e-mail they become "sent" and the person's
`last_digest_on` (their local date) is recorded, so a rerun the same day sends nothing, and what is written
after the hour waits for tomorrow's digest. A failed digest retries like any message (rows keep their backoff)."""
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import update

from portal.extensions import db
from portal.notifications.models import Notification

DIGEST_LIMIT = 1000  # rows in one digest; more (rare) wait for the next day's


def next_digest_at(written_at: datetime, zone: str) -> datetime:
    """The first digest hour in `zone` strictly after `written_at` (UTC)."""
    tz = ZoneInfo(zone)
    local = written_at.astimezone(tz)
    hour = time(current_app.config["NOTIFICATION_DIGEST_HOUR"])
    at = datetime.combine(local.date(), hour, tzinfo=tz)
    if at <= local:
        at = datetime.combine(local.date() + timedelta(days=1), hour, tzinfo=tz)
    return at.astimezone(ZoneInfo("UTC"))


def people_due(now) -> list[int]:
    return list(db.session.scalars(
        db.select(Notification.recipient_id).where(Notification.email_status == "digest",
                                                   Notification.next_attempt_at <= now)
        .distinct().order_by(Notification.recipient_id)))


def postpone(user_id, now, until):
    table = Notification.__table__
    db.session.execute(update(table).where(table.c.recipient_id == user_id, table.c.email_status == "digest",
                                           table.c.next_attempt_at <= now).values(next_attempt_at=until))
    db.session.commit()

