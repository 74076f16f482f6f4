"""Account pages: register, sign in and out, the account page, and password recovery.

Each view parses its form, checks who may act, calls a service and renders; a DomainError from the
service becomes a message on the field it names."""
import hmac

from flask import abort, current_app, flash, g, make_response, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user, user_loaded_from_cookie
from sqlalchemy.exc import IntegrityError

from portal import events
from portal.auth import bp, permissions, services
from portal.auth.forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    IssueResetCodeForm,
    LoginForm,
    ProfileForm,
    RegisterForm,
    ResetPasswordForm,
    ResetWithCodeForm,
)
from portal.auth.models import User
from portal.errors import DomainError
from portal.extensions import db
from portal.formviews import form_view
from portal.i18n import LANGUAGE_COOKIE
from portal.web import public

ONE_YEAR = 365 * 24 * 3600
# The password generation a session was started under; see services.session_stamp.
SESSION_STAMP = "_auth_stamp"
# The same for a remember-me cookie, which Flask-Login signs but does not tie to the password.
REMEMBER_STAMP_COOKIE = "remember_stamp"


# --- Sessions tied to the password ------------------------------------------------------------------

def start_session(user: User, remember: bool = False) -> None:
    login_user(user, remember=remember)
    stamp = services.session_stamp(user)
    session[SESSION_STAMP] = stamp
    g.remember_stamp = stamp if remember else None


def _refresh_stamp(user: User) -> None:
    """After this session changed the password: keep this session (and its remember cookie) signed in."""
    stamp = services.session_stamp(user)
    session[SESSION_STAMP] = stamp
    if request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")):
        g.remember_stamp = stamp


@user_loaded_from_cookie.connect
def _note_cookie_login(sender, user=None, **extra):
    g.signed_in_by_cookie = True


@bp.before_app_request
def end_sessions_from_before_a_password_change():
    if request.endpoint == "static" or not current_user.is_authenticated:
        return
    expected = services.session_stamp(current_user)
    if g.pop("signed_in_by_cookie", False):
        presented = request.cookies.get(REMEMBER_STAMP_COOKIE, "")
    else:
        presented = session.get(SESSION_STAMP)
        if presented is None:
            # Started by login_user elsewhere in this server; the session cookie is ours, so adopt it.
            session[SESSION_STAMP] = expected
            return
    if hmac.compare_digest(presented, expected):
        session[SESSION_STAMP] = expected
        return
    logout_user()
    session.pop(SESSION_STAMP, None)
    g.remember_stamp = ""
    flash(_("Your password was changed, so please sign in again."), "info")


@bp.after_app_request
def keep_remember_stamp_cookie(response):
    stamp = g.pop("remember_stamp", None)
    if stamp:
        config = current_app.config
        duration = config.get("REMEMBER_COOKIE_DURATION")
        max_age = int(duration.total_seconds()) if duration is not None else ONE_YEAR
        response.set_cookie(REMEMBER_STAMP_COOKIE, stamp, max_age=max_age, httponly=True, samesite="Lax",
                            secure=bool(config.get("REMEMBER_COOKIE_SECURE")))
    elif stamp == "":
        response.delete_cookie(REMEMBER_STAMP_COOKIE)
    return response


# --- Helpers for views ------------------------------------------------------------------------------

