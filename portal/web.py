"""What every request gets: deny-by-default sign-in, security headers, error pages, template helpers."""
import re
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from flask import Flask, abort, current_app, flash, g, jsonify, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from portal.errors import DomainError, NotAllowed
from portal.extensions import db, login_manager
from portal.formatting import absolute_url, mask_phone  # noqa: F401  (views import them from here too)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; object-src 'none'"
)

ERROR_TEXT = {
    400: (_l("Bad request"), _l("The request could not be understood. Please go back and try again.")),
    403: (_l("Not allowed"), _l("You do not have permission to do this.")),
    404: (_l("Page not found"), _l("This page does not exist or has been moved.")),
    405: (_l("Not allowed"), _l("This address does not accept that kind of request.")),
    413: (_l("Too large"), _l("What you sent is too large. Please send something smaller.")),
    429: (_l("Too many requests"), _l("Please wait a moment and try again.")),
    500: (_l("Something went wrong"), _l("An error occurred on our side. It has been logged; please try again later.")),
    503: (_l("Briefly unavailable"),
          _l("The connection to the database was lost and nothing was saved. Please try again in a moment.")),
}
RETRY_AFTER_SECONDS = 5


class DatabaseInt(IntegerConverter):
    """`<int:…>` in every route: ids a database integer column can hold, so a 30-digit id in an address is a
    404 rather than an overflow inside the database driver."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**31 - 1, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def public(view):
    """Mark a view as open to visitors who are not signed in; every other view requires sign-in."""
    view.is_public = True
    return view


def allow(allowed: bool) -> None:
    """Act on a permission rule's answer: a visitor is asked to sign in first, a signed-in person gets 403."""
    if not allowed:
        if not current_user.is_authenticated:
            abort(login_manager.unauthorized())
        abort(403)


def show_error(form, error, fallback: str | None = None) -> None:
    """A service's refusal (DomainError) on the form the person sent: next to the field it names (else
    `fallback`), or above the form. Whatever the service had begun is rolled back."""
    db.session.rollback()
    field = getattr(form, error.field or "", None) or (getattr(form, fallback) if fallback else None)
    if field is not None:
        field.errors = [*field.errors, str(error.message)]
    else:
        form.form_errors.append(str(error.message))


def refuse():
    """A service said NotAllowed after the view's own rule let the person in: undo what it had begun, 403."""
    db.session.rollback()
    abort(403)


def perform(call, done_message=None) -> bool:
    """Run one service call for a plain button, with no form to show again. On success commit and flash
    `done_message` (when given); NotAllowed rolls back and answers 403; any other DomainError rolls back and
    flashes its message. Returns whether the call succeeded. A form to show again with the person's typing
    kept uses show_error instead."""
    try:
        call()
    except NotAllowed:
        refuse()
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return False
    db.session.commit()
    if done_message:
        flash(done_message, "success")
    return True


def accepts_photos(view):
    """Mark a view whose form carries phone photos: its request body may reach MAX_PHOTO_REQUEST_LENGTH
    (several photos of up to 15 MB each, each refused with its own message) instead of MAX_CONTENT_LENGTH."""
    view.accepts_photos = True
    return view


def widen_limit_for_photos():
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "accepts_photos", False):
        request.max_content_length = current_app.config["MAX_PHOTO_REQUEST_LENGTH"]


