"""Residents' pages: parse, authorize, call a service, render."""
from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal.audit.labels import own_line
from portal.auth import permissions
from portal.auth.models import User
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.formviews import db_int, fits_database, form_view, posted_id
from portal.places.models import Community, Household, Residency
from portal.places.services import community_or_404
from portal.residents import acting, bp, services
from portal.residents.forms import ClaimForm, RegisterOnBehalfForm, RejectForm
from portal.web import perform, refuse


def _household(household_id):
    return db.session.get(Household, household_id) if household_id else None


def _owner_ids() -> list[int]:
    """The ticked owner records; a value that is no id the database holds is no owner."""
    return [i for i in map(posted_id, request.form.getlist("confirm_owner")) if i is not None]


def _unit_choices(community):
    # Each label starts with the building's name, so one flat list reads well and needs no optgroups.
    groups = services.households_by_building(community)
    return [SelectChoice("", _("Choose the unit…"))] + [
        SelectChoice(hid, label) for rows in groups.values() for hid, label in rows]


# --- the person's own pages (or the resident's, when a member acts for them) ---------------------------------

@bp.route("/claim", methods=["GET", "POST"])
def claim():
    form = ClaimForm()
    form.community.choices = [SelectChoice("", _("Choose your community…"))] + [
        SelectChoice(c.id, c.name) for c in services.all_communities()]
    if request.method == "GET" and request.args.get("community"):
        form.community.data = request.args.get("community", type=db_int)
    # A number beyond the id column is no community (the form says so), rather than a database error.
    community = db.session.get(Community, form.community.data) \
        if form.community.data and fits_database(form.community.data) else None
    form.household.choices = _unit_choices(community)
    # With JavaScript, changing the community swaps in its units; without, the "show units" button does.
    form.community.render_kw = {"hx-get": url_for("residents.claim_units"), "hx-target": "#unit-field",
                                "hx-swap": "outerHTML"}
    person = acting.current_person()

    def page():
        return render_template("residents/claim.html", form=form, community=community, person=person)
    if request.method == "POST" and request.form.get("step") == "units":
        return page()

    def claim_unit():
        if community is None:
            raise DomainError(_("Choose your community."), "community")
        return services.claim_unit(current_user, _household(form.household.data), community=community,
                                   is_adult=not form.minor.data, on_behalf_of=acting.acting_for())
    return form_view(form, claim_unit, field="household", page=page, done=url_for("residents.mine"),
                     message=lambda residency: _(
                         "Your claim for %(unit)s is sent. A committee member of %(community)s will verify it.",
                         unit=services.unit_label(residency.household), community=community.name))


@bp.get("/claim/units")
def claim_units():
    """The unit select for the chosen community: what htmx swaps in when the community changes."""
    form = ClaimForm(formdata=None)
    community = db.session.get(Community, request.args.get("community", type=db_int) or 0)
    form.household.choices = _unit_choices(community)
    return render_template("residents/_unit_field.html", form=form, community=community)


@bp.get("/my/residency")
def mine():
    person = acting.current_person()
    helping = acting.acting_for() is not None
    return render_template(
        "residents/mine.html", person=person, helping=helping, residencies=services.residencies_of(person),
        owners=services.linked_owners(person), status_labels=services.STATUS_LABELS,
        # The record of who looked at or changed this person's data is for the person's own eyes.
        entries=[] if helping else services.record_about(person), own_line=own_line)


def _own_residency_or_404(residency_id) -> Residency:
    residency = db.session.get(Residency, residency_id)
    if residency is None or residency.user_id != acting.current_person().id:
        abort(404)
    return residency


@bp.post("/my/residency/<int:residency_id>/move-out")
def move_out(residency_id):
    residency = _own_residency_or_404(residency_id)
    perform(lambda: services.end_residency(current_user, residency, on_behalf_of=acting.acting_for()),
            _("The residence at %(unit)s has ended. It stays in the history.",
              unit=services.unit_label(residency.household)))
    return redirect(url_for("residents.mine"))


