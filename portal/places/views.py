"""Places pages: each view loads, checks access, calls a service and renders; the rules live in services."""
from itertools import groupby

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.auth import permissions
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.places import bp, importer, services
from portal.places.forms import (BuildingForm, CommunityForm, ConfirmForm, HouseholdEditForm, HouseholdForm,
                                 ImportForm, SubDistrictForm, TransferForm)
from portal.places.models import Building, Household, SubDistrict
from portal.places.services import community_or_404
from portal.web import allow, htmx_or_page, public, show_error


def _sub_district_choices():
    return [(0, _("Choose…"))] + [(sd.id, sd.name) for sd in db.session.scalars(
        db.select(SubDistrict).order_by(SubDistrict.name))]


# ---- admins: sub-districts and communities -------------------------------------------------------------

@bp.get("/admin/places")
def admin_index():
    allow(permissions.can_manage_places(current_user))
    sub_districts = db.session.scalars(db.select(SubDistrict).order_by(SubDistrict.name)).all()
    return render_template("places/admin.html", sub_districts=sub_districts)


@bp.route("/admin/places/sub-districts/new", methods=["GET", "POST"])
def new_sub_district():
    allow(permissions.can_manage_places(current_user))
    form = SubDistrictForm()
    if form.validate_on_submit():
        try:
            sub_district = services.create_sub_district(current_user, name=form.name.data, slug=form.slug.data)
            db.session.commit()
            flash(_("Sub-district %(name)s created.", name=sub_district.name), "success")
            return redirect(url_for("places.admin_index"))
        except DomainError as error:
            show_error(form, error)
    return render_template("places/sub_district_form.html", form=form, sub_district=None)


@bp.route("/admin/places/sub-districts/<int:sub_district_id>/edit", methods=["GET", "POST"])
def edit_sub_district(sub_district_id):
    allow(permissions.can_manage_places(current_user))
    sub_district = db.get_or_404(SubDistrict, sub_district_id)
    form = SubDistrictForm(obj=sub_district)
    if form.validate_on_submit():
        try:
            services.update_sub_district(current_user, sub_district, name=form.name.data, slug=form.slug.data)
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("places.admin_index"))
        except DomainError as error:
            show_error(form, error)
    return render_template("places/sub_district_form.html", form=form, sub_district=sub_district)


def _community_values(form) -> dict:
    return {"sub_district": db.session.get(SubDistrict, form.sub_district_id.data or 0),
            "name": form.name.data, "slug": form.slug.data, "time_zone": form.time_zone.data,
            "postcode": form.postcode.data, "members_only": form.members_only.data}


@bp.route("/admin/places/communities/new", methods=["GET", "POST"])
def new_community():
    allow(permissions.can_manage_places(current_user))
    form = CommunityForm()
    form.sub_district_id.choices = _sub_district_choices()
    if request.method == "GET" and request.args.get("sub_district", type=int):
        form.sub_district_id.data = request.args.get("sub_district", type=int)
    if form.validate_on_submit():
        try:
            community = services.create_community(current_user, **_community_values(form))
            db.session.commit()
            flash(_("Community %(name)s created.", name=community.name), "success")
            return redirect(url_for("places.register", slug=community.slug))
        except DomainError as error:
            show_error(form, error)
    return render_template("places/community_form.html", form=form, community=None)


@bp.route("/c/<slug>/edit", methods=["GET", "POST"])
def edit_community(slug):
    community = community_or_404(slug)
    allow(permissions.can_edit_community(current_user, community))
    form = CommunityForm(obj=community)
    form.sub_district_id.choices = _sub_district_choices()
    if form.validate_on_submit():
        try:
            services.update_community(current_user, community, **_community_values(form))
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("places.community", slug=community.slug))
        except DomainError as error:
            show_error(form, error)
    return render_template("places/community_form.html", form=form, community=community)


# ---- the public community page -------------------------------------------------------------------------

@bp.get("/c/<slug>")
@public
def community(slug):
    community = community_or_404(slug)
    allow(permissions.can_view_community(current_user, community))
    from portal.committees.services import organizations_of_community
    from portal.residents.services import pending_claims
    counts = services.building_unit_counts(community)
    pending_count = len(pending_claims(community)) if permissions.can_verify_residents(current_user, community) else 0
    return render_template("places/community.html", community=community, building_count=len(counts),
                           unit_count=sum(n for _b, n in counts), pending_count=pending_count,
                           organizations=organizations_of_community(community))


