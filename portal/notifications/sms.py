"""Text messages (SMS): a channel beside e-mail, through Alibaba Cloud or Tencent Cloud SMS
(portal.notifications.sms_providers), configured by environment (SMS_PROVIDER, keys, sign name, one approved
template per group: see the README). Without configuration the channel is off: nothing is written for it and
the notifications still reach people in the portal and by e-mail.

What goes by SMS: four groups, each on unless the person turned it off (SmsPreference):
- "issue_resolved": an issue the person reported was resolved;
- "ballot_opened": a ballot the person may vote in opened;
- "ballot_closing": a ballot closes within 24 hours and the person has not voted (the reminder's own rule);
- "code": one-time sign-in codes (portal.notifications.sms_codes).

Rows: when a transaction writes notifications of those events (one by one with notify(), or by INSERT …
SELECT for a ballot's electorate), one INSERT … SELECT before its commit writes the SMS rows of those that
concern a person with a mobile number who has not turned the group off — in the same transaction, so a
notification and its text message exist together or not at all.

Sending (`drain`, the `send_sms` step of run-due and `flask --app portal send-sms`): rows are claimed with a
lease as e-mail rows are, then for each: skipped when no longer wanted; expired when older than SMS_MAX_AGE
(a day: an outage longer than that does not flood people with stale news; codes after 5 minutes); held in
the person's quiet hours unless urgent or a code; "capped" over the person's daily cap (codes excepted: they
are rate-limited on their own) or the portal's monthly cap; else sent, and committed at once, one by one
(each costs money: a crash can repeat at most the message in flight). Failures retry with sender.py's backoff;
the fifth permanent refusal fails the row."""
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import event, exists, func, literal, or_, select, update
from sqlalchemy.orm import Session, selectinload

from portal import events
from portal.audit.services import record
from portal.auth.models import User
from portal.clock import in_zone, utcnow
from portal.due import due_step
from portal.errors import NotAllowed
from portal.extensions import db
from portal.notifications.models import Notification
from portal.notifications.sender import LEASE, MAX_REJECTIONS, DeliveryError, backoff, quiet_until, zones_of
from portal.notifications.sms_models import SmsCode, SmsMessage, SmsPreference
from portal.notifications.sms_providers import AliyunSms, TencentSms, TextMessage

GROUPS = {
    "issue_resolved": _l("An issue I reported is resolved"),
    "ballot_opened": _l("A ballot I may vote in opens"),
    "ballot_closing": _l("A ballot closes within 24 hours and I have not voted"),
    "code": _l("One-time sign-in codes"),
}
# Which notifications become text messages, and their group.
EVENT_GROUPS = {"issue_resolved": "issue_resolved", "votes.opened": "ballot_opened",
                "votes.closing_soon": "ballot_closing"}
# Each group's template parameters, in the template's order (Tencent's {1}, {2}…; Alibaba's ${name}).
TEMPLATE_PARAMS = {"issue_resolved": ("title",), "ballot_opened": ("title", "closes"),
                   "ballot_closing": ("title", "closes"), "code": ("code", "minutes")}
TITLE_LENGTH = 20  # providers refuse longer variables (Alibaba: 35 characters for most kinds)
MAX_AGE = timedelta(days=1)
CODE_LIFETIME = timedelta(minutes=5)
BATCH_SIZE = 100
PROVIDERS = ("aliyun", "tencent")


# --- configuration --------------------------------------------------------------------------------------------

def configured(config=None) -> bool:
    """Is the channel on: a known provider with its keys and sign name (and Tencent's SmsSdkAppId)?"""
    config = config if config is not None else current_app.config
    provider = config.get("SMS_PROVIDER")
    if provider not in PROVIDERS:
        return False
    needed = ["SMS_ACCESS_KEY_ID", "SMS_ACCESS_KEY_SECRET", "SMS_SIGN_NAME"]
    if provider == "tencent":
        needed.append("SMS_SDK_APP_ID")
    return all(config.get(key) for key in needed)


def template_for(group: str, config=None) -> str | None:
    config = config if config is not None else current_app.config
    return (config.get("SMS_TEMPLATES") or {}).get(group) or None


def group_available(group: str) -> bool:
    """Can this group go by SMS at all (channel on and its template configured)?"""
    return configured() and template_for(group) is not None


def channel_from_config(config=None):
    """The configured provider's adapter; None when the channel is off."""
    config = config if config is not None else current_app.config
    if not configured(config):
        return None
    common = {"endpoint": config.get("SMS_ENDPOINT"), "region": config.get("SMS_REGION"),
              "timeout": config.get("SMS_TIMEOUT", 10)}
    if config["SMS_PROVIDER"] == "aliyun":
        return AliyunSms(config["SMS_ACCESS_KEY_ID"], config["SMS_ACCESS_KEY_SECRET"], config["SMS_SIGN_NAME"],
                         **common)
    return TencentSms(config["SMS_ACCESS_KEY_ID"], config["SMS_ACCESS_KEY_SECRET"], config["SMS_SIGN_NAME"],
                      config["SMS_SDK_APP_ID"], **common)


