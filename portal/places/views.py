"""Places pages: each view loads, checks access, calls a service and renders; the rules live in services."""
from itertools import groupby

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.auth import permissions
from portal.committees.services import estate_committees
from portal.errors import DomainError
from portal.extensions import db
from portal.formviews import db_int, flash_back, form_view
from portal.places import bp, importer, services
from portal.places import estates as estates_service
from portal.places.forms import (
    BuildingForm,
    CommunityForm,
    ConfirmForm,
    DuplicateDecisionForm,
    EstateForm,
    HouseholdEditForm,
    HouseholdForm,
    ImportForm,
    SubDistrictForm,
    TransferForm,
)
from portal.places.models import Building, Household, Owner, SubDistrict
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
    return form_view(
        form, lambda: services.create_sub_district(current_user, name=form.name.data, slug=form.slug.data),
        message=lambda sub_district: _("Sub-district %(name)s created.", name=sub_district.name),
        done=url_for("places.admin_index"),
        page="places/sub_district_form.html", context={"form": form, "sub_district": None})


@bp.route("/admin/places/sub-districts/<int:sub_district_id>/edit", methods=["GET", "POST"])
def edit_sub_district(sub_district_id):
    allow(permissions.can_manage_places(current_user))
    sub_district = db.get_or_404(SubDistrict, sub_district_id)
    form = SubDistrictForm(obj=sub_district)
    return form_view(
        form, lambda: services.update_sub_district(current_user, sub_district, name=form.name.data,
                                                   slug=form.slug.data),
        message=_("Saved."), done=url_for("places.admin_index"),
        page="places/sub_district_form.html", context={"form": form, "sub_district": sub_district})


def _community_values(form) -> dict:
    return {"sub_district": db.session.get(SubDistrict, form.sub_district_id.data or 0),
            "name": form.name.data, "slug": form.slug.data, "time_zone": form.time_zone.data,
            "postcode": form.postcode.data, "members_only": form.members_only.data}


@bp.route("/admin/places/communities/new", methods=["GET", "POST"])
def new_community():
    allow(permissions.can_manage_places(current_user))
    form = CommunityForm()
    form.sub_district_id.choices = _sub_district_choices()
    if request.method == "GET" and request.args.get("sub_district", type=db_int):
        form.sub_district_id.data = request.args.get("sub_district", type=db_int)
    return form_view(
        form, lambda: services.create_community(current_user, **_community_values(form)),
        message=lambda community: _("Community %(name)s created.", name=community.name),
        done=lambda community: url_for("places.register", slug=community.slug),
        page="places/community_form.html", context={"form": form, "community": None})


@bp.route("/c/<slug>/edit", methods=["GET", "POST"])
def edit_community(slug):
    community = community_or_404(slug)
    allow(permissions.can_edit_community(current_user, community))
    form = CommunityForm(obj=community)
    form.sub_district_id.choices = _sub_district_choices()
    return form_view(
        form, lambda: services.update_community(current_user, community, **_community_values(form)),
        message=_("Saved."), done=lambda _result: url_for("places.community", slug=community.slug),
        page="places/community_form.html", context={"form": form, "community": community})


# ---- the public community page -------------------------------------------------------------------------

@bp.get("/c/<slug>")
@public
def community(slug):
    community = community_or_404(slug, with_sub_district=True)
    allow(permissions.can_view_community(current_user, community))
    from portal.committees.services import organization_links
    from portal.residents.services import pending_claims
    building_count, unit_count = services.community_size(community)
    pending_count = len(pending_claims(community)) if permissions.can_verify_residents(current_user, community) else 0
    return render_template("places/community.html", community=community, building_count=building_count,
                           unit_count=unit_count, pending_count=pending_count,
                           organizations=organization_links(community))


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
        page = services.households_page(building, page=request.args.get("page", 1, type=db_int))
        owners = services.current_owners_by_household([h.id for h in page.items],
                                                      services.local_today(community))
    return htmx_or_page("places/_units.html", "places/register.html", community=community, buildings=buildings,
                        building=building, page=page, owners=owners)


def _estate_choices(form, community):
    estates = estates_service.estates_of(community)
    form.estate_id.choices = [(0, _("Choose…"))] + [(e.id, e.name) for e in estates]
    return estates


