"""The sender: drains the outbox into channels (e-mail over SMTP now; an SMS gateway could be another channel
with the same `send(message)`), deciding for each row at send time from the person's preference.

For each due row (`email_status` "pending", `next_attempt_at` empty or past):
- no e-mail address, the group off, or an unknown event: "skipped" (in-app only);
- the group in the daily digest: "digest", due at the next digest hour after it was written
  (portal.notifications.digest);
- quiet hours in the person's local time (22:00–07:00) and neither urgent (payload "urgent": True) nor about
  their own account: held until the quiet hours end;
- otherwise sent. It is marked "sent" only after the SMTP server accepted it (committed every COMMIT_EVERY
  messages). Rows are claimed first by moving `next_attempt_at` a lease ahead, so two senders running at once
  do not send the same row, and a sender that dies mid-send leaves rows that come due again when the lease
  ends: sent twice at worst, never lost.

Failures: a temporary one (4xx reply, connection refused or closed, timeout) retries after 1, 2, 4 … minutes,
capped at an hour, for ever; a permanent one (5xx) retries the same way, but the fifth refusal marks the row
"failed" and records the address and reply for the person's account page.

Running it: `flask --app portal send-notifications` (cron), the `send_notifications` step of `run-due`, and, when
REDIS_URL is set, an RQ worker fed after every commit that wrote notifications:
`rq worker --with-scheduler --url "$REDIS_URL" yishi` (the scheduler wakes it for retries and held mail).
The worker builds the app from the same environment as the web app (DATABASE_URL, SECRET_KEY, MAIL_*, ...)."""
import smtplib
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import event, or_, update
from sqlalchemy.orm import selectinload

from portal import events
from portal.clock import in_zone, utcnow
from portal.due import due_step
from portal.extensions import db
from portal.notifications.mail import OutgoingMessage
from portal.notifications.models import MailboxState, Notification

LEASE = timedelta(minutes=10)
MAX_BACKOFF_MINUTES = 60
MAX_REJECTIONS = 5
BATCH_SIZE = 200
# Outcomes are committed every so many messages: a crash between the server's acceptance and the commit sends
# those again (duplicates, never loss), and SQLite need not sync its file once per message.
COMMIT_EVERY = 20


# --- the channel interface ---------------------------------------------------------------------------------

class DeliveryError(Exception):
    """A channel could not deliver. `permanent`: the receiving side refused this message for good (an SMTP
    5xx reply); `unreachable`: the channel cannot be reached at all, so the rest of the batch waits too."""

    def __init__(self, reply: str, *, permanent: bool = False, unreachable: bool = False):
        super().__init__(reply)
        self.reply = reply[:500]
        self.permanent = permanent
        self.unreachable = unreachable


class SmtpChannel:
    """E-mail over SMTP (standard library), one connection reused for a batch. `send` returns once the server
    accepted the message and raises DeliveryError otherwise."""

    def __init__(self, server, port, *, sender, username=None, password=None, use_tls=False, timeout=10):
        self.server, self.port, self.sender = server, port, sender
        self.username, self.password, self.use_tls, self.timeout = username, password, use_tls, timeout
        self._smtp = None

    @classmethod
    def from_config(cls, config) -> "SmtpChannel":
        return cls(config["MAIL_SERVER"], config["MAIL_PORT"], sender=config["MAIL_DEFAULT_SENDER"],
                   username=config.get("MAIL_USERNAME"), password=config.get("MAIL_PASSWORD"),
                   use_tls=config.get("MAIL_USE_TLS", False), timeout=config.get("MAIL_TIMEOUT", 10))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _connect(self):
        try:
            smtp = smtplib.SMTP(self.server, self.port, timeout=self.timeout)
            if self.use_tls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(f"cannot reach {self.server}:{self.port}: {_describe(error)}",
                                unreachable=True) from None
        self._smtp = smtp

    def close(self):
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._smtp = None

    def _drop(self):
        try:
            self._smtp.close()
        except (OSError, smtplib.SMTPException, AttributeError):
            pass
        self._smtp = None

    def email(self, message: OutgoingMessage) -> EmailMessage:
        email = EmailMessage()
        email["Subject"] = message.subject
        email["From"] = self.sender
        email["To"] = message.to
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        email.set_content(message.text)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        # After the content: making the message multipart moves Content-* headers into its first part.
        for name, value in message.headers.items():
            email[name] = value
        return email

    def send(self, message: OutgoingMessage) -> None:
        email = self.email(message)
        if self._smtp is None:
            self._connect()
        try:
            self._smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            raise DeliveryError(_reply(code, reply), permanent=500 <= code < 600) from None
        except smtplib.SMTPResponseException as error:  # refused sender or data; 421 closes the connection
            if error.smtp_code == 421 or error.smtp_code < 0:
                self._drop()
            raise DeliveryError(_reply(error.smtp_code, error.smtp_error),
                                permanent=500 <= error.smtp_code < 600) from None
        except (OSError, smtplib.SMTPException) as error:  # closed, reset, timed out
            self._drop()
            raise DeliveryError(_describe(error)) from None


