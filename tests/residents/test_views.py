import re

from portal.audit.models import AuditEntry
from portal.auth.models import User
from portal.extensions import db
from portal.places.models import Residency
from portal.residents import services
from tests.residents import gen_owner, gen_residency, post


def test_claim_needs_sign_in(client, world):
    response = client.get("/claim")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_claim_in_two_steps_without_javascript(client, auth, world):
    auth.login(world.resident)
    page = client.get("/claim").get_data(as_text=True)
    assert 'name="community"' in page and 'name="household"' not in page
    step = post(client, "/claim", {"community": world.x.id, "step": "units"})
    assert step.status_code == 200
    html = step.get_data(as_text=True)
    assert "Building 3 1-0201" in html and "Building 7" not in html
    done = post(client, "/claim", {"community": world.x.id, "household": world.hx.id})
    assert done.status_code == 302 and done.headers["Location"].endswith("/my/residency")
    r = db.session.scalar(db.select(Residency).where(Residency.user_id == world.resident.id))
    assert r.status == "pending" and r.household_id == world.hx.id


def test_htmx_swaps_in_the_units_of_the_chosen_community(client, auth, world):
    auth.login(world.resident)
    response = client.get(f"/claim/units?community={world.y.id}", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert 'id="unit-field"' in html and "Building 7 2-0101" in html and "Building 3" not in html
    assert "<html" not in html


def test_claim_of_another_communitys_unit_keeps_the_form_and_writes_nothing(client, auth, world):
    auth.login(world.resident)
    response = post(client, "/claim", {"community": world.x.id, "household": world.hy.id, "minor": "y"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "This unit is not in Huajiadi" in html
    assert re.search(r'<input[^>]*checked[^>]*name="minor"|<input[^>]*name="minor"[^>]*checked', html)
    assert db.session.scalar(db.select(Residency.id)) is None


def test_claim_of_an_unknown_unit_is_refused_with_a_message(client, auth, world):
    auth.login(world.resident)
    response = post(client, "/claim", {"community": world.x.id, "household": "99999"})
    assert response.status_code == 200
    assert "not in our register" in response.get_data(as_text=True)


def test_pending_list_shows_masked_phones_only(client, auth, world):
    gen_residency(world.resident, household=world.hx, status="pending")
    db.session.commit()
    auth.login(world.member_x)
    html = client.get("/c/x/residents/pending").get_data(as_text=True)
    assert "Resident R" in html and "138****5678" in html and "13812345678" not in html


def test_reject_without_a_reason_shows_the_error_next_to_the_field(client, auth, world):
    r = gen_residency(world.resident, household=world.hx, status="pending")
    db.session.commit()
    auth.login(world.member_x)
    response = post(client, f"/c/x/residents/claims/{r.id}/reject", {f"claim{r.id}-reason": "  "})
    assert response.status_code == 200
    assert "Say why the claim is not accepted" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Residency, r.id).status == "pending"
    htmx = post(client, f"/c/x/residents/claims/{r.id}/reject", {f"claim{r.id}-reason": ""},
                headers={"HX-Request": "true"})
    assert htmx.status_code == 200 and "<html" not in htmx.get_data(as_text=True)
    assert f'id="claim-{r.id}"' in htmx.get_data(as_text=True)


def test_the_rejection_reason_is_shown_to_the_person(client, auth, world):
    r = gen_residency(world.resident, household=world.hx, status="pending")
    db.session.commit()
    auth.login(world.member_x)
    post(client, f"/c/x/residents/claims/{r.id}/reject", {f"claim{r.id}-reason": "Please bring your lease."})
    auth.logout()
    auth.login(world.resident)
    html = client.get("/my/residency").get_data(as_text=True)
    assert "Please bring your lease." in html and "Not accepted" in html


def test_verifying_twice_says_nothing_changed(client, auth, world):
    r = gen_residency(world.resident, household=world.hx, status="pending")
    db.session.commit()
    auth.login(world.member_x)
    first = post(client, f"/c/x/residents/claims/{r.id}/verify", headers={"HX-Request": "true"})
    assert "is verified" in first.get_data(as_text=True)
    second = post(client, f"/c/x/residents/claims/{r.id}/verify", follow_redirects=True)
    assert "already verified; nothing changed" in second.get_data(as_text=True)


def test_owner_link_needs_the_box_ticked(client, auth, world):
    owner = gen_owner(world.hx, name="R. Owner", phone=world.resident.phone)
    r = gen_residency(world.resident, household=world.hx, status="pending")
    db.session.commit()
    auth.login(world.member_x)
    page = client.get("/c/x/residents/pending").get_data(as_text=True)
    assert f'name="confirm_owner" value="{owner.id}"' in page
    post(client, f"/c/x/residents/claims/{r.id}/verify")
    db.session.expire_all()
    assert db.session.get(type(owner), owner.id).user_id is None
    post(client, f"/c/x/residents/claims/{r.id}/owners", {"confirm_owner": owner.id})
    db.session.expire_all()
    linked = db.session.get(type(owner), owner.id)
    assert linked.user_id == world.resident.id and linked.confirmed_by_id == world.member_x.id


def test_committee_of_another_community_gets_403_everywhere(client, auth, world):
    r = gen_residency(world.resident, household=world.hx, status="pending")
    db.session.commit()
    auth.login(world.member_y)
    assert client.get("/c/x/residents/pending").status_code == 403
    assert client.get("/c/x/residents").status_code == 403
    assert client.get(f"/c/x/residents/{world.resident.id}").status_code == 403
    assert client.get("/c/x/residents/register-for").status_code == 403
    assert post(client, f"/c/x/residents/claims/{r.id}/verify").status_code == 403
    assert post(client, f"/c/x/residents/claims/{r.id}/reject", {f"claim{r.id}-reason": "x"}).status_code == 403
    assert post(client, f"/c/x/residents/claims/{r.id}/end").status_code == 403
    # and a claim of X cannot be reached through Y's address either
    assert post(client, f"/c/y/residents/claims/{r.id}/verify").status_code == 404
    db.session.expire_all()
    assert db.session.get(Residency, r.id).status == "pending"


def test_property_staff_cannot_open_the_pending_claims(client, auth, world):
    auth.login(world.property_x)
    assert client.get("/c/x/residents/pending").status_code == 403


def test_officials_list_residents_of_their_sub_district_with_masked_phones(client, auth, world):
    gen_residency(world.resident, household=world.hx)
    db.session.commit()
    auth.login(world.official_a)
    html = client.get("/c/x/residents").get_data(as_text=True)
    assert "Resident R" in html and "138****5678" in html and "13812345678" not in html
    assert client.get("/c/y/residents").status_code == 200
    assert client.get("/c/z/residents").status_code == 403
    detail = client.get(f"/c/x/residents/{world.resident.id}").get_data(as_text=True)
    assert "138****5678" in detail and "13812345678" not in detail


def test_a_resident_cannot_read_the_committees_pages(client, auth, world):
    gen_residency(world.resident, household=world.hx)
    other = gen_residency(world.stranger, household=world.hx2, status="pending")
    db.session.commit()
    auth.login(world.resident)
    assert client.get("/c/x/residents").status_code == 403
    assert client.get(f"/c/x/residents/{world.stranger.id}").status_code == 403
    assert post(client, f"/my/residency/{other.id}/move-out").status_code == 404
    assert "Stranger S" not in client.get("/my/residency").get_data(as_text=True)


def test_opening_a_record_shows_the_full_phone_and_the_resident_sees_who_looked(client, auth, world):
    gen_residency(world.resident, household=world.hx)
    db.session.commit()
    auth.login(world.member_x)
    html = client.get(f"/c/x/residents/{world.resident.id}").get_data(as_text=True)
    assert "13812345678" in html
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "resident.viewed"))
    assert entry.actor_id == world.member_x.id and entry.subject_user_id == world.resident.id
    auth.logout()
    auth.login(world.resident)
    mine = client.get("/my/residency").get_data(as_text=True)
    assert "Member X" in mine and "viewed your record" in mine


