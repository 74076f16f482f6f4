"""Text message pages: sign-in (and recovery) with a one-time SMS code, a person's SMS settings, and the
administrator's counts against the caps. Without SMS codes configured the sign-in pages say so (and refuse
what is posted); the sign-in page links to them only while codes can be sent."""
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional

from portal.auth import permissions
from portal.auth import services as auth_services
from portal.auth.views import _client_ip, _safe_next, start_session
from portal.formatting import mask_phone
from portal.formviews import form_view
from portal.notifications import sms, sms_bp, sms_codes
from portal.web import allow, public

PHONE_SESSION_KEY = "sms_sign_in_phone"
GROUP_HINTS = {
    "issue_resolved": _l("When an issue you reported is marked resolved, so that you can check and rate it."),
    "ballot_opened": _l("When voting opens in a ballot you may vote in."),
    "ballot_closing": _l("Once, when a ballot closes within 24 hours and you have not voted yet."),
    "code": _l("Codes you ask for to sign in without your password."),
}


class SmsNumberForm(FlaskForm):
    phone = StringField(_l("Mobile number"), validators=[DataRequired(sms_codes.ENTER_NUMBER), Length(max=20)],
                        render_kw={"autocomplete": "tel", "inputmode": "tel"})


class SmsCodeForm(FlaskForm):
    phone = StringField(_l("Mobile number"), validators=[DataRequired(sms_codes.ENTER_NUMBER), Length(max=20)],
                        render_kw={"autocomplete": "tel", "inputmode": "tel"})
    code = StringField(_l("Code from the text message"),
                       validators=[DataRequired(_l("Enter the 6-digit code.")), Length(max=20)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"})
    password = PasswordField(_l("New password (only if you want to set one)"),
                             validators=[Optional(), Length(min=auth_services.MIN_PASSWORD_LENGTH, max=200,
                                                            message=_l("Use at least %(n)d characters.",
                                                                       n=auth_services.MIN_PASSWORD_LENGTH))],
                             render_kw={"autocomplete": "new-password"})
    remember = BooleanField(_l("Keep me signed in on this device"))


@sms_bp.app_template_global()
def sms_sign_in_available() -> bool:
    return sms_codes.available()


def _send_after_answer(response, message_id):
    """Send the code's text once the response has gone: the answer takes as long whether or not a text goes."""
    if message_id is None:
        return response
    app = current_app._get_current_object()

    def send():
        with app.app_context():
            try:
                sms.send_code_now(message_id)
            except Exception:  # the run-due step tries again
                app.logger.exception("sms: sending code message %s failed", message_id)
            finally:
                from portal.extensions import db
                db.session.remove()
    response.call_on_close(send)
    return response


@sms_bp.route("/login/sms", methods=["GET", "POST"])
@public
def sign_in_request():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = SmsNumberForm()

    def asked(message_id):
        session[PHONE_SESSION_KEY] = auth_services.normalize_login(form.phone.data)
        flash(_("If %(number)s belongs to an account that receives codes, a text message with a 6-digit code is "
                "on its way. It works for 5 minutes.", number=mask_phone(session[PHONE_SESSION_KEY])), "success")
        response = redirect(url_for("sms.sign_in_code", next=request.args.get("next") or None))
        return _send_after_answer(response, message_id)
    return form_view(form, lambda: sms_codes.request_code(form.phone.data, _client_ip()), done=asked,
                     commit_refusal=True, page="notifications/sms_sign_in.html",
                     context={"form": form, "available": sms_codes.available()})


@sms_bp.route("/login/sms/code", methods=["GET", "POST"])
@public
def sign_in_code():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = SmsCodeForm()
    if request.method == "GET" and session.get(PHONE_SESSION_KEY):
        form.phone.data = session[PHONE_SESSION_KEY]

    def sign_in():
        user = sms_codes.sign_in_with_code(form.phone.data, form.code.data, _client_ip(),
                                           new_password=form.password.data or None)
        auth_services.open_session(user)
        return user

    def signed_in(user):
        session.pop(PHONE_SESSION_KEY, None)
        start_session(user, remember=form.remember.data)
        if form.password.data:
            flash(_("Your new password is set."), "success")
        return _safe_next(request.args.get("next"))
    return form_view(form, sign_in, commit_refusal=True, done=signed_in, page="notifications/sms_code.html",
                     context={"form": form, "available": sms_codes.available()})


def settings_form(current: dict[str, bool]):
    class SmsSettingsForm(FlaskForm):
        pass
    for group, label in sms.GROUPS.items():
        setattr(SmsSettingsForm, group, BooleanField(label, default=current[group]))
    return SmsSettingsForm()


@sms_bp.route("/notifications/sms", methods=["GET", "POST"])
def settings():
    me = current_user._get_current_object()
    form = settings_form(sms.choices_of([me.id])[me.id])
    return form_view(form, lambda: sms.set_choices(me, me, {g: bool(getattr(form, g).data) for g in sms.GROUPS}),
                     message=_("Your text message settings are saved."), done=url_for("sms.settings"),
                     page="notifications/sms_settings.html",
                     context={"form": form, "groups": list(sms.GROUPS), "hints": GROUP_HINTS,
                              "configured": sms.configured(), "phone": mask_phone(me.phone),
                              "quiet": [f"{current_app.config[key]:02d}:00" for key in (
                                  "NOTIFICATION_QUIET_START", "NOTIFICATION_QUIET_END")],
                              "daily_cap": current_app.config["SMS_DAILY_CAP"]})


@sms_bp.get("/admin/sms")
def usage():
    allow(permissions.can_view_sms_usage(current_user))
    return render_template("notifications/sms_usage.html", counts=sms.counts())