def _reply(code, reply) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {text}".strip()


def _describe(error) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return _reply(error.smtp_code, error.smtp_error)
    return str(error) or type(error).__name__


def default_channel():
    return SmtpChannel.from_config(current_app.config)


# --- time: backoff, the person's zone, quiet hours ---------------------------------------------------------

def backoff(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed ones: 1, 2, 4 … minutes, at most an hour."""
    return timedelta(minutes=min(MAX_BACKOFF_MINUTES, 2 ** max(0, min(attempts - 1, 10))))


def zones_of(user_ids) -> dict[int, str]:
    """Each person's time zone: that of the community they live in (verified, else claimed), else of the
    community or sub-district of an organization they serve, else the portal's default."""
    from portal.auth.roles import current_clause
    from portal.committees.models import Organization, OrgMembership
    from portal.places.models import Community, Residency
    default = current_app.config["DEFAULT_TIME_ZONE"]
    ids = list(set(user_ids))
    zones: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        residences = db.session.execute(
            db.select(Residency.user_id, Community.time_zone).join(Community, Residency.community_id == Community.id)
            .where(Residency.user_id.in_(part), Residency.status.in_(("pending", "verified")))
            .order_by(Residency.status.desc(), Residency.id))  # verified last, so it wins
        for user_id, zone in residences:
            zones[user_id] = zone
        missing = [i for i in part if i not in zones]
        if missing:
            served = db.session.execute(
                db.select(OrgMembership.user_id, Community.time_zone)
                .join(Organization, OrgMembership.organization_id == Organization.id)
                .join(Community, or_(Community.id == Organization.community_id,
                                     Community.sub_district_id == Organization.sub_district_id))
                .where(OrgMembership.user_id.in_(missing), current_clause(OrgMembership)))
            for user_id, zone in served:
                zones.setdefault(user_id, zone)
    return {i: _valid_zone(zones.get(i)) or default for i in ids}


def _valid_zone(zone):
    try:
        return zone if zone and ZoneInfo(zone) else None
    except (KeyError, ValueError):
        return None


def quiet_until(now: datetime, zone: str) -> datetime | None:
    """When the recipient's quiet hours end, if `now` falls in them; else None."""
    config = current_app.config
    start, end = config["NOTIFICATION_QUIET_START"], config["NOTIFICATION_QUIET_END"]
    if start == end:
        return None
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    quiet = (local.hour >= start or local.hour < end) if start > end else (start <= local.hour < end)
    if not quiet:
        return None
    day = local.date() if local.hour < end else local.date() + timedelta(days=1)
    return datetime.combine(day, time(end), tzinfo=tz).astimezone(ZoneInfo("UTC"))


# --- draining ------------------------------------------------------------------------------------------------

@dataclass
class DrainResult:
    sent: int = 0          # e-mails of single notifications accepted by the server
    digests: int = 0       # digest e-mails accepted (each carries several rows)
    to_digest: int = 0     # rows put aside for a daily digest
    held: int = 0          # rows held for the end of quiet hours
    retrying: int = 0      # rows that failed and wait for their next try
    failed: int = 0        # rows refused for good
    skipped: int = 0       # rows with no e-mail to send

    def add(self, other: "DrainResult"):
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)

    def lines(self) -> list[str]:
        return [f"{key}: {value}" for key, value in asdict(self).items()]


def due_clause(now):
    return or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now)


def claim(now, *, status="pending", recipient_id=None, limit=BATCH_SIZE) -> list[int]:
    """Take up to `limit` due rows for this sender by moving them a lease ahead; returns their ids. A row
    another sender claimed a moment earlier is no longer due, so it is not taken twice."""
    candidates = db.select(Notification.id).where(Notification.email_status == status, due_clause(now))
    if recipient_id is not None:
        candidates = candidates.where(Notification.recipient_id == recipient_id)
    candidates = candidates.order_by(Notification.id).limit(limit)
    statement = (update(Notification.__table__)
                 .where(Notification.__table__.c.id.in_(candidates.scalar_subquery()),
                        Notification.__table__.c.email_status == status,
                        or_(Notification.__table__.c.next_attempt_at.is_(None),
                            Notification.__table__.c.next_attempt_at <= now))
                 .values(next_attempt_at=now + LEASE)
                 .returning(Notification.__table__.c.id))
    ids = sorted(db.session.execute(statement).scalars())
    db.session.commit()
    return ids


def load(ids) -> list[Notification]:
    return db.session.scalars(
        db.select(Notification).where(Notification.id.in_(ids)).order_by(Notification.id)
        .options(selectinload(Notification.recipient))
        .execution_options(populate_existing=True)).all()