def _safe_next(target: str | None) -> str:
    """Only a path on this site, never another host (`//host`, `/\\host`)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("home.index")


def _client_ip() -> str:
    return request.remote_addr or "unknown"


def _no_store(response):
    # Pages holding a reset token or a fresh code must not stay in any cache or history snapshot.
    response = make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return response


def _after_register_url() -> str:
    if "residents.claim" in current_app.view_functions:
        return url_for("residents.claim")
    return url_for("home.index")


# --- Registration, sign-in, sign-out ----------------------------------------------------------------

@bp.route("/register", methods=["GET", "POST"])
@public
def register():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = RegisterForm()

    def register_account():
        try:
            return services.register_account(login=form.login.data, display_name=form.display_name.data,
                                             password=form.password.data, locale=str(get_locale() or "") or None)
        except IntegrityError:
            # Two registrations with the same login at the same instant: the unique index decides.
            db.session.rollback()
            raise DomainError(_("An account with this login already exists."), "login") from None

    def signed_in(user):
        start_session(user)
        return _after_register_url()
    return form_view(form, register_account, done=signed_in,
                     message=lambda user: _("Welcome, %(name)s. Your account is ready.", name=user.display_name),
                     page="auth/register.html", context={"form": form})


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()

    def signed_in(user):
        start_session(user, remember=form.remember.data)
        return _safe_next(request.args.get("next"))
    return form_view(form, lambda: services.authenticate(form.login.data, form.password.data, _client_ip()),
                     commit_refusal=True,  # the failure is counted toward lock-out even though sign-in is refused
                     done=signed_in, page="auth/login.html", context={"form": form})


@bp.post("/logout")
def logout():
    logout_user()
    session.pop(SESSION_STAMP, None)
    g.remember_stamp = ""
    flash(_("You have signed out."), "info")
    return redirect(url_for("home.index"))


@bp.get("/privacy")
@public
def privacy():
    return render_template("auth/privacy.html")


# --- The account page -------------------------------------------------------------------------------

@bp.route("/account", methods=["GET", "POST"])
def profile():
    me = current_user._get_current_object()
    form = ProfileForm(obj=current_user)
    if request.method == "GET":
        form.locale.data = current_user.locale or str(get_locale() or "en")

    def saved(_result):
        response = redirect(url_for("auth.profile"))
        # The header switches read these cookies too; keep them in step with the account.
        response.set_cookie(LANGUAGE_COOKIE, current_user.locale, max_age=ONE_YEAR, samesite="Lax",
                            httponly=True)
        response.set_cookie("large_text", "1" if current_user.large_text else "0", max_age=ONE_YEAR,
                            samesite="Lax", httponly=True)
        return response
    return form_view(form, lambda: services.update_profile(me, me, display_name=form.display_name.data,
                                                           locale=form.locale.data, large_text=form.large_text.data),
                     message=_("Your account is saved."), done=saved,
                     page=lambda: render_template("auth/profile.html", form=form,
                                                  masked_phone=services.mask_phone(current_user.phone)))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    me = current_user._get_current_object()
    form = ChangePasswordForm()

    def changed(_result):
        _refresh_stamp(me)
        return url_for("auth.profile")
    return form_view(form, lambda: services.change_password(me, me, current_password=form.current_password.data,
                                                            new_password=form.password.data),
                     message=_("Your password is changed. You are signed out everywhere else."), done=changed,
                     page="auth/change_password.html", context={"form": form})


# --- Password recovery ------------------------------------------------------------------------------

@bp.route("/forgot-password", methods=["GET", "POST"])
@public
def forgot_password():
    form = ForgotPasswordForm()

    def sent(reset):
        if reset is not None:
            # Straight away rather than at the next `run-due`: the link only lives 30 minutes.
            events.notification_urgent.send(recipient_id=reset.user_id)
        # The same page whatever happened, so it cannot be used to find out who has an account.
        return make_response(render_template("auth/forgot_password_sent.html"))
    return form_view(form, lambda: services.request_password_reset(form.login.data), done=sent,
                     page="auth/forgot_password.html", context={"form": form})


@bp.route("/reset/<token>", methods=["GET", "POST"])
@public
def reset_password(token):
    try:
        services.reset_for_token(token)
    except DomainError as error:
        return _no_store(render_template("auth/reset_invalid.html", message=error.message))
    form = ResetPasswordForm()

    def link_refused(error):
        if error.field is None:  # the link itself is spent or wrong, not the password typed
            return _no_store(render_template("auth/reset_invalid.html", message=error.message))
        return None
    return form_view(form, lambda: services.reset_password_with_link(token, form.password.data),
                     refused=link_refused, message=_("Your new password is set. Please sign in with it."),
                     done=_signed_out_to_login,
                     page=lambda: _no_store(render_template("auth/reset_password.html", form=form)))


def _signed_out_to_login(_result):
    logout_user()
    return url_for("auth.login")


@bp.route("/reset-code", methods=["GET", "POST"])
@public
def reset_with_code():
    form = ResetWithCodeForm()
    return form_view(form, lambda: services.reset_password_with_code(form.login.data, form.code.data,
                                                                     form.password.data, _client_ip()),
                     commit_refusal=True,  # a wrong code is counted toward lock-out
                     message=_("Your new password is set. Please sign in with it."), done=_signed_out_to_login,
                     page="auth/reset_with_code.html", context={"form": form})


@bp.route("/users/<int:user_id>/reset-code", methods=["GET", "POST"])
def issue_reset_code(user_id):
    target = db.get_or_404(User, user_id)
    if not permissions.can_issue_reset_code(current_user, target):
        abort(403)
    form = IssueResetCodeForm()
    return form_view(form, lambda: services.issue_reset_code(current_user._get_current_object(), target),
                     done=lambda code: _no_store(render_template(
                         "auth/reset_code_issued.html", target=target, code=code,
                         hours=int(services.RESET_CODE_LIFETIME.total_seconds() // 3600))),
                     page="auth/issue_reset_code.html", context={"form": form, "target": target})
