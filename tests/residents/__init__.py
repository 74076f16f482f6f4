"""Shared for the residents' and committees' tests: a small world of two sub-districts and three
communities, and posting forms with the page's CSRF token."""
from datetime import date
from types import SimpleNamespace

from portal.extensions import db
from portal.places.models import Owner, Ownership
from tests.csrf import csrf_token
from tests.factories import (
    gen_building,
    gen_community,
    gen_household,
    gen_membership,
    gen_organization,
    gen_residency,
    gen_sub_district,
    gen_user,
)


def post(client, path, data=None, token_from="/", **kwargs):
    """A form post carrying the CSRF token, as a browser sends it."""
    payload = {"csrf_token": csrf_token(client, token_from)}
    payload.update(data or {})
    return client.post(path, data=payload, **kwargs)


def gen_owner(household, *, name="Register Owner", phone=None, is_developer=False, start=date(2020, 1, 1),
              end=None):
    owner = Owner(community=household.building.community, name=name, phone=phone, is_developer=is_developer)
    db.session.add(owner)
    db.session.add(Ownership(household=household, owner=owner, start_date=start, end_date=end))
    db.session.flush()
    return owner


def build_world():
    """Sub-district A (communities X and Y) and sub-district B (community Z), each community with a
    residents' committee; X also has a chair, property staff, an official of A and B, a department."""
    w = SimpleNamespace()
    w.sd_a = gen_sub_district(name="Wangjing", slug="sd-a")
    w.sd_b = gen_sub_district(name="Jiuxianqiao", slug="sd-b")
    w.x = gen_community(w.sd_a, name="Huajiadi", slug="x")
    w.y = gen_community(w.sd_a, name="Nanhu", slug="y")
    w.z = gen_community(w.sd_b, name="Far Away", slug="z")
    w.bx = gen_building(w.x, code="3", name="Building 3")
    w.by = gen_building(w.y, code="7", name="Building 7")
    w.bz = gen_building(w.z, code="1", name="Building 1")
    w.hx = gen_household(w.bx, entrance="1", room="0201")
    w.hx2 = gen_household(w.bx, entrance="1", room="0202")
    w.hy = gen_household(w.by, entrance="2", room="0101")
    w.hz = gen_household(w.bz, entrance="1", room="0101")
    w.rc_x = gen_organization("residents_committee", community=w.x, name="X residents' committee")
    w.rc_y = gen_organization("residents_committee", community=w.y, name="Y residents' committee")
    w.rc_z = gen_organization("residents_committee", community=w.z, name="Z residents' committee")
    w.chair_x = gen_user(display_name="Chair X", phone="13900000010")
    gen_membership(w.chair_x, w.rc_x, title="chair")
    w.member_x = gen_user(display_name="Member X", phone="13900000011")
    gen_membership(w.member_x, w.rc_x, title="member")
    w.member_y = gen_user(display_name="Member Y", phone="13900000012")
    gen_membership(w.member_y, w.rc_y, title="member")
    w.member_z = gen_user(display_name="Member Z")
    gen_membership(w.member_z, w.rc_z, title="member")
    w.property_x = gen_user(display_name="Property X", phone="13900000020")
    gen_membership(w.property_x, gen_organization("property_company", community=w.x), title="staff")
    w.office_a = gen_organization("subdistrict_office", sub_district=w.sd_a, name="Wangjing office")
    w.office_b = gen_organization("subdistrict_office", sub_district=w.sd_b, name="Jiuxianqiao office")
    w.official_a = gen_user(display_name="Official A", phone="13900000030")
    gen_membership(w.official_a, w.office_a, title="staff")
    w.official_b = gen_user(display_name="Official B", phone="13900000031")
    gen_membership(w.official_b, w.office_b, title="staff")
    w.department_a = gen_user(display_name="Department A", phone="13900000040")
    gen_membership(w.department_a, gen_organization("department", sub_district=w.sd_a), title="staff")
    w.admin = gen_user(display_name="Admin", is_admin=True)
    w.resident = gen_user(display_name="Resident R", phone="13812345678")
    w.stranger = gen_user(display_name="Stranger S", phone="13700000000")
    return w


__all__ = ["build_world", "gen_owner", "gen_residency", "post", "csrf_token"]
