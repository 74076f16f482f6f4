"""Places pages: who sees and changes what, forms that keep typing on errors, the import flow."""
import io
import re
from datetime import date

import pytest

from portal.committees.models import Organization
from portal.extensions import db
from portal.places import services
from portal.places.models import Building, Community, Household, Owner, Ownership, SubDistrict
from tests.csrf import csrf_token
from tests.factories import (
    gen_building,
    gen_committee_member,
    gen_community,
    gen_household,
    gen_membership,
    gen_organization,
    gen_residency,
    gen_user,
)
from tests.queries import recorded_statements


def unit_count() -> int:
    return db.session.scalar(db.select(db.func.count(Household.id)))


def post(client, path, data, form_path=None, **kwargs):
    data = dict(data, csrf_token=csrf_token(client, form_path or path))
    return client.post(path, data=data, **kwargs)


@pytest.fixture
def place():
    """Two communities; in the first a committee member, property staff, a resident (in unit 3-2-201) and
    unit 3-1-101 owned by 王芳; an admin."""
    x = gen_community(slug="huajiadi", name="花家地社区")
    y = gen_community(slug="nanhu", name="南湖社区")
    people = {
        "admin": gen_user(is_admin=True),
        "member": gen_committee_member(x, kind="homeowners_committee"),
        "staff": gen_user(),
        "resident": gen_user(),
    }
    gen_membership(people["staff"], gen_organization("property_company", community=x), title="staff")
    building = gen_building(x, code="3", name="3号楼")
    household = gen_household(building, entrance="1", room="101", area="89.52")
    gen_residency(people["resident"], household=gen_household(building, entrance="2", room="201"))
    services.start_ownership(people["admin"], household, [("王芳", "13900001234")], date(2010, 1, 1))
    db.session.commit()
    return {"x": x, "y": y, "building": building, "household": household, **people}


# ---- public community page -------------------------------------------------------------------------------

def test_the_community_page_reads_its_sub_district_with_the_community(client, auth, place):
    auth.login(place["resident"])
    with recorded_statements() as statements:
        page = client.get("/c/huajiadi")
    assert page.status_code == 200 and place["x"].sub_district.name in page.get_data(as_text=True)
    assert [s for s in statements if "FROM community" in s and "sub_district" in s.split("FROM community")[1]]
    assert not [s for s in statements if s.lstrip().startswith("SELECT sub_district.")]


def test_the_community_page_keeps_its_make_up_until_it_changes(client, auth, place):
    """Buildings, units and organizations are read once per version of the community (portal.versions):
    the next view reads none of them, and a change shows on the view after it."""
    auth.login(place["resident"])
    client.get("/c/huajiadi")
    with recorded_statements() as statements:
        page = client.get("/c/huajiadi").get_data(as_text=True)
    assert not [s for s in statements if "FROM building" in s or "FROM organization" in s]
    assert len(statements) == 2  # the person, the community with its sub-district
    assert re.search(r"<dt>Units</dt><dd>2</dd>", page) and "Org " in page

    gen_household(place["building"], entrance="2", room="202")
    org = db.session.scalar(db.select(Organization).where(Organization.community_id == place["x"].id,
                                                          Organization.kind == "property_company"))
    org.name = "花家地物业"
    db.session.commit()
    page = client.get("/c/huajiadi").get_data(as_text=True)
    assert re.search(r"<dt>Units</dt><dd>3</dd>", page) and "花家地物业" in page
    gen_organization("deliberation_council", community=place["x"], name="花家地议事会")
    db.session.commit()
    assert "花家地议事会" in client.get("/c/huajiadi").get_data(as_text=True)


def test_community_page_is_public_and_shows_no_personal_data(client, place):
    page = client.get("/c/huajiadi")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "花家地社区" in text and place["x"].sub_district.name in text
    assert "13900001234" not in text and "王芳" not in text
    assert "/c/huajiadi/register" not in text


def test_members_only_community_needs_sign_in_and_membership(client, auth, place):
    place["x"].members_only = True
    db.session.commit()
    response = client.get("/c/huajiadi")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    auth.login(gen_user_committed())
    assert client.get("/c/huajiadi").status_code == 403
    auth.logout()
    auth.login(place["resident"])
    assert client.get("/c/huajiadi").status_code == 200


def gen_user_committed():
    user = gen_user()
    db.session.commit()
    return user


def test_unknown_community_is_404(client):
    assert client.get("/c/nowhere").status_code == 404