# --- preferences -----------------------------------------------------------------------------------------------

def choices_of(user_ids) -> dict[int, dict[str, bool]]:
    """{user id: {group: on?}} for every SMS group, defaults (on) filled in."""
    user_ids = list(set(user_ids))
    result = {uid: dict.fromkeys(GROUPS, True) for uid in user_ids}
    if user_ids:
        for user_id, group, enabled in db.session.execute(
                select(SmsPreference.user_id, SmsPreference.group, SmsPreference.enabled)
                .where(SmsPreference.user_id.in_(user_ids))):
            if group in GROUPS:
                result[user_id][group] = enabled
    return result


def set_choices(actor: User, user: User, choices: dict[str, bool]) -> list[str]:
    """Store a person's SMS choices ({group: on?}); returns the groups that changed. Only the person may."""
    if actor.id != user.id:
        raise NotAllowed(_l("You can only change your own text message settings."))
    current = choices_of([user.id])[user.id]
    changed = []
    for group, enabled in choices.items():
        if group not in GROUPS or current[group] == bool(enabled):
            continue
        row = db.session.scalar(select(SmsPreference).where(SmsPreference.user_id == user.id,
                                                            SmsPreference.group == group))
        if row is None:
            db.session.add(SmsPreference(user_id=user.id, group=group, enabled=bool(enabled)))
        else:
            row.enabled = bool(enabled)
        changed.append(group)
    if changed:
        db.session.flush()
        record(actor, "notifications.sms_preferences_changed", user, subject_user=user,
               changes={g: "on" if choices[g] else "off" for g in changed})
    return changed


@events.account_anonymized.connect
def forget_sms(user, **kwargs) -> None:
    """A deleted account keeps no SMS choices, no waiting messages and no codes."""
    db.session.execute(db.delete(SmsPreference).where(SmsPreference.user_id == user.id))
    db.session.execute(db.delete(SmsMessage).where(SmsMessage.recipient_id == user.id))
    db.session.execute(db.update(SmsCode).where(SmsCode.user_id == user.id).values(user_id=None))


# --- writing rows with the notifications -------------------------------------------------------------------------

_WATERMARK = "sms_notification_watermark"


def _note_start(session, since_id=None) -> None:
    """At the transaction's first notification: the highest notification id before it (rows above it that
    are still without a text message get one before the commit). `since_id` when the caller knows it."""
    if _WATERMARK not in session.info and has_app_context() and configured():
        if since_id is None:
            # On the connection: no autoflush.
            since_id = session.connection().execute(select(func.coalesce(func.max(Notification.id), 0))).scalar()
        session.info[_WATERMARK] = since_id


@events.notifications_flushed.connect
def _note_flushed(session, *, notifications, **kwargs) -> None:
    """Notifications written one by one: the watermark is just below the first of them."""
    _note_start(session, min(n.id for n in notifications) - 1)


def _before_orm_execute(state) -> None:
    if state.is_insert and getattr(getattr(state.statement, "table", None), "name", None) == "notification":
        _note_start(state.session)


def write_rows(session, since_id: int) -> int:
    """The SMS rows of notifications above `since_id` (one INSERT … SELECT); returns how many."""
    group = db.case(*((Notification.event == e, literal(g)) for e, g in EVENT_GROUPS.items()))
    from portal.issues.models import Issue
    own_issue = exists(select(Issue.id).where(Issue.id == Notification.object_id,
                                              Issue.reporter_id == Notification.recipient_id))
    turned_off = exists(select(SmsPreference.id).where(
        SmsPreference.user_id == Notification.recipient_id, SmsPreference.group == group,
        SmsPreference.enabled.is_(False)))
    already = exists(select(SmsMessage.id).where(SmsMessage.notification_id == Notification.id))
    rows = (select(Notification.id, Notification.recipient_id, group, literal("notification"),
                   literal("pending"), literal(False), Notification.created_at)
            .join(User, User.id == Notification.recipient_id)
            .where(Notification.id > since_id, Notification.event.in_(EVENT_GROUPS), User.phone.is_not(None),
                   or_(Notification.event != "issue_resolved", own_issue), ~turned_off, ~already))
    result = session.execute(db.insert(SmsMessage).from_select(
        ["notification_id", "recipient_id", "group", "kind", "status", "urgent", "created_at"], rows))
    return result.rowcount or 0


