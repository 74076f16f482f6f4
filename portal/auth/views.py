"""Account pages: register, sign in and out, the account page, and password recovery.

Each view parses its form, checks who may act, calls a service and renders; a DomainError from the
service becomes a message on the field it names."""
from flask import abort, current_app, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
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
    SignOutEverywhereForm,
)
from portal.auth.models import User
from portal.errors import DomainError
from portal.extensions import db
from portal.formviews import form_view
from portal.i18n import LANGUAGE_COOKIE
from portal.web import public

ONE_YEAR = 365 * 24 * 3600
_proxy_warning = []
# The login just registered, filled into the sign-in form that follows.
REGISTERED_LOGIN = "registered_login"


# --- Sessions ---------------------------------------------------------------------------------------
# Sessions and remember-me cookies carry the person's session generation and this browser's session key
# (User.get_id). Signing out ends this browser's key; a password change, signing out everywhere and a lock
# raise the generation, and the user loader refuses any cookie from before.

def start_session(user: User, remember: bool = False) -> None:
    """Sign this browser in under the session key services.open_session gave the person (committed)."""
    login_user(user, remember=remember)


def _restart_session(user: User) -> None:
    """After this session raised the generation (a password change): keep it, and its remember cookie,
    signed in under the new one, with the same key."""
    remember = bool(request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")))
    login_user(user, remember=remember)


@bp.before_app_request
def warn_of_an_unconfigured_proxy():
    """Behind a reverse proxy every request seems to come from the proxy, so one person's failed sign-ins
    would be counted against everyone's address. Say so once when that seems to be the case."""
    if _proxy_warning or "X-Forwarded-For" not in request.headers:
        return
    if not current_app.config.get("PROXY_HOPS"):
        _proxy_warning.append(True)
        current_app.logger.warning(
            "Requests arrive with X-Forwarded-For but PROXY_HOPS is 0: every client is taken to be the proxy "
            "at %s, and sign-in lock-out by address counts them all as one. Set PROXY_HOPS to the number of "
            "proxies in front of the portal.", request.remote_addr)


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
            # Two registrations with the same login at the same instant: the unique index decides, and the
            # second is answered like any login that already has an account.
            db.session.rollback()
            return None

    def next_step(_user):
        # The same answer whether the account is new or the login already had one (whose owner is told):
        # the page must not tell a stranger who has an account. Signing in is the next step either way.
        session[REGISTERED_LOGIN] = services.normalize_login(form.login.data)
        return url_for("auth.login", next=_after_register_url())
    return form_view(form, register_account, done=next_step,
                     message=_("Thank you. Now sign in with your mobile number or e-mail and the password you "
                               "chose. If this number or address already had an account, we have told its "
                               "owner instead."),
                     page="auth/register.html", context={"form": form})


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if request.method == "GET" and session.get(REGISTERED_LOGIN):
        form.login.data = session[REGISTERED_LOGIN]

    def sign_in():
        user = services.authenticate(form.login.data, form.password.data, _client_ip())
        services.open_session(user)
        return user

    def signed_in(user):
        start_session(user, remember=form.remember.data)
        if session.pop(REGISTERED_LOGIN, None) == user.login_name:
            flash(_("Welcome, %(name)s. Your account is ready.", name=user.display_name), "success")
        return _safe_next(request.args.get("next"))
    return form_view(form, sign_in,
                     commit_refusal=True,  # the failure is counted toward lock-out even though sign-in is refused
                     done=signed_in, page="auth/login.html", context={"form": form})


@bp.post("/logout")
def logout():
    me = current_user._get_current_object()
    services.sign_out(me, me.session_key)
    db.session.commit()
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("home.index"))


@bp.post("/account/sign-out-everywhere")
def sign_out_everywhere():
    me = current_user._get_current_object()
    form = SignOutEverywhereForm()
    return form_view(form, lambda: services.sign_out_everywhere(me, me), done=_signed_out_home,
                     message=_("You are signed out on every device, this one included."))


def _signed_out_home(_result):
    logout_user()
    return url_for("home.index")


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
                                                  sign_out_form=SignOutEverywhereForm(),
                                                  masked_phone=services.mask_phone(current_user.phone)))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    me = current_user._get_current_object()
    form = ChangePasswordForm()

    def changed(_result):
        _restart_session(me)
        return url_for("auth.profile")
    return form_view(form, lambda: services.change_password(me, me, current_password=form.current_password.data,
                                                            new_password=form.password.data, ip=_client_ip()),
                     commit_refusal=True,  # a wrong current password is counted toward lock-out
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
