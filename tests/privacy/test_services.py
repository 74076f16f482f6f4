"""Personal information: deleting an account, a copy of one's data, retention, consent."""
import io
import json
import zipfile
from datetime import timedelta

import pytest

from portal.auth.models import LoginAttempt, SignedInSession, User
from portal.auth.services import check_password, open_session, sign_out
from portal.clock import utcnow
from portal.committees.models import OrgMembership
from portal.due import run_step
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.issues.models import Issue, IssuePhoto
from portal.places.models import Residency
from portal.privacy import services
from portal.privacy.models import ConsentRecord, DataExport, DeletionRequest
from tests.factories import gen_user
from tests.issues.test_services import tiny_png
from tests.proposals import gen_comment, gen_in_deliberation
from tests.records import audit


def test_a_deletion_waits_out_the_cooling_off_period_then_anonymizes(world):
    person = world.neighbour
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal, author=person)
    now = utcnow()
    open_session(person)
    open_session(person)
    deletion = services.request_deletion(person, person, now=now)
    assert deletion.due_at == now + timedelta(days=7)
    assert services.carry_out_due_deletions(now + timedelta(days=6)) == 0
    assert person.display_name == "Neighbour N"
    assert services.carry_out_due_deletions(now + timedelta(days=7)) == 1
    assert person.display_name == "deleted participant"
    assert person.phone is None and person.email.endswith(".invalid")
    assert not person.is_active and not check_password(person, "demo-pass-2026")
    assert person.password_changed_at == now + timedelta(days=7)  # every session's stamp is stale
    assert comment.author.display_name == "deleted participant"
    assert all(not r.is_open for r in db.session.scalars(db.select(Residency).where(Residency.user_id == person.id)))
    assert deletion.carried_out_at is not None
    assert audit("privacy.account_anonymized")
    assert db.session.scalar(db.select(db.func.count(SignedInSession.id)).where(
        SignedInSession.user_id == person.id, SignedInSession.ended_at.is_(None))) == 0
    assert services.carry_out_due_deletions(now + timedelta(days=8)) == 0  # idempotent


def test_a_deletion_can_be_cancelled_and_asked_again(world):
    person = world.neighbour
    services.request_deletion(person, person)
    with pytest.raises(DomainError):
        services.request_deletion(person, person)
    services.cancel_deletion(person, person)
    assert services.open_deletion(person) is None
    assert services.carry_out_due_deletions(utcnow() + timedelta(days=30)) == 0
    assert person.is_active
    services.request_deletion(person, person)
    assert services.open_deletion(person) is not None
    with pytest.raises(DomainError):
        services.cancel_deletion(world.reporter, world.reporter)


def test_nobody_asks_to_delete_another_persons_account(world):
    with pytest.raises(NotAllowed):
        services.request_deletion(world.reporter, world.neighbour)
    with pytest.raises(NotAllowed):
        services.cancel_deletion(world.reporter, world.neighbour)


def test_an_admin_asks_another_admin_to_delete_their_account(world):
    with pytest.raises(DomainError):
        services.request_deletion(world.admin, world.admin)


def test_committee_and_admin_delete_at_the_counter_for_residents_of_their_community(world):
    assert services.can_delete_at_counter(world.chair_x, world.neighbour)
    assert services.can_delete_at_counter(world.admin, world.neighbour)
    assert not services.can_delete_at_counter(world.chair_x, world.resident_y)
    assert not services.can_delete_at_counter(world.reporter, world.neighbour)
    assert not services.can_delete_at_counter(world.property_x, world.neighbour)
    assert not services.can_delete_at_counter(world.official_a, world.neighbour)
    assert not services.can_delete_at_counter(world.chair_x, world.chair_x)
    with pytest.raises(NotAllowed):
        services.delete_at_counter(world.chair_x, world.resident_y)
    services.delete_at_counter(world.chair_x, world.neighbour)
    assert world.neighbour.display_name == "deleted participant"
    entry = audit("privacy.deleted_at_counter")[0]
    assert entry.actor_id == world.chair_x.id and entry.subject_user_id == world.neighbour.id


def test_a_committee_member_deleted_leaves_the_organization(world):
    member = world.member_x
    services.delete_at_counter(world.admin, member)
    memberships = db.session.scalars(db.select(OrgMembership).where(OrgMembership.user_id == member.id)).all()
    assert memberships and all(m.end_date is not None for m in memberships)


def test_issues_stay_bylined_by_the_deleted_participant(world):
    from tests.issues import gen_issue
    issue = gen_issue(world, reporter=world.neighbour, show_name=True)
    services.delete_at_counter(world.admin, world.neighbour)
    assert db.session.get(Issue, issue.id).reporter.display_name == "deleted participant"


def _zip_of(export):
    return zipfile.ZipFile(io.BytesIO(services.export_path(export).read_bytes()))


