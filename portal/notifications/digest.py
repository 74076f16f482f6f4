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

from portal.clock import in_zone
from portal.extensions import db
from portal.notifications.models import MailboxState, Notification

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


def send_digests(now, channel):
    from portal.notifications import mail, preferences, services
    from portal.notifications.sender import (DeliveryError, DrainResult, claim, load, mailbox_of, quiet_until,
                                             record_failure, record_success, zones_of)
    result = DrainResult()
    people = people_due(now)
    zones = zones_of(people)
    for user_id in people:
        zone = zones[user_id]
        today = in_zone(now, zone).date()
        state = db.session.get(MailboxState, user_id)
        # Rows that cannot go yet wait for the hour they can, so no sender keeps finding them due.
        if state is not None and state.last_digest_on is not None and state.last_digest_on >= today:
            postpone(user_id, now, next_digest_at(now, zone))
            continue
        if until := quiet_until(now, zone):
            postpone(user_id, now, until)
            continue
        ids = claim(now, status="digest", recipient_id=user_id, limit=DIGEST_LIMIT)
        if not ids:
            continue
        rows = load(ids)
        person = rows[0].recipient
        modes = preferences.modes_of([user_id])[user_id]
        items = []
        for row in rows:
            group = services.group_of(row.event)
            if group is None or modes.get(group) == "off" or not person.email or not person.is_active:
                row.email_status, row.next_attempt_at = "skipped", None
                result.skipped += 1
            else:
                items.append(row)
        if not items:
            db.session.commit()
            continue
        previous = state.last_digest_at if state is not None else None
        try:
            channel.send(mail.compose_digest(person, items, since=previous, zone=zone))
        except DeliveryError as error:
            record_failure(items, error, now, result)
            db.session.commit()
            if error.unreachable:
                current_app.logger.warning("notifications: %s", error.reply)
                break
            continue
        record_success(items, now)
        state = mailbox_of(user_id)
        state.last_digest_on, state.last_digest_at = today, now
        result.digests += 1
        db.session.commit()
    return result
