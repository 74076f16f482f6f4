from flask import redirect, render_template, request, url_for
from flask_login import current_user

from portal.extensions import db
from portal.notifications import bp, services
from portal.web import htmx_or_page


@bp.get("/")
def index():
    page = services.inbox(current_user, page=request.args.get("page", 1, type=int))
    return render_template("notifications/index.html", page=page, services=services)


@bp.get("/unread-count")
def unread_count():
    return render_template("notifications/_unread_count.html",
                           unread_notifications=services.unread_count(current_user))


@bp.post("/<int:notification_id>/read")
def mark_read(notification_id):
    services.mark_read(current_user, notification_id)
    db.session.commit()
    if request.htmx:
        page = services.inbox(current_user, page=request.args.get("page", 1, type=int))
        return htmx_or_page("notifications/_list.html", "notifications/index.html", page=page, services=services)
    return redirect(url_for("notifications.index"))


@bp.post("/read-all")
def mark_all_read():
    services.mark_read(current_user)
    db.session.commit()
    return redirect(url_for("notifications.index"))