def record_success(rows, now):
    for row in rows:
        row.email_status = "sent"
        row.emailed_at = now
        row.email_attempts += 1
        row.next_attempt_at = None
        row.last_error = None


def mark_sent(ids, now):
    """Record the server's acceptance of these rows' messages, and commit."""
    if ids:
        table = Notification.__table__
        db.session.execute(update(table).where(table.c.id.in_(ids)).values(
            email_status="sent", emailed_at=now, email_attempts=table.c.email_attempts + 1,
            next_attempt_at=None, last_error=None))
    db.session.commit()


def record_failure(rows, error: DeliveryError, now, result: DrainResult):
    for row in rows:
        row.email_attempts += 1
        row.last_error = error.reply
        if error.permanent:
            row.email_rejections += 1
        if error.permanent and row.email_rejections >= MAX_REJECTIONS:
            row.email_status = "failed"
            row.next_attempt_at = None
            result.failed += 1
            record_bounce(row.recipient, error.reply, now)
        else:
            row.next_attempt_at = now + backoff(row.email_attempts)
            result.retrying += 1


def record_bounce(user, reply, now):
    state = mailbox_of(user.id)
    state.bounced_address, state.bounced_reply, state.bounced_at = user.email, reply, now


def mailbox_of(user_id) -> MailboxState:
    state = db.session.get(MailboxState, user_id)
    if state is None:
        state = MailboxState(user_id=user_id)
        db.session.add(state)
    return state


def undeliverable(user):
    """(address, server's reply) when mail to the person's current address was refused for good; else None."""
    if not getattr(user, "is_authenticated", False) or not user.email:
        return None
    state = db.session.get(MailboxState, user.id)
    if state is None or state.bounced_address is None or state.bounced_address.lower() != user.email.lower():
        return None
    return state.bounced_address, state.bounced_reply


def is_urgent(row, group) -> bool:
    # A person's own account (a reset link that lives 30 minutes, a password change alert) cannot wait for morning.
    return bool((row.payload or {}).get("urgent")) or group == "account"


def drain(now: datetime | None = None, *, channel=None, recipient_id: int | None = None,
          digests: bool = True) -> DrainResult:
    """Deliver everything due at `now`: single notifications, then the daily digests whose hour has come.
    Commits as it goes. Only one person's rows with `recipient_id` (and then no digests)."""
    from portal.notifications import digest, mail, preferences, services
    now = now or utcnow()
    result = DrainResult()
    own_channel = channel is None
    channel = channel or default_channel()
    down = None
    try:
        while True:
            ids = claim(now, recipient_id=recipient_id)
            if not ids:
                break
            rows = load(ids)
            people = {row.recipient_id for row in rows}
            modes = preferences.modes_of(people)
            zones = zones_of(people)
            outgoing = []
            for row in rows:
                group = services.group_of(row.event)
                mode = modes[row.recipient_id].get(group) if group else None
                if mode is None or mode == "off" or not row.recipient.email or not row.recipient.is_active:
                    row.email_status, row.next_attempt_at = "skipped", None
                    result.skipped += 1
                elif mode == "digest":
                    row.email_status = "digest"
                    row.next_attempt_at = digest.next_digest_at(row.created_at, zones[row.recipient_id])
                    result.to_digest += 1
                elif not is_urgent(row, group) and (until := quiet_until(now, zones[row.recipient_id])):
                    row.next_attempt_at = until
                    result.held += 1
                else:
                    outgoing.append(row)
            # Composed before anything is committed: a commit expires the loaded rows and people.
            messages = []
            for row in outgoing:
                try:
                    messages.append((row, row.id, mail.compose(row)))
                except Exception as error:  # a bug or a payload that does not fit its message: never a loop
                    current_app.logger.exception("notifications: cannot compose notification %s", row.id)
                    row.email_status, row.next_attempt_at = "failed", None
                    row.last_error = f"cannot compose: {type(error).__name__}"[:500]
                    result.failed += 1
            db.session.commit()
            accepted = []
            for index, (row, row_id, message) in enumerate(messages):
                if down is not None:  # the channel cannot be reached: the rest waits its backoff untried
                    record_failure([r for r, _i, _m in messages[index:]], down, now, result)
                    break
                try:
                    channel.send(message)
                except DeliveryError as error:
                    record_failure([row], error, now, result)
                    if error.unreachable:
                        down = error
                        current_app.logger.warning("notifications: %s", error.reply)
                else:
                    accepted.append(row_id)
                    result.sent += 1
                if len(accepted) >= COMMIT_EVERY:
                    mark_sent(accepted, now)
                    accepted = []
            mark_sent(accepted, now)
        if digests and recipient_id is None and down is None:
            result.add(send_digests(now, channel))
    finally:
        if own_channel:
            channel.close()
    return result


