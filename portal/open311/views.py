"""The Open311 documentation page (public) and the admins' pages for API keys."""
from datetime import timedelta

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.auth import permissions
from portal.clock import utcnow
from portal.extensions import db
from portal.formviews import form_view
from portal.open311 import bp, services
from portal.open311.forms import KeyForm, WebhookForm
from portal.open311.models import Open311Key
from portal.places.models import Community
from portal.web import absolute_url, allow, perform, public


@bp.app_context_processor
def open311_helpers():
    return {"open311_request_for": services.request_for_issue}


@bp.get("/open311/")
@public
def docs():
    example = db.session.scalar(db.select(Community).order_by(Community.id).limit(1))
    return render_template("open311/docs.html", base=absolute_url("open311.api.discovery", fmt="json")
                           .rsplit("/", 1)[0], slug=example.slug if example else "your-community",
                           max_days=services.MAX_RANGE.days, max_results=services.MAX_RESULTS,
                           description_max=services.DESCRIPTION_MAX)


def _communities():
    return db.session.scalars(db.select(Community).order_by(Community.name)).all()


def _form(key=None, formdata=None):
    data = None
    if key is not None and formdata is None:
        data = {"name": key.name, "communities": [c.id for c in key.communities],
                "media_hosts": "\n".join(key.media_hosts or []), "rate_limit": key.rate_limit}
    form = KeyForm(formdata=formdata, data=data)
    form.communities.choices = [(c.id, c.name) for c in _communities()]
    return form


def _chosen(form):
    ids = form.communities.data or []
    return db.session.scalars(db.select(Community).where(Community.id.in_(ids))).all() if ids else []


def _no_store(response):
    response = make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/open311/keys", methods=["GET", "POST"])
def keys():
    allow(permissions.is_admin(current_user))
    form = _form(formdata=request.form if request.method == "POST" else None)

    def issued(created):
        key, token = created
        # The secret is shown on this response only: no redirect that would need to carry it.
        return _no_store(render_template("open311/issued.html", key=key, token=token,
                                         docs_url=absolute_url("open311.docs")))

    def page():
        listed = services.all_keys()
        since = utcnow() - timedelta(days=1)
        return _no_store(render_template("open311/keys.html", form=form, keys=listed,
                                         usage=services.usage_counts(listed, since=since) if listed else {},
                                         pending=services.pending_counts(listed)))
    return form_view(form, lambda: services.create_key(current_user, name=form.name.data, communities=_chosen(form),
                                                       media_hosts=form.media_hosts.data or "",
                                                       rate_limit=form.rate_limit.data),
                     field="name", done=issued, page=page)


def _key_or_404(key_id):
    key = db.session.get(Open311Key, key_id)
    if key is None:
        abort(404)
    return key


@bp.route("/open311/keys/<int:key_id>", methods=["GET", "POST"])
def edit_key(key_id):
    allow(permissions.is_admin(current_user))
    key = _key_or_404(key_id)
    form = _form(key, formdata=request.form if request.method == "POST" else None)
    return form_view(form, lambda: services.update_key(current_user, key, name=form.name.data,
                                                       communities=_chosen(form),
                                                       media_hosts=form.media_hosts.data or "",
                                                       rate_limit=form.rate_limit.data),
                     field="name", message=lambda _result: _("Saved the key “%(name)s”.", name=key.name),
                     done=url_for("open311.keys"), page="open311/edit.html", context={"form": form, "key": key})


@bp.post("/open311/keys/<int:key_id>/revoke")
def revoke_key(key_id):
    allow(permissions.is_admin(current_user))
    key = _key_or_404(key_id)
    perform(lambda: services.revoke_key(current_user, key),
            _("Revoked the key “%(name)s”: it no longer works.", name=key.name))
    return redirect(url_for("open311.keys"))


def _secret_page(key, secret):
    """The signing secret, on this response only (no redirect that would carry it), never cached."""
    return _no_store(render_template("open311/secret.html", key=key, secret=secret,
                                     docs_url=absolute_url("open311.docs") + "#webhook"))


@bp.route("/open311/keys/<int:key_id>/webhook", methods=["GET", "POST"])
def webhook(key_id):
    allow(permissions.is_admin(current_user))
    key = _key_or_404(key_id)
    form = WebhookForm(formdata=request.form if request.method == "POST" else None,
                       data={"webhook_url": key.webhook_url or ""})

    def done(secret):
        return _secret_page(key, secret) if secret else url_for("open311.keys")

    def message(secret):
        if secret:
            return None
        if key.webhook_url:
            return _("Saved the webhook of “%(name)s”.", name=key.name)
        return _("“%(name)s” has no webhook now: its changes wait until one is set.", name=key.name)
    return form_view(form, lambda: services.set_webhook(current_user, key, form.webhook_url.data),
                     field="webhook_url", message=message, done=done, page="open311/webhook.html",
                     context={"form": form, "key": key})


@bp.post("/open311/keys/<int:key_id>/webhook/secret")
def rotate_webhook_secret(key_id):
    allow(permissions.is_admin(current_user))
    key = _key_or_404(key_id)
    if key.webhook_url is None or key.revoked_at is not None:
        flash(_("Set a webhook address first."), "error")
        return redirect(url_for("open311.webhook", key_id=key.id))
    if not perform(lambda: services.rotate_secret(current_user, key)):
        return redirect(url_for("open311.webhook", key_id=key.id))
    return _secret_page(key, key.webhook_secret)
