from flask import Blueprint

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

from portal.notifications import views  # noqa: E402,F401
from portal.notifications import email_views  # noqa: E402,F401  (e-mail settings, unsubscribe)
from portal.notifications import mail  # noqa: E402,F401
from portal.notifications import sender  # noqa: E402  (registers the send_notifications due step)
from portal.notifications import reminders  # noqa: E402,F401  (its events and due steps)

sender.watch_commits()  # with REDIS_URL, a commit that wrote notifications queues a drain for the RQ worker
