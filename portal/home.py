"""Home page, health check, and the language and text-size switches every page carries."""
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user

from portal.extensions import db
from portal.i18n import LANGUAGE_COOKIE
from portal.observability import dependency_health
from portal.web import public

bp = Blueprint("home", __name__)

ONE_YEAR = 365 * 24 * 3600


@bp.get("/")
@public
def index():
    communities = residencies = ()
    if current_user.is_authenticated:
        from portal.auth import roles
        from portal.residents.services import residencies_of
        communities = roles.communities_of(current_user)
        residencies = [r for r in residencies_of(current_user) if r.is_open]
    return render_template("home.html", communities=communities, residencies=residencies)


@bp.get("/healthz")
@public
def healthz():
    return dependency_health()


def _back():
    target = request.values.get("next") or request.referrer or ""
    # Only paths on this site: never bounce a visitor to another host.
    if not target.startswith("/") or target.startswith("//"):
        from urllib.parse import urlsplit
        parts = urlsplit(target)
        target = parts.path + (f"?{parts.query}" if parts.query else "") if parts.path.startswith("/") else ""
    return redirect(target or url_for("home.index"))


@bp.route("/language", methods=["GET", "POST"])  # GET: visitors' switch, only the cookie
@public
def set_language():
    from portal.auth.services import update_preferences
    language = request.values.get("language")
    if language not in current_app.config["LANGUAGES"]:
        return _back()
    if current_user.is_authenticated and request.method == "POST":
        update_preferences(current_user, locale=language)
        db.session.commit()
    response = _back()
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=ONE_YEAR, samesite="Lax", httponly=True)
    return response


@bp.route("/text-size", methods=["GET", "POST"])  # GET: visitors' switch, only the cookie
@public
def set_text_size():
    from portal.auth.services import update_preferences
    large = request.values.get("large") == "1"
    if current_user.is_authenticated and request.method == "POST":
        update_preferences(current_user, large_text=large)
        db.session.commit()
    response = _back()
    response.set_cookie("large_text", "1" if large else "0", max_age=ONE_YEAR, samesite="Lax", httponly=True)
    return response
