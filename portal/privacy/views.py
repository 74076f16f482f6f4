"""Privacy pages: the person's own (a copy of their data, deleting their account, consent to e-mail digests),
accepting a new privacy notice, and a deletion carried out at the counter. Each view checks one rule, calls
one service, commits. A signed-in person who agreed to an older privacy notice is sent to read the current
one before anything else (a GET that is not the notice, the sign-out or a static file)."""
from flask import abort, flash, redirect, render_template, request, send_file, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.auth.models import User
from portal.clock import utcnow
from portal.extensions import db
from portal.formviews import form_view
from portal.issues.models import IssuePhoto
from portal.privacy import bp, services
from portal.privacy.forms import ButtonForm
from portal.web import allow, perform

NOTICE_CHECKED = "privacy_notice_checked"
# Pages a person who has yet to accept the new notice may still reach.
NOT_HELD = {"static", "privacy.accept_notice", "auth.privacy", "auth.logout", "home.healthz",
            "home.set_language", "home.set_text_size", "metrics"}


@bp.before_app_request
def ask_for_new_notice():
    """The first request after sign-in of someone who accepted an older privacy notice goes to the current
    one. The answer is remembered in the session per version, so a page costs no extra query."""
    if request.method not in ("GET", "HEAD") or request.endpoint is None or request.endpoint in NOT_HELD:
        return None
    if request.endpoint.startswith("open311.api") or request.headers.get("HX-Request") \
            or not current_user.is_authenticated:
        return None  # a partial update is not a page to replace; the next page asks
    version = services.notice_version()
    if session.get(NOTICE_CHECKED) == f"{current_user.id}:{version}":
        return None
    if services.needs_notice_acceptance(current_user):
        return redirect(url_for("privacy.accept_notice", next=request.full_path.rstrip("?")))
    session[NOTICE_CHECKED] = f"{current_user.id}:{version}"
    return None


@bp.app_template_global()
def privacy_periods() -> dict[str, int]:
    """The retention periods in days, for the privacy notice."""
    return services.retention_periods()


@bp.app_template_global()
def may_delete_at_counter(person) -> bool:
    """For the resident's page: may the signed-in member or admin carry out a deletion asked at the counter?"""
    return services.can_delete_at_counter(current_user, person)


@bp.app_template_global()
def may_remove_photo(photo) -> bool:
    return services.can_remove_photo(current_user, photo)


@bp.app_template_global()
def privacy_notice_version() -> str:
    return services.notice_version()


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return url_for("home.index")


@bp.route("/privacy/accept", methods=["GET", "POST"])
def accept_notice():
    form = ButtonForm()
    target = _safe_next(request.values.get("next"))

    def accepted(_consent):
        session[NOTICE_CHECKED] = f"{current_user.id}:{services.notice_version()}"
        return target

    return form_view(form, lambda: services.accept_notice(current_user), done=accepted,
                     message=_("Thank you. Your acceptance of the privacy notice is recorded."),
                     page="privacy/accept.html",
                     context={"form": form, "next": target, "version": services.notice_version(),
                              "periods": services.retention_periods()})


@bp.get("/account/privacy")
def mine():
    allow(services.can_manage_own_data(current_user))
    return render_template("privacy/mine.html", exports=services.current_exports(current_user),
                           deletion=services.open_deletion(current_user),
                           digests=services.digest_consent(current_user), now=utcnow(),
                           periods=services.retention_periods(), form=ButtonForm(formdata=None))


@bp.post("/account/privacy/export")
def request_export():
    allow(services.can_manage_own_data(current_user))
    made = []
    if perform(lambda: made.append(services.request_export(current_user, current_user))):
        days = services.setting("EXPORT_KEEP_DAYS")
        flash(_("Your copy is ready. It stays here to download for %(days)d days.", days=days)
              if made[0].status == "ready" else
              _("Your copy is being prepared. It stays here to download for %(days)d days.", days=days), "success")
    return redirect(url_for("privacy.mine"))


@bp.get("/account/privacy/export/<int:export_id>")
def download_export(export_id):
    allow(services.can_manage_own_data(current_user))
    export = services.export_for_download(current_user, export_id)
    if export is None:
        abort(404)
    response = send_file(services.export_path(export), mimetype="application/zip", as_attachment=True,
                         download_name=f"yishi-my-data-{export.ready_at:%Y%m%d}.zip", max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/account/privacy/delete")
def request_deletion():
    allow(services.can_manage_own_data(current_user))
    perform(lambda: services.request_deletion(current_user, current_user),
            _("Your account will be deleted in %(days)d days. Until then you can cancel.",
              days=services.setting("DELETION_COOLING_OFF_DAYS")))
    return redirect(url_for("privacy.mine"))


@bp.post("/account/privacy/delete/cancel")
def cancel_deletion():
    allow(services.can_manage_own_data(current_user))
    perform(lambda: services.cancel_deletion(current_user, current_user),
            _("Your request is cancelled. Your account stays."))
    return redirect(url_for("privacy.mine"))


@bp.post("/account/privacy/digests")
def digest_consent():
    allow(services.can_manage_own_data(current_user))
    given = request.form.get("given") == "1"
    perform(lambda: services.set_digest_consent(current_user, current_user, given),
            _("E-mail digests are allowed again.") if given else
            _("Consent withdrawn: you get no e-mail digests."))
    return redirect(url_for("privacy.mine"))


@bp.route("/people/<int:user_id>/delete", methods=["GET", "POST"])
def delete_at_counter(user_id):
    person = db.session.get(User, user_id)
    if person is None:
        abort(404)
    allow(services.can_delete_at_counter(current_user, person))
    form = ButtonForm()
    return form_view(form, lambda: services.delete_at_counter(current_user, person),
                     done=url_for("home.index"), message=_("The account is deleted."),
                     page="privacy/delete_at_counter.html", context={"form": form, "person": person})



@bp.post("/issues/photos/<int:photo_id>/remove")
def remove_photo(photo_id):
    photo = db.session.get(IssuePhoto, photo_id)
    if photo is None:
        abort(404)
    allow(services.can_remove_photo(current_user, photo))
    issue = photo.issue
    perform(lambda: services.remove_photo_on_request(current_user, photo), _("The photo is removed."))
    return redirect(url_for("issues.detail", slug=issue.community.slug, issue_id=issue.id))