def test_a_copy_of_ones_data_holds_the_json_and_ones_photos(world):
    from tests.issues import gen_issue
    issue = gen_issue(world, photos=[tiny_png()])
    other = gen_issue(world, reporter=world.neighbour, photos=[tiny_png()], title="Someone else's issue")
    export = services.request_export(world.reporter, world.reporter)
    assert export.status == "ready" and export.expires_at == export.requested_at + timedelta(days=7)
    archive = _zip_of(export)
    data = json.loads(archive.read("data.json"))
    assert data["account"]["display_name"] == "Reporter P" and "password_hash" not in data["account"]
    assert [i["id"] for i in data["issues"]] == [issue.id]
    photo = db.session.scalar(db.select(IssuePhoto).where(IssuePhoto.issue_id == issue.id))
    other_photo = db.session.scalar(db.select(IssuePhoto).where(IssuePhoto.issue_id == other.id))
    names = archive.namelist()
    assert f"photos/{photo.key}-1600.jpg" in names
    assert not any(other_photo.key in name for name in names)
    assert data["residencies"] and data["residencies"][0]["user_id"] == world.reporter.id
    assert "Neighbour N" not in archive.read("data.json").decode()


def test_only_the_person_downloads_their_copy_and_only_while_offered(world):
    export = services.request_export(world.reporter, world.reporter)
    assert services.export_for_download(world.reporter, export.id) is export
    assert services.export_for_download(world.neighbour, export.id) is None
    later = export.expires_at + timedelta(seconds=1)
    assert services.export_for_download(world.reporter, export.id, now=later) is None
    with pytest.raises(NotAllowed):
        services.request_export(world.reporter, world.neighbour)


def test_a_large_account_is_copied_by_run_due(world, monkeypatch):
    monkeypatch.setattr(services, "IMMEDIATE_EXPORT_PHOTOS", -1)
    export = services.request_export(world.reporter, world.reporter)
    assert export.status == "pending"
    with pytest.raises(DomainError):
        services.request_export(world.reporter, world.reporter)
    db.session.commit()
    assert run_step("privacy_exports", utcnow(), utcnow()) == 1
    assert db.session.get(DataExport, export.id).status == "ready"


def test_own_ballots_show_the_receipt_and_never_a_secret_choice(world):
    from portal.votes.models import Ballot, BallotCaster, BallotLogEntry, BallotOption, BallotVoter
    proposal = gen_in_deliberation(world)
    now = utcnow()
    for secret in (False, True):
        ballot = Ballot(proposal_id=proposal.id, community_id=world.x.id, organization_id=world.rc_x.id,
                        method="residents", status="closed", question=f"Secret {secret}?", secret=secret,
                        opens_at=now - timedelta(days=2), closes_at=now - timedelta(days=1),
                        opened_by_id=world.chair_x.id, resident_unit="person", threshold="simple")
        db.session.add(ballot)
        db.session.flush()
        option = BallotOption(ballot_id=ballot.id, position=1, code="yes", label="Yes")
        voter = BallotVoter(ballot_id=ballot.id, kind="resident", user_id=world.reporter.id, label="Reporter P")
        db.session.add_all([option, voter])
        db.session.flush()
        db.session.add(BallotCaster(ballot_id=ballot.id, voter_id=voter.id, user_id=world.reporter.id))
        db.session.add(BallotLogEntry(ballot_id=ballot.id, seq=1, voter_id=voter.id, option_id=option.id,
                                      headcount=1, area_cm=0, cast_by_id=world.reporter.id, at=now,
                                      receipt=f"receipt-{secret}", prev_hash="0" * 64, hash="1" * 64))
    db.session.flush()
    ballots = services.personal_data(world.reporter)["ballots"]
    assert [(b["receipt"], b["choice"]) for b in ballots] == [("receipt-False", "Yes"), ("receipt-True", None)]
    assert services.personal_data(world.neighbour)["ballots"] == []


def test_exports_are_removed_after_seven_days(world):
    export = services.request_export(world.reporter, world.reporter)
    path = services.export_path(export)
    assert path.is_file()
    assert services.remove_expired_exports(export.expires_at - timedelta(seconds=1)) == 0
    assert services.remove_expired_exports(export.expires_at) == 1
    assert export.status == "removed" and not path.exists()


def test_hotline_callers_contact_goes_180_days_after_closing(world):
    from portal.issues.models import IssueCategory
    category = db.session.scalars(db.select(IssueCategory).where(IssueCategory.community_id == world.x.id)).first()
    now = utcnow()
    issue = Issue(community_id=world.x.id, category_id=category.id, title="Hotline", reporter_name="Caller Wang",
                  reporter_phone="13900000000", source="hotline", status="closed", respond_by=now, resolve_by=now,
                  closed_at=now - timedelta(days=179))
    db.session.add(issue)
    db.session.flush()
    assert services.remove_hotline_contacts(now) == 0
    assert services.remove_hotline_contacts(now + timedelta(days=1)) == 1
    assert issue.reporter_phone is None and issue.reporter_name == "caller (contact removed)"
    assert services.remove_hotline_contacts(now + timedelta(days=2)) == 0


