"""E-mail settings (signed in) and the one-click unsubscribe link of every e-mail (no sign-in: the signed
token is the proof, so that endpoint alone is exempt from CSRF). GET only shows a confirm button, because mail
scanners follow links; POST — from that button, or a mail client's RFC 8058 one-click request — turns it off."""
from flask import current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField
from wtforms.fields import SelectChoice

from portal.auth.models import User
from portal.extensions import csrf, db
from portal.formviews import form_view
from portal.notifications import bp, preferences, sender, services
from portal.web import public

GROUP_HINTS = {
    "my_issues": _l("An issue you reported or support is accepted, updated, resolved or merged."),
    "handling": _l("Issues routed to you or your organization, and their deadlines."),
    "proposals": _l("Proposals you wrote or supported change state; replies to your comments."),
    "votes": _l("Ballots you may vote in open, close soon, and their results."),
    "meetings": _l("Meetings of your committee are scheduled."),
    "notices": _l("Notice periods start in your community."),
    "actions": _l("Actions you own are due soon or overdue."),
    "moderation": _l("Your content was hidden or restored; flags wait in your moderation queue."),
}


def preferences_form(current: dict[str, str]):
    class PreferencesForm(FlaskForm):
        pass
    choices = [SelectChoice(mode, label) for mode, label in preferences.MODE_LABELS.items()]
    for group in preferences.changeable_groups():
        setattr(PreferencesForm, group, RadioField(services.GROUPS[group], choices=choices,
                                                   default=current[group]))
    return PreferencesForm()


@bp.route("/preferences", methods=["GET", "POST"], endpoint="preferences")
def preferences_page():
    me = current_user._get_current_object()
    current = preferences.modes_of([me.id])[me.id]
    form = preferences_form(current)
    return form_view(
        form, lambda: preferences.set_modes(me, me, {group: getattr(form, group).data
                                                     for group in preferences.changeable_groups()}),
        message=_("Your e-mail settings are saved."), done=url_for("notifications.preferences"),
        page="notifications/preferences.html",
        context={"form": form, "hints": GROUP_HINTS, "groups": preferences.changeable_groups(),
                 "fixed_label": services.GROUPS["account"],
                 "quiet": [f"{current_app.config[key]:02d}:00" for key in (
                     "NOTIFICATION_QUIET_START", "NOTIFICATION_QUIET_END", "NOTIFICATION_DIGEST_HOUR")]})


def _invalid(message):
    return render_template("notifications/unsubscribe_invalid.html", message=message), 400


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@public
@csrf.exempt
def unsubscribe(token):
    try:
        user_id, group = preferences.read_unsubscribe_token(token)
    except preferences.BadUnsubscribeLink as error:
        return _invalid(error.message)
    person = db.session.get(User, user_id)
    if person is None:
        return _invalid(_("This unsubscribe link is not valid. Sign in and choose your e-mail settings instead."))
    label = _("the daily digest") if group == preferences.DIGEST else services.GROUPS[group]
    if group == preferences.FIXED_GROUP:
        return render_template("notifications/unsubscribe.html", state="fixed", label=label, token=token)
    if request.method == "POST":
        # The confirm button and RFC 8058's one-click body ("List-Unsubscribe=One-Click") come here alike.
        preferences.unsubscribe(person, group)
        db.session.commit()
        return render_template("notifications/unsubscribe.html", state="done", label=label, token=token)
    return render_template("notifications/unsubscribe.html", state="confirm", label=label, token=token)


@bp.app_template_global()
def undeliverable_email():
    """For the account page: (address, reply) when mail to the signed-in person's address is refused for good."""
    return sender.undeliverable(current_user)
