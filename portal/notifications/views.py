"""The notification centre: the grouped list, marking read, the unread badge's polling fragment, and
/notifications/<id>, which e-mails and the list link to: it marks the notification read and leads to the
object's page, or answers 410 Gone with a "no longer available" page when the object was deleted, hidden
or withdrawn, or the person may no longer see it."""
from types import SimpleNamespace

from flask import abort, current_app, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user

from portal import versions
from portal.clock import utcnow
from portal.extensions import db
from portal.i18n import locale_name
from portal.notifications import bp, centre, services
from portal.web import (
    public,
    rendering_to_keep,
    unread_notifications,
    with_csrf,
    without_csrf,
    words_change_at,
    year_changes,
)

PREFERENCES_ENDPOINT = "notifications.preferences"
STOP_POLLING = 286  # htmx stops polling on this status (signed out: nothing to count)


def _preferences_url():
    # The e-mail preferences page is another module's; link to it once it exists.
    return url_for(PREFERENCES_ENDPOINT) if PREFERENCES_ENDPOINT in current_app.view_functions else None


def _page_number() -> int:
    return max(1, min(request.args.get("page", 1, type=int), 10000))


def _list_context(page: int) -> dict:
    return {"inbox": centre.grouped_inbox(current_user, page=page), "services": services,
            "preferences_url": _preferences_url()}


def _list_response(page: int):
    """After a change: the list partial (with the badge out of band) for htmx, else back to the list."""
    if getattr(request, "htmx", False):
        return render_template("notifications/_list.html", badge_oob=True,
                               unread_notifications=services.unread_count(current_user), **_list_context(page))
    return redirect(url_for("notifications.index", page=page if page > 1 else None))


@bp.get("/")
def index():
    page = _page_number()
    html, has_next = _kept_list(page)
    return render_template("notifications/index.html", list_html=with_csrf(html),
                           inbox=SimpleNamespace(page=page, has_prev=page > 1, has_next=has_next),
                           preferences_url=_preferences_url())


def _kept_list(page: int) -> tuple[str, bool]:
    """The page of the person's list as rendered HTML (its CSRF tokens marked) and whether an older page
    follows: kept per person, page and language until their notifications change (centre.inbox_version:
    one small statement instead of three and the rendering) or a time on it would read differently
    ("5 minutes ago" becoming "6 minutes ago", a new year)."""
    person = current_user

    def render():
        now = utcnow()
        with rendering_to_keep() as moments:
            context = _list_context(page)
            html = without_csrf(render_template("notifications/_list.html", **context))
        ends = [year_changes(current_app.config["DEFAULT_TIME_ZONE"]), words_change_at(moments, now)]
        return versions.Kept((html, context["inbox"].has_next), until=min(e for e in ends if e is not None))
    return versions.remember_as("notification_centre", centre.inbox_version(person), render, person.id, page,
                                locale_name())


@bp.get("/unread-count")
@public
def unread_count():
    """The badge alone, polled every 60 s. One statement (the count comes with the person); rendered without
    the page's context (which would count again), not cached, and it leaves the session cookie alone so
    polling never keeps a session alive."""
    template = current_app.jinja_env.get_template("notifications/_unread_count.html")
    if not current_user.is_authenticated:
        response = make_response(template.render(unread_notifications=0), STOP_POLLING)
    else:
        response = make_response(template.render(unread_notifications=unread_notifications()))
        if request.cookies.get(current_app.config.get("SESSION_COOKIE_NAME", "session")):
            session.modified = False
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:notification_id>", endpoint="open")
def open_notification(notification_id):
    row = centre.notification_of(current_user, notification_id)
    if row is None:
        abort(404)
    centre.mark_group_read(current_user, row)
    db.session.commit()
    if not centre.is_available(current_user, row):
        return render_template("notifications/gone.html", notification=row), 410
    return redirect(services.link_for(row) or url_for("notifications.index"))


@bp.post("/<int:notification_id>/read")
def mark_read(notification_id):
    row = centre.notification_of(current_user, notification_id)
    if row is not None:
        centre.mark_group_read(current_user, row)
        db.session.commit()
    return _list_response(_page_number())


@bp.post("/read-all")
def mark_all_read():
    services.mark_read(current_user)
    db.session.commit()
    return _list_response(_page_number())