# ---- who may see and change the register ------------------------------------------------------------------

def test_anonymous_is_sent_to_sign_in(client, place):
    for path in ("/c/huajiadi/register", "/c/huajiadi/buildings/new", f"/c/huajiadi/households/{place['household'].id}",
                 "/admin/places", "/c/huajiadi/register/import"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


@pytest.mark.parametrize("who, status", [("admin", 200), ("member", 200), ("staff", 403), ("resident", 403)])
def test_register_is_for_committee_members_and_admins(client, auth, place, who, status):
    auth.login(place[who])
    assert client.get("/c/huajiadi/register").status_code == status
    assert client.get(f"/c/huajiadi/households/{place['household'].id}").status_code == status
    assert client.get("/c/huajiadi/buildings/new").status_code == status


def test_committee_member_adds_building_to_own_community_only(client, auth, place):
    auth.login(place["member"])
    response = post(client, "/c/huajiadi/buildings/new", {"name": "5A号楼", "code": "5A"})
    assert response.status_code == 302
    assert client.get("/c/nanhu/buildings/new").status_code == 403
    response = client.post("/c/nanhu/buildings/new", data={"name": "x", "code": "9",
                                                          "csrf_token": csrf_token(client, "/")})
    assert response.status_code == 403
    assert db.session.scalars(db.select(Building.code).where(Building.community_id == place["y"].id)).all() == []
    assert "5A" in db.session.scalars(db.select(Building.code).where(Building.community_id == place["x"].id)).all()


@pytest.mark.parametrize("who", ["staff", "resident"])
def test_property_staff_and_residents_cannot_add_buildings(client, auth, place, who):
    auth.login(place[who])
    response = client.post("/c/huajiadi/buildings/new", data={"name": "x", "code": "9",
                                                             "csrf_token": csrf_token(client, "/")})
    assert response.status_code == 403


def test_admin_pages_are_for_admins_only(client, auth, place):
    auth.login(place["member"])
    assert client.get("/admin/places").status_code == 403
    assert client.get("/c/huajiadi/edit").status_code == 403
    auth.logout()
    auth.login(place["admin"])
    page = client.get("/admin/places")
    assert page.status_code == 200 and "花家地社区" in page.get_data(as_text=True)


# ---- forms -------------------------------------------------------------------------------------------------

def test_admin_creates_sub_district_and_community(client, auth, place):
    auth.login(place["admin"])
    assert post(client, "/admin/places/sub-districts/new",
                {"name": "望京街道", "slug": "wangjing"}).status_code == 302
    sd = db.session.scalar(db.select(SubDistrict).where(SubDistrict.slug == "wangjing"))
    response = post(client, "/admin/places/communities/new",
                    {"sub_district_id": sd.id, "name": "望花路社区", "slug": "wanghualu", "postcode": "100102",
                     "time_zone": "Asia/Shanghai", "members_only": "y"})
    assert response.status_code == 302
    community = db.session.scalar(db.select(Community).where(Community.slug == "wanghualu"))
    assert community.members_only and community.postcode == "100102"


def test_bad_community_input_is_shown_next_to_the_field_and_kept(client, auth, place):
    auth.login(place["admin"])
    sd_id = place["x"].sub_district_id
    response = post(client, "/admin/places/communities/new",
                    {"sub_district_id": sd_id, "name": "望花路社区", "slug": "wanghualu", "postcode": "1001",
                     "time_zone": "Asia/Peking-ish"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "is not a time zone" in text
    assert 'value="望花路社区"' in text and 'value="1001"' in text and 'aria-invalid="true"' in text
    assert db.session.scalar(db.select(Community).where(Community.slug == "wanghualu")) is None


def test_bad_area_is_refused_with_typing_kept_and_nothing_written(client, auth, place):
    auth.login(place["member"])
    response = post(client, "/c/huajiadi/households/new",
                    {"building_id": place["building"].id, "entrance": "2", "room": "502", "area_m2": "88.123",
                     "owners": "李强:13900005678"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "at most 2 decimal places" in text and 'value="88.123"' in text and 'value="502"' in text
    assert unit_count() == 2


def test_new_unit_with_owners_then_detail_shows_them(client, auth, place):
    auth.login(place["member"])
    response = post(client, "/c/huajiadi/households/new",
                    {"building_id": place["building"].id, "entrance": "2", "room": "502", "area_m2": "88.5",
                     "owners": "李强:13900005678；赵敏:13900004321"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "88.50" in page and "李强" in page and "赵敏" in page


def test_sale_through_the_page_keeps_history(client, auth, place):
    auth.login(place["member"])
    path = f"/c/huajiadi/households/{place['household'].id}/owners"
    response = post(client, path, {"owners": "张伟:13900009999", "on_date": "2020-05-01"})
    assert response.status_code == 302
    page = client.get(f"/c/huajiadi/households/{place['household'].id}").get_data(as_text=True)
    assert "王芳" in page and "张伟" in page and "2020-05-01" in page and "Ended" in page
    assert db.session.scalar(db.select(db.func.count(Ownership.id))) == 2


def test_sale_dated_before_the_current_holding_is_refused_on_the_page(client, auth, place):
    auth.login(place["member"])
    path = f"/c/huajiadi/households/{place['household'].id}/owners"
    response = post(client, path, {"owners": "张伟:13900009999", "on_date": "2005-05-01"})
    assert response.status_code == 200
    assert "cannot be dated earlier" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Ownership.id))) == 1


def test_register_lists_units_of_a_building_and_htmx_gets_the_partial(client, auth, place):
    auth.login(place["member"])
    page = client.get("/c/huajiadi/register?building=3").get_data(as_text=True)
    assert "89.52" in page and "王芳" in page and "139****1234" in page and "13900001234" not in page
    partial = client.get("/c/huajiadi/register?building=3", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in partial and "89.52" in partial
    assert client.get("/c/huajiadi/register?building=nope").status_code == 404


def test_household_of_another_community_is_404(client, auth, place):
    auth.login(place["admin"])
    assert client.get(f"/c/nanhu/households/{place['household'].id}").status_code == 404


# ---- import ------------------------------------------------------------------------------------------------

CSV = ("building_code,entrance,room,area_m2,owners\n"
       "3,1,101,89.52,王芳:13900001234\n"
       "3,1,102,65.30,刘建国:13900008888\n")


def upload(client, slug, content: bytes, filename="register.csv"):
    return post(client, f"/c/{slug}/register/import",
                {"file": (io.BytesIO(content), filename)}, content_type="multipart/form-data")


def test_import_preview_then_confirm_then_reimport_is_unchanged(client, auth, place):
    auth.login(place["member"])
    preview = upload(client, "huajiadi", CSV.encode("gbk"))
    assert preview.status_code == 200
    text = preview.get_data(as_text=True)
    assert "3-1-102" in text and "Units to add" in text
    token = re.search(r'/register/import/([A-Za-z0-9_-]+)"', text).group(1)
    assert unit_count() == 2
    response = post(client, f"/c/huajiadi/register/import/{token}", {}, form_path="/c/huajiadi/register")
    assert response.status_code == 302
    assert unit_count() == 3
    again = upload(client, "huajiadi", CSV.encode("utf-8")).get_data(as_text=True)
    assert "nothing to import" in again
    # The confirmation cannot be replayed.
    replay = post(client, f"/c/huajiadi/register/import/{token}", {}, form_path="/c/huajiadi/register")
    assert replay.status_code == 302 and replay.headers["Location"].endswith("/register/import")


def test_refused_import_lists_rows_and_writes_nothing(client, auth, place):
    auth.login(place["admin"])
    bad = CSV + "9,1,101,80,developer\n3,1,103,0,王芳:123\n"
    response = upload(client, "huajiadi", bad.encode())
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Row 4" in text and "Row 5" in text and "Nothing has been changed" in text
    assert unit_count() == 2


def test_import_confirmation_belongs_to_who_previewed(client, auth, place):
    auth.login(place["member"])
    text = upload(client, "huajiadi", CSV.encode()).get_data(as_text=True)
    token = re.search(r'/register/import/([A-Za-z0-9_-]+)"', text).group(1)
    auth.logout()
    auth.login(place["admin"])
    response = post(client, f"/c/huajiadi/register/import/{token}", {}, form_path="/c/huajiadi/register")
    assert response.status_code == 302 and response.headers["Location"].endswith("/register/import")
    assert unit_count() == 2


def test_import_is_refused_to_property_staff(client, auth, place):
    auth.login(place["staff"])
    assert client.get("/c/huajiadi/register/import").status_code == 403


def test_xlsx_upload_is_previewed(client, auth, place):
    from tests.places.test_importer import xlsx_bytes
    auth.login(place["admin"])
    data = xlsx_bytes([["楼栋编号", "单元", "房号", "面积", "业主"], [3, 1, 101, 89.52, "王芳:13900001234"],
                       [3, 1, 103, 70, "开发商"]])
    text = upload(client, "huajiadi", data, filename="登记表.xlsx").get_data(as_text=True)
    assert "Check the import" in text and "3-1-103" in text


def test_a_zip_that_is_not_a_workbook_is_refused(client, auth, place):
    import zipfile
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    auth.login(place["admin"])
    text = upload(client, "huajiadi", buffer.getvalue(), filename="register.csv").get_data(as_text=True)
    assert "neither a CSV text file nor an Excel" in text


# ---- the owner roll: area sources, owners without phones, duplicates --------------------------------------

def test_the_area_source_is_edited_with_the_area_and_shown(client, auth, place):
    auth.login(place["member"])
    path = f"/c/huajiadi/households/{place['household'].id}/edit"
    response = post(client, path, {"entrance": "1", "room": "101", "area_m2": "90.10", "area_source": "surveyed"})
    assert response.status_code == 302
    db.session.expire_all()
    assert place["household"].area_source == "surveyed"
    page = client.get(f"/c/huajiadi/households/{place['household'].id}").get_data(as_text=True)
    assert "90.10 m²" in page and "Surveyed (实测)" in page
    refused = post(client, path, {"entrance": "1", "room": "101", "area_m2": "90.10", "area_source": "guessed"})
    assert refused.status_code == 200 and "Choose where the area comes from" in refused.get_data(as_text=True)


def test_a_unit_with_an_owner_without_a_phone_and_one_with_two(client, auth, place):
    auth.login(place["member"])
    response = post(client, "/c/huajiadi/households/new",
                    {"building_id": place["building"].id, "entrance": "2", "room": "503", "area_m2": "70",
                     "area_source": "contract", "owners": "周桂兰; 赵敏:13900004321/13900004322"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "周桂兰" in page and "13900004321" in page and "13900004322" in page and "Contract (合同)" in page


def test_the_committee_merges_a_duplicate_on_its_page(client, auth, place):
    auth.login(place["member"])
    for room, owners in (("601", "王小芳:13900001234"), ("602", "陈静:13900007777")):
        post(client, "/c/huajiadi/households/new", {"building_id": place["building"].id, "entrance": "2",
                                                    "room": room, "area_m2": "60", "owners": owners})
    page = client.get("/c/huajiadi/register/duplicates").get_data(as_text=True)
    assert "王芳" in page and "王小芳" in page and "Same phone" in page and "陈静" not in page
    wang, xiao = (db.session.scalar(db.select(Owner).where(Owner.name == n)) for n in ("王芳", "王小芳"))
    path = f"/c/huajiadi/register/duplicates/{wang.id}/{xiao.id}"
    wrong = post(client, path, {"decision": "perhaps"}, form_path="/c/huajiadi/register/duplicates")
    assert wrong.status_code == 302 and xiao.merged_into_id is None
    response = post(client, path, {"decision": "keep_second"}, form_path="/c/huajiadi/register/duplicates")
    assert response.status_code == 302
    db.session.expire_all()
    assert wang.merged_into_id == xiao.id and len(xiao.ownerships) == 2
    assert "No probable duplicates" in client.get("/c/huajiadi/register/duplicates").get_data(as_text=True)
    history = client.get(f"/c/huajiadi/households/{place['household'].id}").get_data(as_text=True)
    assert "王小芳" in history


def test_keep_apart_on_the_page_and_others_may_not_decide(client, auth, place):
    auth.login(place["member"])
    post(client, "/c/huajiadi/households/new", {"building_id": place["building"].id, "entrance": "2",
                                                "room": "701", "area_m2": "60", "owners": "李强:13900001234"})
    wang, li = (db.session.scalar(db.select(Owner).where(Owner.name == n)) for n in ("王芳", "李强"))
    path = f"/c/huajiadi/register/duplicates/{wang.id}/{li.id}"
    response = post(client, path, {"decision": "apart"}, form_path="/c/huajiadi/register/duplicates")
    assert response.status_code == 302
    assert "No probable duplicates" in client.get("/c/huajiadi/register/duplicates").get_data(as_text=True)
    auth.logout()
    for who in ("staff", "resident"):
        auth.login(place[who])
        assert client.get("/c/huajiadi/register/duplicates").status_code == 403
        auth.logout()
