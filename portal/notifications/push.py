"""Web Push: a person's browsers as another channel of the outbox (RFC 8030 delivery, VAPID RFC 8292, payload
encrypted for the browser alone with aes128gcm, RFC 8291; pywebpush does the protocol).

Which notifications are pushed: those of a group the person gets "at once" (their e-mail choice per group,
portal.notifications.preferences; the "account" group always), whether or not they have an e-mail address.
For each such notification one `PushMessage` row per subscribed browser is written in the transaction that
writes the notification (a flush hook here, and a signal for the ballots' bulk inserts), so a push exists
exactly when its notification does. Notifications that carry a link of their own (a password reset link) are
never pushed: a browser's lock screen is no place for one.

Sending (`drain_push`, the `send_push` step of run-due and `flask --app portal send-notifications`): the same
quiet hours as e-mail in the person's zone (urgent ones and account news go at once); rows are claimed with a
lease so two senders never take the same row, and each row is marked sent and committed as soon as its push
service accepted it. 404 or 410 from the push service: the browser unsubscribed, the subscription and its
waiting rows are removed. 429 and 5xx, a refused connection or a timeout: retried after 1, 2, 4 … minutes (at
most an hour, or the service's Retry-After), for ever; other refusals (400, 403, 413) count, and the fifth
marks the row failed. Without VAPID keys (VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT) push is off:
no browser can subscribe, and rows already written wait in the outbox until keys are set."""
import base64
import ipaddress
import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import click
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from py_vapid import Vapid
from sqlalchemy import and_, exists, func, literal, or_, select, update
from sqlalchemy.orm import selectinload

from portal import events
from portal.audit.services import record
from portal.auth import permissions
from portal.clock import utcnow
from portal.due import due_step
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.formatting import absolute_url
from portal.notifications import preferences, services
from portal.notifications.models import Notification, NotificationPreference, PushMessage, PushSubscription
from portal.notifications.sender import backoff, is_urgent, quiet_until, zones_of

LEASE = timedelta(minutes=10)
MAX_REJECTIONS = 5
MAX_WAIT = timedelta(hours=1)
BATCH_SIZE = 200
TIMEOUT = 10  # seconds for each push service request
TTL = 24 * 3600  # how long a push service keeps a message for a browser that is offline
TITLE_LENGTH, BODY_LENGTH = 60, 180
# Browsers one account keeps; subscribing another forgets the one subscribed longest ago (phones change hands,
# and no account should make one notification into hundreds of requests).
MAX_BROWSERS = 10


