"""The installable web app (issue #21): the manifest, the service worker served from the site root, the page
it shows offline, and a fresh form token for drafts written offline and sent when the connection returns.

The worker's script is a template (templates/webapp/sw.js): its cache names carry a version made from the
content hashes of every static file and the app's version, so a deploy that changes a file installs a new
worker, which deletes the old caches when it takes over."""
import hashlib
import json
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from portal.extensions import db
from portal.i18n import HTML_LANG, locale_name
from portal.web import public

bp = Blueprint("webapp", __name__)

# From static/css/portal.css: --red (the header) and --bg (the page).
THEME_COLOUR = "#a4262c"
BACKGROUND_COLOUR = "#f6f5f2"
# The files every page needs, fetched when the worker installs; other static files are cached when first used.
SHELL_FILES = ("css/portal.css", "vendor/htmx.min.js", "js/webapp.js", "js/photo-shrink.js", "favicon.svg",
               "icons/icon-192.png")
ICONS = (("icons/icon-192.png", "192x192", "any"), ("icons/icon-512.png", "512x512", "any"),
         ("icons/maskable-192.png", "192x192", "maskable"), ("icons/maskable-512.png", "512x512", "maskable"))
MANIFEST_MAX_AGE = 3600  # an anonymous visitor's manifest: the same for everyone who shares the language


def app_version() -> str:
    try:
        return package_version("yishi-portal")
    except PackageNotFoundError:
        return "0"


def static_version() -> str:
    """12 hex digits that change whenever any static file or the app's version changes."""
    files = current_app.extensions["portal.static"]
    digest = hashlib.sha256(app_version().encode())
    for path in sorted(files.folder.rglob("*")):
        if path.is_file():
            name = path.relative_to(files.folder).as_posix()
            digest.update(f"{name}\0{files.digest(name)}\n".encode())
    return digest.hexdigest()[:12]


def home_community_url(person) -> str:
    """Where the installed app opens: the community the person lives in, else the first they serve, else home."""
    from portal.auth import roles
    from portal.places.models import Community
    from portal.residents.services import residencies_of
    if not getattr(person, "is_authenticated", False):
        return url_for("home.index")
    lived_in = next((r.community_id for r in residencies_of(person) if r.is_open), None)
    community = db.session.get(Community, lived_in) if lived_in else next(iter(roles.communities_of(person)), None)
    return url_for("places.community", slug=community.slug) if community else url_for("home.index")


def manifest_for(person) -> dict:
    return {
        "id": "/",
        "name": "议事",
        "short_name": "议事",
        "description": _("Raise neighbourhood issues and proposals, deliberate, vote and follow agreed actions to "
                         "completion."),
        "lang": HTML_LANG.get(locale_name(), locale_name()),
        "start_url": home_community_url(person),
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": [{"src": url_for("static", filename=name), "sizes": sizes, "type": "image/png", "purpose": purpose}
                  for name, sizes, purpose in ICONS],
    }


@bp.get("/manifest.webmanifest")
@public
def manifest():
    body = json.dumps(manifest_for(current_user), ensure_ascii=False, separators=(",", ":"))
    response = Response(body, mimetype="application/manifest+json")
    if current_user.is_authenticated:
        # The start address is the person's own: only their browser keeps it, and asks again each time.
        response.headers["Cache-Control"] = "private, no-cache"
    else:
        response.headers["Cache-Control"] = f"public, max-age={MANIFEST_MAX_AGE}"
    response.vary.update(("Cookie", "Accept-Language"))
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/sw.js")
@public
def service_worker():
    version = static_version()
    body = render_template("webapp/sw.js", version=version,
                           shell=[url_for("static", filename=name) for name in SHELL_FILES],
                           offline_url=url_for("webapp.offline"),
                           logout_url=url_for("auth.logout"), manifest_url=url_for("webapp.manifest"),
                           token_url=url_for("webapp.form_token"),
                           switch_urls=[url_for("home.set_language"), url_for("home.set_text_size")])
    response = Response(body, mimetype="application/javascript")
    response.headers["Service-Worker-Allowed"] = "/"
    # Browsers check the worker on navigation; the ETag makes each check a 304 until a deploy changes it.
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/offline")
@public
def offline():
    return render_template("webapp/offline.html")


@bp.get("/webapp/form-token")
def form_token():
    """A fresh CSRF token for a draft written offline, and whose it is, so a draft is only ever sent by the
    person who wrote it (never by whoever signs in on the same phone next)."""
    response = jsonify(csrf_token=generate_csrf(), person=current_user.id)
    response.headers["Cache-Control"] = "no-store"
    return response