def _before_commit(session) -> None:
    # The commit's own flush comes after this event: notifications not flushed yet are flushed (and noted) here.
    if any(isinstance(obj, Notification) for obj in session.new):
        session.flush()
    since = session.info.get(_WATERMARK)
    if since is None:
        return
    session.flush()
    session.info.pop(_WATERMARK, None)
    if has_app_context() and configured():
        write_rows(session, since)


def _forget(session, *args) -> None:
    session.info.pop(_WATERMARK, None)


def watch_notifications() -> None:
    """Listen to every session (called once by the app factory)."""
    if not event.contains(Session, "do_orm_execute", _before_orm_execute):
        event.listen(Session, "do_orm_execute", _before_orm_execute)
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_rollback", _forget)


# --- composing --------------------------------------------------------------------------------------------------

def _short(text, length: int = TITLE_LENGTH) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= length else text[:length - 1] + "…"


def _moment(value, zone) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return _short(value, 16)
    if moment.tzinfo is None:
        return _short(value, 16)
    try:
        tz = ZoneInfo(zone or current_app.config["DEFAULT_TIME_ZONE"])
    except (KeyError, ValueError):
        tz = ZoneInfo(current_app.config["DEFAULT_TIME_ZONE"])
    return moment.astimezone(tz).strftime("%m-%d %H:%M")


def params_for(row: SmsMessage) -> list[tuple[str, str]]:
    """The template's parameters, in order: never free text, only values that fit an approved template."""
    if row.kind == "code":
        return [(name, str((row.params or {}).get(name, ""))) for name in TEMPLATE_PARAMS["code"]]
    payload = (row.notification.payload or {}) if row.notification is not None else {}
    values = {"title": _short(payload.get("title")), "closes": _moment(payload.get("closes"), payload.get("zone"))}
    return [(name, values[name]) for name in TEMPLATE_PARAMS[row.group]]


# --- caps ---------------------------------------------------------------------------------------------------------

def month_start(now: datetime) -> datetime:
    local = in_zone(now, current_app.config["DEFAULT_TIME_ZONE"])
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(ZoneInfo("UTC"))


def day_start(now: datetime, zone: str) -> datetime:
    local = in_zone(now, zone)
    return datetime.combine(local.date(), time(0), tzinfo=ZoneInfo(zone)).astimezone(ZoneInfo("UTC"))


def sent_since(since: datetime, recipient_id: int | None = None) -> int:
    query = select(func.count(SmsMessage.id)).where(SmsMessage.status == "sent", SmsMessage.sent_at >= since)
    if recipient_id is not None:
        query = query.where(SmsMessage.recipient_id == recipient_id)
    return db.session.scalar(query) or 0


def counts(now: datetime | None = None) -> dict:
    """For the administrator's page: messages sent this month (against the cap) and today, and the rows by status."""
    now = now or utcnow()
    zone = current_app.config["DEFAULT_TIME_ZONE"]
    by_status = dict(db.session.execute(select(SmsMessage.status, func.count(SmsMessage.id))
                                        .group_by(SmsMessage.status)).all())
    return {"month": sent_since(month_start(now)), "monthly_cap": current_app.config["SMS_MONTHLY_CAP"],
            "today": sent_since(day_start(now, zone)), "daily_cap": current_app.config["SMS_DAILY_CAP"],
            "by_status": {status: by_status.get(status, 0) for status in
                          ("pending", "sent", "failed", "capped", "expired", "skipped")},
            "configured": configured(), "provider": current_app.config.get("SMS_PROVIDER")}


# --- sending --------------------------------------------------------------------------------------------------------

@dataclass
class SmsResult:
    sent: int = 0
    held: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    capped: int = 0
    expired: int = 0

    def lines(self) -> list[str]:
        return [f"{key}: {value}" for key, value in asdict(self).items()]


def claim(now: datetime, *, ids=None, limit: int = BATCH_SIZE) -> list[int]:
    """Take due rows for this sender by moving them a lease ahead (as the e-mail sender does)."""
    table = SmsMessage.__table__
    due = or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at <= now)
    candidates = select(table.c.id).where(table.c.status == "pending", due)
    if ids is not None:
        candidates = candidates.where(table.c.id.in_(list(ids)))
    candidates = candidates.order_by(table.c.id).limit(limit)
    statement = (update(table).where(table.c.id.in_(candidates.scalar_subquery()), table.c.status == "pending", due)
                 .values(next_attempt_at=now + LEASE).returning(table.c.id))
    claimed = sorted(db.session.execute(statement).scalars())
    db.session.commit()
    return claimed


def _load(ids) -> list[SmsMessage]:
    return db.session.scalars(
        select(SmsMessage).where(SmsMessage.id.in_(ids)).order_by(SmsMessage.id)
        .options(selectinload(SmsMessage.recipient), selectinload(SmsMessage.notification))
        .execution_options(populate_existing=True)).all()


