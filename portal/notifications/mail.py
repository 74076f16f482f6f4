"""E-mails made from the outbox: one notification, or a person's daily digest; each in the recipient's
language, plain text plus HTML, with absolute links (PORTAL_BASE_URL), a one-click unsubscribe link and the
List-Unsubscribe headers (RFC 8058). Delivery itself is portal.notifications.sender."""
from dataclasses import dataclass, field

from flask import current_app, render_template
from flask_babel import force_locale

from portal.notifications import preferences, services
from portal.notifications.models import Notification
from portal.web import absolute_url, datetime_local


@dataclass
class OutgoingMessage:
    """One message for one person, whatever carries it."""
    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def object_url(notification: Notification) -> str:
    """Where the e-mail's link leads: the payload's own URL (a password reset link), else the notification,
    which opens its object (or says it is no longer available)."""
    return (notification.payload or {}).get("url") or absolute_url("notifications.open",
                                                                   notification_id=notification.id)


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


def _message(name: str, recipient, unsubscribe: str | None, **context) -> OutgoingMessage:
    """The e-mail made from the templates notifications/<name>_subject.txt, <name>.txt and <name>.html, in the
    locale in force (the caller's `force_locale`), with the links every e-mail carries."""
    context.update(recipient=recipient, unsubscribe_url=unsubscribe,
                   preferences_url=absolute_url("notifications.preferences"),
                   base_url=current_app.config["PORTAL_BASE_URL"])
    subject = " ".join(render_template(f"notifications/{name}_subject.txt", **context).split())
    return OutgoingMessage(to=recipient.email, subject=subject,
                           text=render_template(f"notifications/{name}.txt", **context),
                           html=render_template(f"notifications/{name}.html", **context),
                           headers=_headers(unsubscribe, _locale(recipient)))


def compose(notification: Notification) -> OutgoingMessage:
    recipient = notification.recipient
    group = services.group_of(notification.event)
    unsubscribe = unsubscribe_url(recipient.id, group) if group and group != preferences.FIXED_GROUP else None
    with force_locale(_locale(recipient)):
        return _message("email", recipient, unsubscribe, notification=notification,
                        text=services.message_for(notification), url=object_url(notification),
                        group_label=str(services.GROUPS.get(group, "")))


def compose_digest(recipient, rows, *, since=None, zone=None) -> OutgoingMessage:
    """One e-mail listing `rows`, grouped by group in the order of GROUPS."""
    zone = zone or current_app.config["DEFAULT_TIME_ZONE"]
    with force_locale(_locale(recipient)):
        sections = []
        for group, label in services.GROUPS.items():
            items = [{"text": services.message_for(row), "url": object_url(row),
                      "at": datetime_local(row.created_at, zone)}
                     for row in rows if services.group_of(row.event) == group]
            if items:
                sections.append({"group": group, "label": str(label), "items": items})
        return _message("digest", recipient, unsubscribe_url(recipient.id, preferences.DIGEST),
                        sections=sections, count=len(rows), inbox_url=absolute_url("notifications.index"),
                        since=datetime_local(since, zone) if since else None)