def init_app(app: Flask, *, rules) -> None:
    """`rules`: the permission rules templates call as `can.<rule>(user, obj)` (portal.auth.permissions, handed
    in by create_app: this module sits below every area and imports none)."""
    app.extensions["portal.rules"] = rules
    secure_cookies(app)
    # First of all before-request steps: the CSRF check reads the body, and the limit must be set before.
    app.before_request_funcs.setdefault(None, []).insert(0, widen_limit_for_photos)
    app.before_request(require_login_unless_public)
    app.after_request(set_security_headers)
    app.register_error_handler(CSRFError, csrf_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
    app.context_processor(template_helpers)
    app.jinja_env.globals["url_for"] = TemplateUrls(app).url_for
    app.jinja_env.globals["csrf_token"] = template_csrf_token
    app.jinja_env.globals["kept_fragment"] = kept_fragment
    app.add_template_filter(datetime_local)
    app.add_template_filter(date_local)
    app.add_template_filter(relative_time)
    app.add_template_filter(mask_phone)


class TemplateUrls:
    """Templates' url_for, remembered per endpoint and arguments: a page builds the same header, menu and
    footer links (and often the same row links) on every request, each costing a routing-map build. An
    address depends only on the endpoint, the arguments and the request's scheme, host and script root, never
    on the person. Blueprint-relative endpoints, static files (whose hash follows the file) and unhashable
    arguments are built each time."""

    KEPT = 20_000  # addresses with ids fill it on big sites; once full, the first ones (the menus) stay

    def __init__(self, app: Flask):
        self.app = app
        self.kept: dict = {}

    def url_for(self, endpoint: str, **values) -> str:
        from flask.globals import _cv_request
        context = _cv_request.get(None)
        adapter = context.url_adapter if context is not None else None
        if adapter is None or endpoint[:1] == "." or endpoint == "static":
            return self.app.url_for(endpoint, **values)
        key = (endpoint, adapter.url_scheme, adapter.server_name, adapter.script_name, adapter.subdomain,
               *((name, type(value), value) for name, value in sorted(values.items())))
        try:
            return self.kept[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable argument
            return self.app.url_for(endpoint, **values)
        url = self.app.url_for(endpoint, **values)
        if len(self.kept) < self.KEPT:
            self.kept[key] = url
        return url


def template_csrf_token() -> str:
    """Templates' csrf_token(): flask-wtf's token, kept on the request after its first call. A consultation
    page puts it in two or three forms per comment, and each flask-wtf call reads four settings and the
    session through the application and `g` proxies; the token does not change within a request."""
    from flask.globals import _cv_request
    from flask_wtf.csrf import generate_csrf
    context = _cv_request.get(None)
    if context is None:
        return generate_csrf()
    kept = context.request.__dict__.get("portal_csrf_token")
    if kept is None:
        kept = context.request.portal_csrf_token = generate_csrf()
    return kept


CSRF_MARK = "<!--csrf-token-->"


def without_csrf(html) -> str:
    """Rendered HTML to keep between requests: the request's CSRF token (tied to its session) replaced by a
    mark, which with_csrf() fills with the token of the request it is served to."""
    return str(html).replace(template_csrf_token(), CSRF_MARK)


def with_csrf(kept: str) -> Markup:
    return Markup(kept.replace(CSRF_MARK, template_csrf_token()) if CSRF_MARK in kept else kept)


HERE_MARK = Markup("<!--here-->")
_FRAGMENTS: dict = {}
FRAGMENTS_KEPT = 512


def kept_fragment(*key, here="", caller):
    """`{% call(here, csrf) kept_fragment(name, …what it depends on) %}…{% endcall %}`: a part of a page drawn
    once per process for the key's values, the language and the address's root, and served again with this
    request's `here` (the page's own address, escaped) and CSRF token in place of the marks its body writes for
    them. For template-only parts (the site menu: its links depend on the key, its forms on the page and the
    session); the templates change only with a deploy, which restarts the process."""
    full_key = (*key, _locale_name(), request.script_root)
    kept = _FRAGMENTS.get(full_key)
    if kept is None:
        kept = str(caller(HERE_MARK, Markup(CSRF_MARK)))
        if len(_FRAGMENTS) >= FRAGMENTS_KEPT:
            _FRAGMENTS.clear()
        _FRAGMENTS[full_key] = kept
    html = kept.replace(HERE_MARK, escape(here)) if HERE_MARK in kept else kept
    return with_csrf(html)


def require_login_unless_public():
    if request.endpoint is None or request.endpoint == "static":
        return None
    from flask import current_app
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "is_public", False):
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


def set_security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Permissions-Policy"] = "camera=(self), geolocation=(self), microphone=()"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    # Pages differ by person and language: never let a shared cache hand them to someone else.
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "private, no-cache")
        response.vary.add("Cookie")
        response.vary.add("Accept-Language")
    return response


def secure_cookies(app: Flask) -> None:
    """Cookies are Secure when the portal is served over https."""
    if app.config["PORTAL_BASE_URL"].startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True


def csrf_error(error):
    # An htmx request with a stale token: reload the page for a fresh one rather than leave a dead button.
    if getattr(request, "htmx", False):
        response = make_response("", 400)
        response.headers["HX-Refresh"] = "true"
        return response
    return error_page(400, _l("Your form expired"),
                      _l("The page was open too long or was sent from elsewhere. Please reload it and try again."))


def http_error(error: HTTPException):
    if error.code is None or error.code < 400:
        return error
    title, text = ERROR_TEXT.get(error.code, (error.name, error.description))
    return error_page(error.code, title, text)