@bp.route("/c/<slug>/buildings/new", methods=["GET", "POST"])
def new_building(slug):
    community = community_or_404(slug)
    allow(permissions.can_edit_register(current_user, community))
    form = BuildingForm()
    estates = _estate_choices(form, community)
    if request.method == "GET":
        form.estate_id.data = request.args.get("estate", 0, type=db_int)
    return form_view(
        form, lambda: services.create_building(current_user, community, name=form.name.data, code=form.code.data,
                                               estate_id=form.estate_id.data),
        message=lambda building: _("Building %(code)s added.", code=building.code),
        done=lambda building: url_for("places.register", slug=community.slug, building=building.code),
        page="places/building_form.html",
        context={"form": form, "community": community, "building": None, "estates": estates})


@bp.route("/c/<slug>/buildings/<int:building_id>/edit", methods=["GET", "POST"])
def edit_building(slug, building_id):
    community = community_or_404(slug)
    building = db.get_or_404(Building, building_id)
    if building.community_id != community.id:
        abort(404)
    allow(permissions.can_edit_register(current_user, community))
    form = BuildingForm(obj=building)
    estates = _estate_choices(form, community)
    return form_view(
        form, lambda: services.update_building(current_user, building, name=form.name.data, code=form.code.data,
                                               estate_id=form.estate_id.data),
        message=_("Saved."), done=lambda _result: url_for("places.register", slug=community.slug,
                                                           building=building.code),
        page=lambda: render_template("places/building_form.html", form=form, community=community,
                                     building=building, estates=estates,
                                     has_units=bool(services.unit_count(building))))


# ---- estates (小区) ----------------------------------------------------------------------------------------

@bp.get("/c/<slug>/estates")
def estates(slug):
    community = community_or_404(slug)
    allow(permissions.can_edit_estates(current_user, community))
    committees = estate_committees(community)
    overview = [(estate, buildings, committees.get(estate.id, []))
                for estate, buildings in estates_service.estate_overview(community)]
    return render_template("places/estates.html", community=community, overview=overview)


@bp.route("/c/<slug>/estates/new", methods=["GET", "POST"])
def new_estate(slug):
    community = community_or_404(slug)
    allow(permissions.can_edit_estates(current_user, community))
    form = EstateForm()
    return form_view(
        form, lambda: estates_service.create_estate(current_user, community, name=form.name.data),
        message=lambda estate: _("Estate %(name)s added.", name=estate.name),
        done=url_for("places.estates", slug=community.slug),
        page="places/estate_form.html", context={"form": form, "community": community, "estate": None})


@bp.route("/c/<slug>/estates/<int:estate_id>/edit", methods=["GET", "POST"])
def edit_estate(slug, estate_id):
    community = community_or_404(slug)
    estate = estates_service.estate_in(community, estate_id)
    if estate is None:
        abort(404)
    allow(permissions.can_edit_estates(current_user, community))
    form = EstateForm(obj=estate)
    return form_view(
        form, lambda: estates_service.rename_estate(current_user, estate, name=form.name.data),
        message=_("Saved."), done=url_for("places.estates", slug=community.slug),
        page="places/estate_form.html", context={"form": form, "community": community, "estate": estate})


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
    if request.method == "GET" and request.args.get("building", type=db_int):
        form.building_id.data = request.args.get("building", type=db_int)

    def create():
        building = db.session.get(Building, form.building_id.data or 0)
        if building is None or building.community_id != community.id:
            raise DomainError(_("Choose the building."), "building_id")
        owners = None
        if (form.owners.data or "").strip():
            developer, entries = importer.parse_owners(form.owners.data)
            owners = importer.DEVELOPER if developer else list(entries)
        return services.create_household(current_user, building, entrance=form.entrance.data,
                                         room=form.room.data, area_m2=form.area_m2.data, owners=owners,
                                         area_source=form.area_source.data)
    return form_view(
        form, create, message=_("Unit added."),
        done=lambda household: url_for("places.household", slug=community.slug, household_id=household.id),
        page="places/household_form.html", context={"form": form, "community": community, "household": None})


@bp.get("/c/<slug>/households/<int:household_id>")
def household(slug, household_id):
    community = community_or_404(slug)
    household = _household(community, household_id)
    allow(permissions.can_view_register(current_user, community))
    today = services.local_today(community)
    return render_template("places/household.html", community=community, household=household,
                           current=services.current_ownerships(household, today),
                           history=services.ownership_history(household), today=today,
                           area_source_labels=services.AREA_SOURCE_LABELS)


