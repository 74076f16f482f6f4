"""The demo's text messages: a few people's SMS choices, and the SMS outbox in every state (sent, waiting for
the end of quiet hours, over the daily cap, refused for good, too late) for the notifications of the SMS
groups the other demos wrote, so the administrator's counts (/admin/sms) and the settings page show them.
Idempotent: nothing is added once the SMS outbox holds anything (on a portal with SMS configured, the
notifications wrote their own rows)."""
from datetime import timedelta

from portal.auth.models import User
from portal.clock import utcnow
from portal.extensions import db
from portal.notifications import sms
from portal.notifications.models import Notification
from portal.notifications.sms_models import SmsMessage, SmsPreference

DEMO_CHOICES = [
    # A resident who wants no text when a ballot opens (the reminder before it closes is enough), and a
    # committee chair who signs in with a password only.
    ("13800000001", {"ballot_opened": False}),
    ("13800000010", {"code": False}),
]
# The states shown, in turn, after the first rows, which were sent.
STATES = [("pending", None), ("capped", None), ("failed", "isv.MOBILE_NUMBER_ILLEGAL: 非法手机号"),
          ("expired", "cannot reach dysmsapi.aliyuncs.com: timed out")]


def seed_sms() -> list[str]:
    lines = []
    for login, choices in DEMO_CHOICES:
        person = db.session.scalar(db.select(User).where(User.phone == login))
        if person is None or db.session.scalar(db.select(SmsPreference.id).where(
                SmsPreference.user_id == person.id).limit(1)) is not None:
            continue
        sms.set_choices(person, person, choices)
        lines.append(f"text message settings for {login}: "
                     + ", ".join(f"{g} {'on' if on else 'off'}" for g, on in choices.items()))
    if db.session.scalar(db.select(SmsMessage.id).limit(1)) is not None:
        return lines
    rows = db.session.execute(
        db.select(Notification.id, Notification.recipient_id, Notification.event, User.phone)
        .join(User, User.id == Notification.recipient_id)
        .where(Notification.event.in_(sms.EVENT_GROUPS), User.phone.is_not(None))
        .order_by(Notification.id).limit(40)).all()
    now = utcnow()
    for index, (notification_id, recipient_id, event, phone) in enumerate(rows):
        status, error = ("sent", None) if index < len(rows) - len(STATES) else STATES[index - len(rows) + len(STATES)]
        message = SmsMessage(notification_id=notification_id, recipient_id=recipient_id,
                             group=sms.EVENT_GROUPS[event], status=status, created_at=now - timedelta(hours=index + 1),
                             attempts=5 if status == "failed" else (1 if status in ("sent", "expired") else 0),
                             rejections=5 if status == "failed" else 0, last_error=error)
        if status == "sent":
            message.sent_at, message.phone = now - timedelta(hours=index), phone
            message.provider_id = f"{900619746936498 + index}^0"
        elif status == "pending":
            message.next_attempt_at = now + timedelta(hours=8)  # held for the end of quiet hours
        db.session.add(message)
    db.session.flush()
    if rows:
        lines.append(f"text messages: {len(rows)} in the SMS outbox (sent, held, over the cap, refused, too late)")
    return lines
