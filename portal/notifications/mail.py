"""E-mails made from the outbox: one notification, or a person's daily digest; each in the recipient's
language, plain text plus HTML, with absolute links (PORTAL_BASE_URL), a one-click unsubscribe link and the
List-Unsubscribe headers (RFC 8058). Delivery itself is portal.notifications.sender."""
from flask import current_app, render_template
from flask_babel import force_locale
from werkzeug.routing import BuildError

from portal.clock import in_zone
from portal.notifications import preferences, services
from portal.notifications.models import Notification
from portal.notifications.sender import OutgoingMessage, drain
from portal.web import absolute_url


def object_url(notification: Notification) -> str:
    """Where the e-mail's link leads: the payload's own URL (a password reset link), else the notification,
    which opens its object (or says it is no longer available)."""
    url = (notification.payload or {}).get("url")
    if url:
        return url
    try:
        return absolute_url("notifications.open", notification_id=notification.id)
    except BuildError:
        return absolute_url("notifications.index")


def unsubscribe_url(user_id: int, group: str) -> str:
    return absolute_url("notifications.unsubscribe", token=preferences.unsubscribe_token(user_id, group))


def _headers(url: str | None, locale: str) -> dict[str, str]:
    headers = {"Auto-Submitted": "auto-generated", "Content-Language": "zh-CN" if locale == "zh" else locale}
    if url:
        headers["List-Unsubscribe"] = f"<{url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


def _locale(recipient) -> str:
    return recipient.locale or current_app.config["BABEL_DEFAULT_LOCALE"]


def compose(notification: Notification) -> OutgoingMessage:
    recipient = notification.recipient
    group = services.group_of(notification.event)
    unsubscribe = unsubscribe_url(recipient.id, group) if group and group != preferences.FIXED_GROUP else None
    with force_locale(_locale(recipient)):
        context = {"notification": notification, "text": services.message_for(notification),
                   "recipient": recipient, "url": object_url(notification), "unsubscribe_url": unsubscribe,
                   "group_label": str(services.GROUPS.get(group, "")),
                   "preferences_url": absolute_url("notifications.preferences"),
                   "base_url": current_app.config["PORTAL_BASE_URL"]}
        subject = " ".join(render_template("notifications/email_subject.txt", **context).split())
        text = render_template("notifications/email.txt", **context)
        html = render_template("notifications/email.html", **context)
    return OutgoingMessage(to=recipient.email, subject=subject, text=text, html=html,
                           headers=_headers(unsubscribe, _locale(recipient)))


def compose_digest(recipient, rows, *, since=None, zone=None) -> OutgoingMessage:
    """One e-mail listing `rows`, grouped by group in the order of GROUPS."""
    zone = zone or current_app.config["DEFAULT_TIME_ZONE"]
    unsubscribe = unsubscribe_url(recipient.id, preferences.DIGEST)
    with force_locale(_locale(recipient)):
        sections = []
        for group, label in services.GROUPS.items():
            items = [{"text": services.message_for(row), "url": object_url(row),
                      "at": in_zone(row.created_at, zone).strftime("%Y-%m-%d %H:%M")}
                     for row in rows if services.group_of(row.event) == group]
            if items:
                sections.append({"group": group, "label": str(label), "items": items})
        context = {"recipient": recipient, "sections": sections, "count": len(rows),
                   "since": in_zone(since, zone).strftime("%Y-%m-%d %H:%M") if since else None,
                   "unsubscribe_url": unsubscribe, "preferences_url": absolute_url("notifications.preferences"),
                   "inbox_url": absolute_url("notifications.index"),
                   "base_url": current_app.config["PORTAL_BASE_URL"]}
        subject = " ".join(render_template("notifications/digest_subject.txt", **context).split())
        text = render_template("notifications/digest.txt", **context)
        html = render_template("notifications/digest.html", **context)
    return OutgoingMessage(to=recipient.email, subject=subject, text=text, html=html,
                           headers=_headers(unsubscribe, _locale(recipient)))


def send_pending(*, recipient_id: int | None = None) -> int:
    """Send what is due now (only one person's single notifications, with `recipient_id`: a password reset
    link goes out right after the request that asked for it). Returns how many e-mails the server accepted;
    what could not go stays in the outbox for the next run."""
    result = drain(recipient_id=recipient_id, digests=recipient_id is None)
    return result.sent + result.digests
