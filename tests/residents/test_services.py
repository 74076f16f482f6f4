import pytest

from portal.audit.models import AuditEntry
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.notifications.models import Notification
from portal.places.models import Residency
from portal.residents import services
from tests.residents import gen_owner, gen_residency


def notifications_for(user, event):
    return db.session.scalars(db.select(Notification).where(
        Notification.recipient_id == user.id, Notification.event == event)).all()


def test_claim_of_a_unit_in_the_chosen_community_is_pending_and_tells_its_committee(world):
    r = services.claim_unit(world.resident, world.hx, community=world.x)
    assert r.status == "pending" and r.community_id == world.x.id and r.is_adult
    assert notifications_for(world.chair_x, "residency.claimed")
    assert notifications_for(world.member_x, "residency.claimed")
    assert not notifications_for(world.member_y, "residency.claimed")
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "residency.claimed"))
    assert entry.subject_user_id == world.resident.id and entry.actor_id == world.resident.id


def test_claim_of_a_unit_in_another_community_is_refused(world):
    with pytest.raises(DomainError) as error:
        services.claim_unit(world.resident, world.hy, community=world.x)
    assert error.value.field == "household"
    assert "not in Huajiadi" in str(error.value.message)


def test_claim_of_an_unknown_unit_is_refused(world):
    with pytest.raises(DomainError) as error:
        services.claim_unit(world.resident, None, community=world.x)
    assert error.value.field == "household"


def test_a_second_open_claim_for_the_same_unit_is_refused(world):
    services.claim_unit(world.resident, world.hx, community=world.x)
    with pytest.raises(DomainError):
        services.claim_unit(world.resident, world.hx, community=world.x)


def test_verifying_a_claim_tells_the_person(world):
    r = services.claim_unit(world.resident, world.hx, community=world.x)
    assert services.verify_claim(world.member_x, r) is True
    assert r.status == "verified" and r.decided_by_id == world.member_x.id and r.decided_at
    assert notifications_for(world.resident, "residency.verified")


def test_verifying_an_already_verified_claim_changes_nothing(world):
    r = services.claim_unit(world.resident, world.hx, community=world.x)
    services.verify_claim(world.member_x, r)
    decided_at = r.decided_at
    before = db.session.scalar(db.select(db.func.count(AuditEntry.id)))
    assert services.verify_claim(world.chair_x, r) is False
    assert r.decided_by_id == world.member_x.id and r.decided_at == decided_at
    assert db.session.scalar(db.select(db.func.count(AuditEntry.id))) == before


def test_rejecting_needs_a_reason(world):
    r = services.claim_unit(world.resident, world.hx, community=world.x)
    with pytest.raises(DomainError) as error:
        services.reject_claim(world.member_x, r, "   ")
    assert error.value.field == "reason"
    assert r.status == "pending"


def test_rejection_keeps_the_reason_for_the_person(world):
    r = services.claim_unit(world.resident, world.hx, community=world.x)
    services.reject_claim(world.member_x, r, "No one of this name at 3-1-0201.")
    assert r.status == "rejected" and r.reason == "No one of this name at 3-1-0201."
    [notice] = notifications_for(world.resident, "residency.rejected")
    assert notice.payload["reason"] == "No one of this name at 3-1-0201."


def test_a_matching_register_phone_alone_never_links_an_owner(world):
    owner = gen_owner(world.hx, name="R. Owner", phone=world.resident.phone)
    r = services.claim_unit(world.resident, world.hx, community=world.x)
    assert services.owner_proposals(r) == [owner]
    services.verify_claim(world.member_x, r)
    assert owner.user_id is None and owner.confirmed_by_id is None


def test_confirming_an_owner_explicitly_links_it_with_who_and_when(world):
    owner = gen_owner(world.hx, name="R. Owner", phone=world.resident.phone)
    r = services.claim_unit(world.resident, world.hx, community=world.x)
    services.verify_claim(world.member_x, r, confirm_owner_ids=[owner.id])
    assert owner.user_id == world.resident.id
    assert owner.confirmed_by_id == world.member_x.id and owner.confirmed_at is not None
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "owner.confirmed"))
    assert entry.subject_user_id == world.resident.id


def test_an_owner_of_another_unit_cannot_be_confirmed_and_nothing_is_verified(world):
    other = gen_owner(world.hx2, name="Neighbour", phone=world.resident.phone)
    developer = gen_owner(world.hx, name="Developer", is_developer=True)
    r = services.claim_unit(world.resident, world.hx, community=world.x)
    for owner in (other, developer):
        with pytest.raises(DomainError):
            services.verify_claim(world.member_x, r, confirm_owner_ids=[owner.id])
    assert r.status == "pending" and other.user_id is None and developer.user_id is None


def test_a_former_owner_is_not_proposed(world):
    from datetime import date
    gen_owner(world.hx, name="Sold", phone=world.resident.phone, end=date(2021, 1, 1))
    r = services.claim_unit(world.resident, world.hx, community=world.x)
    assert services.owner_proposals(r) == []


