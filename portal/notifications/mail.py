"""The e-mail channel: drains outbox rows of e-mail events over SMTP, each in its recipient's language.

A row is marked sent only after the SMTP server accepted it, so a failed send is retried by the next
`run-due`; views that must not wait a minute (a password reset link) call `send_pending` right after commit."""
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app, render_template
from flask_babel import force_locale

from portal.auth.models import User
from portal.clock import utcnow
from portal.due import due_step
from portal.extensions import db
from portal.notifications import services
from portal.notifications.models import Notification


def _pending_query():
    email_events = [name for name, spec in services.EVENTS.items() if spec.get("email")]
    return (db.select(Notification).join(User, Notification.recipient_id == User.id)
            .where(Notification.event.in_(email_events), Notification.emailed_at.is_(None),
                   User.email.is_not(None))
            .order_by(Notification.id))


def compose(notification: Notification) -> EmailMessage:
    recipient = notification.recipient
    config = current_app.config
    with force_locale(recipient.locale or config["BABEL_DEFAULT_LOCALE"]):
        text = services.message_for(notification)
        context = {"notification": notification, "text": text, "recipient": recipient,
                   "base_url": config["PORTAL_BASE_URL"], "url": notification.payload.get("url")}
        subject = render_template("notifications/email_subject.txt", **context).strip()
        body = render_template("notifications/email.txt", **context)
        html = render_template("notifications/email.html", **context)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = config["MAIL_DEFAULT_SENDER"]
    message["To"] = recipient.email
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=config["MAIL_DEFAULT_SENDER"].rpartition("@")[2] or None)
    message.set_content(body)
    message.add_alternative(html, subtype="html")
    return message


def _connect() -> smtplib.SMTP:
    config = current_app.config
    smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10)
    if config["MAIL_USE_TLS"]:
        smtp.starttls()
    if config["MAIL_USERNAME"]:
        smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
    return smtp


def send_pending(limit: int = 200, *, recipient_id: int | None = None) -> int:
    """Send what is waiting (for one recipient, if given); returns how many went out.
    Leaves the rest for the next run on failure."""
    query = _pending_query()
    if recipient_id is not None:
        query = query.where(Notification.recipient_id == recipient_id)
    rows = db.session.scalars(query.limit(limit)).all()
    if not rows:
        return 0
    sent = 0
    try:
        smtp = _connect()
    except (OSError, smtplib.SMTPException):
        current_app.logger.exception("mail: cannot reach %s", current_app.config["MAIL_SERVER"])
        return 0
    try:
        for row in rows:
            try:
                smtp.send_message(compose(row))
            except smtplib.SMTPRecipientsRefused:
                current_app.logger.warning("mail: recipient refused for notification %s", row.id)
                continue
            row.emailed_at = utcnow()
            db.session.commit()
            sent += 1
    except (OSError, smtplib.SMTPException):
        current_app.logger.exception("mail: sending stopped after %d messages", sent)
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
    return sent


@due_step("send_email")
def send_email_step(now) -> int:
    return send_pending()
