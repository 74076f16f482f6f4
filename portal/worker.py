"""The RQ worker's jobs (`rq worker --with-scheduler --url "$REDIS_URL" yishi`). A job runs in the current app
(a worker that pushed one) or in an app built from the environment, as the web app is: so this module sits at
the top, beside the WSGI entry point, and the sender it drives never imports the app factory."""
from flask import current_app, has_app_context

from portal.extensions import db

_worker_app = None


def drain_job() -> dict:
    """Drain the outbox (queued by portal.notifications.sender after a commit that wrote notifications): the
    e-mails, then Web Push, then the text messages written with those notifications."""
    global _worker_app
    if has_app_context():
        return _drain(current_app._get_current_object())
    if _worker_app is None:
        from portal import create_app
        _worker_app = create_app()
    with _worker_app.app_context():
        try:
            return _drain(_worker_app)
        finally:
            db.session.remove()


def _drain(app) -> dict:
    from portal.notifications import sms
    from portal.notifications.push import drain_push
    from portal.notifications.sender import drain_for_worker
    result = drain_for_worker(app)
    result["push_sent"] = drain_push().sent
    if sms.configured():
        result["sms"] = sms.drain().sent
    return result