@bp.post("/my/residency/<int:residency_id>/consent")
def consent(residency_id):
    if acting.acting_for() is not None:
        abort(403)  # only the resident, never a helper, decides who may act for them
    residency = _own_residency_or_404(residency_id)
    services.set_act_for_consent(current_user, residency, request.form.get("consent") == "1")
    db.session.commit()
    flash(_("Your choice is saved."), "success")
    return redirect(url_for("residents.mine"))


# --- the committee's pages --------------------------------------------------------------------------------

@bp.get("/c/<slug>/residents")
def index(slug):
    community = community_or_404(slug)
    if not permissions.can_view_residents(current_user, community):
        abort(403)
    show_all = request.args.get("all") == "1"
    statuses = ("pending", "verified", "rejected", "ended") if show_all else ("pending", "verified")
    return render_template("residents/index.html", community=community, show_all=show_all,
                           residencies=services.residencies_in(community, statuses),
                           status_labels=services.STATUS_LABELS)


def _pending_page(community, reject_forms=None, notices=None):
    claims = services.pending_claims(community)
    forms = {r.id: RejectForm(formdata=None, prefix=f"claim{r.id}") for r in claims}
    forms.update(reject_forms or {})
    return render_template("residents/pending.html", community=community, claims=claims, reject_forms=forms,
                           proposals={r.id: services.owner_proposals(r) for r in claims}, notices=notices or {})


@bp.get("/c/<slug>/residents/pending")
def pending(slug):
    community = community_or_404(slug)
    if not permissions.can_verify_residents(current_user, community):
        abort(403)
    return _pending_page(community)


def _claim_or_404(community, residency_id) -> Residency:
    residency = db.session.get(Residency, residency_id)
    if residency is None or residency.community_id != community.id:
        abort(404)
    return residency


def _claim_partial(community, residency, *, form=None, notice=None):
    return render_template("residents/_claim.html", community=community, r=residency,
                           form=form or RejectForm(formdata=None, prefix=f"claim{residency.id}"),
                           proposals=services.owner_proposals(residency) if residency.status == "pending" else [],
                           notice=notice)


@bp.post("/c/<slug>/residents/claims/<int:residency_id>/verify")
def verify(slug, residency_id):
    community = community_or_404(slug)
    if not permissions.can_verify_residents(current_user, community):
        abort(403)
    residency = _claim_or_404(community, residency_id)
    try:
        changed = services.verify_claim(current_user, residency,
                                        confirm_owner_ids=_owner_ids())
    except NotAllowed:
        refuse()
    except DomainError as error:
        db.session.rollback()
        notice = str(error.message)
    else:
        db.session.commit()
        notice = (_("%(name)s is verified as living at %(unit)s.", name=residency.user.display_name,
                    unit=services.unit_label(residency.household)) if changed
                  else _("This claim was already verified; nothing changed."))
    if request.htmx:
        return _claim_partial(community, residency, notice=notice)
    flash(notice, "success")
    return redirect(url_for("residents.pending", slug=slug))


@bp.post("/c/<slug>/residents/claims/<int:residency_id>/reject")
def reject(slug, residency_id):
    community = community_or_404(slug)
    if not permissions.can_verify_residents(current_user, community):
        abort(403)
    residency = _claim_or_404(community, residency_id)
    form = RejectForm(prefix=f"claim{residency.id}")

    def notice(_result):
        return _("The claim of %(name)s is not accepted; they can read your reason.",
                 name=residency.user.display_name)

    def rejected(result):
        if request.htmx:
            return make_response(_claim_partial(community, residency, notice=notice(result)))
        return url_for("residents.pending", slug=slug)
    return form_view(form, lambda: services.reject_claim(current_user, residency, form.reason.data),
                     field="reason", message=lambda result: None if request.htmx else notice(result), done=rejected,
                     page=lambda: _pending_page(community, reject_forms={residency.id: form}),
                     partial=lambda: _claim_partial(community, residency, form=form))


