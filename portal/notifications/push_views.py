"""Web Push from the notification settings page: static/js/push.js posts the browser's subscription (JSON, with
the page's CSRF token in the X-CSRFToken header, as htmx does) and removes it when the browser turns push off;
the "Browsers on this account" list removes any of them with a plain form, which works without JavaScript."""
from flask import jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.auth import permissions
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.notifications import bp, push
from portal.notifications.models import PushSubscription
from portal.web import allow, perform


def _json_body() -> dict:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _answer(call, status: int = 200):
    """Run a service call for push.js: commit and answer {"ok": true}, or roll back and answer the reason."""
    try:
        call()
    except NotAllowed as error:
        db.session.rollback()
        return jsonify(ok=False, error=str(error.message)), 403
    except DomainError as error:
        db.session.rollback()
        return jsonify(ok=False, error=str(error.message)), 400
    db.session.commit()
    return jsonify(ok=True), status


@bp.post("/push/subscribe")
def push_subscribe():
    me = current_user._get_current_object()
    allow(permissions.can_subscribe_push(me))
    body = _json_body()
    keys = body.get("keys") if isinstance(body.get("keys"), dict) else {}
    return _answer(lambda: push.subscribe(me, me, endpoint=body.get("endpoint"), p256dh=keys.get("p256dh"),
                                          auth=keys.get("auth"), user_agent=request.user_agent.string), 201)


@bp.post("/push/unsubscribe")
def push_unsubscribe():
    me = current_user._get_current_object()
    allow(permissions.can_subscribe_push(me))
    endpoint = _json_body().get("endpoint")
    return _answer(lambda: push.unsubscribe_endpoint(me, endpoint))


@bp.post("/push/<int:subscription_id>/remove")
def push_remove(subscription_id):
    subscription = db.get_or_404(PushSubscription, subscription_id)
    allow(permissions.can_manage_push_subscription(current_user, subscription))
    perform(lambda: push.remove_subscription(current_user._get_current_object(), subscription),
            _("The browser no longer gets notifications."))
    return redirect(url_for("notifications.preferences", _anchor="browsers"))


@bp.app_template_global()
def push_settings() -> dict:
    """For the settings page: the applicationServerKey (None while push is off) and the signed-in person's
    browsers with their labels."""
    return {"key": push.public_key(),
            "browsers": [(s, push.label_of(s)) for s in push.subscriptions_of(current_user)]}
