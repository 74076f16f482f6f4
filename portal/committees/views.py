"""Organization pages: the public list of members, and member management for chairs and admins."""
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal.auth import permissions, roles
from portal.auth.services import find_by_login
from portal.committees import bp, services
from portal.committees.forms import AddMemberForm, EndMembershipForm, OrganizationForm
from portal.committees.models import Organization, OrgMembership
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.places.models import Community, SubDistrict
from portal.web import allow, public, show_error


@bp.get("/o/<int:org_id>")
@public
def organization(org_id):
    org = db.get_or_404(Organization, org_id)
    if org.community is not None:
        # A "members only" community shows its organizations to the people who belong to it.
        allow(permissions.can_view_community(current_user, org.community))
    return render_template("committees/organization.html", org=org, members=org.current_memberships())


def _manage_page(org, add_form=None, end_forms=None):
    current = org.current_memberships()
    forms = {m.id: EndMembershipForm(formdata=None, prefix=f"m{m.id}", end_date=roles.today()) for m in current}
    forms.update(end_forms or {})
    return render_template("committees/manage.html", org=org, current=current, past=org.past_memberships(),
                           upcoming=[m for m in org.memberships if m.start_date > roles.today()],
                           add_form=add_form or AddMemberForm(formdata=None, start_date=roles.today()),
                           end_forms=forms)


@bp.get("/o/<int:org_id>/manage")
def manage(org_id):
    org = db.get_or_404(Organization, org_id)
    if not permissions.can_manage_members(current_user, org):
        abort(403)
    return _manage_page(org)


@bp.post("/o/<int:org_id>/members")
def add_member(org_id):
    org = db.get_or_404(Organization, org_id)
    if not permissions.can_manage_members(current_user, org):
        abort(403)
    form = AddMemberForm()
    if form.validate_on_submit():
        try:
            membership = services.add_member(current_user, org, find_by_login(form.login.data or ""),
                                             form.title.data, form.start_date.data)
        except NotAllowed:
            db.session.rollback()
            abort(403)
        except DomainError as error:
            db.session.rollback()
            show_error(form, error, "login")
        else:
            db.session.commit()
            flash(_("%(name)s is added as %(title)s.", name=membership.user.display_name,
                    title=membership.title_label), "success")
            return redirect(url_for("committees.manage", org_id=org.id))
    return _manage_page(org, add_form=form)


@bp.post("/o/<int:org_id>/members/<int:membership_id>/end")
def end_membership(org_id, membership_id):
    org = db.get_or_404(Organization, org_id)
    if not permissions.can_manage_members(current_user, org):
        abort(403)
    membership = db.session.get(OrgMembership, membership_id)
    if membership is None or membership.organization_id != org.id:
        abort(404)
    form = EndMembershipForm(prefix=f"m{membership.id}")
    if form.validate():
        try:
            services.end_membership(current_user, membership, form.end_date.data)
        except NotAllowed:
            db.session.rollback()
            abort(403)
        except DomainError as error:
            db.session.rollback()
            show_error(form, error, "end_date")
        else:
            db.session.commit()
            flash(_("The membership of %(name)s ends on %(date)s.", name=membership.user.display_name,
                    date=membership.end_date.isoformat()), "success")
            return redirect(url_for("committees.manage", org_id=org.id))
    return _manage_page(org, end_forms={membership.id: form})


@bp.route("/admin/organizations", methods=["GET", "POST"])
def admin_organizations():
    if not permissions.can_manage_organizations(current_user):
        abort(403)
    form = OrganizationForm()
    communities = db.session.scalars(db.select(Community).order_by(Community.name)).all()
    sub_districts = db.session.scalars(db.select(SubDistrict).order_by(SubDistrict.name)).all()
    form.community.choices = [SelectChoice("", _("None"))] + [SelectChoice(c.id, c.name) for c in communities]
    form.sub_district.choices = [SelectChoice("", _("None"))] + [SelectChoice(s.id, s.name) for s in sub_districts]
    if form.validate_on_submit():
        try:
            org = services.create_organization(
                current_user, kind=form.kind.data, name=form.name.data,
                community=db.session.get(Community, form.community.data) if form.community.data else None,
                sub_district=db.session.get(SubDistrict, form.sub_district.data) if form.sub_district.data else None)
        except NotAllowed:
            db.session.rollback()
            abort(403)
        except DomainError as error:
            db.session.rollback()
            show_error(form, error, "kind")
        else:
            db.session.commit()
            flash(_("%(name)s is created. Add its chair next.", name=org.name), "success")
            return redirect(url_for("committees.manage", org_id=org.id))
    return render_template("committees/admin.html", form=form, organizations=services.all_organizations())