def send_digests(now, channel):
    """The daily digests whose hour has come (portal.notifications.digest says when that is)."""
    from portal.notifications import mail, preferences, services
    from portal.notifications.digest import DIGEST_LIMIT, next_digest_at, people_due, postpone
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


def send_pending(*, recipient_id: int | None = None) -> int:
    """Send what is due now (only one person's single notifications, with `recipient_id`: a password reset
    link goes out right after the request that asked for it). Returns how many e-mails the server accepted;
    what could not go stays in the outbox for the next run."""
    result = drain(recipient_id=recipient_id, digests=recipient_id is None)
    return result.sent + result.digests


@events.notification_urgent.connect
def _send_urgent(sender=None, *, recipient_id, **kwargs):
    send_pending(recipient_id=recipient_id)


@due_step("send_notifications")
def send_notifications_step(now) -> int:
    result = drain(now)
    return result.sent + result.digests


def drain_alone(now: datetime | None = None, **kwargs) -> DrainResult | None:
    """`drain`, unless another process (`run-due`'s step, `send-notifications` or a worker on any server) is
    draining right now: then None. The claims already keep two senders from sending one row twice; the lock
    (the `send_notifications` step's, PostgreSQL only) keeps them from racing over the same rows at all."""
    from portal.due import step_lock
    with step_lock("send_notifications") as held:
        return drain(now, **kwargs) if held else None


def next_due_at():
    """The earliest time a row waiting in the outbox comes due (None: nothing waits)."""
    return db.session.scalar(db.select(db.func.min(Notification.next_attempt_at)).where(
        Notification.email_status.in_(("pending", "digest"))))


# --- the RQ queue (optional: only with REDIS_URL) ------------------------------------------------------------

def _redis(app):
    from redis import Redis
    return Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=1, socket_timeout=2)


def _queued_flag(app) -> str:
    return f"{app.config['NOTIFICATION_QUEUE']}:drain-queued"


def enqueue_drain(app) -> bool:
    """Ask an RQ worker to drain the outbox soon. Never raises: without Redis the rows wait for cron/run-due.
    A flag in Redis keeps one drain job waiting at a time (the job clears it as it starts)."""
    if not app.config.get("REDIS_URL"):
        return False
    try:
        from rq import Queue
        redis = _redis(app)
        if not redis.set(_queued_flag(app), "1", nx=True, ex=60):
            return False  # a drain that has not started yet will see these rows too
        try:
            Queue(app.config["NOTIFICATION_QUEUE"], connection=redis).enqueue(
                "portal.worker.drain_job", job_timeout=600, result_ttl=3600)
        except Exception:
            redis.delete(_queued_flag(app))
            raise
        return True
    except Exception:
        app.logger.warning("notifications: could not queue a drain on Redis; the outbox waits for "
                           "`send-notifications` or `run-due`", exc_info=True)
        return False


def schedule_next_drain(app) -> None:
    """Wake the worker when the next held or retried row comes due (needs `rq worker --with-scheduler`)."""
    when = next_due_at()
    if when is None or not app.config.get("REDIS_URL"):
        return
    try:
        from rq import Queue
        queue = Queue(app.config["NOTIFICATION_QUEUE"], connection=_redis(app))
        # At most one wake-up a minute (like cron), whatever the rows say.
        queue.enqueue_at(max(when, utcnow() + timedelta(minutes=1)), "portal.worker.drain_job",
                         job_id=f"{app.config['NOTIFICATION_QUEUE']}-next-drain", job_timeout=600, result_ttl=3600)
    except Exception:
        app.logger.warning("notifications: could not schedule the next drain on Redis", exc_info=True)


def drain_for_worker(app) -> dict:
    """What the RQ job (portal.worker.drain_job) does in its app."""
    try:
        _redis(app).delete(_queued_flag(app))
    except Exception:
        app.logger.warning("notifications: cannot clear the queued flag in Redis", exc_info=True)
    result = drain_alone()
    if result is None:
        return {"skipped": True}
    schedule_next_drain(app)
    return asdict(result)


# After a commit that wrote notifications, feed the worker (when there is one).
_WRITTEN = "notifications_written"


@events.notifications_flushed.connect
def _note_notifications(session, **kwargs):
    session.info[_WRITTEN] = True


def _after_commit(session):
    if session.info.pop(_WRITTEN, False) and has_app_context() and current_app.config.get("REDIS_URL"):
        enqueue_drain(current_app._get_current_object())


def _after_rollback(session, *args):
    session.info.pop(_WRITTEN, None)


def watch_commits() -> None:
    if not event.contains(db.session, "after_commit", _after_commit):
        event.listen(db.session, "after_commit", _after_commit)
        event.listen(db.session, "after_rollback", _after_rollback)