def unexpected_error(error):
    from flask import current_app

    from portal.delivery import is_lost_connection
    from portal.extensions import db
    if isinstance(error, HTTPException):
        return http_error(error)
    db.session.rollback()
    if is_lost_connection(error):
        return lost_connection()
    current_app.logger.exception("Unhandled error on %s", request.path)
    if current_app.testing and current_app.config.get("PROPAGATE_EXCEPTIONS", True):
        raise error
    title, text = ERROR_TEXT[500]
    return error_page(500, title, text)


def lost_connection():
    """The database dropped the connection under this request; its transaction is gone with it. A GET or
    HEAD is run again once on a fresh connection (portal.delivery); anything else is told to try again."""
    from portal.delivery import ask_for_retry
    retrying = ask_for_retry()
    current_app.logger.warning("Database connection lost on %s %s%s", request.method, request.path,
                               "; retrying once" if retrying else "")
    title, text = ERROR_TEXT[503]
    try:
        response = make_response(error_page(503, title, text))
    except Exception:  # the database is still away and the page's header asks it something: say it plainly
        db.session.rollback()
        response = make_response(f"{title}\n\n{text}\n", 503, {"Content-Type": "text/plain; charset=utf-8"})
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def error_page(code: int, title, text):
    if request.path.startswith("/healthz") or request.accept_mimetypes.best == "application/json":
        return jsonify(error=str(title)), code
    return render_template("error.html", code=code, title=title, text=text), code


def template_helpers():
    from flask import has_request_context

    from portal.i18n import HTML_LANG
    permissions = current_app.extensions["portal.rules"]
    if not has_request_context():  # e-mails and other renders outside a request
        return {"can": permissions}
    locale = _locale_name()
    large_text = bool(current_user.is_authenticated and current_user.large_text) or \
        request.cookies.get("large_text") == "1"
    return {
        "can": permissions,
        "html_lang": HTML_LANG.get(locale, locale),
        "current_locale": locale,
        "large_text": large_text,
        # Counted when the page's header shows it, not for partials and pages that pass their own count.
        "unread_notifications": on_first_read(unread_notifications),
    }


def unread_notifications() -> int:
    """The signed-in person's unread notifications, for the header's badge."""
    from portal.outbox import unread_count
    if not current_user.is_authenticated:
        return 0
    # Read with the person at the start of the request (the user loader), unless a write since then may
    # have changed it: a flush that touched notifications forgets it (portal.outbox).
    kept = g.get("unread_notifications_at_start")
    return kept if kept is not None else unread_count(current_user)


def on_first_read(compute):
    """A template value worked out only when a template first reads it, then kept for that render: a
    context processor's figure that costs a statement, for pages that may not show it."""
    from werkzeug.local import LocalProxy
    kept = []

    def value():
        if not kept:
            kept.append(compute())
        return kept[0]
    return LocalProxy(value)


def page_key() -> tuple:
    """What a part of a page kept for every viewer (portal.versions.remember) depends on besides its
    community: the request's language and its query string (filters, order, the next page's cursor)."""
    from flask_babel import get_locale
    return str(get_locale()), tuple(sorted(request.args.items(multi=True)))


def htmx_or_page(partial: str, full_page: str, **context):
    """Render only the partial for an htmx request, the whole page otherwise (the page includes the partial)."""
    return render_template(partial if getattr(request, "htmx", False) else full_page, **context)


def datetime_local(value, zone: str | None = None) -> str:
    """An absolute time, the one way the portal writes it: the wall time in the community's zone (the portal
    default when none is given), to the minute, without a zone name; the year only when it is not this year
    there. zh "12月11日 20:00" / "2025年12月11日 20:00", en "11 Dec 20:00" / "11 Dec 2025 20:00"."""
    if value is None:
        return ""
    zone = zone or current_app.config["DEFAULT_TIME_ZONE"]
    return _datetime_text(value, zone, _locale_name(), _this_year(zone))


def date_local(value, zone: str | None = None) -> str:
    """A calendar day (a due date; or the day of an instant in the zone) in the same words, without a time."""
    if value is None:
        return ""
    zone = zone or current_app.config["DEFAULT_TIME_ZONE"]
    if isinstance(value, datetime):
        from portal.clock import in_zone
        value = in_zone(value, zone).date()
    return _date_text(value, _locale_name(), _this_year(zone))


def relative_time(value) -> str:
    from portal.clock import utcnow
    if value is None:
        return ""
    recording = _RECORDED.get()
    if recording is not None:
        recording.append(value)
    return relative_text(value - utcnow(), _locale_name())


_RECORDED: ContextVar[list | None] = ContextVar("relative_times_recorded", default=None)