def test_moving_out_from_my_page_keeps_it_in_history(client, auth, world):
    r = gen_residency(world.resident, household=world.hx)
    db.session.commit()
    auth.login(world.resident)
    response = post(client, f"/my/residency/{r.id}/move-out", follow_redirects=True)
    assert "Moved out" in response.get_data(as_text=True)
    db.session.expire_all()
    ended = db.session.get(Residency, r.id)
    assert ended.status == "ended" and ended.ended_by_id == world.resident.id


def test_register_at_the_counter_then_act_for_the_resident(client, auth, world, app):
    auth.login(world.member_x)
    form = client.get("/c/x/residents/register-for").get_data(as_text=True)
    assert 'name="phone"' in form
    response = post(client, "/c/x/residents/register-for",
                    {"display_name": "Grandma Liu", "phone": "13800000099", "household": world.hx.id})
    assert response.status_code == 302
    person = db.session.scalar(db.select(User).where(User.phone == "13800000099"))
    assert person.consent_in_person and person.registered_by_id == world.member_x.id
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "13800000099" in detail and "Act for Grandma Liu" in detail
    if "auth.issue_reset_code" in app.view_functions:
        assert "reset code" in detail

    assert post(client, f"/act-for/{person.id}").status_code == 302
    mine = client.get("/my/residency").get_data(as_text=True)
    assert "Residence of Grandma Liu" in mine
    claim = post(client, "/claim", {"community": world.x.id, "household": world.hx2.id})
    assert claim.status_code == 302
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "residency.claimed"))
    assert entry.actor_id == world.member_x.id and entry.on_behalf_of_id == person.id
    assert db.session.scalar(db.select(Residency).where(
        Residency.household_id == world.hx2.id)).user_id == person.id
    post(client, "/act-for/stop")
    assert "Residence of Grandma Liu" not in client.get("/my/residency").get_data(as_text=True)

    # The resident, signed in later, reads what was done for her and by whom.
    from portal.auth.services import hash_password
    db.session.expire_all()
    person = db.session.get(User, person.id)
    person.password_hash = hash_password("grandma's own pass")
    db.session.commit()
    auth.logout()
    auth.login("13800000099", password="grandma's own pass")
    mine = client.get("/my/residency").get_data(as_text=True)
    assert "on your behalf" in mine and "Member X" in mine and "claimed a unit" in mine