# --- configuration and keys ----------------------------------------------------------------------------------

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_vapid_keys() -> tuple[str, str]:
    """A new VAPID key pair (P-256) as the environment wants it: (public, private), each base64url without
    padding: the public key as an uncompressed point (the browser's applicationServerKey), the private key as
    its raw 32 bytes."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    return _b64url(public), _b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def push_enabled() -> bool:
    config = current_app.config
    return bool(config.get("VAPID_PUBLIC_KEY") and config.get("VAPID_PRIVATE_KEY") and config.get("VAPID_SUBJECT"))


def public_key() -> str | None:
    """The applicationServerKey the subscribe page hands to the browser; None while push is off."""
    return current_app.config["VAPID_PUBLIC_KEY"] if push_enabled() else None


@click.command("vapid-keys")
def vapid_keys_command() -> None:
    """Print a new VAPID key pair for Web Push, as lines for the environment (put your own contact, mailto: or
    https:, in VAPID_SUBJECT)."""
    public, private = generate_vapid_keys()
    click.echo(f"VAPID_PUBLIC_KEY={public}")
    click.echo(f"VAPID_PRIVATE_KEY={private}")
    click.echo("VAPID_SUBJECT=mailto:webmaster@example.org")


# --- what a browser is called ------------------------------------------------------------------------------

BROWSERS = (("Edg/", "Edge"), ("EdgA/", "Edge"), ("OPR/", "Opera"), ("SamsungBrowser/", "Samsung Internet"),
            ("MicroMessenger/", "WeChat"), ("Firefox/", "Firefox"), ("FxiOS/", "Firefox"), ("CriOS/", "Chrome"),
            ("HeadlessChrome/", "Chromium"), ("Chromium/", "Chromium"), ("Chrome/", "Chrome"),
            ("Safari/", "Safari"))
SYSTEMS = (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iOS"), ("Windows", "Windows"),
           ("CrOS", "ChromeOS"), ("Macintosh", "macOS"), ("HarmonyOS", "HarmonyOS"), ("Linux", "Linux"))


def browser_names(user_agent: str | None) -> tuple[str, str]:
    """(browser, system) in a word each, or "" where the user agent does not say: enough for a person to tell
    their phone from their computer, never a fingerprint (the user agent itself is not kept)."""
    agent = user_agent or ""
    browser = next((name for marker, name in BROWSERS if marker in agent), "")
    system = next((name for marker, name in SYSTEMS if marker in agent), "")
    return browser, system


def label_of(subscription: PushSubscription) -> str:
    browser, system = subscription.browser, subscription.system
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or _("A browser")


# --- subscribing ---------------------------------------------------------------------------------------------

NOT_SET_UP = _l("Push notifications are not set up on this portal.")
BAD_SUBSCRIPTION = _l("This browser sent a subscription that cannot be used. Reload the page and try again.")


def _checked_endpoint(endpoint) -> str:
    """The push service's address: https (http and private addresses only where PUSH_ALLOW_LOCAL_ENDPOINTS is
    set, for a push service in tests), so a forged subscription cannot make the portal post to its own network."""
    if not isinstance(endpoint, str) or not 0 < len(endpoint) <= 1000 or "\x00" in endpoint:
        raise DomainError(BAD_SUBSCRIPTION)
    parts = urlsplit(endpoint)
    local = current_app.config.get("PUSH_ALLOW_LOCAL_ENDPOINTS", False)
    if parts.scheme not in (("https", "http") if local else ("https",)) or not parts.hostname:
        raise DomainError(BAD_SUBSCRIPTION)
    if not local:
        try:
            address = ipaddress.ip_address(parts.hostname)
        except ValueError:
            address = None
        if parts.hostname == "localhost" or (address is not None and not address.is_global):
            raise DomainError(BAD_SUBSCRIPTION)
    return endpoint


def _checked_keys(p256dh, auth) -> tuple[str, str]:
    """The browser's P-256 public key (65 bytes, a point on the curve) and 16-byte auth secret, base64url."""
    try:
        if not isinstance(p256dh, str) or not isinstance(auth, str) or len(p256dh) > 120 or len(auth) > 60:
            raise ValueError
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64url(p256dh))
        if len(_unb64url(auth)) != 16:
            raise ValueError
    except (ValueError, TypeError):
        raise DomainError(BAD_SUBSCRIPTION) from None
    return p256dh, auth