@contextmanager
def rendering_to_keep():
    """While the block renders HTML that a page keeps for many viewers: yields the moments relative_time()
    writes ("3 hours ago"), for the page to end when the first would read differently (words_change_at);
    and the areas' per-viewer controls write marks (rendering_for_many()) that the page fills per request
    (the moderators' "Report": moderation_fill_flags)."""
    found = []
    token = _RECORDED.set(found)
    try:
        yield found
    finally:
        _RECORDED.reset(token)


def rendering_for_many() -> bool:
    return _RECORDED.get() is not None


# The areas above that fill marks of a kept page per viewer (moderation's "Report" controls), so that a page
# filling its own marks can fill theirs in the same pass and keep the result for every viewer alike: each
# filler is (key, fill): key(community, writers) says what its output depends on for this request's viewer,
# given the ids of the people who wrote what the page shows; fill(html, community) fills the marks.
_MARK_FILLERS: list = []


def fill_marks_with(key, fill) -> None:
    _MARK_FILLERS.append((key, fill))


def marks_key(community, writers: frozenset) -> tuple:
    return tuple(key(community, writers) for key, _fill in _MARK_FILLERS)


def fill_marks(html: str, community) -> str:
    for _key, fill in _MARK_FILLERS:
        html = fill(html, community)
    return html


def words_change_at(moments, now) -> datetime | None:
    """When the first of relative_time()'s texts for these moments would change, as time passes."""
    return min((now + (relative_text_lasts(m - now) if m > now else passed_text_lasts(m - now)) for m in moments),
               default=None)


def _locale_name() -> str:
    from portal.i18n import locale_name
    return locale_name()


def _this_year(zone: str) -> int:
    from portal.clock import in_zone, utcnow
    return in_zone(utcnow(), zone).year


# One pattern per language (CLDR symbols): with and without the year. Other languages read as English does.
DATETIME_PATTERNS = {"zh": ("M月d日 HH:mm", "y年M月d日 HH:mm"), "en": ("d MMM HH:mm", "d MMM y HH:mm")}
DATE_PATTERNS = {"zh": ("M月d日", "y年M月d日"), "en": ("d MMM", "d MMM y")}


def _pattern(patterns: dict, locale_name: str, with_year: bool) -> str:
    short, full = patterns.get(locale_name.split("_")[0].split("-")[0], patterns["en"])
    return full if with_year else short


# A long page shows the same few hundred times on every view: each is formatted once per process, language
# and current year (Babel's formatting costs about 0.3 ms a call), and the Locale objects are parsed once.
@lru_cache(maxsize=32)
def _babel_locale(name: str):
    from babel import Locale
    return Locale.parse(name)


@lru_cache(maxsize=8192)
def _datetime_text(value, zone: str, locale_name: str, this_year: int) -> str:
    """Keyed by the instant: aware datetimes hash alike whatever their tzinfo."""
    from babel.dates import format_datetime

    from portal.clock import in_zone
    local = in_zone(value, zone)
    pattern = _pattern(DATETIME_PATTERNS, locale_name, local.year != this_year)
    return format_datetime(local.replace(tzinfo=None), pattern, locale=_babel_locale(locale_name))


@lru_cache(maxsize=4096)
def _date_text(value, locale_name: str, this_year: int) -> str:
    from babel.dates import format_date
    return format_date(value, _pattern(DATE_PATTERNS, locale_name, value.year != this_year),
                       locale=_babel_locale(locale_name))


RELATIVE_UNITS = (("year", 3600 * 24 * 365), ("month", 3600 * 24 * 30), ("week", 3600 * 24 * 7),
                  ("day", 3600 * 24), ("hour", 3600), ("minute", 60))


def relative_text(delta, locale_name: str) -> str:
    """Babel's format_timedelta(delta, granularity="minute", add_direction=True) ("in 3 days", "5 minutes
    ago"), with the unit and rounding worked out here and the wording looked up once per unit and number."""
    seconds = delta.total_seconds()
    for unit, unit_seconds in RELATIVE_UNITS:
        amount = abs(seconds) / unit_seconds
        if amount >= 0.85 or unit == "minute":
            if unit == "minute" and amount > 0:
                amount = max(1, amount)
            return _relative_wording(locale_name, unit, seconds >= 0, int(round(amount)))
    return ""  # not reached: "minute" always matches