def test_register_at_the_counter_with_a_taken_phone_keeps_the_typing(client, auth, world):
    auth.login(world.member_x)
    response = post(client, "/c/x/residents/register-for",
                    {"display_name": "Someone", "phone": world.resident.phone, "household": world.hx.id})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "already exists" in html and 'value="Someone"' in html
    assert db.session.scalar(db.select(db.func.count(User.id)).where(User.display_name == "Someone")) == 0


def test_acting_for_someone_without_consent_is_refused(client, auth, world):
    gen_residency(world.resident, household=world.hx)
    db.session.commit()
    auth.login(world.member_x)
    assert post(client, f"/act-for/{world.resident.id}").status_code == 403
    assert "Residence of" not in client.get("/my/residency").get_data(as_text=True)


def test_the_acting_for_banner_partial(app, world):
    from flask import render_template_string
    include = '{% include "residents/_acting_for_banner.html" %}'
    with app.test_request_context("/"):
        html = render_template_string(include, acting_for=world.resident)
        assert "You are acting for Resident R" in html
        assert "/act-for/stop" in html and 'name="csrf_token"' in html
        assert render_template_string(include, acting_for=None).strip() == ""


def test_the_banner_context_follows_the_session(client, auth, world):
    person, _r = services.register_on_behalf(
        world.member_x, world.x, display_name="Grandma Liu", phone="13800000099", household=world.hx)
    db.session.commit()
    auth.login(world.member_x)
    post(client, f"/act-for/{person.id}")
    with client.session_transaction() as session:
        assert session["acting_for"] == person.id
    post(client, "/act-for/stop")
    with client.session_transaction() as session:
        assert "acting_for" not in session


def test_giving_consent_from_my_page_lets_the_committee_act(client, auth, world):
    r = gen_residency(world.resident, household=world.hx)
    db.session.commit()
    auth.login(world.resident)
    post(client, f"/my/residency/{r.id}/consent", {"consent": "1"})
    auth.logout()
    auth.login(world.member_x)
    assert post(client, f"/act-for/{world.resident.id}").status_code == 302


def test_acting_for_stops_when_the_member_leaves_the_committee(client, auth, world):
    from portal.committees.models import OrgMembership
    person, _r = services.register_on_behalf(world.member_x, world.x, display_name="Grandma Liu",
                                             phone="13800000099", household=world.hx)
    db.session.commit()
    auth.login(world.member_x)
    post(client, f"/act-for/{person.id}")
    assert "Residence of Grandma Liu" in client.get("/my/residency").get_data(as_text=True)
    membership = db.session.scalar(db.select(OrgMembership).where(OrgMembership.user_id == world.member_x.id))
    membership.end_date = membership.start_date
    db.session.commit()
    assert "Residence of Grandma Liu" not in client.get("/my/residency").get_data(as_text=True)
    with client.session_transaction() as session:
        assert "acting_for" not in session


def test_the_community_select_asks_htmx_for_its_units(client, auth, world):
    auth.login(world.resident)
    html = client.get("/claim").get_data(as_text=True)
    assert 'hx-get="/claim/units"' in html and 'hx-target="#unit-field"' in html
    assert '<label class="label" for="community">' in html


# --- Where each role finds its work ---------------------------------------------------------------------

def test_the_community_page_gives_its_committee_the_pending_claims(client, auth, world):
    gen_residency(world.resident, household=world.hx, status="pending")
    db.session.commit()
    auth.login(world.member_x)
    html = client.get("/c/x").get_data(as_text=True)
    assert 'href="/c/x/residents/pending"' in html and '<span class="count">1</span>' in html
    assert "X residents&#39; committee" in html


def test_the_community_page_shows_residents_no_committee_tools(client, auth, world):
    gen_residency(world.resident, household=world.hx, status="verified")
    db.session.commit()
    auth.login(world.resident)
    html = client.get("/c/x").get_data(as_text=True)
    assert "/residents/pending" not in html and "/register/import" not in html


def test_home_lists_an_officials_communities_of_their_own_sub_district_only(client, auth, world):
    auth.login(world.official_a)
    html = client.get("/").get_data(as_text=True)
    assert 'href="/c/x"' in html and 'href="/c/y"' in html and 'href="/c/z"' not in html


def test_home_asks_a_newcomer_to_claim_their_home(client, auth, world):
    auth.login(world.stranger)
    assert 'href="/claim"' in client.get("/").get_data(as_text=True)