def test_moving_out_ends_the_residency_and_keeps_it_in_history(world):
    r = services.claim_unit(world.resident, world.hx, community=world.x)
    services.verify_claim(world.member_x, r)
    services.end_residency(world.resident, r)
    db.session.flush()
    assert r.status == "ended" and r.ended_at and r.ended_by_id == world.resident.id
    assert db.session.get(Residency, r.id) is not None
    assert services.residencies_of(world.resident) == [r]
    with pytest.raises(DomainError):
        services.end_residency(world.resident, r)


def test_the_committee_can_record_a_move_out_and_the_person_is_told(world):
    r = gen_residency(world.resident, household=world.hx)
    services.end_residency(world.member_x, r)
    assert r.ended_by_id == world.member_x.id
    assert notifications_for(world.resident, "residency.ended")


def test_registering_at_the_counter_records_consent_in_person_and_a_verified_residency(world):
    person, r = services.register_on_behalf(world.member_x, world.x, display_name="Grandma Liu",
                                            phone="138 0000 0099", household=world.hx)
    assert person.phone == "13800000099"
    assert person.consent_in_person and person.registered_by_id == world.member_x.id
    assert r.status == "verified" and r.decided_by_id == world.member_x.id and r.household_id == world.hx.id
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "residency.registered"))
    assert entry.actor_id == world.member_x.id and entry.on_behalf_of_id == person.id
    assert entry.subject_user_id == person.id


def test_registering_at_the_counter_with_a_taken_phone_is_refused_on_the_phone_field(world):
    with pytest.raises(DomainError) as error:
        services.register_on_behalf(world.member_x, world.x, display_name="Dup", phone=world.resident.phone,
                                    household=world.hx)
    assert error.value.field == "phone"


def test_registering_at_the_counter_needs_a_phone_and_a_unit_of_the_community(world):
    with pytest.raises(DomainError) as error:
        services.register_on_behalf(world.member_x, world.x, display_name="A", phone="", household=world.hx)
    assert error.value.field == "phone"
    with pytest.raises(DomainError) as error:
        services.register_on_behalf(world.member_x, world.x, display_name="A", phone="13800000098",
                                    household=world.hy)
    assert error.value.field == "household"


def test_acting_for_a_resident_is_audited_with_both_names(world):
    person, _r = services.register_on_behalf(world.member_x, world.x, display_name="Grandma Liu",
                                             phone="13800000099", household=world.hx)
    services.start_acting_for(world.member_x, person)
    claim = services.claim_unit(world.member_x, world.hx2, community=world.x, on_behalf_of=person)
    assert claim.user_id == person.id
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "residency.claimed"))
    assert entry.actor_id == world.member_x.id and entry.on_behalf_of_id == person.id
    actions = [e.action for e in services.record_about(person)]
    assert {"residency.claimed", "act_for.started", "residency.registered"} <= set(actions)


def test_acting_for_someone_who_did_not_agree_is_refused(world):
    gen_residency(world.resident, household=world.hx)
    with pytest.raises(NotAllowed):
        services.start_acting_for(world.member_x, world.resident)
    with pytest.raises(NotAllowed):
        services.claim_unit(world.member_x, world.hx2, community=world.x, on_behalf_of=world.resident)


def test_a_resident_who_agrees_can_be_helped_and_can_withdraw(world):
    r = gen_residency(world.resident, household=world.hx)
    services.set_act_for_consent(world.resident, r, True)
    services.start_acting_for(world.member_x, world.resident)
    services.set_act_for_consent(world.resident, r, False)
    with pytest.raises(NotAllowed):
        services.start_acting_for(world.member_x, world.resident)


def test_only_the_resident_decides_on_consent(world):
    r = gen_residency(world.resident, household=world.hx)
    with pytest.raises(NotAllowed):
        services.set_act_for_consent(world.member_x, r, True)


def test_phone_for_each_kind_of_viewer(world):
    gen_residency(world.resident, household=world.hx, status="pending")
    full, masked = "13812345678", "138****5678"
    assert services.phone_for(world.resident, world.resident) == full
    assert services.phone_for(world.member_x, world.resident) == full
    assert services.phone_for(world.chair_x, world.resident) == full
    assert services.phone_for(world.admin, world.resident) == full
    assert services.phone_for(world.member_y, world.resident) == masked
    assert services.phone_for(world.member_z, world.resident) == masked
    assert services.phone_for(world.property_x, world.resident) == masked
    assert services.phone_for(world.official_a, world.resident) == masked
    assert services.phone_for(world.department_a, world.resident) == masked
    assert services.phone_for(world.stranger, world.resident) == masked


def test_after_moving_out_the_committee_no_longer_sees_the_full_phone(world):
    r = gen_residency(world.resident, household=world.hx)
    services.end_residency(world.resident, r)
    assert services.phone_for(world.member_x, world.resident) == "138****5678"


def test_phone_for_someone_signed_out_is_masked(world):
    from flask_login import AnonymousUserMixin
    assert services.phone_for(AnonymousUserMixin(), world.resident) == "138****5678"
