from datetime import date, timedelta

from portal.committees.models import OrgMembership
from portal.extensions import db
from tests.residents import post

TODAY = date.today()


def test_the_public_page_lists_names_and_titles_but_never_phones(client, world):
    response = client.get(f"/o/{world.rc_x.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Chair X" in html and "Member X" in html and "Chair" in html
    assert "13900000010" not in html and "139****0010" not in html
    assert "Manage members" not in html


def test_a_members_only_community_hides_its_organizations_from_strangers(client, auth, world):
    world.x.members_only = True
    db.session.commit()
    assert client.get(f"/o/{world.rc_x.id}").status_code == 302
    auth.login(world.stranger)
    assert client.get(f"/o/{world.rc_x.id}").status_code == 403
    auth.logout()
    auth.login(world.member_x)
    assert client.get(f"/o/{world.rc_x.id}").status_code == 200


def test_only_chairs_and_admins_open_the_management_page(client, auth, world):
    auth.login(world.member_x)
    assert client.get(f"/o/{world.rc_x.id}/manage").status_code == 403
    assert post(client, f"/o/{world.rc_x.id}/members",
                {"login": world.resident.phone, "title": "member", "start_date": TODAY.isoformat()}).status_code == 403
    auth.logout()
    auth.login(world.chair_x)
    assert client.get(f"/o/{world.rc_x.id}/manage").status_code == 200
    assert client.get(f"/o/{world.rc_y.id}/manage").status_code == 403
    auth.logout()
    auth.login(world.admin)
    assert client.get(f"/o/{world.rc_y.id}/manage").status_code == 200


def test_a_chair_adds_a_member_by_phone(client, auth, world):
    auth.login(world.chair_x)
    response = post(client, f"/o/{world.rc_x.id}/members",
                    {"login": "138 1234 5678", "title": "vice_chair", "start_date": TODAY.isoformat()})
    assert response.status_code == 302
    m = db.session.scalar(db.select(OrgMembership).where(OrgMembership.user_id == world.resident.id))
    assert m.title == "vice_chair" and m.organization_id == world.rc_x.id


def test_adding_an_unknown_login_keeps_the_typing_and_says_why(client, auth, world):
    auth.login(world.chair_x)
    response = post(client, f"/o/{world.rc_x.id}/members",
                    {"login": "nobody@example.org", "title": "member", "start_date": TODAY.isoformat()})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "No account has this mobile number or e-mail" in html and 'value="nobody@example.org"' in html


def test_ending_before_the_start_is_refused_next_to_the_field(client, auth, world):
    m = db.session.scalar(db.select(OrgMembership).where(OrgMembership.user_id == world.member_x.id))
    auth.login(world.chair_x)
    too_early = (m.start_date - timedelta(days=1)).isoformat()
    response = post(client, f"/o/{world.rc_x.id}/members/{m.id}/end", {f"m{m.id}-end_date": too_early})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "cannot end before it starts" in html and f'value="{too_early}"' in html
    db.session.expire_all()
    assert db.session.get(OrgMembership, m.id).end_date is None


def test_ending_a_membership_moves_it_to_past_members(client, auth, world):
    m = db.session.scalar(db.select(OrgMembership).where(OrgMembership.user_id == world.member_x.id))
    auth.login(world.chair_x)
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    response = post(client, f"/o/{world.rc_x.id}/members/{m.id}/end", {f"m{m.id}-end_date": yesterday},
                    follow_redirects=True)
    assert "Past members" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(OrgMembership, m.id).end_date.isoformat() == yesterday
    assert "Member X" not in client.get(f"/o/{world.rc_x.id}").get_data(as_text=True)


def test_admins_create_organizations_from_their_page(client, auth, world):
    auth.login(world.chair_x)
    assert client.get("/admin/organizations").status_code == 403
    auth.logout()
    auth.login(world.admin)
    bad = post(client, "/admin/organizations", {"kind": "department", "name": "Urban", "community": world.x.id})
    assert bad.status_code == 200 and "Choose the sub-district" in bad.get_data(as_text=True)
    ok = post(client, "/admin/organizations", {"kind": "department", "name": "Urban", "sub_district": world.sd_a.id})
    assert ok.status_code == 302 and "/manage" in ok.headers["Location"]