def _close(row: SmsMessage, status: str) -> None:
    row.status, row.next_attempt_at = status, None
    if row.kind == "code":
        row.params = None  # the code is not kept once it can no longer be sent


def _fail(row: SmsMessage, error: DeliveryError, now: datetime, result: SmsResult) -> None:
    row.attempts += 1
    row.last_error = error.reply
    if error.permanent:
        row.rejections += 1
    if error.permanent and row.rejections >= MAX_REJECTIONS:
        _close(row, "failed")
        result.failed += 1
    elif row.kind == "code" and now + backoff(row.attempts) >= row.created_at + CODE_LIFETIME:
        _close(row, "expired")  # it would come after the code stopped working
        result.expired += 1
    else:
        row.next_attempt_at = now + backoff(row.attempts)
        result.retrying += 1


def _decide(row, now, zones, choices, daily, monthly) -> str | None:
    """What to do with a claimed row before sending: a closing status, "hold", or None (send it)."""
    person = row.recipient
    if row.kind == "code":
        if now >= row.created_at + CODE_LIFETIME:
            return "expired"
    elif now >= row.created_at + MAX_AGE:
        return "expired"
    if person is None or not person.phone or not person.is_active or not choices[person.id].get(row.group, True):
        return "skipped"
    if template_for(row.group) is None:
        return "skipped"
    if monthly >= current_app.config["SMS_MONTHLY_CAP"]:
        return "capped"
    if row.kind != "code":
        if daily.get(person.id, 0) >= current_app.config["SMS_DAILY_CAP"]:
            return "capped"
        urgent = row.urgent or bool(row.notification is not None and (row.notification.payload or {}).get("urgent"))
        if not urgent and quiet_until(now, zones[person.id]):
            return "hold"
    return None


def drain(now: datetime | None = None, *, channel=None, ids=None) -> SmsResult:
    """Send every SMS row due at `now` (only those of `ids` when given). Commits as it goes."""
    now = now or utcnow()
    result = SmsResult()
    channel = channel or channel_from_config()
    if channel is None:
        return result  # the channel is off: rows (if any were written while it was on) wait
    down = None
    monthly = sent_since(month_start(now))
    while down is None:
        claimed = claim(now, ids=ids)
        if not claimed:
            break
        rows = _load(claimed)
        people = {row.recipient_id for row in rows}
        zones = zones_of(people)
        choices = choices_of(people)
        daily = {uid: sent_since(day_start(now, zones[uid]), uid) for uid in people}
        outgoing = []
        for row in rows:
            decision = _decide(row, now, zones, choices, daily, monthly)
            if decision == "hold":
                row.next_attempt_at = quiet_until(now, zones[row.recipient_id])
                result.held += 1
            elif decision is not None:
                _close(row, decision)
                setattr(result, decision, getattr(result, decision) + 1)
            else:
                try:
                    outgoing.append((row.id, TextMessage(row.recipient.phone, template_for(row.group),
                                                         params_for(row))))
                except Exception as error:  # a payload that does not fit: never a loop
                    current_app.logger.exception("sms: cannot compose message %s", row.id)
                    _close(row, "failed")
                    row.last_error = f"cannot compose: {type(error).__name__}"[:500]
                    result.failed += 1
                    continue
                daily[row.recipient_id] = daily.get(row.recipient_id, 0) + 1
                monthly += 1
        db.session.commit()
        for index, (row_id, message) in enumerate(outgoing):
            row = db.session.get(SmsMessage, row_id)
            if down is not None:
                for waiting_id, _message in outgoing[index:]:
                    _fail(db.session.get(SmsMessage, waiting_id), down, now, result)
                db.session.commit()
                break
            try:
                provider_id = channel.send(message)
            except DeliveryError as error:
                _fail(row, error, now, result)
                if error.unreachable:
                    down = error
                    current_app.logger.warning("sms: %s", error.reply)
            else:
                _close(row, "sent")
                row.sent_at, row.attempts, row.phone = now, row.attempts + 1, message.to
                row.provider_id, row.last_error = (provider_id or None) and provider_id[:64], None
                result.sent += 1
            db.session.commit()  # each message at once: a crash repeats at most the one in flight
    return result


def send_code_now(row_id: int) -> SmsResult:
    """Send one code message at once (after the page answered: see sms_codes)."""
    return drain(ids=[row_id])


@due_step("send_sms")
def send_sms_step(now: datetime) -> int:
    return drain(now).sent


def forget_old(now: datetime) -> int:
    """Codes older than a day are of no use to anyone."""
    return db.session.execute(db.delete(SmsCode).where(SmsCode.created_at < now - timedelta(days=1))).rowcount


due_step("expire_sms_codes")(forget_old)