# ---- the household register ----------------------------------------------------------------------------

@bp.get("/c/<slug>/register")
def register(slug):
    community = community_or_404(slug)
    allow(permissions.can_view_register(current_user, community))
    buildings = services.building_unit_counts(community)
    building = None
    code = request.args.get("building", "").strip()
    if code:
        building = next((b for b, _n in buildings if b.code == code), None)
        if building is None:
            abort(404)
    elif buildings:
        building = buildings[0][0]
    page = owners = None
    if building is not None:
        page = services.households_page(building, page=request.args.get("page", 1, type=int))
        owners = services.current_owners_by_household([h.id for h in page.items],
                                                      services.local_today(community))
    return htmx_or_page("places/_units.html", "places/register.html", community=community, buildings=buildings,
                        building=building, page=page, owners=owners)


@bp.route("/c/<slug>/buildings/new", methods=["GET", "POST"])
def new_building(slug):
    community = community_or_404(slug)
    allow(permissions.can_edit_register(current_user, community))
    form = BuildingForm()
    if form.validate_on_submit():
        try:
            building = services.create_building(current_user, community, name=form.name.data, code=form.code.data)
            db.session.commit()
            flash(_("Building %(code)s added.", code=building.code), "success")
            return redirect(url_for("places.register", slug=community.slug, building=building.code))
        except DomainError as error:
            show_error(form, error)
    return render_template("places/building_form.html", form=form, community=community, building=None)


@bp.route("/c/<slug>/buildings/<int:building_id>/edit", methods=["GET", "POST"])
def edit_building(slug, building_id):
    community = community_or_404(slug)
    building = db.get_or_404(Building, building_id)
    if building.community_id != community.id:
        abort(404)
    allow(permissions.can_edit_register(current_user, community))
    form = BuildingForm(obj=building)
    if form.validate_on_submit():
        try:
            services.update_building(current_user, building, name=form.name.data, code=form.code.data)
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("places.register", slug=community.slug, building=building.code))
        except DomainError as error:
            show_error(form, error)
    return render_template("places/building_form.html", form=form, community=community, building=building,
                           has_units=bool(services.unit_count(building)))


def _household(community, household_id) -> Household:
    household = db.get_or_404(Household, household_id)
    if household.building.community_id != community.id:
        abort(404)
    return household


@bp.route("/c/<slug>/households/new", methods=["GET", "POST"])
def new_household(slug):
    community = community_or_404(slug)
    allow(permissions.can_edit_register(current_user, community))
    form = HouseholdForm()
    form.building_id.choices = [(0, _("Choose…"))] + [(b.id, f"{b.code} · {b.name}")
                                                       for b, _n in services.building_unit_counts(community)]
    if request.method == "GET" and request.args.get("building", type=int):
        form.building_id.data = request.args.get("building", type=int)
    if form.validate_on_submit():
        building = db.session.get(Building, form.building_id.data or 0)
        try:
            if building is None or building.community_id != community.id:
                raise DomainError(_("Choose the building."), "building_id")
            owners = None
            if (form.owners.data or "").strip():
                developer, entries = importer.parse_owners(form.owners.data)
                owners = importer.DEVELOPER if developer else list(entries)
            household = services.create_household(current_user, building, entrance=form.entrance.data,
                                                  room=form.room.data, area_m2=form.area_m2.data, owners=owners)
            db.session.commit()
            flash(_("Unit added."), "success")
            return redirect(url_for("places.household", slug=community.slug, household_id=household.id))
        except DomainError as error:
            show_error(form, error)
    return render_template("places/household_form.html", form=form, community=community, household=None)


@bp.get("/c/<slug>/households/<int:household_id>")
def household(slug, household_id):
    community = community_or_404(slug)
    household = _household(community, household_id)
    allow(permissions.can_view_register(current_user, community))
    today = services.local_today(community)
    return render_template("places/household.html", community=community, household=household,
                           current=services.current_ownerships(household, today),
                           history=services.ownership_history(household), today=today)