def subscribe(actor, user, *, endpoint, p256dh, auth, user_agent: str | None = None) -> PushSubscription:
    """Keep a browser's subscription (the PushSubscription JSON the browser gives) for `user`. The same browser
    again updates its keys; a browser last subscribed by another account now belongs to this one."""
    if actor.id != user.id:
        raise NotAllowed(_l("You can only subscribe your own browsers."))
    if not push_enabled():
        raise DomainError(NOT_SET_UP)
    endpoint = _checked_endpoint(endpoint)
    p256dh, auth = _checked_keys(p256dh, auth)
    browser, system = browser_names(user_agent)
    subscription = db.session.scalar(db.select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    if subscription is not None and subscription.user_id != user.id:
        _forget(subscription)
        subscription = None
    if subscription is None:
        for oldest in subscriptions_of(user)[MAX_BROWSERS - 1:]:
            _forget(oldest)
        subscription = PushSubscription(user_id=user.id, endpoint=endpoint)
        db.session.add(subscription)
    subscription.p256dh, subscription.auth = p256dh, auth
    subscription.browser, subscription.system = browser, system
    subscription.last_error = None
    db.session.flush()
    record(actor, "notifications.push_subscribed", user, subject_user=user,
           browser=" · ".join(filter(None, (browser, system))) or "?")
    return subscription


def _forget(subscription: PushSubscription) -> None:
    db.session.execute(db.delete(PushMessage).where(PushMessage.subscription_id == subscription.id))
    db.session.delete(subscription)
    db.session.flush()


def remove_subscription(actor, subscription: PushSubscription) -> None:
    """Stop pushing to a browser (its waiting messages go with it). Only its person may."""
    if not permissions.can_manage_push_subscription(actor, subscription):
        raise NotAllowed(_l("You can only remove your own browsers."))
    user = subscription.user
    browser = " · ".join(filter(None, (subscription.browser, subscription.system))) or "?"
    _forget(subscription)
    record(actor, "notifications.push_removed", user, subject_user=user, browser=browser)


def unsubscribe_endpoint(actor, endpoint) -> bool:
    """The browser itself turned push off (push.js): forget its subscription, if it is the actor's."""
    if not isinstance(endpoint, str) or len(endpoint) > 1000 or "\x00" in endpoint:
        raise DomainError(BAD_SUBSCRIPTION)
    subscription = db.session.scalar(db.select(PushSubscription).where(
        PushSubscription.endpoint == endpoint, PushSubscription.user_id == actor.id))
    if subscription is None:
        return False
    remove_subscription(actor, subscription)
    return True


def subscriptions_of(user) -> list[PushSubscription]:
    return db.session.scalars(db.select(PushSubscription).where(PushSubscription.user_id == user.id)
                              .order_by(PushSubscription.created_at.desc(), PushSubscription.id.desc())).all()


@events.account_anonymized.connect
def forget_browsers(user, **kwargs) -> None:
    """A deleted account is pushed nothing more and keeps no browser's address."""
    ids = select(PushSubscription.id).where(PushSubscription.user_id == user.id)
    db.session.execute(db.delete(PushMessage).where(PushMessage.subscription_id.in_(ids)))
    db.session.execute(db.delete(PushSubscription).where(PushSubscription.user_id == user.id))


# --- the push outbox, written with the notifications ---------------------------------------------------------

def _queue_statement(group: str, where):
    """INSERT … SELECT of one pending push row per notification matching `where` (all of `group`) and browser
    of its recipient, when the recipient gets that group at once."""
    n, s, p = Notification.__table__, PushSubscription.__table__, NotificationPreference.__table__
    joined = n.join(s, s.c.user_id == n.c.recipient_id)
    rows = select(n.c.id, s.c.id, literal("pending"), n.c.created_at)
    if group != preferences.FIXED_GROUP:
        joined = joined.outerjoin(p, and_(p.c.user_id == n.c.recipient_id, p.c.group == group))
        rows = rows.where(func.coalesce(p.c.mode, preferences.default_mode(group)) == "now")
    m = PushMessage.__table__
    rows = rows.select_from(joined).where(where, ~exists().where(m.c.notification_id == n.c.id,
                                                                 m.c.subscription_id == s.c.id))
    return m.insert().from_select(["notification_id", "subscription_id", "status", "created_at"], rows)


def pushable(row: Notification) -> bool:
    return row.event in services.EVENTS and not (row.payload or {}).get("url")


@events.notifications_flushed.connect
def _queue_pushes(session, *, notifications, **kwargs) -> None:
    """Notifications written one by one: queued in the flush that wrote them."""
    by_group: dict[str, list[int]] = {}
    for obj in notifications:
        if pushable(obj):
            by_group.setdefault(services.group_of(obj.event), []).append(obj.id)
    connection = session.connection() if by_group else None
    for group, ids in by_group.items():
        connection.execute(_queue_statement(group, Notification.__table__.c.id.in_(ids)))


@events.notifications_written.connect
def queue_bulk_pushes(sender=None, *, event: str, object_type: str, object_id: int, created_at: datetime,
                      **kwargs) -> None:
    """Notifications written by one INSERT … SELECT (a ballot telling its whole electorate)."""
    group = services.group_of(event)
    if group is None:
        return
    n = Notification.__table__
    db.session.execute(_queue_statement(group, and_(
        n.c.event == event, n.c.object_type == object_type, n.c.object_id == object_id,
        n.c.created_at == created_at)))


# --- what a browser shows ------------------------------------------------------------------------------------

def _short(text: str, length: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[:length - 1].rstrip() + "…"


def payload_for(notification: Notification) -> dict:
    """{title, body, url, tag}: what /static/js/sw-push.js shows, in the recipient's language. The link opens
    the notification (which marks it read and leads to its page); one tag per object, so a newer message about
    the same issue replaces the older one on the person's screen."""
    recipient = notification.recipient
    with force_locale(recipient.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        group = services.group_of(notification.event)
        title = str(services.GROUPS.get(group, "")) or _("Yishi")
        body = services.message_for(notification)
    tag = (f"{notification.object_type}-{notification.object_id}" if notification.object_type
           and notification.object_id is not None else f"notification-{notification.id}")
    return {"title": _short(title, TITLE_LENGTH), "body": _short(body, BODY_LENGTH),
            "url": absolute_url("notifications.open", notification_id=notification.id), "tag": tag}


# --- sending ---------------------------------------------------------------------------------------------------

@dataclass
class PushResult:
    sent: int = 0       # accepted by a push service
    held: int = 0       # held for the end of quiet hours
    retrying: int = 0   # failed, waiting for the next try
    failed: int = 0     # refused for good
    removed: int = 0    # browsers gone (404/410): their subscriptions removed
    off: bool = False   # no VAPID keys: nothing was tried

    def lines(self) -> list[str]:
        return [f"push {key}: {value}" for key, value in asdict(self).items() if key != "off"] + \
            (["push: off (no VAPID keys)"] if self.off else [])


def _due(now):
    return or_(PushMessage.next_attempt_at.is_(None), PushMessage.next_attempt_at <= now)


def claim(now: datetime, limit: int = BATCH_SIZE) -> list[int]:
    """Take up to `limit` due rows by moving them a lease ahead (committed): a row another sender claimed a
    moment earlier is no longer due, so it is never taken twice."""
    t = PushMessage.__table__
    candidates = (db.select(PushMessage.id).where(PushMessage.status == "pending", _due(now))
                  .order_by(PushMessage.id).limit(limit))
    statement = (update(t).where(t.c.id.in_(candidates.scalar_subquery()), t.c.status == "pending",
                                 or_(t.c.next_attempt_at.is_(None), t.c.next_attempt_at <= now))
                 .values(next_attempt_at=now + LEASE).returning(t.c.id))
    ids = sorted(db.session.execute(statement).scalars())
    db.session.commit()
    return ids


def _load(ids) -> list[PushMessage]:
    return db.session.scalars(
        db.select(PushMessage).where(PushMessage.id.in_(ids)).order_by(PushMessage.id)
        .options(selectinload(PushMessage.subscription),
                 selectinload(PushMessage.notification).selectinload(Notification.recipient))
        .execution_options(populate_existing=True)).all()


def _origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


class PushRefused(Exception):
    def __init__(self, status: int | None, reply: str, retry_after: int | None = None):
        super().__init__(reply)
        self.status, self.reply, self.retry_after = status, reply[:200], retry_after


def send_push(subscription: PushSubscription, payload: dict, *, urgent: bool = False,
              session: requests.Session | None = None) -> None:
    """Encrypt `payload` for the browser and hand it to its push service, signed with the portal's VAPID key;
    returns when the service accepted it (201), raises PushRefused otherwise (status None: unreachable)."""
    # Imported here, not at the top: pywebpush brings aiohttp, seconds of start-up that only the sender needs.
    from pywebpush import WebPushException, webpush
    config = current_app.config
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    try:
        webpush({"endpoint": subscription.endpoint, "keys": {"p256dh": subscription.p256dh,
                                                             "auth": subscription.auth}},
                data=data, vapid_private_key=Vapid.from_string(config["VAPID_PRIVATE_KEY"]),
                vapid_claims={"sub": config["VAPID_SUBJECT"]}, ttl=TTL, timeout=TIMEOUT,
                headers={"Urgency": "high" if urgent else "normal"}, requests_session=session)
    except WebPushException as error:
        response = error.response
        status = getattr(response, "status_code", None)
        if status is None:
            raise PushRefused(None, str(error)) from None
        retry_after = response.headers.get("Retry-After", "")
        raise PushRefused(status, f"{status} {response.reason or ''}".strip(),
                          int(retry_after) if retry_after.isdigit() else None) from None
    except requests.RequestException as error:
        raise PushRefused(None, f"cannot reach {_origin(subscription.endpoint)}: {type(error).__name__}") from None


def _wait(row: PushMessage, error: PushRefused) -> timedelta:
    wait = backoff(row.attempts)
    if error.retry_after:
        wait = max(wait, min(timedelta(seconds=error.retry_after), MAX_WAIT))
    return wait


def _failed(row: PushMessage, error: PushRefused, now: datetime, result: PushResult) -> None:
    row.attempts += 1
    row.last_error = error.reply
    row.subscription.last_failure_at, row.subscription.last_error = now, error.reply
    permanent = error.status is not None and 400 <= error.status < 500 and error.status != 429
    if permanent:
        row.rejections += 1
    if permanent and row.rejections >= MAX_REJECTIONS:
        row.status, row.next_attempt_at = "failed", None
        result.failed += 1
    else:
        row.next_attempt_at = now + _wait(row, error)
        result.retrying += 1


def drain_push(now: datetime | None = None) -> PushResult:
    """Push everything due at `now`. Commits as it goes."""
    now = now or utcnow()
    result = PushResult()
    if not push_enabled():
        result.off = True
        return result
    with requests.Session() as session:
        while ids := claim(now):
            rows = _load(ids)
            zones = zones_of({row.notification.recipient_id for row in rows})
            outgoing = []
            for row in rows:
                notification = row.notification
                group = services.group_of(notification.event)
                if group is None or not notification.recipient.is_active:
                    row.status, row.next_attempt_at, row.last_error = "failed", None, "not deliverable"
                    result.failed += 1
                elif not is_urgent(notification, group) and (
                        until := quiet_until(now, zones[notification.recipient_id])):
                    row.next_attempt_at = until
                    result.held += 1
                else:
                    outgoing.append((row, row.subscription_id, _origin(row.subscription.endpoint),
                                     payload_for(notification), is_urgent(notification, group)))
            db.session.commit()
            down: set[str] = set()
            gone: set[int] = set()
            for row, subscription_id, origin, payload, urgent in outgoing:
                if subscription_id in gone:  # removed with its browser a moment ago
                    continue
                try:
                    if origin in down:  # its service could not be reached a moment ago: wait untried
                        raise PushRefused(None, f"cannot reach {origin}")
                    send_push(row.subscription, payload, urgent=urgent, session=session)
                except PushRefused as error:
                    if error.status in (404, 410):
                        gone.add(subscription_id)
                        _forget(row.subscription)
                        result.removed += 1
                    else:
                        if error.status is None:
                            down.add(origin)
                        _failed(row, error, now, result)
                else:
                    row.status, row.sent_at, row.next_attempt_at, row.last_error = "sent", now, None, None
                    row.attempts += 1
                    row.subscription.last_success_at = now
                    result.sent += 1
                # Each outcome is kept at once: a push accepted is never pushed again.
                db.session.commit()
    return result


@due_step("send_push")
def send_push_step(now: datetime) -> int:
    result = drain_push(now)
    return result.sent + result.removed


# --- the demo --------------------------------------------------------------------------------------------------

# Verified resident 13800000002 (花家地) subscribed two browsers: the phone pushed to a moment ago, and an old
# tablet whose push service refused the last attempt (the settings page says so). The endpoints look like the
# push services' own; nothing is sent to them while the demo has no VAPID keys.
DEMO_LOGIN = "13800000002"
DEMO_BROWSERS = (
    ("https://fcm.googleapis.com/fcm/send/dYishiDemoPhone:APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8OvPVGJ"
     "-hQMRKRrZuJAEcl7B338qju59zJMjw2DELjzEvxwYv7hH5Ynpc1ODQ0aT4U4OFEeco8ohsN5PjL1iC2dNtk2BAokeMCg2ZXKqpc8FXKmh"
     "X94kIpQ", "Chrome", "Android", timedelta(days=12), timedelta(hours=3), None),
    ("https://web.push.apple.com/QGuQyavXutnMc7o7t9yBYuYbPfvFERvqcbDcGZ_5Hnq8rR1xJkCJcZ8RoW3KXxQg0KXovl2fnbE"
     "Ykw7QSoRwpLZ9", "Safari", "iOS", timedelta(days=40), timedelta(days=9), timedelta(days=2)),
)


def seed_demo_push() -> list[str]:
    """The demo resident's two browsers (idempotent: only when they have none yet)."""
    from portal.auth.services import find_by_login
    person = find_by_login(DEMO_LOGIN)
    if person is None or subscriptions_of(person):
        return []
    now = utcnow()
    for endpoint, browser, system, age, success, failure in DEMO_BROWSERS:
        # A browser's own key pair and auth secret, made as a browser makes them.
        key = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        db.session.add(PushSubscription(
            user_id=person.id, endpoint=endpoint, p256dh=_b64url(key), auth=_b64url(os.urandom(16)),
            browser=browser, system=system,
            created_at=now - age, last_success_at=now - success,
            last_failure_at=now - failure if failure else None,
            last_error="403 Forbidden" if failure else None))
    db.session.flush()
    return [f"push: {DEMO_LOGIN} has {len(DEMO_BROWSERS)} browsers subscribed (one whose last push failed)"]