@bp.route("/c/<slug>/households/<int:household_id>/edit", methods=["GET", "POST"])
def edit_household(slug, household_id):
    community = community_or_404(slug)
    household = _household(community, household_id)
    allow(permissions.can_edit_register(current_user, community))
    form = HouseholdEditForm(obj=household)
    return form_view(
        form, lambda: services.update_household(current_user, household, entrance=form.entrance.data,
                                                room=form.room.data, area_m2=form.area_m2.data,
                                                area_source=form.area_source.data),
        message=_("Saved."),
        done=lambda _result: url_for("places.household", slug=community.slug, household_id=household.id),
        page="places/household_form.html", context={"form": form, "community": community, "household": household})


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

    def record_owners():
        developer, entries = importer.parse_owners(form.owners.data)
        new_owners = importer.DEVELOPER if developer else list(entries)
        if current:
            services.transfer_household(current_user, household, new_owners, form.on_date.data)
        else:
            services.start_ownership(current_user, household, new_owners, form.on_date.data)
    return form_view(
        form, record_owners, message=_("Owners recorded."),
        done=lambda _result: url_for("places.household", slug=community.slug, household_id=household.id),
        page="places/transfer.html",
        context={"form": form, "community": community, "household": household, "current": current})


# ---- register import -----------------------------------------------------------------------------------

@bp.route("/c/<slug>/register/import", methods=["GET", "POST"])
def import_register(slug):
    community = community_or_404(slug)
    allow(permissions.can_import_register(current_user, community))
    form = ImportForm()
    problems = None
    # Not form_view: the first of two steps, which writes nothing (no commit) and lists the file's faults.
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
                                   token=token, filename=filename, form=ConfirmForm(),
                                   area_source_labels=services.AREA_SOURCE_LABELS)
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

    def imported(result):
        importer.discard_pending(token)
        return url_for("places.register", slug=community.slug)
    return form_view(
        form, lambda: services.apply_import(current_user, community, rows, filename=filename), validate=False,
        refused=flash_back(url_for("places.import_register", slug=community.slug)),
        message=lambda result: _("Register imported. Units added: %(added)d; changed: %(changed)d; "
                                 "unchanged: %(unchanged)d.", added=len(result.added), changed=len(result.changed),
                                 unchanged=len(result.unchanged)),
        done=imported)


# ---- the owner roll: probable duplicates ---------------------------------------------------------------

@bp.get("/c/<slug>/register/duplicates")
def duplicates(slug):
    community = community_or_404(slug)
    allow(permissions.can_decide_owner_duplicates(current_user, community))
    return render_template("places/duplicates.html", community=community,
                           pairs=services.probable_duplicates(community), form=DuplicateDecisionForm())


@bp.post("/c/<slug>/register/duplicates/<int:first_id>/<int:second_id>")
def decide_duplicate(slug, first_id, second_id):
    community = community_or_404(slug)
    allow(permissions.can_decide_owner_duplicates(current_user, community))
    first, second = db.session.get(Owner, first_id), db.session.get(Owner, second_id)
    if first is None or second is None or community.id not in (first.community_id, second.community_id):
        abort(404)
    form = DuplicateDecisionForm()
    decision = request.form.get("decision", "")

    def decide():
        if decision == "keep_first":
            return services.merge_owners(current_user, community, first, second)
        if decision == "keep_second":
            return services.merge_owners(current_user, community, second, first)
        if decision == "apart":
            return services.keep_owners_apart(current_user, community, first, second)
        raise DomainError(_("Choose merge or keep apart."), "decision")
    back = url_for("places.duplicates", slug=community.slug)
    return form_view(
        form, decide, refused=flash_back(back),
        message=_("Kept apart: these owners will not be flagged again.") if decision == "apart"
        else _("Merged: one owner now holds the units of both entries."),
        done=back)


# ---- the directory of communities ----------------------------------------------------------------------

@bp.get("/communities")
@public
def directory():
    """Every community open to everyone, so a visitor finds theirs (and its ballots, notices, actions,
    calendar) from the home page without signing in."""
    query = request.args.get("q", "")
    page = request.args.get("page", 1, type=db_int) or 1
    found = services.community_directory(query, page)
    groups = [(sub_district, list(communities))
              for sub_district, communities in groupby(found.items, key=lambda c: c.sub_district)]
    return render_template("places/directory.html", found=found, groups=groups,
                           query=query.replace("\x00", "")[:100])