@bp.post("/c/<slug>/residents/claims/<int:residency_id>/end")
def end(slug, residency_id):
    community = community_or_404(slug)
    residency = _claim_or_404(community, residency_id)
    perform(lambda: services.end_residency(current_user, residency),
            _("%(name)s has moved out of %(unit)s; the residence stays in the history.",
              name=residency.user.display_name, unit=services.unit_label(residency.household)))
    return redirect(url_for("residents.detail", slug=slug, user_id=residency.user_id))


@bp.post("/c/<slug>/residents/claims/<int:residency_id>/owners")
def confirm_owners(slug, residency_id):
    community = community_or_404(slug)
    if not permissions.can_verify_residents(current_user, community):
        abort(403)
    residency = _claim_or_404(community, residency_id)
    owner_ids = _owner_ids()
    if not owner_ids:
        flash(_("Tick the owner you have checked before confirming."), "error")
    else:
        perform(lambda: services.confirm_owners(current_user, residency, owner_ids),
                _("The owner record is linked to %(name)s.", name=residency.user.display_name))
    return redirect(url_for("residents.detail", slug=slug, user_id=residency.user_id))


@bp.get("/c/<slug>/residents/<int:user_id>")
def detail(slug, user_id):
    community = community_or_404(slug)
    if not permissions.can_view_residents(current_user, community):
        abort(403)
    person = db.session.get(User, user_id)
    history = services.resident_history(community, person) if person else []
    if not history:
        abort(404)
    services.record_view(current_user, person, community)
    db.session.commit()
    reset_code_url = None
    if "auth.issue_reset_code" in current_app.view_functions and \
            permissions.can_issue_reset_code(current_user, person):
        reset_code_url = url_for("auth.issue_reset_code", user_id=person.id)
    proposals = {r.id: services.owner_proposals(r) for r in history if r.status == "verified"}
    return render_template("residents/detail.html", community=community, person=person, history=history,
                           owners=services.linked_owners(person), proposals=proposals,
                           status_labels=services.STATUS_LABELS, reset_code_url=reset_code_url)


@bp.route("/c/<slug>/residents/register-for", methods=["GET", "POST"])
def register_on_behalf(slug):
    community = community_or_404(slug)
    if not permissions.can_register_on_behalf(current_user, community):
        abort(403)
    form = RegisterOnBehalfForm()
    form.household.choices = _unit_choices(community)
    return form_view(
        form, lambda: services.register_on_behalf(
            current_user, community, display_name=form.display_name.data, phone=form.phone.data,
            household=_household(form.household.data), is_adult=not form.minor.data)[0],
        field="display_name",
        message=lambda person: _("%(name)s is registered and verified. Give them a reset code so they can choose "
                                 "a password.", name=person.display_name),
        done=lambda person: url_for("residents.detail", slug=slug, user_id=person.id),
        page="residents/register_for.html", context={"community": community, "form": form})


# --- acting for a resident ------------------------------------------------------------------------------

@bp.post("/act-for/<int:user_id>")
def act_for(user_id):
    person = db.session.get(User, user_id)
    if person is None:
        abort(404)
    try:
        services.start_acting_for(current_user, person)
    except NotAllowed:
        refuse()
    db.session.commit()
    acting.start(person)
    flash(_("You are now acting for %(name)s. Everything you do is recorded as done on their behalf.",
            name=person.display_name), "info")
    return redirect(url_for("residents.mine"))


@bp.post("/act-for/stop")
def stop_acting():
    person = acting.acting_for()
    if person is not None:
        services.stop_acting_for(current_user, person)
        db.session.commit()
        flash(_("You are no longer acting for %(name)s.", name=person.display_name), "info")
    acting.stop()
    return redirect(url_for("home.index"))