def test_sign_in_addresses_go_after_90_days(world):
    from portal.audit.services import record
    now = utcnow()
    old = record(world.reporter, "account.login", world.reporter, subject_user=world.reporter, ip="10.0.0.1")
    old.created_at = now - timedelta(days=91)
    recent = record(world.reporter, "account.login", world.reporter, subject_user=world.reporter, ip="10.0.0.2")
    db.session.add(LoginAttempt(account="x", ip="10.0.0.3", at=now - timedelta(days=91)))
    db.session.flush()
    ended_long_ago, ended_lately = open_session(world.reporter), open_session(world.reporter)
    sign_out(world.reporter, ended_long_ago, now=now - timedelta(days=91))
    sign_out(world.reporter, ended_lately, now=now - timedelta(days=89))
    db.session.flush()
    services.forget_sign_in_addresses(now)
    assert "ip" not in old.details and recent.details["ip"] == "10.0.0.2"
    assert db.session.scalar(db.select(db.func.count()).select_from(LoginAttempt)) == 0
    assert db.session.scalar(db.select(db.func.count()).select_from(SignedInSession)) == 1


def test_unconfirmed_registrations_go_after_30_days(world):
    now = utcnow()
    idle = gen_user(display_name="Never confirmed")
    idle.created_at = now - timedelta(days=31)
    fresh = gen_user(display_name="Just registered")
    db.session.flush()
    services.remove_unconfirmed_registrations(now)
    assert idle.display_name == "deleted participant" and not idle.is_active
    assert fresh.is_active
    assert world.pending.is_active  # has a claim, but it is recent: created now
    assert world.admin.is_active


def test_retention_step_runs_through_run_due(world):
    db.session.commit()
    assert isinstance(run_step("privacy_retention", utcnow(), utcnow()), int)


def test_someone_who_agreed_to_an_older_notice_is_asked_to_accept(world, app):
    person = world.reporter
    assert not services.needs_notice_acceptance(person)
    person.consented_at = utcnow() - timedelta(days=400)
    assert services.needs_notice_acceptance(person)
    services.accept_notice(person)
    assert not services.needs_notice_acceptance(person)
    consent = db.session.scalar(db.select(ConsentRecord).where(ConsentRecord.user_id == person.id))
    assert consent.version == "2" and consent.given and consent.at is not None
    app.config["PRIVACY_NOTICE_VERSION"] = "3"
    try:
        assert services.needs_notice_acceptance(person)
    finally:
        app.config["PRIVACY_NOTICE_VERSION"] = "2"


def test_withdrawing_digest_consent_turns_digests_off(world):
    from portal.notifications import preferences
    person = world.reporter
    assert services.digest_consent(person)
    groups = preferences.changeable_groups()
    preferences.set_modes(person, person, {groups[0]: "digest"})
    services.set_digest_consent(person, person, False)
    assert not services.digest_consent(person)
    assert "digest" not in preferences.modes_of([person.id])[person.id].values()
    with pytest.raises(DomainError):
        services.set_digest_consent(person, person, False)
    services.set_digest_consent(person, person, True)
    assert services.digest_consent(person)
    with pytest.raises(NotAllowed):
        services.set_digest_consent(world.neighbour, person, False)


def test_a_deleted_person_is_no_longer_findable_by_their_login(world):
    phone = world.neighbour.phone
    services.delete_at_counter(world.admin, world.neighbour)
    assert db.session.scalar(db.select(User).where(User.phone == phone)) is None
    assert db.session.scalar(db.select(DeletionRequest).where(DeletionRequest.user_id == world.neighbour.id))


def test_a_photo_showing_a_person_is_removed_on_request_by_the_committee(world):
    from tests.issues import gen_issue
    issue = gen_issue(world, photos=[tiny_png()])
    photo = db.session.scalar(db.select(IssuePhoto).where(IssuePhoto.issue_id == issue.id))
    files = [services.issue_photos.path_for(photo, size) for size in services.issue_photos.SIZES]
    assert all(path.exists() for path in files)
    for person in (world.reporter, world.neighbour, world.property_x, world.official_a, world.resident_y):
        assert not services.can_remove_photo(person, photo)
    with pytest.raises(NotAllowed):
        services.remove_photo_on_request(world.reporter, photo)
    assert services.can_remove_photo(world.admin, photo)
    services.remove_photo_on_request(world.chair_x, photo)
    db.session.flush()
    assert db.session.scalar(db.select(IssuePhoto).where(IssuePhoto.issue_id == issue.id)) is None
    assert not any(path.exists() for path in files)
    assert audit("privacy.photo_removed")[0].actor_id == world.chair_x.id