@bp.route("/c/<slug>/households/<int:household_id>/edit", methods=["GET", "POST"])
def edit_household(slug, household_id):
    community = community_or_404(slug)
    household = _household(community, household_id)
    allow(permissions.can_edit_register(current_user, community))
    form = HouseholdEditForm(obj=household)
    if form.validate_on_submit():
        try:
            services.update_household(current_user, household, entrance=form.entrance.data, room=form.room.data,
                                      area_m2=form.area_m2.data)
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("places.household", slug=community.slug, household_id=household.id))
        except DomainError as error:
            show_error(form, error)
    return render_template("places/household_form.html", form=form, community=community, household=household)


@bp.route("/c/<slug>/households/<int:household_id>/owners", methods=["GET", "POST"])
def transfer(slug, household_id):
    community = community_or_404(slug)
    household = _household(community, household_id)
    allow(permissions.can_edit_register(current_user, community))
    today = services.local_today(community)
    current = services.current_ownerships(household, today)
    form = TransferForm()
    if request.method == "GET":
        form.on_date.data = today
    if form.validate_on_submit():
        try:
            developer, entries = importer.parse_owners(form.owners.data)
            new_owners = importer.DEVELOPER if developer else list(entries)
            if current:
                services.transfer_household(current_user, household, new_owners, form.on_date.data)
            else:
                services.start_ownership(current_user, household, new_owners, form.on_date.data)
            db.session.commit()
            flash(_("Owners recorded."), "success")
            return redirect(url_for("places.household", slug=community.slug, household_id=household.id))
        except DomainError as error:
            show_error(form, error)
    return render_template("places/transfer.html", form=form, community=community, household=household,
                           current=current)


# ---- register import -----------------------------------------------------------------------------------

@bp.route("/c/<slug>/register/import", methods=["GET", "POST"])
def import_register(slug):
    community = community_or_404(slug)
    allow(permissions.can_import_register(current_user, community))
    form = ImportForm()
    problems = None
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.read(importer.MAX_BYTES + 1)
        try:
            rows = services.read_import(current_user, community, data)
            preview = services.preview_import(current_user, community, rows)
        except importer.RegisterFileRefused as refused:
            problems = refused.problems
        except DomainError as error:
            show_error(form, error)
        else:
            filename = (upload.filename or "")[:200]
            token = importer.save_pending(rows, community_id=community.id, actor_id=current_user.id,
                                          filename=filename)
            return render_template("places/import_preview.html", community=community, preview=preview,
                                   token=token, filename=filename, form=ConfirmForm())
    return render_template("places/import.html", form=form, community=community, problems=problems)


@bp.post("/c/<slug>/register/import/<token>")
def confirm_import(slug, token):
    community = community_or_404(slug)
    allow(permissions.can_import_register(current_user, community))
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    pending = importer.load_pending(token, community_id=community.id, actor_id=current_user.id)
    if pending is None:
        flash(_("This preview has expired or was already applied. Please upload the file again."), "error")
        return redirect(url_for("places.import_register", slug=community.slug))
    rows, filename = pending
    try:
        result = services.apply_import(current_user, community, rows, filename=filename)
        db.session.commit()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for("places.import_register", slug=community.slug))
    importer.discard_pending(token)
    flash(_("Register imported. Units added: %(added)d; changed: %(changed)d; unchanged: %(unchanged)d.",
            added=len(result.added), changed=len(result.changed), unchanged=len(result.unchanged)), "success")
    return redirect(url_for("places.register", slug=community.slug))



# ---- the directory of communities ----------------------------------------------------------------------

@bp.get("/communities")
@public
def directory():
    """Every community open to everyone, so a visitor finds theirs (and its ballots, notices, actions,
    calendar) from the home page without signing in."""
    query = request.args.get("q", "")
    page = request.args.get("page", 1, type=int) or 1
    found = services.community_directory(query, page)
    groups = [(sub_district, list(communities))
              for sub_district, communities in groupby(found.items, key=lambda c: c.sub_district)]
    return render_template("places/directory.html", found=found, groups=groups,
                           query=query.replace("\x00", "")[:100])