def relative_text_lasts(delta) -> timedelta:
    """How long relative_text(delta) stays the same text as time passes, for a time ahead (delta > 0): until
    the rounded number of its unit drops, or the unit gives way to the next smaller one. A time passed
    changes with the next unit; zero for it (callers show passed times in absolute words)."""
    seconds = delta.total_seconds()
    if seconds <= 0:
        return timedelta(0)
    for unit, unit_seconds in RELATIVE_UNITS:
        amount = seconds / unit_seconds
        if amount >= 0.85 or unit == "minute":
            shown = int(round(max(1, amount) if unit == "minute" else amount))
            # "in 1 minute" lasts until the moment itself; a larger unit until 0.85 of it, where the next
            # smaller unit takes over.
            if unit == "minute" and shown == 1:
                return delta
            return timedelta(seconds=seconds - max(shown - 0.5, 0 if unit == "minute" else 0.85) * unit_seconds)
    return timedelta(0)  # not reached: "minute" always matches


def passed_text_lasts(delta) -> timedelta:
    """How long relative_text(delta) stays the same text as time passes, for a time passed (delta <= 0):
    until the rounded number of its unit grows, or the next larger unit takes over at 0.85 of it."""
    seconds = -delta.total_seconds()
    if seconds <= 0:  # ahead, or this very instant ("in 0 minutes", which the next instant changes)
        return timedelta(0)
    larger = None
    for unit, unit_seconds in RELATIVE_UNITS:
        amount = seconds / unit_seconds
        if amount >= 0.85 or unit == "minute":
            shown = int(round(max(1, amount) if unit == "minute" and amount > 0 else amount))
            change = (shown + 0.5) * unit_seconds
            if larger is not None:
                change = min(change, 0.85 * larger)
            return timedelta(seconds=max(0.0, change - seconds))
        larger = unit_seconds
    return timedelta(0)  # not reached: "minute" always matches


def day_changes(zone: str) -> datetime:
    """The next midnight in the zone, as UTC: where "today" there (and with it "overdue" by date) changes."""
    from portal.clock import in_zone, utcnow
    local = in_zone(utcnow(), zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    # Wall-clock arithmetic: a day that gains or loses an hour still ends at midnight.
    return midnight.replace(tzinfo=local.tzinfo).astimezone(UTC)


def year_changes(zone: str) -> datetime:
    """The next new year's midnight in the zone, as UTC: where datetime_local starts writing years."""
    from portal.clock import in_zone, utcnow
    local = in_zone(utcnow(), zone)
    return local.replace(year=local.year + 1, month=1, day=1, hour=0, minute=0, second=0,
                         microsecond=0).astimezone(UTC)


@lru_cache(maxsize=4096)
def _relative_wording(locale_name: str, unit: str, future: bool, amount: int) -> str:
    # Babel's own lookup (format_timedelta, format "long", with direction): the relative pattern for the
    # unit, else the duration pattern; the plural form of the number, else "other".
    locale = _babel_locale(locale_name)
    relative = locale._data["date_fields"].get(f"{unit}-long") or locale._data["date_fields"].get(unit) or {}
    plural_form = locale.plural_form(amount)
    for patterns in (relative["future" if future else "past"],
                     locale._data["unit_patterns"].get(f"duration-{unit}", {}).get("long")):
        if patterns is not None:
            pattern = patterns.get(plural_form) or patterns.get("other")
            if pattern:
                return pattern.replace("{0}", str(amount))
    return ""


# --- uploaded files ------------------------------------------------------------------------------------------

# A key never points to other bytes, so browsers may keep a file; shared caches may not, so that hiding it
# (moderation, a rejected issue) takes effect for everyone who has not already loaded it.
LONG_CACHE = "private, max-age=604800, immutable"
NO_CACHE = "private, no-store"


def send_upload(found, path_for, size, sizes, *, public: bool):
    """An uploaded image (re-encoded, at one of `sizes`) or PDF, as stored by its area: `path_for(found, size)`
    gives the file. PDFs open in a sandbox (no scripts, no forms, no reaching the portal); nothing is sniffed;
    browsers keep it only when anyone may see it."""
    from urllib.parse import quote

    from flask import send_file
    if found.kind == "image":
        if size not in sizes:
            abort(404)
        path, mimetype = path_for(found, size), "image/jpeg"
    else:
        if size is not None:
            abort(404)
        path, mimetype = path_for(found), "application/pdf"
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=mimetype, conditional=True)
    if found.kind != "image":
        ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "_", found.filename).strip("_") or "document.pdf"
        response.headers["Content-Disposition"] = (
            f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(found.filename)}")
        response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; object-src 'self'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = LONG_CACHE if public else NO_CACHE
    if not public:
        response.headers.pop("ETag", None)
        response.headers.pop("Last-Modified", None)
    return response
